//! Writing series and metadata in the text exposition format (the inverse of the parser; for tests, benchmarks
//! and export).

use std::fmt::Write;

use oxeye_model::{METRIC_NAME_LABEL, MetricMetadata, MetricType, TimeSeries};

/// Appends one line per sample of `series` (`name{a="1"} value timestamp_ms`). Names outside the classic
/// character set are written in Prometheus 3's quoted form (`{"my.metric", "a.b"="1"}`); label values are escaped.
/// Exemplars are not written.
pub fn write_series(dst: &mut String, series: &TimeSeries) {
    let mut prefix = String::new();
    let metric_name = series.labels.metric_name().unwrap_or("");
    let other_labels = series.labels.iter().filter(|label| label.name != METRIC_NAME_LABEL);
    let name_is_plain = is_plain_metric_name(metric_name);
    if name_is_plain {
        prefix.push_str(metric_name);
    }
    let mut items: Vec<String> = Vec::new();
    if !name_is_plain {
        items.push(quote(metric_name));
    }
    for label in other_labels {
        let name = if is_plain_label_name(&label.name) { label.name.clone() } else { quote(&label.name) };
        items.push(format!("{name}={}", quote(&label.value)));
    }
    if !items.is_empty() {
        prefix.push('{');
        prefix.push_str(&items.join(","));
        prefix.push('}');
    }
    for sample in &series.samples {
        let _ = writeln!(dst, "{prefix} {} {}", format_value(sample.value), sample.timestamp_ms);
    }
}

/// Appends the `# HELP`, `# TYPE` and (when set) `# UNIT` lines of a family.
pub fn write_metadata(dst: &mut String, metadata: &MetricMetadata) {
    let family = if is_plain_metric_name(&metadata.metric_family) {
        metadata.metric_family.clone()
    } else {
        quote(&metadata.metric_family)
    };
    let help = metadata.help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(dst, "# HELP {family} {help}");
    let type_name = match metadata.metric_type {
        MetricType::Unknown => "untyped",
        other => other.as_str(),
    };
    let _ = writeln!(dst, "# TYPE {family} {type_name}");
    if !metadata.unit.is_empty() {
        let _ = writeln!(dst, "# UNIT {family} {}", metadata.unit);
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_plain_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_plain_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A double-quoted string with `\\`, `\"` and `\n` escaped.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `NaN`, `+Inf`, `-Inf`, or the shortest decimal that parses back to the same value.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() }
    } else {
        format!("{value:?}")
    }
}
