//! Query parameters of the Tempo and Jaeger APIs.

use std::collections::HashMap;

use oxeye_model::TraceId;

use super::bad_request;
use crate::ApiError;

/// A trace id from a path: up to 32 hex digits, shorter ids zero-padded on the left (Tempo accepts 64-bit ids).
pub(crate) fn trace_id(text: &str) -> Result<TraceId, ApiError> {
    match TraceId::from_hex(text) {
        Ok(id) if !id.is_zero() => Ok(id),
        Ok(_) => Err(bad_request(format!("invalid trace id {text:?}: a trace id may not be all zero"))),
        Err(error) => Err(bad_request(format!("invalid trace id: {error}"))),
    }
}

/// Tempo's `start`/`end` (Unix seconds) as a nanosecond range; either may be absent (no bound).
pub(crate) fn seconds_range(params: &HashMap<String, String>) -> Result<Option<(u64, u64)>, ApiError> {
    let seconds = |name: &str| -> Result<Option<u64>, ApiError> {
        match params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty()) {
            None => Ok(None),
            Some(text) => text
                .parse::<u64>()
                .map(Some)
                .map_err(|_| bad_request(format!("invalid {name}: {text:?} is not a Unix time in seconds"))),
        }
    };
    let (start, end) = (seconds("start")?, seconds("end")?);
    if start.is_none() && end.is_none() {
        return Ok(None);
    }
    let start_ns = start.unwrap_or(0).saturating_mul(1_000_000_000);
    let end_ns = end.map_or(u64::MAX, |end| end.saturating_mul(1_000_000_000).saturating_add(999_999_999));
    if start_ns > end_ns {
        return Err(bad_request("invalid start: start must not be after end"));
    }
    Ok(Some((start_ns, end_ns)))
}

/// A Go duration (`300ms`, `1.5s`, `2m30s`, `1h`) in nanoseconds, as Tempo's `minDuration`/`maxDuration` and
/// Jaeger's `minDuration`/`maxDuration` take them.
pub(crate) fn go_duration(name: &str, text: &str) -> Result<u64, ApiError> {
    let invalid = || bad_request(format!("invalid {name}: {text:?} is not a duration (like 300ms, 1.5s or 2m30s)"));
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Ok(total.round() as u64)
}

/// A positive integer parameter with a default.
pub(crate) fn positive(params: &HashMap<String, String>, name: &str, default: usize) -> Result<usize, ApiError> {
    match params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty()) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(value) if value > 0 => Ok(value),
            _ => Err(bad_request(format!("invalid {name}: {text:?} is not a positive integer"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("d", "300ms").unwrap(), 300_000_000);
        assert_eq!(go_duration("d", "1.5s").unwrap(), 1_500_000_000);
        assert_eq!(go_duration("d", "2m30s").unwrap(), 150_000_000_000);
        assert_eq!(go_duration("d", "10us").unwrap(), 10_000);
        assert!(go_duration("minDuration", "5x").unwrap_err().to_string().contains("minDuration"));
        assert!(go_duration("d", "ms").is_err());
    }

    #[test]
    fn trace_ids() {
        assert_eq!(trace_id("abc").unwrap().to_hex(), "00000000000000000000000000000abc");
        assert!(trace_id("0").is_err());
        assert!(trace_id("xyz").unwrap_err().to_string().contains("invalid trace id"));
    }
}
