//! Prometheus API time and duration parameters: Unix seconds (with fraction) or RFC 3339 for times, float seconds
//! or a Prometheus duration (`1h30m`) for durations, refused with Prometheus's messages.

/// The smallest and largest times Prometheus's API uses for an absent `start`/`end`
/// (`time.Unix(math.MinInt64/1000+62135596801, 0)` and its mirror), in milliseconds.
pub const MIN_TIME_MS: i64 = (i64::MIN / 1000 + 62_135_596_801) * 1000;
pub const MAX_TIME_MS: i64 = (i64::MAX / 1000 - 62_135_596_801) * 1000 + 999;

/// How Go prints [`MIN_TIME_MS`] and [`MAX_TIME_MS`] in RFC 3339; Prometheus accepts these two strings back
/// although they are not valid RFC 3339 (their years have more than four digits).
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// Parses a time into milliseconds (Prometheus's `parseTime`). The error is Prometheus's reason, without the
/// parameter name.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
    {
        return Ok((seconds * 1000.0).round() as i64);
    }
    match text {
        MIN_TIME_FORMATTED => return Ok(MIN_TIME_MS),
        MAX_TIME_FORMATTED => return Ok(MAX_TIME_MS),
        _ => {}
    }
    oxeye_model::time::parse_rfc3339_ms(text).ok_or_else(|| format!("cannot parse {text:?} to a valid timestamp"))
}

/// Parses a duration into nanoseconds (Prometheus's `parseDuration`): float seconds, or a Prometheus duration
/// whose units (`y w d h m s ms`) appear at most once each, largest first. The error is Prometheus's reason.
pub fn parse_duration_ns(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        let nanos = seconds * 1e9;
        if nanos.is_nan() {
            return Err(format!("cannot parse {text:?} to a valid duration"));
        }
        if nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
            return Err(format!("cannot parse {text:?} to a valid duration. It overflows int64"));
        }
        return Ok(nanos as i64);
    }
    parse_prometheus_duration_ns(text).ok_or_else(|| format!("cannot parse {text:?} to a valid duration"))
}

/// `model.ParseDuration` from prometheus/common: `0`, or `[0-9]+unit` groups in decreasing unit order.
fn parse_prometheus_duration_ns(text: &str) -> Option<i64> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400 * 1_000_000_000),
        ("w", 7 * 86_400 * 1_000_000_000),
        ("d", 86_400 * 1_000_000_000),
        ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let position = UNITS.iter().position(|(name, _)| *name == unit)?;
        if position < next_unit {
            return None;
        }
        next_unit = position + 1;
        total = total.checked_add(number.checked_mul(UNITS[position].1)?)?;
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        let f = |text: &str, want: i64| assert_eq!(parse_time(text).unwrap(), want, "{text}");
        f("1700000000", 1_700_000_000_000);
        f("1700000000.123", 1_700_000_000_123);
        f("1970-01-01T00:00:00Z", 0);
        f("2023-11-14T22:13:20Z", 1_700_000_000_000);
        f("2023-11-14T22:13:20.5Z", 1_700_000_000_500);
        f("2023-11-15T00:13:20+02:00", 1_700_000_000_000);
        f(MIN_TIME_FORMATTED, MIN_TIME_MS);
        f(MAX_TIME_FORMATTED, MAX_TIME_MS);
        for bad in ["", "abc", "2023-13-01T00:00:00Z", "NaN", "2023-11-14"] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_time("abc").unwrap_err(), "cannot parse \"abc\" to a valid timestamp");
        const { assert!(MIN_TIME_MS < -62_000_000_000_000 && MAX_TIME_MS > 253_000_000_000_000) };
    }

    #[test]
    fn durations_parse_like_prometheus() {
        let f = |text: &str, want: i64| assert_eq!(parse_duration_ns(text), Ok(want), "{text}");
        f("15", 15_000_000_000);
        f("0.5", 500_000_000);
        f("1e-3", 1_000_000);
        f("-5", -5_000_000_000);
        f("0", 0);
        f("15s", 15_000_000_000);
        f("1m30s", 90_000_000_000);
        f("1h5m10s100ms", 3_910_100_000_000);
        f("2d", 172_800_000_000_000);
        f("1y", 31_536_000_000_000_000);
        for bad in ["", "abc", "1x", "5m1h", "1s1s", "s", "1.5s", " 1s", "-1s"] {
            assert_eq!(parse_duration_ns(bad), Err(format!("cannot parse {bad:?} to a valid duration")), "{bad:?}");
        }
        assert_eq!(
            parse_duration_ns("1e300"),
            Err("cannot parse \"1e300\" to a valid duration. It overflows int64".to_string())
        );
        assert!(parse_duration_ns("300y").is_err(), "beyond i64 nanoseconds");
    }
}
