//! Request parameters of the Loki API, parsed as Loki's `loghttp` package parses them.
//!
//! Times are Unix nanoseconds, Unix seconds (ten digits or fewer), float seconds, or RFC 3339; `start` defaults
//! to one hour before `end` (or `since` before it), `end` to now; `limit` to 100; `direction` to backward; `step`
//! to `max(floor((end - start) / 250 s), 1 s)`.

use oxeye_storage_api::Direction;

use super::bad_request as bad;
use crate::ApiError;
use crate::params::Params;

const DEFAULT_SINCE_NS: i64 = 3_600_000_000_000;
const DEFAULT_LIMIT: usize = 100;

/// Loki's `parseTimestamp`.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
    if text.contains('.')
        && let Ok(seconds) = text.parse::<f64>()
        && seconds.is_finite()
    {
        let whole = seconds.trunc();
        let fraction = ((seconds - whole) * 1000.0).round() / 1000.0;
        return Ok(whole as i64 * 1_000_000_000 + (fraction * 1e9) as i64);
    }
    match text.parse::<i64>() {
        Ok(number) if text.len() <= 10 => Ok(number.saturating_mul(1_000_000_000)),
        Ok(number) => Ok(number),
        Err(_) => parse_rfc3339_ns(text).ok_or_else(|| format!("cannot parse {text:?} as a timestamp")),
    }
}

/// RFC 3339 with up to nanosecond precision.
fn parse_rfc3339_ns(text: &str) -> Option<i64> {
    let millis = oxeye_model::time::parse_rfc3339_ms(text)?;
    // parse_rfc3339_ms keeps milliseconds; recover the sub-millisecond digits of the fraction, if any.
    let fraction_ns = text
        .find('.')
        .map(|dot| {
            let digits: String = text[dot + 1..].chars().take_while(char::is_ascii_digit).collect();
            let padded = format!("{digits:0<9}");
            padded[3..9].parse::<i64>().unwrap_or(0)
        })
        .unwrap_or(0);
    Some(millis * 1_000_000 + if millis >= 0 { fraction_ns } else { -fraction_ns })
}

/// A Loki or Prometheus duration (`5m`, `1h30m`, `500ms`) or float seconds, in nanoseconds (Loki's
/// `parseSecondsOrDuration`).
pub(crate) fn parse_seconds_or_duration(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() {
            return Err(format!("cannot parse {text:?} to a valid duration"));
        }
        return Ok((seconds * 1e9) as i64);
    }
    crate::time::parse_duration_ns(text).map_err(|_| format!("cannot parse {text:?} to a valid duration"))
}

/// The `[start, end]` of a request (Loki's `bounds`).
pub(crate) fn bounds(params: &Params, now_ns: i64) -> Result<(i64, i64), ApiError> {
    let since = match params.value("since") {
        "" => DEFAULT_SINCE_NS,
        text => {
            crate::time::parse_duration_ns(text).map_err(|e| bad(format!("could not parse 'since' parameter: {e}")))?
        }
    };
    let end = match params.value("end") {
        "" => now_ns,
        text => parse_timestamp(text).map_err(|e| bad(format!("could not parse 'end' parameter: {e}")))?,
    };
    let end_or_now = end.min(now_ns);
    let start = match params.value("start") {
        "" => end_or_now - since,
        text => parse_timestamp(text).map_err(|e| bad(format!("could not parse 'start' parameter: {e}")))?,
    };
    Ok((start, end))
}

/// `time` of an instant query, now by default.
pub(crate) fn time(params: &Params, now_ns: i64) -> Result<i64, ApiError> {
    match params.value("time") {
        "" => Ok(now_ns),
        text => parse_timestamp(text).map_err(|e| bad(format!("could not parse 'time' parameter: {e}"))),
    }
}

pub(crate) fn limit(params: &Params) -> Result<usize, ApiError> {
    match params.value("limit") {
        "" => Ok(DEFAULT_LIMIT),
        text => match text.parse::<i64>() {
            Ok(limit) if limit > 0 => Ok(limit as usize),
            Ok(_) => Err(bad("limit must be a positive value")),
            Err(_) => Err(bad(format!("strconv.Atoi: parsing {text:?}: invalid syntax"))),
        },
    }
}

pub(crate) fn direction(params: &Params) -> Result<Direction, ApiError> {
    match params.value("direction").to_ascii_uppercase().as_str() {
        "" | "BACKWARD" => Ok(Direction::Backward),
        "FORWARD" => Ok(Direction::Forward),
        _ => Err(bad(format!("invalid direction '{}'", params.value("direction")))),
    }
}

/// `step` in nanoseconds (Loki's default when absent).
pub(crate) fn step(params: &Params, start_ns: i64, end_ns: i64) -> Result<i64, ApiError> {
    match params.value("step") {
        "" => Ok((((end_ns - start_ns) as f64 / 1e9 / 250.0).floor().max(1.0) as i64) * 1_000_000_000),
        text => parse_seconds_or_duration(text).map_err(|e| bad(format!("invalid step: {e}"))),
    }
}

/// `interval` in nanoseconds (0 when absent).
pub(crate) fn interval(params: &Params) -> Result<i64, ApiError> {
    match params.value("interval") {
        "" => Ok(0),
        text => parse_seconds_or_duration(text).map_err(|e| bad(format!("invalid interval: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_like_loki() {
        let f = |text: &str, want: i64| assert_eq!(parse_timestamp(text), Ok(want), "{text}");
        f("1700000000", 1_700_000_000_000_000_000);
        f("1700000000000000000", 1_700_000_000_000_000_000);
        f("1700000000.5", 1_700_000_000_500_000_000);
        f("2023-11-14T22:13:20Z", 1_700_000_000_000_000_000);
        f("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789);
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn default_step_is_a_250th_of_the_range_in_whole_seconds() {
        let params = Params::parse(None, &Default::default(), &[]).unwrap();
        let hour = 3_600_000_000_000;
        assert_eq!(step(&params, 0, hour).unwrap(), 14_000_000_000);
        assert_eq!(step(&params, 0, 10).unwrap(), 1_000_000_000);
    }
}
