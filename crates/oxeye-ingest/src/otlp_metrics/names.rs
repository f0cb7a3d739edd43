//! Metric and label name translation from OTLP to Prometheus, matching `github.com/prometheus/otlptranslator`
//! v1.0.0 (the version Prometheus 3.x pins): `metric_namer.go`, `label_namer.go`, `unit_namer.go`, `strconv.go`.
//!
//! The default strategy, `UnderscoreEscapingWithSuffixes`, turns `http.server.request.duration` with unit `s` into
//! `http_server_request_duration_seconds`: characters outside `[a-zA-Z0-9:]` split the name into tokens (so runs
//! of them, underscores included, collapse into one `_`), the unit becomes a suffix through a UCUM table
//! (`{…}` annotations are dropped, `a/b` becomes `a_per_b`), monotonic sums get `_total` and gauges with unit `1`
//! get `_ratio`. The UTF-8 strategies keep names as they are and only add the suffixes.

use super::config::TranslationStrategy;

/// The OTLP metric kind, as far as naming cares (`otlptranslator.MetricType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricKind {
    Gauge,
    MonotonicCounter,
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// Builds Prometheus metric names (`otlptranslator.MetricNamer`, without a namespace: Prometheus's receiver sets
/// none).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetricNamer {
    pub with_suffixes: bool,
    pub utf8_allowed: bool,
}

impl MetricNamer {
    pub fn new(strategy: TranslationStrategy) -> Self {
        Self { with_suffixes: strategy.adds_suffixes(), utf8_allowed: !strategy.escapes() }
    }

    /// The Prometheus name of an OTLP metric; the error says why the name is unusable (`MetricNamer.Build`).
    pub fn build(&self, name: &str, unit: &str, kind: MetricKind) -> Result<String, String> {
        if self.utf8_allowed {
            let built = build_utf8_metric_name(name, unit, kind, self.with_suffixes);
            if built.is_empty() {
                return Err("metric name is empty".to_string());
            }
            return Ok(built);
        }
        let normalized = if self.with_suffixes {
            normalize_name(name, unit, kind)
        } else {
            let joined = name
                .split(|c: char| !is_valid_metric_char(c) && c != '_')
                .filter(|token| !token.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            prefix_leading_digit(joined)
        };
        if normalized.is_empty() {
            return Err(format!("normalization for metric {name:?} resulted in empty name"));
        }
        if normalized != name && normalized.chars().all(|c| c == '_') {
            return Err(format!("normalization for metric {name:?} resulted in invalid name {normalized:?}"));
        }
        Ok(normalized)
    }
}

/// `[a-zA-Z0-9:]`: the characters that survive metric name escaping (`_` is handled as a separator).
fn is_valid_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

fn prefix_leading_digit(name: String) -> String {
    if name.starts_with(|c: char| c.is_ascii_digit()) { format!("_{name}") } else { name }
}

/// `normalizeName`: tokenise, add unit tokens, then `total` / `ratio`.
fn normalize_name(name: &str, unit: &str, kind: MetricKind) -> String {
    let mut tokens: Vec<String> =
        name.split(|c: char| !is_valid_metric_char(c)).filter(|t| !t.is_empty()).map(str::to_string).collect();
    let (main_suffix, per_suffix) = unit_suffixes(unit);
    add_unit_tokens(&mut tokens, clean_up_unit(&main_suffix), clean_up_unit(&per_suffix));
    if kind == MetricKind::MonotonicCounter {
        tokens.retain(|token| token != "total");
        tokens.push("total".to_string());
    }
    // Only gauges: OTel receivers misuse unit "1" for counts of things (see the comment in metric_namer.go).
    if unit == "1" && kind == MetricKind::Gauge {
        tokens.retain(|token| token != "ratio");
        tokens.push("ratio".to_string());
    }
    prefix_leading_digit(tokens.join("_"))
}

/// `addUnitTokens`: appends the unit suffixes unless a token already equals them.
fn add_unit_tokens(tokens: &mut Vec<String>, main_suffix: String, per_suffix: String) {
    let mut main_suffix = main_suffix;
    if tokens.contains(&main_suffix) {
        main_suffix.clear();
    }
    let mut per_suffix = if per_suffix == "per_" {
        String::new()
    } else {
        per_suffix.strip_suffix('_').map(str::to_string).unwrap_or(per_suffix)
    };
    if tokens.contains(&per_suffix) {
        per_suffix.clear();
    }
    if !per_suffix.is_empty()
        && let Some(trimmed) = main_suffix.strip_suffix('_')
    {
        main_suffix = trimmed.to_string();
    }
    if !main_suffix.is_empty() {
        tokens.push(main_suffix);
    }
    if !per_suffix.is_empty() {
        tokens.push(per_suffix);
    }
}

/// `buildMetricName` (UTF-8 allowed): the name is kept and suffixes are appended unless already present.
fn build_utf8_metric_name(name: &str, unit: &str, kind: MetricKind, with_suffixes: bool) -> String {
    if !with_suffixes {
        return name.to_string();
    }
    let add_ratio = unit == "1" && kind == MetricKind::Gauge;
    let add_total = kind == MetricKind::MonotonicCounter;
    let mut built = name.to_string();
    if add_ratio {
        built = trim_suffix_and_delimiter(&built, "ratio");
    }
    if add_total {
        built = trim_suffix_and_delimiter(&built, "total");
    }
    let (main_suffix, per_suffix) = unit_suffixes(unit);
    if !per_suffix.is_empty() {
        built = trim_suffix_and_delimiter(&built, &per_suffix);
    }
    if !main_suffix.is_empty() && !built.ends_with(&main_suffix) {
        built = format!("{built}_{main_suffix}");
    }
    // Go appends these in deferred calls, so innermost first: per unit, then `_total`, then `_ratio`.
    if !per_suffix.is_empty() {
        built = format!("{built}_{per_suffix}");
    }
    if add_total {
        built.push_str("_total");
    }
    if add_ratio {
        built.push_str("_ratio");
    }
    built
}

/// `trimSuffixAndDelimiter`: drops `suffix` and the one character before it, if the name is longer than that.
fn trim_suffix_and_delimiter(name: &str, suffix: &str) -> String {
    if name.ends_with(suffix) && name.len() > suffix.len() + 1 {
        let without_suffix = &name[..name.len() - suffix.len()];
        let mut chars = without_suffix.chars();
        chars.next_back();
        return chars.as_str().to_string();
    }
    name.to_string()
}

/// `buildUnitSuffixes`: the main unit and the `per_…` unit, mapped through the UCUM tables, not yet escaped.
pub(crate) fn unit_suffixes(unit: &str) -> (String, String) {
    let (main_unit, per_unit) = match unit.split_once('/') {
        Some((main_unit, per_unit)) => (main_unit, Some(per_unit)),
        None => (unit, None),
    };
    let has_annotation = |unit: &str| unit.contains(['{', '}']);
    let main_unit = main_unit.trim();
    let main_suffix = if !main_unit.is_empty() && !has_annotation(main_unit) {
        main_unit_name(main_unit).to_string()
    } else {
        String::new()
    };
    let per_suffix = match per_unit.map(str::trim) {
        Some(per_unit) if !per_unit.is_empty() && !has_annotation(per_unit) => {
            format!("per_{}", per_unit_name(per_unit))
        }
        _ => String::new(),
    };
    (main_suffix, per_suffix)
}

/// `unitMap`: UCUM units to Prometheus base-unit words; unknown units are kept as they are.
fn main_unit_name(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

/// `perUnitMap`: the denominator of a rate unit, singular.
fn per_unit_name(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// `cleanUpUnit`: invalid characters become `_`, runs of `_` collapse, one leading `_` is dropped.
fn clean_up_unit(unit: &str) -> String {
    let mut cleaned = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_valid_metric_char(c) { c } else { '_' };
        if c == '_' && cleaned.ends_with('_') {
            continue;
        }
        cleaned.push(c);
    }
    match cleaned.strip_prefix('_') {
        Some(rest) => rest.to_string(),
        None => cleaned,
    }
}

/// The unit recorded in metadata (`UnitNamer{}.Build`; Prometheus always escapes it): `By/s` → `bytes_per_second`.
pub(crate) fn metadata_unit(unit: &str) -> String {
    let (main_suffix, per_suffix) = unit_suffixes(unit);
    let (main_suffix, per_suffix) = (clean_up_unit(&main_suffix), clean_up_unit(&per_suffix));
    let joined = match (main_suffix.is_empty(), per_suffix.is_empty()) {
        (false, false) => format!("{main_suffix}_{per_suffix}"),
        (false, true) => main_suffix,
        _ => per_suffix,
    };
    let joined = joined.strip_prefix('_').unwrap_or(&joined);
    joined.strip_suffix('_').unwrap_or(joined).to_string()
}

/// Builds Prometheus label names from OTLP attribute keys (`otlptranslator.LabelNamer`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabelNamer {
    pub utf8_allowed: bool,
    /// Prefix `key` to names starting with a single `_` (Prometheus's `label_name_underscore_sanitization`).
    pub underscore_sanitization: bool,
    /// Keep runs of `_` instead of collapsing them (`label_name_preserve_multiple_underscores`).
    pub preserve_multiple_underscores: bool,
}

impl LabelNamer {
    /// The Prometheus label name for an attribute key; the error says why the key is unusable.
    pub fn build(&self, key: &str) -> Result<String, String> {
        if key.is_empty() {
            return Err("label name is empty".to_string());
        }
        if self.utf8_allowed {
            if key.chars().all(|c| c == '_') {
                return Err(format!("label name {key:?} contains only underscores"));
            }
            return Ok(key.to_string());
        }
        let mut normalized = sanitize_label_name(key, self.preserve_multiple_underscores);
        if normalized.starts_with(|c: char| c.is_ascii_digit()) {
            normalized = format!("key_{normalized}");
        } else if self.underscore_sanitization && normalized.starts_with('_') && !normalized.starts_with("__") {
            normalized = format!("key{normalized}");
        }
        if normalized.chars().all(|c| c == '_') {
            return Err(format!("normalization for label name {key:?} resulted in invalid name {normalized:?}"));
        }
        Ok(normalized)
    }
}

/// `sanitizeLabelName`: characters outside `[a-zA-Z0-9]` become `_`; unless runs are preserved, they collapse,
/// and a reserved `__name__`-style name keeps its double underscores around the collapsed middle.
fn sanitize_label_name(name: &str, preserve_multiple_underscores: bool) -> String {
    if preserve_multiple_underscores {
        return name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    }
    let reserved_inner =
        (name.len() >= 4 && name.starts_with("__") && name.ends_with("__")).then(|| &name[2..name.len() - 2]);
    let mut collapsed = String::with_capacity(name.len());
    for c in reserved_inner.unwrap_or(name).chars() {
        if c.is_ascii_alphanumeric() {
            collapsed.push(c);
        } else if !collapsed.ends_with('_') {
            collapsed.push('_');
        }
    }
    if reserved_inner.is_some() { format!("__{collapsed}__") } else { collapsed }
}

/// Formats a float like Go's `strconv.FormatFloat(v, 'f', -1, 64)`, which Prometheus uses for `le` and
/// `quantile` values: shortest round-trip digits, no exponent, `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_go_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's `Display` for f64 is the shortest representation that round-trips, never in exponent form.
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from otlptranslator's metric_namer_test.go / label_namer_test.go / unit_namer_test.go expectations,
    // re-derived by hand from the rules.

    #[test]
    fn metric_names_with_suffixes() {
        let namer = MetricNamer { with_suffixes: true, utf8_allowed: false };
        let f = |name: &str, unit: &str, kind: MetricKind, want: &str| {
            assert_eq!(namer.build(name, unit, kind).unwrap(), want, "{name} [{unit}] {kind:?}");
        };
        use MetricKind::*;
        f("http.server.request.duration", "s", Histogram, "http_server_request_duration_seconds");
        f("system.memory.usage", "By", Gauge, "system_memory_usage_bytes");
        f("requests", "1", MonotonicCounter, "requests_total");
        f("requests.total", "", MonotonicCounter, "requests_total");
        f("total.requests", "", MonotonicCounter, "requests_total");
        f("cpu.utilization", "1", Gauge, "cpu_utilization_ratio");
        f("cpu.utilization", "1", NonMonotonicCounter, "cpu_utilization");
        f("ratio.cpu", "1", Gauge, "cpu_ratio");
        f("queue.size", "{items}", Gauge, "queue_size");
        f("network.io", "By/s", MonotonicCounter, "network_io_bytes_per_second_total");
        f("throughput", "{requests}/s", Gauge, "throughput_per_second");
        f("speed", "m/h", Gauge, "speed_meters_per_hour");
        f("latency_seconds", "s", Histogram, "latency_seconds");
        f("foo__bar...baz", "", Gauge, "foo_bar_baz");
        f("my.counter", "1", MonotonicCounter, "my_counter_total");
        f("my.gauge", "1", Gauge, "my_gauge_ratio");
        f("my.histogram", "1", Histogram, "my_histogram");
        f("0xfoo", "", Gauge, "_0xfoo");
        f("temperature", "Cel", Gauge, "temperature_celsius");
        f("disk.usage", "%", Gauge, "disk_usage_percent");
        f("odd", "km/{x}", Gauge, "odd_km");
        f("odd", "k-m/s", Gauge, "odd_k_m_per_second");
        f("a:b", "", Gauge, "a:b");
        f("ünïcode", "", Gauge, "n_code");
        f("foo", "per/s", Gauge, "foo_per_per_second");
        f("foo", " s / m ", Gauge, "foo_seconds_per_minute");
        f("foo", "/s", Gauge, "foo_per_second");
    }

    #[test]
    fn metric_name_errors() {
        let namer = MetricNamer { with_suffixes: true, utf8_allowed: false };
        assert_eq!(
            namer.build("...", "", MetricKind::Gauge).unwrap_err(),
            r#"normalization for metric "..." resulted in empty name"#
        );
        let plain = MetricNamer { with_suffixes: false, utf8_allowed: false };
        assert_eq!(plain.build("a.b-c", "s", MetricKind::MonotonicCounter).unwrap(), "a_b_c");
        assert_eq!(plain.build("a__b", "", MetricKind::Gauge).unwrap(), "a__b");
        assert_eq!(plain.build("9a", "", MetricKind::Gauge).unwrap(), "_9a");
        assert_eq!(plain.build("__", "", MetricKind::Gauge).unwrap(), "__");
        assert_eq!(
            plain.build("_._", "", MetricKind::Gauge).unwrap_err(),
            r#"normalization for metric "_._" resulted in invalid name "___""#
        );
    }

    #[test]
    fn utf8_metric_names() {
        let namer = MetricNamer { with_suffixes: true, utf8_allowed: true };
        let f = |name: &str, unit: &str, kind: MetricKind, want: &str| {
            assert_eq!(namer.build(name, unit, kind).unwrap(), want, "{name} [{unit}] {kind:?}");
        };
        use MetricKind::*;
        f("http.server.duration", "s", Histogram, "http.server.duration_seconds");
        f("requests.total", "1", MonotonicCounter, "requests_total");
        f("io", "By/s", MonotonicCounter, "io_bytes_per_second_total");
        f("io.per_second", "By/s", Gauge, "io_bytes_per_second");
        f("cpu", "1", Gauge, "cpu_ratio");
        f("cpu.ratio", "1", Gauge, "cpu_ratio");
        f("x_seconds", "s", Gauge, "x_seconds");
        let no_suffix = MetricNamer { with_suffixes: false, utf8_allowed: true };
        assert_eq!(no_suffix.build("a.b", "s", MonotonicCounter).unwrap(), "a.b");
    }

    #[test]
    fn metadata_units() {
        let f = |unit: &str, want: &str| assert_eq!(metadata_unit(unit), want, "{unit}");
        f("s", "seconds");
        f("By/s", "bytes_per_second");
        f("1", "");
        f("{requests}/s", "per_second");
        f("{packets}", "");
        f("m/s", "meters_per_second");
        f("%", "percent");
        f("unknown", "unknown");
        f("", "");
    }

    #[test]
    fn label_names_prometheus_defaults() {
        // Prometheus 3.x defaults: underscore sanitization on, multiple underscores preserved.
        let namer =
            LabelNamer { utf8_allowed: false, underscore_sanitization: true, preserve_multiple_underscores: true };
        let f = |key: &str, want: &str| assert_eq!(namer.build(key).unwrap(), want, "{key}");
        f("http.method", "http_method");
        f("service.instance.id", "service_instance_id");
        f("123invalid", "key_123invalid");
        f("_private", "key_private");
        f("__reserved__", "__reserved__");
        f("__name", "__name");
        f("a..b", "a__b");
        f("ünï", "key_n_");
        f("valid_name", "valid_name");
        f("a/b:c", "a_b_c");
        let err = |key: &str, want: &str| assert_eq!(namer.build(key).unwrap_err(), want, "{key}");
        err("", "label name is empty");
        err("...", r#"normalization for label name "..." resulted in invalid name "___""#);
        err("__", r#"normalization for label name "__" resulted in invalid name "__""#);
    }

    #[test]
    fn label_names_collapsing() {
        let namer =
            LabelNamer { utf8_allowed: false, underscore_sanitization: false, preserve_multiple_underscores: false };
        let f = |key: &str, want: &str| assert_eq!(namer.build(key).unwrap(), want, "{key}");
        f("a..b", "a_b");
        f("_private", "_private");
        f("__a..b__", "__a_b__");
        f("1a", "key_1a");
        let utf8 =
            LabelNamer { utf8_allowed: true, underscore_sanitization: true, preserve_multiple_underscores: true };
        assert_eq!(utf8.build("http.method").unwrap(), "http.method");
        assert_eq!(utf8.build("___").unwrap_err(), r#"label name "___" contains only underscores"#);
    }

    #[test]
    fn go_float_formatting() {
        let f = |value: f64, want: &str| assert_eq!(format_go_float(value), want, "{value}");
        f(1.0, "1");
        f(0.5, "0.5");
        f(0.1, "0.1");
        f(1e-5, "0.00001");
        f(1e21, "1000000000000000000000");
        f(250.0, "250");
        f(f64::INFINITY, "+Inf");
        f(f64::NEG_INFINITY, "-Inf");
        f(f64::NAN, "NaN");
        f(-2.5, "-2.5");
    }
}
