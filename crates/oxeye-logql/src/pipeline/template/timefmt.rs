//! Go time layouts (`2006-01-02T15:04:05Z07:00`) for the template functions `date`, `toDate`, `toDateInZone` and
//! for printing `__timestamp__`. Times are nanoseconds since the epoch in UTC; Go's zero time is [`ZERO_TIME`].

use std::fmt::Write;

/// Go's zero `time.Time` (0001-01-01 UTC), which does not fit in nanoseconds since 1970.
pub(crate) const ZERO_TIME: i64 = i64::MIN;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
}

use oxeye_model::time::civil_from_days;

/// [`oxeye_model::time::days_from_civil`] with the month and day types used here.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    oxeye_model::time::days_from_civil(year, i64::from(month), i64::from(day))
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    weekday: usize,
    year_day: i64,
}

fn civil(nanos: i64) -> Civil {
    if nanos == ZERO_TIME {
        return Civil { year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0, weekday: 1, year_day: 1 };
    }
    let seconds = nanos.div_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: second_of_day / 3600,
        minute: second_of_day / 60 % 60,
        second: second_of_day % 60,
        nanos: nanos.rem_euclid(NANOS_PER_SECOND),
        weekday: (days + 4).rem_euclid(7) as usize,
        year_day: days - days_from_civil(year, 1, 1) + 1,
    }
}

/// One element of a layout.
#[derive(Debug, PartialEq)]
enum Chunk<'a> {
    Literal(&'a str),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekday,
    Weekday,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PmUpper,
    PmLower,
    ZoneName,
    /// `-0700`-style offsets; `z` is true for the `Z…` forms that print `Z` for UTC.
    Offset {
        z: bool,
        colon: bool,
        seconds: bool,
        hours_only: bool,
    },
    /// `.000` (fixed) or `.999` (trimmed) with the separator and the number of digits.
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

fn chunks(layout: &str) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let bytes = layout.as_bytes();
    let mut literal_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let rest = &layout[index..];
        let found: Option<(Chunk<'_>, usize)> = match bytes[index] {
            b'J' if rest.starts_with("January") => Some((Chunk::LongMonth, 7)),
            b'J' if rest.starts_with("Jan") => Some((Chunk::Month, 3)),
            b'M' if rest.starts_with("Monday") => Some((Chunk::LongWeekday, 6)),
            b'M' if rest.starts_with("Mon") => Some((Chunk::Weekday, 3)),
            b'M' if rest.starts_with("MST") => Some((Chunk::ZoneName, 3)),
            b'0' if rest.starts_with("002") => Some((Chunk::ZeroYearDay, 3)),
            b'0' if rest.len() > 1 && (b'1'..=b'6').contains(&bytes[index + 1]) => Some((
                match bytes[index + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                },
                2,
            )),
            b'1' if rest.starts_with("15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if rest.starts_with("2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if rest.starts_with("__2") => Some((Chunk::UnderYearDay, 3)),
            b'_' if rest.starts_with("_2") && !rest.starts_with("_2006") => Some((Chunk::UnderDay, 2)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if rest.starts_with("PM") => Some((Chunk::PmUpper, 2)),
            b'p' if rest.starts_with("pm") => Some((Chunk::PmLower, 2)),
            b'-' | b'Z' => {
                let z = bytes[index] == b'Z';
                let body = &rest[1..];
                let forms: [(&str, bool, bool, bool); 5] = [
                    ("070000", false, true, false),
                    ("07:00:00", true, true, false),
                    ("0700", false, false, false),
                    ("07:00", true, false, false),
                    ("07", false, false, true),
                ];
                forms.iter().find(|(form, ..)| body.starts_with(form)).map(|(form, colon, seconds, hours_only)| {
                    (Chunk::Offset { z, colon: *colon, seconds: *seconds, hours_only: *hours_only }, form.len() + 1)
                })
            }
            separator @ (b'.' | b',') if rest.len() > 1 && matches!(bytes[index + 1], b'0' | b'9') => {
                let digit = bytes[index + 1];
                let run = rest[1..].bytes().take_while(|b| *b == digit).count();
                let followed_by_digit = rest.as_bytes().get(1 + run).is_some_and(u8::is_ascii_digit);
                (!followed_by_digit).then_some((
                    Chunk::Fraction { separator: separator as char, digits: run, trim: digit == b'9' },
                    run + 1,
                ))
            }
            _ => None,
        };
        match found {
            Some((chunk, length)) => {
                if literal_start < index {
                    out.push(Chunk::Literal(&layout[literal_start..index]));
                }
                out.push(chunk);
                index += length;
                literal_start = index;
            }
            None => index += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if literal_start < layout.len() {
        out.push(Chunk::Literal(&layout[literal_start..]));
    }
    out
}

/// Go's `Time.Format` in UTC.
pub(crate) fn format(layout: &str, nanos: i64) -> String {
    let time = civil(nanos);
    let mut out = String::new();
    let hour12 = if time.hour % 12 == 0 { 12 } else { time.hour % 12 };
    for chunk in chunks(layout) {
        let _ = match chunk {
            Chunk::Literal(text) => write!(out, "{text}"),
            Chunk::LongMonth => write!(out, "{}", MONTHS[time.month as usize - 1]),
            Chunk::Month => write!(out, "{}", &MONTHS[time.month as usize - 1][..3]),
            Chunk::NumMonth => write!(out, "{}", time.month),
            Chunk::ZeroMonth => write!(out, "{:02}", time.month),
            Chunk::LongWeekday => write!(out, "{}", DAYS[time.weekday]),
            Chunk::Weekday => write!(out, "{}", &DAYS[time.weekday][..3]),
            Chunk::Day => write!(out, "{}", time.day),
            Chunk::UnderDay => write!(out, "{:>2}", time.day),
            Chunk::ZeroDay => write!(out, "{:02}", time.day),
            Chunk::UnderYearDay => write!(out, "{:>3}", time.year_day),
            Chunk::ZeroYearDay => write!(out, "{:03}", time.year_day),
            Chunk::Hour => write!(out, "{:02}", time.hour),
            Chunk::Hour12 => write!(out, "{hour12}"),
            Chunk::ZeroHour12 => write!(out, "{hour12:02}"),
            Chunk::Minute => write!(out, "{}", time.minute),
            Chunk::ZeroMinute => write!(out, "{:02}", time.minute),
            Chunk::Second => write!(out, "{}", time.second),
            Chunk::ZeroSecond => write!(out, "{:02}", time.second),
            Chunk::LongYear => write!(out, "{:04}", time.year),
            Chunk::Year => write!(out, "{:02}", time.year.rem_euclid(100)),
            Chunk::PmUpper => write!(out, "{}", if time.hour >= 12 { "PM" } else { "AM" }),
            Chunk::PmLower => write!(out, "{}", if time.hour >= 12 { "pm" } else { "am" }),
            Chunk::ZoneName => write!(out, "UTC"),
            Chunk::Offset { z: true, .. } => write!(out, "Z"),
            Chunk::Offset { colon, seconds, hours_only, .. } => write!(
                out,
                "{}",
                match (colon, seconds, hours_only) {
                    (_, _, true) => "+00",
                    (true, true, _) => "+00:00:00",
                    (true, false, _) => "+00:00",
                    (false, true, _) => "+000000",
                    (false, false, _) => "+0000",
                }
            ),
            Chunk::Fraction { separator, digits, trim } => {
                let fraction = format!("{:09}", time.nanos);
                let mut shown = fraction[..digits.min(9)].to_string();
                if trim {
                    shown = shown.trim_end_matches('0').to_string();
                }
                if shown.is_empty() { Ok(()) } else { write!(out, "{separator}{shown}") }
            }
        };
    }
    out
}

/// Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub(crate) fn go_time_string(nanos: i64) -> String {
    format("2006-01-02 15:04:05.999999999 -0700 MST", nanos)
}

/// Go's `time.Parse` for layouts made of the numeric elements, month and weekday names, AM/PM, `Z`/offsets and
/// fractions. Returns `None` where Go returns an error.
pub(crate) fn parse(layout: &str, input: &str) -> Option<i64> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut nanos) = (1i64, 1u32, 1u32, 0i64, 0, 0, 0);
    let mut pm: Option<bool> = None;
    let mut offset_seconds = 0i64;
    let mut rest = input;
    let take_digits = |rest: &mut &str, min: usize, max: usize| -> Option<i64> {
        let count = rest.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if count < min {
            return None;
        }
        let value = rest[..count].parse().ok()?;
        *rest = &rest[count..];
        Some(value)
    };
    for chunk in chunks(layout) {
        match chunk {
            Chunk::Literal(text) => rest = rest.strip_prefix(text)?,
            Chunk::LongMonth | Chunk::Month => {
                let position = MONTHS.iter().position(|name| {
                    let name = if chunk == Chunk::Month { &name[..3] } else { name };
                    rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name)
                })?;
                let length = if chunk == Chunk::Month { 3 } else { MONTHS[position].len() };
                rest = &rest[length..];
                month = position as u32 + 1;
            }
            Chunk::LongWeekday | Chunk::Weekday => {
                let position = DAYS.iter().position(|name| {
                    let name = if chunk == Chunk::Weekday { &name[..3] } else { name };
                    rest.len() >= name.len() && rest[..name.len()].eq_ignore_ascii_case(name)
                })?;
                let length = if chunk == Chunk::Weekday { 3 } else { DAYS[position].len() };
                rest = &rest[length..];
            }
            Chunk::NumMonth => month = take_digits(&mut rest, 1, 2)? as u32,
            Chunk::ZeroMonth => month = take_digits(&mut rest, 2, 2)? as u32,
            Chunk::Day | Chunk::UnderDay => {
                rest = rest.trim_start_matches(' ');
                day = take_digits(&mut rest, 1, 2)? as u32;
            }
            Chunk::ZeroDay => day = take_digits(&mut rest, 2, 2)? as u32,
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                rest = rest.trim_start_matches(' ');
                take_digits(&mut rest, 1, 3)?;
            }
            Chunk::Hour => hour = take_digits(&mut rest, 2, 2)?,
            Chunk::Hour12 => hour = take_digits(&mut rest, 1, 2)?,
            Chunk::ZeroHour12 => hour = take_digits(&mut rest, 2, 2)?,
            Chunk::Minute => minute = take_digits(&mut rest, 1, 2)?,
            Chunk::ZeroMinute => minute = take_digits(&mut rest, 2, 2)?,
            Chunk::Second | Chunk::ZeroSecond => {
                second = take_digits(&mut rest, if chunk == Chunk::Second { 1 } else { 2 }, 2)?;
                // Go accepts a fraction after seconds even when the layout has none.
                if let Some(after) =
                    rest.strip_prefix(['.', ',']).filter(|after| after.starts_with(|c: char| c.is_ascii_digit()))
                {
                    let count = after.bytes().take_while(u8::is_ascii_digit).count();
                    nanos = fraction_nanos(&after[..count]);
                    rest = &after[count..];
                }
            }
            Chunk::LongYear => year = take_digits(&mut rest, 4, 4)?,
            Chunk::Year => {
                let short = take_digits(&mut rest, 2, 2)?;
                year = if short >= 69 { 1900 + short } else { 2000 + short };
            }
            Chunk::PmUpper | Chunk::PmLower => {
                let marker = rest.get(..2)?;
                pm = Some(marker.eq_ignore_ascii_case("pm"));
                if !marker.eq_ignore_ascii_case("am") && !marker.eq_ignore_ascii_case("pm") {
                    return None;
                }
                rest = &rest[2..];
            }
            Chunk::ZoneName => {
                let length = rest.bytes().take_while(u8::is_ascii_uppercase).count();
                if length < 3 {
                    return None;
                }
                rest = &rest[length..];
            }
            Chunk::Offset { z, colon, seconds, hours_only } => {
                if z && rest.starts_with('Z') {
                    rest = &rest[1..];
                    continue;
                }
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                rest = &rest[1..];
                let hours = take_digits(&mut rest, 2, 2)?;
                let mut minutes = 0;
                let mut secs = 0;
                if !hours_only {
                    if colon {
                        rest = rest.strip_prefix(':')?;
                    }
                    minutes = take_digits(&mut rest, 2, 2)?;
                    if seconds {
                        if colon {
                            rest = rest.strip_prefix(':')?;
                        }
                        secs = take_digits(&mut rest, 2, 2)?;
                    }
                }
                offset_seconds = sign * (hours * 3600 + minutes * 60 + secs);
            }
            Chunk::Fraction { separator, digits, trim } => {
                if trim {
                    if let Some(after) = rest.strip_prefix(separator) {
                        let count = after.bytes().take_while(u8::is_ascii_digit).count();
                        nanos = fraction_nanos(&after[..count]);
                        rest = &after[count..];
                    }
                } else {
                    let after = rest.strip_prefix(separator)?;
                    if after.len() < digits || !after.as_bytes()[..digits].iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    nanos = fraction_nanos(&after[..digits]);
                    rest = &after[digits..];
                }
            }
        }
    }
    if !rest.is_empty()
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    if let Some(pm) = pm {
        if hour > 12 {
            return None;
        }
        hour = match (pm, hour) {
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, 12) => 0,
            (false, h) => h,
        };
    }
    if year == 1
        && month == 1
        && day == 1
        && hour == 0
        && minute == 0
        && second == 0
        && nanos == 0
        && offset_seconds == 0
    {
        return Some(ZERO_TIME);
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

fn fraction_nanos(digits: &str) -> i64 {
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_705_314_645_123_456_789; // 2024-01-15T10:30:45.123456789Z, a Monday

    #[test]
    fn formats_go_layouts() {
        let f = |layout: &str, want: &str| assert_eq!(format(layout, T), want, "{layout}");
        f("2006-01-02T15:04:05Z07:00", "2024-01-15T10:30:45Z");
        f("2006-01-02 15:04:05.000", "2024-01-15 10:30:45.123");
        f("Mon Jan _2 3:04PM", "Mon Jan 15 10:30AM");
        f("Monday, January 2, 06 .999999999 -0700 MST", "Monday, January 15, 24 .123456789 +0000 UTC");
        f("002 __2", "015  15");
        assert_eq!(go_time_string(T), "2024-01-15 10:30:45.123456789 +0000 UTC");
        assert_eq!(go_time_string(1_700_000_000_000_000_000), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(go_time_string(ZERO_TIME), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn parses_go_layouts() {
        assert_eq!(parse("2006-01-02T15:04:05Z07:00", "2024-01-15T10:30:45.123456789Z"), Some(T));
        assert_eq!(
            parse("2006-01-02 15:04:05 -0700", "2024-01-15 12:30:45 +0200"),
            Some(T / NANOS_PER_SECOND * NANOS_PER_SECOND)
        );
        assert_eq!(
            parse("02/Jan/2006:15:04:05", "15/jan/2024:10:30:45"),
            Some(T / NANOS_PER_SECOND * NANOS_PER_SECOND)
        );
        assert_eq!(parse("2006-01-02", "2024-13-01"), None);
        assert_eq!(parse("2006-01-02", "not a date"), None);
    }
}
