//! Go's `fmt.Sprintf` for `printf` in templates: the verbs `%s %v %d %f %F %e %E %g %G %x %X %o %b %c %q %t %%`
//! with the `-`, `+`, `0` flags, width and precision; a wrong verb or argument renders like Go (`%!d(string=x)`).

use std::fmt::Write;

use super::exec::Value;
use crate::units::{go_format_float, go_quote};

/// Go's `fmt.Sprintf` for the common verbs (see the module documentation).
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut characters = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(character) = characters.next() {
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut flags = String::new();
        while let Some(&flag) = characters.peek() {
            if matches!(flag, '-' | '+' | ' ' | '0' | '#') {
                flags.push(flag);
                characters.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&digit) = characters.peek().filter(|c| c.is_ascii_digit()) {
            width.push(digit);
            characters.next();
        }
        let mut precision: Option<usize> = None;
        if characters.peek() == Some(&'.') {
            characters.next();
            let mut digits = String::new();
            while let Some(&digit) = characters.peek().filter(|c| c.is_ascii_digit()) {
                digits.push(digit);
                characters.next();
            }
            precision = Some(digits.parse().unwrap_or(0));
        }
        let Some(verb) = characters.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next_arg += 1;
        let formatted = format_verb(verb, arg, &flags, precision);
        let width: usize = width.parse().unwrap_or(0);
        let length = formatted.chars().count();
        if length >= width {
            out.push_str(&formatted);
        } else if flags.contains('-') {
            out.push_str(&formatted);
            out.push_str(&" ".repeat(width - length));
        } else if flags.contains('0') && !matches!(verb, 's' | 'q' | 'v') {
            let (sign, digits) = match formatted.strip_prefix(['-', '+']) {
                Some(digits) => (&formatted[..1], digits),
                None => ("", formatted.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(width - length));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - length));
            out.push_str(&formatted);
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (index, arg) in args[next_arg..].iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", arg.type_name(), arg.to_text());
        }
        out.push(')');
    }
    out
}

fn format_verb(verb: char, arg: &Value, flags: &str, precision: Option<usize>) -> String {
    let plus = |text: String, value: f64| if flags.contains('+') && value >= 0.0 { format!("+{text}") } else { text };
    let number = match arg {
        Value::Int(value) => Some(*value as f64),
        Value::Float(value) => Some(*value),
        _ => None,
    };
    match (verb, arg) {
        ('s' | 'v', _) => {
            let text = match (verb, arg, precision) {
                ('v', Value::Float(value), Some(digits)) => format!("{:.*}", digits, value),
                _ => arg.to_text(),
            };
            match (verb, precision) {
                ('s', Some(limit)) => text.chars().take(limit).collect(),
                _ => text,
            }
        }
        ('q', Value::Str(text)) => go_quote(text),
        ('t', Value::Bool(value)) => value.to_string(),
        ('d', Value::Int(value)) => plus(value.to_string(), *value as f64),
        ('c', Value::Int(value)) => char::from_u32(*value as u32).map(String::from).unwrap_or_default(),
        ('x', Value::Int(value)) => format!("{value:x}"),
        ('X', Value::Int(value)) => format!("{value:X}"),
        ('o', Value::Int(value)) => format!("{value:o}"),
        ('b', Value::Int(value)) => format!("{value:b}"),
        ('x', Value::Str(text)) => text.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::Str(text)) => text.bytes().map(|b| format!("{b:02X}")).collect(),
        ('f' | 'F', _) if number.is_some() => {
            let value = number.unwrap_or_default();
            plus(format!("{:.*}", precision.unwrap_or(6), value), value)
        }
        ('e' | 'E', _) if number.is_some() => {
            let value = number.unwrap_or_default();
            let text = format!("{:.*e}", precision.unwrap_or(6), value);
            let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            let formatted = format!("{mantissa}e{sign}{digits:0>2}");
            plus(if verb == 'E' { formatted.to_uppercase() } else { formatted }, value)
        }
        ('g' | 'G', _) if number.is_some() => {
            let value = number.unwrap_or_default();
            let formatted = go_format_float(value);
            plus(if verb == 'G' { formatted.to_uppercase() } else { formatted }, value)
        }
        _ => format!("%!{verb}({}={})", arg.type_name(), arg.to_text()),
    }
}
