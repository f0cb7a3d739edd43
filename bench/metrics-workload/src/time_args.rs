//! Parsing of the command line's durations (`15s`, `3h15m`) and end times (`now`, Unix seconds, UTC timestamps).

use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Parses a Prometheus-style duration: one or more `<integer><unit>` parts with units `ms`, `s`, `m`, `h`, `d`
/// (`15s`, `2h`, `3h15m`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let mut total_ms: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            bail!("duration {text:?}: expected a number at {rest:?}");
        }
        let number: u64 = rest[..digits].parse().with_context(|| format!("duration {text:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: u64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            unit => bail!("duration {text:?}: unknown unit {unit:?} (use ms, s, m, h or d)"),
        };
        rest = &rest[unit_len..];
        total_ms = number
            .checked_mul(unit_ms)
            .and_then(|part| total_ms.checked_add(part))
            .with_context(|| format!("duration {text:?} overflows"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Parses an end time into Unix milliseconds: `now` (given as `now_ms`), Unix seconds, or a UTC timestamp
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_end_time(text: &str, now_ms: i64) -> Result<i64> {
    let text = text.trim();
    if text == "now" {
        return Ok(now_ms);
    }
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        let seconds: i64 = text.parse().with_context(|| format!("end time {text:?}"))?;
        return seconds.checked_mul(1000).with_context(|| format!("end time {text:?} overflows"));
    }
    parse_utc_timestamp(text)
        .with_context(|| format!("end time {text:?}: expected now, Unix seconds or YYYY-MM-DDTHH:MM:SSZ"))
}

fn parse_utc_timestamp(text: &str) -> Result<i64> {
    if text.len() != 20 || !text.ends_with('Z') {
        bail!("not of the form YYYY-MM-DDTHH:MM:SSZ");
    }
    oxeye_model::time::parse_rfc3339_ms(text).context("not a valid YYYY-MM-DDTHH:MM:SSZ timestamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let f = |text: &str, want_ms: Option<u64>| {
            assert_eq!(parse_duration(text).ok().map(|duration| duration.as_millis() as u64), want_ms, "{text}");
        };
        f("15s", Some(15_000));
        f("2h", Some(7_200_000));
        f("3h15m", Some(11_700_000));
        f("500ms", Some(500));
        f("1d", Some(86_400_000));
        f("", None);
        f("15", None);
        f("2x", None);
        f("h", None);
    }

    #[test]
    fn end_times() {
        let f = |text: &str, want_ms: Option<i64>| {
            assert_eq!(parse_end_time(text, 42).ok(), want_ms, "{text}");
        };
        f("now", Some(42));
        f("1700000000", Some(1_700_000_000_000));
        f("1970-01-01T00:00:00Z", Some(0));
        f("2024-02-29T12:34:56Z", Some(1_709_210_096_000));
        f("2024-13-01T00:00:00Z", None);
        f("yesterday", None);
    }
}
