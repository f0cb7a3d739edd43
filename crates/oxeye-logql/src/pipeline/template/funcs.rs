//! Template functions: Go's built-ins, Loki's own, and the Sprig functions Loki registers (see the module
//! documentation of `template` for the list). Argument typing follows Go loosely: a function declared with a
//! `string` parameter refuses non-strings, Sprig's `interface{}` parameters convert like `spf13/cast`.

use std::fmt::Write;

use regex::Regex;

use super::exec::{Context, Value};
use super::timefmt;
use crate::units::{go_quote, parse_go_duration, parse_humanized_bytes};

const NAMES: &[&str] = &[
    // Go built-ins.
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "print",
    "printf",
    "println",
    "urlquery",
    "html",
    "js", // Loki.
    "ToLower",
    "ToUpper",
    "Replace",
    "Trim",
    "TrimLeft",
    "TrimRight",
    "TrimPrefix",
    "TrimSuffix",
    "TrimSpace",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "count",
    "urldecode",
    "urlencode",
    "bytes",
    "duration",
    "duration_seconds",
    "unixEpochMillis",
    "unixEpochNanos",
    "toDateInZone",
    "unixToTime",
    "alignLeft",
    "alignRight",
    "b64dec",
    "__line__",
    "__timestamp__", // Sprig.
    "b64enc",
    "lower",
    "upper",
    "title",
    "trunc",
    "substr",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "indent",
    "nindent",
    "replace",
    "repeat",
    "trim",
    "trimAll",
    "trimSuffix",
    "trimPrefix",
    "int",
    "float64",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
    "round",
    "date",
    "toDate",
    "now",
    "unixEpoch",
    "default",
];

pub(crate) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

fn arity(name: &str, args: &[Value], expected: usize) -> Result<(), String> {
    if args.len() != expected {
        return Err(format!("wrong number of args for {name}: want {expected} got {}", args.len()));
    }
    Ok(())
}

fn at_least(name: &str, args: &[Value], expected: usize) -> Result<(), String> {
    if args.len() < expected {
        return Err(format!("wrong number of args for {name}: want at least {expected} got {}", args.len()));
    }
    Ok(())
}

fn string(value: &Value) -> Result<&str, String> {
    match value {
        Value::Str(text) => Ok(text),
        other => Err(format!("wrong type for value; expected string; got {}", other.type_name())),
    }
}

fn int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Int(number) => Ok(*number),
        Value::Float(number) if number.fract() == 0.0 => Ok(*number as i64),
        other => Err(format!("wrong type for value; expected int; got {}", other.type_name())),
    }
}

fn time(value: &Value) -> Result<i64, String> {
    match value {
        Value::Time(nanos) => Ok(*nanos),
        other => Err(format!("wrong type for value; expected time.Time; got {}", other.type_name())),
    }
}

/// `spf13/cast.ToInt64`: strings parse (base prefixes allowed, `.0` decimals trimmed), failures give 0.
fn cast_int(value: &Value) -> i64 {
    match value {
        Value::Int(number) => *number,
        Value::Float(number) => *number as i64,
        Value::Bool(flag) => i64::from(*flag),
        Value::Str(text) => {
            let trimmed = match text.split_once('.') {
                Some((integer, decimals)) if !integer.is_empty() && decimals.bytes().all(|b| b == b'0') => integer,
                _ => text.as_str(),
            };
            let (negative, digits) = match trimmed.strip_prefix('-') {
                Some(digits) => (true, digits),
                None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
            };
            let parsed = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
                i64::from_str_radix(hex, 16)
            } else if let Some(binary) = digits.strip_prefix("0b") {
                i64::from_str_radix(binary, 2)
            } else if digits.len() > 1 && digits.starts_with('0') {
                i64::from_str_radix(digits.trim_start_matches(['0', 'o']), 8)
            } else {
                digits.parse::<i64>()
            };
            parsed.map(|number| if negative { -number } else { number }).unwrap_or(0)
        }
        Value::Time(_) | Value::Map(_) | Value::Nil => 0,
    }
}

/// `spf13/cast.ToFloat64`.
fn cast_float(value: &Value) -> f64 {
    match value {
        Value::Int(number) => *number as f64,
        Value::Float(number) => *number,
        Value::Bool(flag) => f64::from(u8::from(*flag)),
        Value::Str(text) => text.parse().unwrap_or(0.0),
        Value::Time(_) | Value::Map(_) | Value::Nil => 0.0,
    }
}

/// Rounds a float to 15 significant digits, which hides binary artifacts the way Sprig's decimal arithmetic does
/// (`addf 0.1 0.2` is `0.3`).
fn decimal_like(value: f64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    format!("{value:.14e}").parse().unwrap_or(value)
}

fn compare(name: &str, left: &Value, right: &Value) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (left, right) {
        (Value::Str(a), Value::Str(b)) => Ok(a.cmp(b)),
        (Value::Int(a), Value::Int(b)) => Ok(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => Ok(a.partial_cmp(b).unwrap_or(Ordering::Equal)),
        (Value::Bool(a), Value::Bool(b)) if name == "eq" || name == "ne" => Ok(a.cmp(b)),
        (Value::Time(a), Value::Time(b)) if name == "eq" || name == "ne" => Ok(a.cmp(b)),
        (Value::Nil, Value::Nil) if name == "eq" || name == "ne" => Ok(Ordering::Equal),
        (Value::Bool(_), Value::Bool(_)) => Err("invalid type for comparison".into()),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Substring by byte offsets, moved down to character boundaries (Go slices bytes).
fn byte_slice(text: &str, start: usize, end: usize) -> &str {
    let floor = |mut index: usize| {
        index = index.min(text.len());
        while !text.is_char_boundary(index) {
            index -= 1;
        }
        index
    };
    let (start, end) = (floor(start), floor(end));
    if start > end { "" } else { &text[start..end] }
}

fn go_title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_is_separator = true;
    for character in text.chars() {
        if previous_is_separator {
            out.extend(character.to_uppercase());
        } else {
            out.push(character);
        }
        previous_is_separator = !(character.is_alphanumeric() || character == '_');
    }
    out
}

fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

fn query_unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(index + 1..index + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    let end = (index + 3).min(text.len());
                    return Err(format!("invalid URL escape {}", go_quote(byte_slice(text, index, end))));
                };
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                index += 2;
            }
            other => out.push(other),
        }
        index += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let group = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(BASE64[((group >> (18 - 6 * position)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(input: &str) -> Result<String, String> {
    let mut padded = input.to_string();
    let remainder = padded.len() % 4;
    if remainder != 0 && remainder != 1 {
        padded.push_str(&"=".repeat(4 - remainder));
    }
    let mut out = Vec::with_capacity(padded.len() / 4 * 3);
    for (chunk_index, chunk) in padded.as_bytes().chunks(4).enumerate() {
        if chunk.len() != 4 {
            return Err(format!("illegal base64 data at input byte {}", chunk_index * 4));
        }
        let mut group = 0u32;
        let mut padding = 0;
        for (offset, byte) in chunk.iter().enumerate() {
            let value = match BASE64.iter().position(|candidate| candidate == byte) {
                Some(value) if padding == 0 => value as u32,
                _ if *byte == b'=' && offset >= 2 => {
                    padding += 1;
                    0
                }
                _ => return Err(format!("illegal base64 data at input byte {}", chunk_index * 4 + offset)),
            };
            group = (group << 6) | value;
        }
        let bytes = [(group >> 16) as u8, (group >> 8) as u8, group as u8];
        out.extend_from_slice(&bytes[..3 - padding]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .map_err(|error| format!("error parsing regexp: {}", error.to_string().lines().last().unwrap_or("")))
}

/// Calls a function with evaluated arguments (a piped value is already the last one).
pub(crate) fn call(name: &str, args: Vec<Value>, context: &Context<'_>) -> Result<Value, String> {
    let text = |value: String| Ok(Value::Str(value));
    match name {
        "and" => {
            at_least(name, &args, 1)?;
            let position = args.iter().position(|value| !value.is_true()).unwrap_or(args.len() - 1);
            Ok(args[position].clone())
        }
        "or" => {
            at_least(name, &args, 1)?;
            let position = args.iter().position(Value::is_true).unwrap_or(args.len() - 1);
            Ok(args[position].clone())
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Value::Bool(!args[0].is_true()))
        }
        "eq" => {
            at_least(name, &args, 2)?;
            for other in &args[1..] {
                if compare(name, &args[0], other)?.is_eq() {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let ordering = compare(name, &args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "ne" => ordering.is_ne(),
                "lt" => ordering.is_lt(),
                "le" => ordering.is_le(),
                "gt" => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        "len" => {
            arity(name, &args, 1)?;
            match &args[0] {
                Value::Str(value) => Ok(Value::Int(value.len() as i64)),
                Value::Map(entries) => Ok(Value::Int(entries.len() as i64)),
                other => Err(format!("len of type {}", other.type_name())),
            }
        }
        "print" | "println" => {
            let mut out = String::new();
            for (index, value) in args.iter().enumerate() {
                let both_non_strings =
                    index > 0 && !matches!(value, Value::Str(_)) && !matches!(args[index - 1], Value::Str(_));
                if name == "println" && index > 0 || both_non_strings {
                    out.push(' ');
                }
                value.write_to(&mut out);
            }
            if name == "println" {
                out.push('\n');
            }
            text(out)
        }
        "printf" => {
            at_least(name, &args, 1)?;
            text(super::printf::sprintf(string(&args[0])?, &args[1..]))
        }
        "urlquery" => text(query_escape(&args.iter().map(Value::to_text).collect::<String>())),
        "html" => text(
            args.iter()
                .map(Value::to_text)
                .collect::<String>()
                .replace('&', "&amp;")
                .replace('\'', "&#39;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;"),
        ),
        "js" => text(args.iter().map(Value::to_text).collect::<String>().escape_default().to_string()),
        "ToLower" | "lower" => {
            arity(name, &args, 1)?;
            text(string(&args[0])?.to_lowercase())
        }
        "ToUpper" | "upper" => {
            arity(name, &args, 1)?;
            text(string(&args[0])?.to_uppercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            text(go_title(string(&args[0])?))
        }
        "Replace" => {
            arity(name, &args, 4)?;
            let (source, old, new, count) = (string(&args[0])?, string(&args[1])?, string(&args[2])?, int(&args[3])?);
            text(if count < 0 { source.replace(old, new) } else { source.replacen(old, new, count as usize) })
        }
        "replace" => {
            arity(name, &args, 3)?;
            text(string(&args[2])?.replace(string(&args[0])?, string(&args[1])?))
        }
        "Trim" | "trimAll" => {
            arity(name, &args, 2)?;
            let (source, cutset) = if name == "Trim" { (&args[0], &args[1]) } else { (&args[1], &args[0]) };
            let cutset: Vec<char> = string(cutset)?.chars().collect();
            text(string(source)?.trim_matches(cutset.as_slice()).to_string())
        }
        "TrimLeft" | "TrimRight" => {
            arity(name, &args, 2)?;
            let cutset: Vec<char> = string(&args[1])?.chars().collect();
            let source = string(&args[0])?;
            text(if name == "TrimLeft" {
                source.trim_start_matches(cutset.as_slice()).to_string()
            } else {
                source.trim_end_matches(cutset.as_slice()).to_string()
            })
        }
        "TrimPrefix" | "TrimSuffix" | "trimPrefix" | "trimSuffix" => {
            arity(name, &args, 2)?;
            let (source, affix) = if name.starts_with('T') { (&args[0], &args[1]) } else { (&args[1], &args[0]) };
            let (source, affix) = (string(source)?, string(affix)?);
            let trimmed =
                if name.ends_with("Prefix") { source.strip_prefix(affix) } else { source.strip_suffix(affix) };
            text(trimmed.unwrap_or(source).to_string())
        }
        "TrimSpace" | "trim" => {
            arity(name, &args, 1)?;
            text(string(&args[0])?.trim().to_string())
        }
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            arity(name, &args, 3)?;
            let regex = compile(string(&args[0])?)?;
            let (source, replacement) = (string(&args[1])?, string(&args[2])?);
            text(if name == "regexReplaceAll" {
                regex.replace_all(source, replacement).into_owned()
            } else {
                regex.replace_all(source, regex::NoExpand(replacement)).into_owned()
            })
        }
        "count" => {
            arity(name, &args, 2)?;
            let regex = compile(string(&args[0])?)?;
            Ok(Value::Int(regex.find_iter(string(&args[1])?).count() as i64))
        }
        "urlencode" => {
            arity(name, &args, 1)?;
            text(query_escape(string(&args[0])?))
        }
        "urldecode" => {
            arity(name, &args, 1)?;
            query_unescape(string(&args[0])?).map(Value::Str)
        }
        "bytes" => {
            arity(name, &args, 1)?;
            parse_humanized_bytes(string(&args[0])?).map(|bytes| Value::Float(bytes as f64))
        }
        "duration" | "duration_seconds" => {
            arity(name, &args, 1)?;
            parse_go_duration(string(&args[0])?).map(|nanos| Value::Float(nanos as f64 / 1e9))
        }
        "unixEpochMillis" => {
            arity(name, &args, 1)?;
            text(time(&args[0])?.div_euclid(1_000_000).to_string())
        }
        "unixEpochNanos" => {
            arity(name, &args, 1)?;
            text(time(&args[0])?.to_string())
        }
        "unixEpoch" => {
            arity(name, &args, 1)?;
            text(time(&args[0])?.div_euclid(1_000_000_000).to_string())
        }
        "unixToTime" => {
            arity(name, &args, 1)?;
            let epoch = string(&args[0])?;
            let parse_error = || format!("unable to parse time {}", go_quote(epoch));
            let value: i64 = epoch.parse().map_err(|_| parse_error())?;
            Ok(Value::Time(match epoch.len() {
                5 => value * 86_400 * 1_000_000_000,
                10 => value * 1_000_000_000,
                13 => value * 1_000_000,
                16 => value * 1_000,
                19 => value,
                _ => return Err(parse_error()),
            }))
        }
        "toDate" | "toDateInZone" => {
            let (layout, input) = if name == "toDate" {
                arity(name, &args, 2)?;
                (string(&args[0])?, string(&args[1])?)
            } else {
                arity(name, &args, 3)?;
                (string(&args[0])?, string(&args[2])?)
            };
            Ok(Value::Time(timefmt::parse(layout, input).unwrap_or(timefmt::ZERO_TIME)))
        }
        "date" => {
            arity(name, &args, 2)?;
            let nanos = match &args[1] {
                Value::Time(nanos) => *nanos,
                Value::Int(seconds) => seconds.saturating_mul(1_000_000_000),
                _ => timefmt::now_ns(),
            };
            text(timefmt::format(string(&args[0])?, nanos))
        }
        "now" => {
            arity(name, &args, 0)?;
            Ok(Value::Time(timefmt::now_ns()))
        }
        "__line__" => {
            arity(name, &args, 0)?;
            text(context.data.line().to_string())
        }
        "__timestamp__" => {
            arity(name, &args, 0)?;
            Ok(Value::Time(context.data.timestamp_ns()))
        }
        "alignLeft" | "alignRight" => {
            arity(name, &args, 2)?;
            let (count, source) = (int(&args[0])?, string(&args[1])?);
            let characters: Vec<char> = source.chars().collect();
            let length = characters.len() as i64;
            if count < 0 || count == length {
                return text(source.to_string());
            }
            let padding = " ".repeat((count - length).max(0) as usize);
            text(match (name, count > length) {
                ("alignLeft", true) => format!("{source}{padding}"),
                ("alignLeft", false) => characters[..count as usize].iter().collect(),
                (_, true) => format!("{padding}{source}"),
                (_, false) => characters[(length - count) as usize..].iter().collect(),
            })
        }
        "b64enc" => {
            arity(name, &args, 1)?;
            text(base64_encode(string(&args[0])?.as_bytes()))
        }
        "b64dec" => {
            arity(name, &args, 1)?;
            text(base64_decode(string(&args[0])?).unwrap_or_else(|error| error))
        }
        "trunc" => {
            arity(name, &args, 2)?;
            let (count, source) = (int(&args[0])?, string(&args[1])?);
            let length = source.len() as i64;
            text(if count < 0 && length + count > 0 {
                byte_slice(source, (length + count) as usize, source.len()).to_string()
            } else if count >= 0 && length > count {
                byte_slice(source, 0, count as usize).to_string()
            } else {
                source.to_string()
            })
        }
        "substr" => {
            arity(name, &args, 3)?;
            let (start, end, source) = (int(&args[0])?, int(&args[1])?, string(&args[2])?);
            let length = source.len() as i64;
            if start < 0 {
                if end < 0 || end > length {
                    return Err(format!("slice bounds out of range [:{end}] with length {length}"));
                }
                return text(byte_slice(source, 0, end as usize).to_string());
            }
            if start > length {
                return Err(format!("slice bounds out of range [{start}:{length}]"));
            }
            if end < 0 || end > length {
                return text(byte_slice(source, start as usize, source.len()).to_string());
            }
            if start > end {
                return Err(format!("slice bounds out of range [{start}:{end}]"));
            }
            text(byte_slice(source, start as usize, end as usize).to_string())
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(name, &args, 2)?;
            let (needle, haystack) = (string(&args[0])?, string(&args[1])?);
            Ok(Value::Bool(match name {
                "contains" => haystack.contains(needle),
                "hasPrefix" => haystack.starts_with(needle),
                _ => haystack.ends_with(needle),
            }))
        }
        "indent" | "nindent" => {
            arity(name, &args, 2)?;
            let padding = " ".repeat(int(&args[0])?.max(0) as usize);
            let indented = format!("{padding}{}", string(&args[1])?.replace('\n', &format!("\n{padding}")));
            text(if name == "nindent" { format!("\n{indented}") } else { indented })
        }
        "repeat" => {
            arity(name, &args, 2)?;
            let count = int(&args[0])?;
            if count < 0 {
                return Err("strings: negative Repeat count".into());
            }
            text(string(&args[1])?.repeat(count as usize))
        }
        "int" => {
            arity(name, &args, 1)?;
            Ok(Value::Int(cast_int(&args[0])))
        }
        "float64" => {
            arity(name, &args, 1)?;
            Ok(Value::Float(cast_float(&args[0])))
        }
        "add" => Ok(Value::Int(args.iter().map(cast_int).fold(0i64, i64::wrapping_add))),
        "sub" | "div" | "mod" => {
            arity(name, &args, 2)?;
            let (a, b) = (cast_int(&args[0]), cast_int(&args[1]));
            if name != "sub" && b == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int(match name {
                "sub" => a.wrapping_sub(b),
                "div" => a.wrapping_div(b),
                _ => a.wrapping_rem(b),
            }))
        }
        "mul" => {
            at_least(name, &args, 1)?;
            Ok(Value::Int(args.iter().map(cast_int).fold(1i64, i64::wrapping_mul)))
        }
        "max" | "min" => {
            at_least(name, &args, 1)?;
            let values = args.iter().map(cast_int);
            Ok(Value::Int(if name == "max" { values.max() } else { values.min() }.unwrap_or(0)))
        }
        "addf" => Ok(Value::Float(decimal_like(args.iter().map(cast_float).sum()))),
        "subf" | "mulf" | "divf" => {
            at_least(name, &args, 1)?;
            let mut result = cast_float(&args[0]);
            for value in args[1..].iter().map(cast_float) {
                match name {
                    "subf" => result -= value,
                    "mulf" => result *= value,
                    _ => {
                        if value == 0.0 {
                            return Err("decimal division by 0".into());
                        }
                        result /= value
                    }
                }
            }
            Ok(Value::Float(decimal_like(result)))
        }
        "maxf" | "minf" => {
            at_least(name, &args, 1)?;
            let mut result = cast_float(&args[0]);
            for value in args[1..].iter().map(cast_float) {
                result = if value.is_nan() || result.is_nan() {
                    f64::NAN
                } else if name == "maxf" {
                    result.max(value)
                } else {
                    result.min(value)
                };
            }
            Ok(Value::Float(result))
        }
        "ceil" | "floor" => {
            arity(name, &args, 1)?;
            let value = cast_float(&args[0]);
            Ok(Value::Float(if name == "ceil" { value.ceil() } else { value.floor() }))
        }
        "round" => {
            if args.len() < 2 || args.len() > 3 {
                return Err(format!("wrong number of args for round: want 2 got {}", args.len()));
            }
            let (value, places) = (cast_float(&args[0]), int(&args[1])?);
            let round_on = args.get(2).map_or(0.5, cast_float);
            let power = 10f64.powi(places as i32);
            let digit = power * value;
            let fraction = digit.fract();
            let rounded = if fraction >= round_on { digit.ceil() } else { digit.floor() };
            Ok(Value::Float(rounded / power))
        }
        "default" => {
            at_least(name, &args, 1)?;
            match args.get(1) {
                Some(given) if given.is_true() || matches!(given, Value::Time(_)) => Ok(given.clone()),
                _ => Ok(args[0].clone()),
            }
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}
