//! `manifest.json`: what a generated workload contains, read by `replay` and by `bench/metrics/run.py`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::body_file::BodyFileEntry;

/// Name of the manifest inside a workload directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Value of [`Manifest::format`] this version writes and reads.
pub const MANIFEST_FORMAT: &str = "oxeye-bench-remote-write-bodies/1";

/// Description of a generated workload. Times are Unix milliseconds; sizes are bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub seed: u64,
    pub hosts: usize,
    pub interval_ms: i64,
    /// First step's start; samples lie in `[start_ms, end_ms)`.
    pub start_ms: i64,
    pub end_ms: i64,
    pub steps: u64,
    /// Active series: every series has one sample in every step.
    pub series: u64,
    pub node_series: u64,
    pub app_series: u64,
    pub samples: u64,
    /// Request bodies, including the one metadata-only request at step 0.
    pub bodies: u64,
    pub max_series_per_body: usize,
    /// Sum of the snappy-compressed bodies (what goes over the wire).
    pub compressed_bytes: u64,
    /// Sum of the bodies' protobuf encodings before compression.
    pub uncompressed_bytes: u64,
    /// Counter resets simulated: host reboots (node counters) and application restarts (deploys and crashes).
    pub host_reboots: u64,
    pub app_restarts: u64,
    pub files: Vec<BodyFileEntry>,
}

impl Manifest {
    /// Writes `manifest.json` into `directory`.
    pub fn save(&self, directory: &Path) -> Result<()> {
        let path = directory.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(self)?;
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads `manifest.json` from `directory`, refusing other format versions.
    pub fn load(directory: &Path) -> Result<Self> {
        let path = directory.join(MANIFEST_FILE);
        let json = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Self = serde_json::from_slice(&json).with_context(|| format!("parsing {}", path.display()))?;
        if manifest.format != MANIFEST_FORMAT {
            bail!("{} has format {:?}, this tool reads {MANIFEST_FORMAT:?}", path.display(), manifest.format);
        }
        Ok(manifest)
    }
}
