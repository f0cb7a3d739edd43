//! The Prometheus text exposition format, for `POST /api/v1/import/prometheus` (VictoriaMetrics' import path).
//!
//! [`parse_prometheus_text`] reads format 0.0.4 (`# HELP`, `# TYPE`, `name{label="value"} value [timestamp]`),
//! tolerates what OpenMetrics adds (`# UNIT`, `# EOF`, float-second timestamps, trailing exemplars, which are
//! ignored) and accepts Prometheus 3's quoted UTF-8 names. A bad line is reported with its line number and does not
//! stop the others. [`write_series`] and [`write_metadata`] produce the same format.

mod parse;
mod render;
#[cfg(test)]
mod tests;

pub use parse::{ParsedText, parse_prometheus_text};
pub use render::{write_metadata, write_series};
