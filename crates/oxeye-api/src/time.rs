//! Prometheus API time parameters: Unix seconds (with fraction) or RFC 3339.

/// The smallest and largest times Prometheus's API uses for an absent `start`/`end`
/// (`time.Unix(math.MinInt64/1000+62135596801, 0)` and its mirror), in milliseconds.
pub const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
pub const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// Parses a time parameter into milliseconds. `name` is used in the error message.
pub fn parse_time(name: &str, text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(format!("invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"));
        }
        return Ok((seconds * 1000.0).round() as i64);
    }
    oxeye_model::time::parse_rfc3339_ms(text)
        .ok_or_else(|| format!("invalid parameter {name:?}: cannot parse {text:?} to a valid timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        let f = |text: &str, want: i64| assert_eq!(parse_time("t", text).unwrap(), want, "{text}");
        f("1700000000", 1_700_000_000_000);
        f("1700000000.123", 1_700_000_000_123);
        f("1970-01-01T00:00:00Z", 0);
        f("2023-11-14T22:13:20Z", 1_700_000_000_000);
        f("2023-11-14T22:13:20.5Z", 1_700_000_000_500);
        f("2023-11-15T00:13:20+02:00", 1_700_000_000_000);
        for bad in ["", "abc", "2023-13-01T00:00:00Z", "NaN", "2023-11-14"] {
            assert!(parse_time("t", bad).is_err(), "{bad:?}");
        }
        const { assert!(MIN_TIME_MS < -62_000_000_000_000 && MAX_TIME_MS > 253_000_000_000_000) };
    }
}
