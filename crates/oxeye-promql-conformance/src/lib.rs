//! Runs Prometheus's own PromQL test scripts (the `promqltest` language) against oxeye's PromQL engine.
//!
//! The scripts are not part of this repository: they live in `../shared/conformance/promql/` beside the checkout
//! ([`conformance_dir`]) and are read in place. A script is parsed ([`script`], with series descriptions in
//! [`series`] and times in [`duration`]), its `load` blocks fill a [`MemReader`], and each `eval` runs through
//! [`oxeye_promql::Engine`] and is judged the way promqltest judges it ([`compare`]); [`runner`] turns a file
//! into a [`FileReport`] of passed, failed and skipped cases. [`baseline`] records which cases pass so that
//! `tests/conformance.rs` catches regressions case by case; the `promql-conformance` binary prints the table.
//!
//! Each instant eval also runs promqltest's extra `@`-modifier variants ([`at_variants`]: the query with
//! `@ <eval time>` on every selector, evaluated at other times) and its range-mode re-run. What is not reproduced
//! from promqltest: native histograms and start timestamps, which oxeye's reader interface cannot carry (such
//! cases are skipped, see [`runner`]).

pub mod at_variants;
pub mod baseline;
pub mod compare;
pub mod duration;
pub mod mem_reader;
pub mod runner;
pub mod script;
pub mod selectors;
pub mod series;

use std::path::PathBuf;

pub use baseline::Baseline;
pub use mem_reader::{MemReader, UnsupportedData};
pub use runner::{CaseFailure, CaseSkip, FileReport, conformance_engine_options, run_file, run_script};
pub use script::{Script, parse_script};

/// Scripts whose behaviour is plain Prometheus (no feature flag): all of them must pass eventually.
pub const STABLE_FILES: [&str; 14] = [
    "aggregators.test",
    "at_modifier.test",
    "collision.test",
    "functions.test",
    "histograms.test",
    "limit.test",
    "literals.test",
    "name_label_dropping.test",
    "operators.test",
    "range_queries.test",
    "selectors.test",
    "staleness.test",
    "subquery.test",
    "trig_functions.test",
];

/// Scripts for features behind Prometheus feature flags: reported, not required.
pub const EXPERIMENTAL_FILES: [&str; 7] = [
    "duration_expression.test",
    "extended_vectors.test",
    "fill-modifier.test",
    "info.test",
    "native_histograms.test",
    "start_timestamps.test",
    "type_and_unit.test",
];

/// Whether `file` (a name such as `functions.test`) is one of the [`STABLE_FILES`].
pub fn is_stable(file: &str) -> bool {
    STABLE_FILES.contains(&file)
}

/// The directory holding the scripts: `<crate>/../../../shared/conformance/promql` (the repository is always
/// checked out with `../shared` beside it).
pub fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql")
}

/// Why a script (or a part of it) could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error("invalid duration {text:?}: {reason}")]
    Duration { text: String, reason: String },
    #[error("invalid number {text:?}")]
    Number { text: String },
    #[error("{reason}")]
    Series { reason: String },
    #[error("line {line}: {reason}")]
    Command { line: usize, reason: String },
    #[error("line {line}: {source}")]
    AtLine {
        line: usize,
        #[source]
        source: Box<ScriptError>,
    },
}
