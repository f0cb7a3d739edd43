//! The `_time` field of a bulk document, read the way VictoriaLogs reads it (`parseElasticsearchTimestamp`):
//! `"0"` or empty means "now"; `YYYY-MM-DD`; RFC 3339 / ISO 8601 with `T` or a space between date and time, up
//! to nine fractional digits and `Z`, `±hh:mm` or no zone; or a Unix timestamp whose unit (s, ms, µs, ns) follows
//! from its magnitude, possibly fractional or in exponent notation.
//!
//! Difference from VictoriaLogs: a date-time without a zone is read as UTC, not in the server's local zone.

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Unix nanoseconds of `text`; `Ok(None)` for the "use the current time" values `"0"` and `""`.
pub(super) fn parse_timestamp(text: &str) -> Result<Option<i64>, String> {
    if text == "0" || text.is_empty() {
        return Ok(None);
    }
    let bytes = text.as_bytes();
    if bytes.len() < "YYYY-MM-DD".len() || bytes[4] != b'-' {
        return parse_unix_timestamp(text).map(Some).ok_or_else(|| format!("cannot parse unix timestamp {text:?}"));
    }
    parse_date_time(text).map(Some).ok_or_else(|| format!("cannot parse timestamp {text:?}"))
}

/// A decimal number, optionally fractional or with an exponent, in seconds, milliseconds, microseconds or
/// nanoseconds according to its magnitude (VictoriaLogs' `TryParseUnixTimestamp`).
fn parse_unix_timestamp(text: &str) -> Option<i64> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(position) => (&text[..position], Some(text[position + 1..].parse::<i32>().ok()?)),
        None => (text, None),
    };
    let (negative, unsigned) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (integer_part, fraction_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if integer_part.is_empty() || !all_digits(integer_part) || !all_digits(fraction_part) {
        return None;
    }
    if integer_part.len() + fraction_part.len() > 30 {
        return None;
    }
    let mut value: i128 = format!("{integer_part}{fraction_part}").parse().ok()?;
    let fraction_digits = fraction_part.len() as i32;
    match exponent {
        Some(exponent) => {
            let shift = exponent.checked_sub(fraction_digits).filter(|shift| (0..=18).contains(shift))?;
            value *= 10i128.pow(shift as u32);
        }
        None => {
            // Fractional values are scaled to a multiple of three decimals, so that "1.5" (seconds) reads as
            // 1500 milliseconds under the magnitude rule.
            let mut digits = fraction_digits;
            while digits % 3 != 0 {
                value *= 10;
                digits += 1;
            }
        }
    }
    if negative {
        value = -value;
    }
    let limit: i128 = 1 << 31;
    let nanos = if (-limit..limit).contains(&value) {
        value * NANOS_PER_SECOND
    } else if (-limit * 1_000..limit * 1_000).contains(&value) {
        value * 1_000_000
    } else if (-limit * 1_000_000..limit * 1_000_000).contains(&value) {
        value * 1_000
    } else {
        value
    };
    i64::try_from(nanos).ok()
}

/// `YYYY-MM-DD`, or `YYYY-MM-DD(T| )hh:mm:ss[.fraction][Z|±hh:mm]`.
fn parse_date_time(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let bytes = text.as_bytes();
    if bytes.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1677..=2262).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = oxeye_model::time::days_from_civil(year, month, day);
    if text.len() == 10 {
        return i64::try_from(i128::from(days) * 86_400 * NANOS_PER_SECOND).ok();
    }
    if !matches!(bytes.get(10), Some(b'T' | b' ')) || bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut offset_seconds = 0i64;
    if let Some(without_zone) = rest.strip_suffix(['Z', 'z']) {
        rest = without_zone;
    } else if let Some(sign_position) = rest.rfind(['+', '-']) {
        let zone = &rest[sign_position + 1..];
        let zone_bytes = zone.as_bytes();
        if zone.len() != 5 || zone_bytes[2] != b':' {
            return None;
        }
        let hours: i64 = zone.get(0..2)?.parse().ok()?;
        let minutes: i64 = zone.get(3..5)?.parse().ok()?;
        if hours > 24 || minutes > 59 {
            return None;
        }
        let sign = if rest.as_bytes()[sign_position] == b'-' { -1 } else { 1 };
        offset_seconds = sign * (hours * 3600 + minutes * 60);
        rest = &rest[..sign_position];
    }
    let mut fraction_nanos = 0i64;
    if !rest.is_empty() {
        let fraction = rest.strip_prefix('.')?;
        if fraction.is_empty() || fraction.len() > 9 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        fraction_nanos = fraction.parse::<i64>().ok()? * 10i64.pow(9 - fraction.len() as u32);
    }
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    i64::try_from(i128::from(seconds) * NANOS_PER_SECOND + i128::from(fraction_nanos)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form() {
        let f = |text: &str, want: Option<i64>| assert_eq!(parse_timestamp(text).unwrap(), want, "{text}");
        f("0", None);
        f("", None);
        f("1686026893", Some(1_686_026_893_000_000_000));
        f("1686026893735", Some(1_686_026_893_735_000_000));
        f("1686026893735321", Some(1_686_026_893_735_321_000));
        f("1686026893735321456", Some(1_686_026_893_735_321_456));
        f("1686026893.5", Some(1_686_026_893_500_000_000));
        f("1686026893.735321", Some(1_686_026_893_735_321_000));
        f("1.686026893e9", Some(1_686_026_893_000_000_000));
        f("-1", Some(-1_000_000_000));
        f("2023-06-20", Some(1_687_219_200_000_000_000));
        f("2023-06-20T15:32:10Z", Some(1_687_275_130_000_000_000));
        f("2023-06-20T15:32:10.123456789Z", Some(1_687_275_130_123_456_789));
        f("2023-06-20 17:32:10.5+02:00", Some(1_687_275_130_500_000_000));
        f("2023-06-20T10:32:10-05:00", Some(1_687_275_130_000_000_000));
        f("2023-06-20T15:32:10", Some(1_687_275_130_000_000_000));
        let bad = |text: &str| assert!(parse_timestamp(text).is_err(), "{text} should fail");
        bad("abc");
        bad("1.2.3");
        bad("1.23456e2");
        bad("2023-13-20T15:32:10Z");
        bad("2023-06-20T15:32:10.1234567890Z");
        bad("2023-06-20T15:32:10+0200");
        bad("2023-06-20X15:32:10Z");
        bad("1000-06-20T15:32:10Z");
        bad("99999999999999999999999");
    }
}
