//! oxeye's trace store: per tenant, a WAL, an in-memory head of traces, and immutable columnar blocks with an exact
//! trace-id index.
//!
//! Spans arrive as [`oxeye_model::SpanBatch`]es. [`TenantTraces::append`] validates them against the tenant's
//! [`TraceLimits`] (answering with Tempo's messages), writes the accepted ones to the WAL and the head (spans
//! grouped by trace id), and returns only then. A maintenance pass cuts the head into a block once it is large or
//! old enough, deletes blocks past retention and merges small blocks, joining the fragments of a trace that
//! arrived in several heads. Readers see the head, heads being cut, and blocks through [`TenantTracesReader`], an
//! implementation of [`oxeye_storage_api::TracesReader`]. Formats: `docs/formats/traces-block.md` and
//! `docs/formats/traces-wal.md`.

mod attr_codec;
mod block;
mod compaction;
mod files;
mod head;
mod limits;
mod reader;
mod summary;
mod tenant;
mod terms;
mod wal_records;

pub use limits::{TraceLimits, TraceRejectReason, TraceRejection};
pub use reader::TenantTracesReader;
pub use tenant::{AppendOutcome, TenantTraces};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxeye_model::{TenantId, TenantMap, tenants_on_disk};
use oxeye_wal::SyncPolicy;

/// Why a trace store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    #[error("traces i/o on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("traces block {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Wal(#[from] oxeye_wal::WalError),
}

impl TracesError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TracesError::Io { path: path.into(), source }
    }
}

/// How the trace store runs.
#[derive(Clone, Debug)]
pub struct TracesOptions {
    /// Root data directory; tenants live under `<data_dir>/tenants/<tenant>/traces`.
    pub data_dir: PathBuf,
    pub wal_sync: SyncPolicy,
    pub wal_segment_size: u64,
    /// The head is cut into a block once its spans take this many WAL-encoded bytes (default 64 MiB)…
    pub head_max_bytes: u64,
    /// …or once its first span arrived this long ago (default 30 minutes).
    pub head_max_age: Duration,
    /// How many recently active traces have their span count remembered for the per-trace span limit (memory:
    /// about 40 bytes each).
    pub live_traces_capacity: usize,
    pub default_limits: TraceLimits,
    /// Per-tenant overrides, by tenant id.
    pub tenant_limits: HashMap<String, TraceLimits>,
}

impl TracesOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            wal_sync: SyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_size: 128 << 20,
            head_max_bytes: 64 << 20,
            head_max_age: Duration::from_secs(30 * 60),
            live_traces_capacity: 1 << 20,
            default_limits: TraceLimits::default(),
            tenant_limits: HashMap::new(),
        }
    }

    pub fn limits_for(&self, tenant: &str) -> &TraceLimits {
        self.tenant_limits.get(tenant).unwrap_or(&self.default_limits)
    }
}

/// Sizes of one tenant's traces, for self-metrics.
#[derive(Clone, Debug)]
pub struct TenantTracesSummary {
    pub tenant: TenantId,
    pub head_traces: usize,
    pub head_spans: u64,
    /// WAL-encoded bytes of the head's spans.
    pub head_bytes: u64,
    pub blocks: usize,
    pub block_bytes: u64,
    pub block_spans: u64,
    pub block_traces: u64,
    pub wal_bytes: u64,
    /// Traces whose span counts are remembered for the span limit.
    pub live_traces: usize,
}

/// Every tenant's traces. Tenants are opened on first use, and all existing ones at start-up.
pub struct TracesStore {
    options: Arc<TracesOptions>,
    tenants: TenantMap<TenantTraces>,
}

impl TracesStore {
    /// Opens every tenant that has traces under the data directory (replaying their WALs).
    pub fn open(options: TracesOptions) -> Result<Self, TracesError> {
        let store = Self { options: Arc::new(options), tenants: TenantMap::default() };
        let tenants = tenants_on_disk(&store.options.data_dir, files::TRACES_DIR)
            .map_err(|e| TracesError::io(store.options.data_dir.join("tenants"), e))?;
        for tenant in tenants {
            store.tenant(&tenant)?;
        }
        Ok(store)
    }

    /// The traces of `tenant`, opened (and created) on first use.
    pub fn tenant(&self, tenant: &TenantId) -> Result<Arc<TenantTraces>, TracesError> {
        self.tenants.get_or_open(tenant, || {
            let tenant_dir = self.options.data_dir.join("tenants").join(tenant.as_str());
            TenantTraces::open(tenant.clone(), &tenant_dir, self.options.clone())
        })
    }

    /// The traces of `tenant` if it has any (reads of an unknown tenant must not create directories).
    pub fn existing_tenant(&self, tenant: &TenantId) -> Option<Arc<TenantTraces>> {
        self.tenants.get(tenant)
    }

    pub fn all_tenants(&self) -> Vec<Arc<TenantTraces>> {
        self.tenants.all()
    }

    /// Cuts, applies retention and compacts every tenant; errors are logged, not returned, so one tenant's
    /// trouble does not stop the others' maintenance.
    pub fn maintain(&self, now_ns: i64, force: bool) {
        for tenant in self.all_tenants() {
            if let Err(error) = tenant.maintain(now_ns, force) {
                tracing::error!(tenant = %tenant.tenant().as_str(), %error, "traces maintenance failed");
            }
        }
    }

    pub fn sync_wals(&self) -> Result<(), TracesError> {
        for tenant in self.all_tenants() {
            tenant.sync_wal()?;
        }
        Ok(())
    }

    pub fn summaries(&self) -> Vec<TenantTracesSummary> {
        self.all_tenants().iter().map(|tenant| tenant.summary()).collect()
    }
}

/// Wall-clock now in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod test_data;
#[cfg(test)]
mod tests;
