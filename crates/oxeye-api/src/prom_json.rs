//! Prometheus's JSON, byte for byte: the response envelope, label sets, sample values and timestamps as
//! Prometheus's `web/api/v1` codec (jsoniter, `ConfigCompatibleWithStandardLibrary`) writes them.
//!
//! - Envelope: `{"status":"success","data":…,"warnings":[…],"infos":[…]}` with empty lists left out, errors as
//!   `{"status":"error","errorType":…,"error":…}`; fields in this order.
//! - Sample values are strings: Go's `strconv.FormatFloat(v, 'f', -1, 64)`, switching to `'e'` below 1e-6 and from
//!   1e21 (`jsonutil.MarshalFloat`); `NaN`, `+Inf`, `-Inf`.
//! - Vector and matrix timestamps are seconds with up to three decimals written from the integer milliseconds
//!   (`jsonutil.MarshalTimestamp`): `1435781451.781`, `1435781451.500`, `1435781451`.
//! - Scalar and string results go through Go's `encoding/json` instead (`promql.Scalar.MarshalJSON`): the
//!   timestamp is the float `t/1000` (`1435781451.5`) and the value `FormatFloat(v, 'f', -1, 64)` always.
//! - Strings escape `<`, `>`, `&`, U+2028 and U+2029 like Go's HTML-safe encoder.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oxeye_model::Labels;
use serde_json::Value;

/// Most warnings and infos listed in a response; the rest are counted in one last entry (Prometheus's
/// `Annotations.AsStrings(query, 10, 10)`).
const MAX_ANNOTATIONS: usize = 10;

/// Appends `text` as a JSON string literal (Go's escaping).
pub fn write_str(out: &mut String, text: &str) {
    oxeye_model::go_json::write_string(out, text);
}

/// Appends a label set as a JSON object, labels in their (sorted) order.
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (index, label) in labels.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_str(out, &label.name);
        out.push(':');
        write_str(out, &label.value);
    }
    out.push('}');
}

/// Appends a millisecond timestamp as seconds with up to three decimals (`jsonutil.MarshalTimestamp`).
pub fn write_timestamp(out: &mut String, timestamp_ms: i64) {
    let magnitude = timestamp_ms.unsigned_abs();
    if timestamp_ms < 0 {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(magnitude / 1000));
    let fraction = (magnitude % 1000) as u32;
    if fraction != 0 {
        out.push('.');
        for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
    }
}

/// Go's `strconv.FormatFloat(value, 'f', -1, 64)`: shortest round-trip digits, never an exponent.
pub fn format_float_f(value: f64) -> String {
    let mut out = String::new();
    push_float_f(&mut out, value);
    out
}

/// Go's `strconv.FormatFloat(value, 'e', -1, 64)`: shortest digits, an exponent of at least two digits with its
/// sign (`1e+21`, `1.5e-07`).
fn format_float_e(value: f64) -> String {
    let mut out = String::new();
    push_float_e(&mut out, value);
    out
}

/// The shortest decimal digits that round-trip to a finite `value`, as Go's `strconv` picks them (Ryū: the
/// closest such digits, a tie going to the even digit — `core::fmt` rounds such ties up instead): the digits
/// without leading or trailing zeros, and the position of the decimal point relative to them (`0.0125` is
/// `("125", -1)`, `1250` is `("125", 4)`). Zero is `("0", 1)`.
fn shortest_digits(value: f64) -> (Digits, i32) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value.abs()).as_bytes();
    // ryu writes `ddd.ddd`, `0.000ddd` or `d.ddde±x` (no exponent sign when positive).
    let (mantissa, exponent) = match text.iter().position(|b| *b == b'e') {
        Some(e) => {
            let exponent = std::str::from_utf8(&text[e + 1..]).ok().and_then(|x| x.parse::<i32>().ok()).unwrap_or(0);
            (&text[..e], exponent)
        }
        None => (text, 0),
    };
    let point_in_mantissa = mantissa.iter().position(|b| *b == b'.').unwrap_or(mantissa.len()) as i32;
    let mut digits = Digits { bytes: [0; 32], len: 0 };
    for &byte in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        // ryu writes at most 17 significant digits plus leading zeros ("0.0000ddd"): always fits.
        if digits.len < digits.bytes.len() {
            digits.bytes[digits.len] = byte;
            digits.len += 1;
        }
    }
    let leading_zeros = digits.bytes[..digits.len].iter().take_while(|d| **d == b'0').count();
    digits.bytes.copy_within(leading_zeros..digits.len, 0);
    digits.len -= leading_zeros;
    while digits.len > 0 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    if digits.len == 0 {
        digits.bytes[0] = b'0';
        digits.len = 1;
        return (digits, 1);
    }
    (digits, point_in_mantissa + exponent - leading_zeros as i32)
}

/// Decimal digits on the stack (formatting a value allocates nothing).
struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("0")
    }
}

/// Appends [`format_float_f`] of `value`.
pub fn push_float_f(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let (digits, point) = shortest_digits(value);
    if value.is_sign_negative() {
        out.push('-');
    }
    let digits = digits.as_str();
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// Appends [`format_float_e`] of a finite `value`.
fn push_float_e(out: &mut String, value: f64) {
    let (digits, point) = shortest_digits(value);
    if value.is_sign_negative() {
        out.push('-');
    }
    let digits = digits.as_str();
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exponent = if digits == "0" { 0 } else { point - 1 };
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let magnitude = exponent.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(itoa::Buffer::new().format(magnitude));
}

/// Appends a sample value as a JSON string (`jsonutil.MarshalFloat`).
pub fn write_sample_value(out: &mut String, value: f64) {
    out.push('"');
    let magnitude = value.abs();
    if value.is_finite() && magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        push_float_e(out, value);
    } else {
        push_float_f(out, value);
    }
    out.push('"');
}

/// Appends a finite float as Go's `encoding/json` writes a `float64` (`'e'` format below 1e-6 and from 1e21, with
/// a single-digit negative exponent written as `e-7`). Non-finite values, which Go refuses, are written as `0`.
pub fn write_go_float(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push('0');
        return;
    }
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let formatted = format_float_e(value);
        // encoding/json: "clean up e-09 to e-9".
        match formatted.split_once("e-0") {
            Some((mantissa, digit)) if digit.len() == 1 => {
                let _ = write!(out, "{mantissa}e-{digit}");
            }
            _ => out.push_str(&formatted),
        }
        return;
    }
    push_float_f(out, value);
}

/// Appends a [`serde_json::Value`] with Go's string escaping; object keys in the map's order.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// Appends `"name":[…]` for a non-empty annotation list, capped like Prometheus caps it.
fn write_annotations(out: &mut String, name: &str, entries: &[String], kind: &str) {
    if entries.is_empty() {
        return;
    }
    let _ = write!(out, ",\"{name}\":[");
    for (index, entry) in entries.iter().take(MAX_ANNOTATIONS).enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_str(out, entry);
    }
    if entries.len() > MAX_ANNOTATIONS {
        out.push(',');
        write_str(out, &format!("{} more {kind} annotations omitted", entries.len() - MAX_ANNOTATIONS));
    }
    out.push(']');
}

/// A JSON response with Prometheus's content type.
fn json_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

/// `{"status":"success","data":<data>}` plus warnings and infos when there are any. `data` is raw JSON.
pub fn success(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = String::with_capacity(data.len() + 64);
    body.push_str("{\"status\":\"success\",\"data\":");
    body.push_str(data);
    write_annotations(&mut body, "warnings", warnings, "warning");
    write_annotations(&mut body, "infos", infos, "info");
    body.push('}');
    json_response(StatusCode::OK, body)
}

/// [`success`] for data held as a [`serde_json::Value`].
pub fn success_value(data: &Value, warnings: &[String]) -> Response {
    let mut raw = String::new();
    write_value(&mut raw, data);
    success(&raw, warnings, &[])
}

/// `{"status":"error","errorType":…,"error":…}` with the given status code.
pub fn error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut body = String::with_capacity(message.len() + 64);
    body.push_str("{\"status\":\"error\",\"errorType\":");
    write_str(&mut body, error_type);
    body.push_str(",\"error\":");
    write_str(&mut body, message);
    body.push('}');
    json_response(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_values_format_like_go() {
        let f = |value: f64, want: &str| {
            let mut out = String::new();
            write_sample_value(&mut out, value);
            assert_eq!(out, format!("\"{want}\""), "{value:e}");
        };
        f(1.0, "1");
        f(-2.5, "-2.5");
        f(0.1, "0.1");
        f(0.0, "0");
        f(-0.0, "-0");
        f(1e-6, "0.000001");
        f(1.5e-7, "1.5e-07");
        f(123456789012.345, "123456789012.345");
        f(1e20, "100000000000000000000");
        f(1e21, "1e+21");
        f(-1.2345e300, "-1.2345e+300");
        f(5e-324, "5e-324");
        f(f64::NAN, "NaN");
        f(f64::INFINITY, "+Inf");
        f(f64::NEG_INFINITY, "-Inf");
    }

    #[test]
    fn floats_have_the_shortest_round_trip_digits_with_ties_to_even() {
        // Random bit patterns and values of every magnitude: the digits round-trip, are as few as core::fmt's
        // (also shortest), and equal them except on an exact tie, where Go (Ryū) rounds to the even digit.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![1e-5, 9.999999999999999e-6, 1e16, 9999999999999998.0, 0.3, 2.0 / 3.0, 1e15 + 0.5];
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f64::from_bits(state));
            values.push((state >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((state % 40) as i32 - 12));
        }
        let (mut ties, mut checked) = (0, 0);
        for value in values.into_iter().filter(|v| v.is_finite()) {
            let (ours, std) = (format_float_f(value), format!("{value}"));
            assert_eq!(ours.parse::<f64>().unwrap().to_bits(), value.to_bits(), "{ours} for {value:e}");
            let significant =
                |text: &str| text.trim_start_matches(['-', '0', '.']).replace('.', "").trim_end_matches('0').len();
            assert_eq!(significant(&ours), significant(&std), "{ours} vs {std}");
            if ours != std {
                // A tie: the same digits but the last, one apart, ours even.
                let (a, b) = (ours.as_bytes(), std.as_bytes());
                let last = a.len() - 1;
                assert!(a.len() == b.len() && a[..last] == b[..last], "{ours} vs {std}");
                assert!(a[last].abs_diff(b[last]) == 1 && (a[last] - b'0').is_multiple_of(2), "{ours} vs {std}");
                ties += 1;
            }
            checked += 1;
            let e = format_float_e(value);
            assert_eq!(e.parse::<f64>().unwrap().to_bits(), value.to_bits(), "{e} for {value:e}");
        }
        assert!(ties > 0 && ties * 100 < checked, "{ties} ties among {checked} values");
        // 800142170491632.25 lies exactly between …632.2 and …632.3: Go writes the even one.
        let tie = 800_142_170_491_632.0 + 0.25;
        assert_eq!(format_float_f(tie), "800142170491632.2");
        assert_eq!(format!("{tie}"), "800142170491632.3");
    }

    #[test]
    fn timestamps_are_seconds_with_up_to_three_decimals() {
        let f = |ms: i64| {
            let mut out = String::new();
            write_timestamp(&mut out, ms);
            out
        };
        assert_eq!(f(1_795_392_307_500), "1795392307.500");
        assert_eq!(f(1_795_392_307_000), "1795392307");
        assert_eq!(f(1_795_392_307_007), "1795392307.007");
        assert_eq!(f(-1_500), "-1.500");
        assert_eq!(f(0), "0");
    }

    #[test]
    fn go_json_floats_clean_up_small_exponents() {
        let f = |value: f64, want: &str| {
            let mut out = String::new();
            write_go_float(&mut out, value);
            assert_eq!(out, want, "{value:e}");
        };
        f(1435781451.0, "1435781451");
        f(1435781451.5, "1435781451.5");
        f(0.000_123, "0.000123");
        f(1.5e-7, "1.5e-7");
        f(2e-10, "2e-10");
        f(1e21, "1e+21");
    }

    #[test]
    fn timestamps_are_seconds_with_millisecond_digits() {
        let f = |ms: i64, want: &str| {
            let mut out = String::new();
            write_timestamp(&mut out, ms);
            assert_eq!(out, want);
        };
        f(1_435_781_451_781, "1435781451.781");
        f(1_435_781_451_500, "1435781451.500");
        f(1_435_781_451_005, "1435781451.005");
        f(1_435_781_451_000, "1435781451");
        f(0, "0");
        f(-1500, "-1.500");
        f(i64::MIN, "-9223372036854775.808");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut out = String::new();
        write_str(&mut out, "a\"b\\c\nd<e>&\u{1}\u{2028}é");
        assert_eq!(out, r#""a\"b\\c\nd\u003ce\u003e\u0026\u0001\u2028é""#);
    }

    #[tokio::test]
    async fn envelopes_keep_prometheus_field_order() {
        let body = |response: Response| async move {
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        assert_eq!(body(success("[]", &[], &[])).await, r#"{"status":"success","data":[]}"#);
        let warnings: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
        let text = body(success("1", &warnings, &["i".to_string()])).await;
        assert!(text.ends_with(r#""w9","2 more warning annotations omitted"],"infos":["i"]}"#), "{text}");
        assert_eq!(
            body(error(StatusCode::BAD_REQUEST, "bad_data", "x <y>")).await,
            r#"{"status":"error","errorType":"bad_data","error":"x \u003cy\u003e"}"#
        );
    }
}
