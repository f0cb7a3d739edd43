//! Durations and timestamps as the test scripts write them.
//!
//! promqltest reads every time in a script (`load 1m`, `at 5m30s`, `from 0 to 10m step 30s`) with
//! `model.ParseDuration` from `prometheus/common`: one or more `<digits><unit>` groups with units
//! `y w d h m s ms` from biggest to smallest, or a bare `0`. A bare number other than `0` is not a duration,
//! so `at 100` is an error rather than 100 seconds. Timestamps are durations added to the Unix epoch.

use crate::ScriptError;

/// Units in the order they must appear, with their length in milliseconds.
const UNITS: [(&str, i64); 7] = [
    ("y", 365 * 24 * 60 * 60 * 1000),
    ("w", 7 * 24 * 60 * 60 * 1000),
    ("d", 24 * 60 * 60 * 1000),
    ("h", 60 * 60 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus duration (`1m`, `5m30s`, `10s53ms`, `0`) into milliseconds.
///
/// Fails on an empty string, a missing or unknown unit, units out of order or a value that overflows.
pub fn parse_duration_ms(text: &str) -> Result<i64, ScriptError> {
    let invalid = |reason: &str| ScriptError::Duration { text: text.to_string(), reason: reason.to_string() };
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid("empty duration string"));
    }
    let mut rest = text;
    let mut total_ms: i64 = 0;
    // Index into UNITS of the previous unit; each unit must come strictly after the one before.
    let mut previous_unit_index: Option<usize> = None;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(invalid("not a valid duration string"));
        }
        let value: i64 = rest[..digits_len].parse().map_err(|_| invalid("duration out of range"))?;
        rest = &rest[digits_len..];
        let unit_len = rest.bytes().take_while(|byte| !byte.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid("not a valid duration string"));
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(unit_index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(invalid(&format!("unknown unit {unit:?}")));
        };
        if previous_unit_index.is_some_and(|previous| unit_index <= previous) {
            return Err(invalid("not a valid duration string"));
        }
        previous_unit_index = Some(unit_index);
        let unit_ms = UNITS[unit_index].1;
        total_ms = value
            .checked_mul(unit_ms)
            .and_then(|part| total_ms.checked_add(part))
            .ok_or_else(|| invalid("duration out of range"))?;
    }
    Ok(total_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_follow_prometheus_model_parse_duration() {
        let ok = |text: &str, want_ms: i64| assert_eq!(parse_duration_ms(text).unwrap(), want_ms, "{text}");
        ok("0", 0);
        ok("0s", 0);
        ok("0m", 0);
        ok("0h", 0);
        ok("1ms", 1);
        ok("30s", 30_000);
        ok("1m", 60_000);
        ok("5m30s", 330_000);
        ok("5m0s", 300_000);
        ok("10s53ms", 10_053);
        ok("20s500ms", 20_500);
        ok("1h", 3_600_000);
        ok("1111111s", 1_111_111_000);
        ok("1d", 86_400_000);
        ok("1w", 7 * 86_400_000);
        ok("1y", 365 * 86_400_000);

        let err = |text: &str| assert!(parse_duration_ms(text).is_err(), "{text} should not parse");
        err("");
        err("100");
        err("1.5m");
        err("m");
        err("1x");
        err("30s1m");
        err("1m1m");
        err("-1m");
    }
}
