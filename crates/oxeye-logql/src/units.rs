//! Go-compatible parsing and formatting of durations, byte sizes and numbers.
//!
//! LogQL inherits its literal syntax from three Go libraries, and the values that fail to parse end up verbatim in
//! `__error_details__`, so both the accepted inputs and the error wording follow them:
//! - Prometheus `model.ParseDuration` (`5m`, `1h30m`, `2d`; integer units from `y` to `ms`, in that order),
//! - Go `time.ParseDuration` (`1.5s`, `300ms`, `-2h45m`, `10us`),
//! - `go-humanize` `ParseBytes` (`10KB` = 10 000, `1MiB` = 1 048 576, `42`, `1.5 GB`).

/// Nanoseconds per millisecond, second, minute, hour.
const MS: i64 = 1_000_000;
const SECOND: i64 = 1_000 * MS;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Prometheus `model.ParseDuration`, in nanoseconds.
pub(crate) fn parse_prometheus_duration(input: &str) -> Result<i64, String> {
    match input {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(input));
    let bytes = input.as_bytes();
    let mut position = 0;
    let mut total: i64 = 0;
    let mut last_unit_rank = 0;
    while position < bytes.len() {
        let digits_start = position;
        while position < bytes.len() && bytes[position].is_ascii_digit() {
            position += 1;
        }
        if position == digits_start {
            return Err(invalid());
        }
        let amount: u64 = input[digits_start..position].parse().map_err(|_| invalid())?;
        let unit_start = position;
        while position < bytes.len() && !bytes[position].is_ascii_digit() {
            position += 1;
        }
        if position == unit_start {
            return Err(invalid());
        }
        let unit = &input[unit_start..position];
        let (rank, multiplier) = match unit {
            "y" => (1, 365 * DAY),
            "w" => (2, 7 * DAY),
            "d" => (3, DAY),
            "h" => (4, HOUR),
            "m" => (5, MINUTE),
            "s" => (6, SECOND),
            "ms" => (7, MS),
            _ => return Err(format!("unknown unit {} in duration {}", go_quote(unit), go_quote(input))),
        };
        if rank <= last_unit_rank {
            return Err(invalid());
        }
        last_unit_rank = rank;
        let part = i64::try_from(amount)
            .ok()
            .and_then(|amount| amount.checked_mul(multiplier))
            .ok_or_else(|| "duration out of range".to_string())?;
        total = total.checked_add(part).ok_or_else(|| "duration out of range".to_string())?;
    }
    Ok(total)
}

/// Go `time.ParseDuration`, in nanoseconds. Errors carry Go's wording (`time: invalid duration "x"`).
pub(crate) fn parse_go_duration(input: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(input));
    let mut rest = input;
    let negative = match rest.as_bytes().first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let mut end = 0;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        let integer_part = &rest[..end];
        let mut fraction_part = "";
        if end < bytes.len() && bytes[end] == b'.' {
            let fraction_start = end + 1;
            end = fraction_start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            fraction_part = &rest[fraction_start..end];
        }
        if integer_part.is_empty() && fraction_part.is_empty() {
            return Err(invalid());
        }
        rest = &rest[end..];
        let unit_end = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {}", go_quote(input)));
        }
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", go_quote(unit), go_quote(input))),
        };
        let integer: u128 = if integer_part.is_empty() { 0 } else { integer_part.parse().map_err(|_| invalid())? };
        let mut value = integer.checked_mul(unit_ns).ok_or_else(invalid)?;
        if !fraction_part.is_empty() {
            // Go keeps the fraction exactly as far as it matters for a nanosecond result.
            let mut scale: u128 = 1;
            let mut fraction: u128 = 0;
            for digit in fraction_part.bytes().take(30) {
                fraction = fraction * 10 + u128::from(digit - b'0');
                scale *= 10;
            }
            value += fraction * unit_ns / scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(negative) {
            return Err(invalid());
        }
    }
    let magnitude = total as i128;
    Ok(if negative { (-magnitude) as i64 } else { magnitude as i64 })
}

/// A duration as the LogQL lexer reads it: Prometheus syntax first, then Go's.
pub(crate) fn parse_logql_duration(input: &str) -> Result<i64, String> {
    parse_prometheus_duration(input).or_else(|_| parse_go_duration(input))
}

/// Prometheus `model.Duration.String()` (millisecond precision), used for ranges and offsets.
pub(crate) fn format_prometheus_duration(nanos: i64) -> String {
    let mut millis = nanos / MS;
    if millis == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if millis < 0 {
        out.push('-');
        millis = -millis;
    }
    let units: [(&str, i64, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, multiplier, exact) in units {
        if exact && millis % multiplier != 0 {
            continue;
        }
        let count = millis / multiplier;
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
            millis -= count * multiplier;
        }
    }
    out
}

/// A duration written so that [`parse_logql_duration`] reads back exactly the same number of nanoseconds.
pub(crate) fn format_exact_duration(nanos: i64) -> String {
    if nanos % MS == 0 { format_prometheus_duration(nanos) } else { format!("{nanos}ns") }
}

/// `go-humanize` `ParseBytes`.
pub(crate) fn parse_humanized_bytes(input: &str) -> Result<u64, String> {
    let mut number_end = 0;
    let mut has_comma = false;
    for character in input.chars() {
        if !(character.is_numeric() || character == '.' || character == ',') {
            break;
        }
        if character == ',' {
            has_comma = true;
        }
        number_end += character.len_utf8();
    }
    let number_text = if has_comma { input[..number_end].replace(',', "") } else { input[..number_end].to_string() };
    let number = parse_go_float(&number_text)?;
    let suffix = input[number_end..].trim().to_lowercase();
    let multiplier: f64 = match suffix.as_str() {
        "" | "b" => 1.0,
        "kib" | "ki" => 1024.0,
        "kb" | "k" => 1e3,
        "mib" | "mi" => 1024f64.powi(2),
        "mb" | "m" => 1e6,
        "gib" | "gi" => 1024f64.powi(3),
        "gb" | "g" => 1e9,
        "tib" | "ti" => 1024f64.powi(4),
        "tb" | "t" => 1e12,
        "pib" | "pi" => 1024f64.powi(5),
        "pb" | "p" => 1e15,
        "eib" | "ei" => 1024f64.powi(6),
        "eb" | "e" => 1e18,
        _ => return Err(format!("unhandled size name: {suffix}")),
    };
    let bytes = number * multiplier;
    if bytes >= u64::MAX as f64 {
        return Err(format!("too large: {input}"));
    }
    Ok(bytes as u64)
}

/// Go `strconv.ParseFloat(s, 64)` for the decimal forms LogQL meets; errors carry Go's wording.
pub(crate) fn parse_go_float(input: &str) -> Result<f64, String> {
    let syntax_error = || format!("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(input));
    let lower = input.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if unsigned.is_empty() || input.contains('_') || unsigned.starts_with("0x") {
        return Err(syntax_error());
    }
    let special = matches!(unsigned, "inf" | "infinity" | "nan");
    if !special && !unsigned.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')) {
        return Err(syntax_error());
    }
    if lower.len() - unsigned.len() > 1 {
        return Err(syntax_error());
    }
    let value: f64 = input.parse().map_err(|_| syntax_error())?;
    if value.is_infinite() && !special {
        return Err(format!("strconv.ParseFloat: parsing {}: value out of range", go_quote(input)));
    }
    Ok(value)
}

/// Go `strconv.Quote`: double-quoted with Go escapes (printable Unicode is kept as is).
pub(crate) fn go_quote(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 2);
    out.push('"');
    for character in input.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` for a float64: shortest representation, exponent form below 1e-4 and from 1e21.
pub(crate) fn go_format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let exponent = value.abs().log10().floor() as i32;
    if (-4..21).contains(&exponent) {
        return format!("{value}");
    }
    let scientific = format!("{value:e}");
    match scientific.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => scientific,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        let f = |input: &str, want: Result<i64, &str>| {
            assert_eq!(parse_prometheus_duration(input), want.map_err(str::to_string), "{input}")
        };
        f("5m", Ok(5 * MINUTE));
        f("1h30m", Ok(90 * MINUTE));
        f("2d", Ok(2 * DAY));
        f("1y2w", Ok(365 * DAY + 14 * DAY));
        f("100ms", Ok(100 * MS));
        f("0", Ok(0));
        f("5minutes", Err(r#"unknown unit "minutes" in duration "5minutes""#));
        f("30m1h", Err(r#"not a valid duration string: "30m1h""#));
        f("1.5m", Err(r#"unknown unit "." in duration "1.5m""#));
        f("", Err("empty duration string"));
    }

    #[test]
    fn go_durations() {
        let f = |input: &str, want: Result<i64, &str>| {
            assert_eq!(parse_go_duration(input), want.map_err(str::to_string), "{input}")
        };
        f("1.5s", Ok(1_500 * MS));
        f("300ms", Ok(300 * MS));
        f("-2h45m", Ok(-(2 * HOUR + 45 * MINUTE)));
        f("10us", Ok(10_000));
        f("1µs", Ok(1_000));
        f(".5m", Ok(30 * SECOND));
        f("0", Ok(0));
        f("1", Err(r#"time: missing unit in duration "1""#));
        f("1d", Err(r#"time: unknown unit "d" in duration "1d""#));
        f("abc", Err(r#"time: invalid duration "abc""#));
        f("", Err(r#"time: invalid duration """#));
    }

    #[test]
    fn duration_formatting_round_trips() {
        for nanos in [0, MS, 90 * MINUTE, 365 * DAY, 21 * DAY, 1_500, -(5 * MINUTE), 1] {
            let text = format_exact_duration(nanos);
            assert_eq!(parse_logql_duration(&text), Ok(nanos), "{text}");
        }
        assert_eq!(format_prometheus_duration(90 * MINUTE), "1h30m");
        assert_eq!(format_prometheus_duration(14 * DAY), "2w");
        assert_eq!(format_prometheus_duration(10 * DAY), "10d");
    }

    #[test]
    fn humanized_bytes() {
        let f = |input: &str, want: Result<u64, &str>| {
            assert_eq!(parse_humanized_bytes(input), want.map_err(str::to_string), "{input}")
        };
        f("10KB", Ok(10_000));
        f("10kb", Ok(10_000));
        f("1MiB", Ok(1_048_576));
        f("1.5 GB", Ok(1_500_000_000));
        f("42", Ok(42));
        f("1,024B", Ok(1024));
        f("12XB", Err("unhandled size name: xb"));
        f("abc", Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#));
    }

    #[test]
    fn go_floats() {
        assert_eq!(parse_go_float("1.5"), Ok(1.5));
        assert_eq!(parse_go_float("-2e3"), Ok(-2000.0));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("abc"), Err(r#"strconv.ParseFloat: parsing "abc": invalid syntax"#.to_string()));
        assert_eq!(parse_go_float("1_0"), Err(r#"strconv.ParseFloat: parsing "1_0": invalid syntax"#.to_string()));
        assert_eq!(go_format_float(3.0), "3");
        assert_eq!(go_format_float(1e21), "1e+21");
        assert_eq!(go_format_float(0.00001), "1e-05");
        assert_eq!(go_format_float(0.25), "0.25");
        assert_eq!(go_quote("a\"b\n\u{1}"), r#""a\"b\n\x01""#);
    }
}
