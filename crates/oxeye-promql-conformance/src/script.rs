//! The promqltest script language: `load`, `clear` and `eval` commands with their `expect` lines.
//!
//! Parsing follows `promql/promqltest/test.go` (Prometheus v3.x) line by line, because the details decide what a
//! test means: every line is trimmed and a line starting with `#` counts as blank; a blank line ends a block;
//! the same regular expressions split the command headers; in an `eval` block a bare number is an expected
//! scalar and ends the block; result lines use the series-description notation of [`crate::series`]. The
//! language is described in `../shared/conformance/promql/FORMAT.md`.

use std::sync::LazyLock;

use oxeye_model::Labels;
use regex::Regex;

use crate::ScriptError;
use crate::duration::parse_duration_ms;
use crate::series::{SequenceValue, parse_number, parse_series_desc, parse_series_labels, take_quoted};

static LOAD_HEADER: LazyLock<Regex> = LazyLock::new(|| compile(r"^load(?:_(with_nhcb))?\s+(.+?)$"));
static EVAL_INSTANT_HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"));
static EVAL_RANGE_HEADER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"));
static EXPECT_LINE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$"));
static EXPECT_RANGE_VECTOR: LazyLock<Regex> =
    LazyLock::new(|| compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"));

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|err| unreachable!("BUG: invalid built-in pattern {pattern}: {err}"))
}

/// A parsed test script.
#[derive(Clone, Debug)]
pub struct Script {
    pub commands: Vec<Command>,
}

/// One command of a script, in file order.
#[derive(Clone, Debug)]
pub enum Command {
    Load(LoadCmd),
    /// `clear`: drop all loaded data.
    Clear {
        line: usize,
    },
    Eval(Box<EvalCmd>),
}

/// `load <interval>` (or `load_with_nhcb <interval>`) and its series lines.
#[derive(Clone, Debug)]
pub struct LoadCmd {
    /// 1-based line of the `load` header.
    pub line: usize,
    /// Distance between consecutive values of a series; the first value is at timestamp 0.
    pub interval_ms: i64,
    /// `load_with_nhcb`: classic histogram series are also loaded as native histograms with custom buckets.
    pub with_nhcb: bool,
    pub series: Vec<LoadSeries>,
}

/// One series line of a `load` block.
#[derive(Clone, Debug)]
pub struct LoadSeries {
    /// 1-based line in the file.
    pub line: usize,
    pub labels: Labels,
    pub values: Vec<SequenceValue>,
    /// Start-timestamp offsets (`metric@st ...` lines, or a block-wide `@st ...` default), one per value;
    /// empty when the series has none. `None` marks a position without a start timestamp.
    pub start_offsets_ms: Vec<Option<i64>>,
}

/// Which query an `eval` runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EvalKind {
    Instant { time_ms: i64 },
    Range { start_ms: i64, end_ms: i64, step_ms: i64 },
}

/// `expect range vector from <start> to <end> step <step>`: an instant query expected to return a matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RangeVectorFrame {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// How an expected error or annotation message is matched.
#[derive(Clone, Debug)]
pub enum MessageMatch {
    /// No `msg:`/`regex:` part: anything matches.
    Any,
    /// `msg: text`: exact equality (after trimming the text).
    Exact(String),
    /// `regex: pattern`: an unanchored regular expression search.
    Pattern(Regex),
}

impl MessageMatch {
    pub fn matches(&self, message: &str) -> bool {
        match self {
            MessageMatch::Any => true,
            MessageMatch::Exact(expected) => expected == message,
            MessageMatch::Pattern(regex) => regex.is_match(message),
        }
    }
}

impl std::fmt::Display for MessageMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageMatch::Any => write!(f, "(anything)"),
            MessageMatch::Exact(message) => write!(f, "msg {message:?}"),
            MessageMatch::Pattern(regex) => write!(f, "regex {:?}", regex.as_str()),
        }
    }
}

/// The `expect` lines of an eval (and the deprecated `eval_fail`/`eval_warn`/`eval_info`/`eval_ordered` forms).
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// `expect fail [msg:|regex:]`: the query must fail with a matching error (promqltest allows one line).
    pub fail: Vec<MessageMatch>,
    /// The deprecated `eval_fail` header, refined by an `expected_fail_message` or `expected_fail_regexp` line.
    pub legacy_fail: Option<MessageMatch>,
    /// `expect warn ...`: at least one warning; every entry matches some warning and every warning matches
    /// some entry.
    pub warn: Vec<MessageMatch>,
    /// `expect info ...`: as `warn`, for info annotations.
    pub info: Vec<MessageMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered` or `eval_ordered`: the vector must come in the order of the expected lines.
    pub ordered: bool,
    /// `eval_warn`: at least one warning (any).
    pub legacy_warn: bool,
    /// `eval_info`: at least one info annotation (any).
    pub legacy_info: bool,
}

impl Expectations {
    pub fn expects_failure(&self) -> bool {
        self.legacy_fail.is_some() || !self.fail.is_empty()
    }
}

/// One expected series of an eval.
#[derive(Clone, Debug)]
pub struct ExpectedSeries {
    /// 1-based line in the file.
    pub line: usize,
    /// Position for `expect ordered`, counted as promqltest counts it (1-based over the block's lines, not
    /// counting `expect` lines).
    pub position: usize,
    pub labels: Labels,
    pub values: Vec<SequenceValue>,
}

/// What an eval expects as a value.
#[derive(Clone, Debug)]
pub enum ExpectedValue {
    /// A bare number line: the result must be a scalar.
    Scalar(f64),
    /// Series lines (possibly none: an empty result). Labels are unique; a later line with the same labels
    /// replaces an earlier one, as in promqltest's map.
    Series(Vec<ExpectedSeries>),
}

/// `eval instant at <time> <query>` or `eval range from <start> to <end> step <step> <query>` with its block.
#[derive(Clone, Debug)]
pub struct EvalCmd {
    /// 1-based line of the `eval` header; identifies the case.
    pub line: usize,
    pub query: String,
    pub kind: EvalKind,
    pub expectations: Expectations,
    pub expected: ExpectedValue,
    /// `expect range vector ...`; the instant query then runs at the frame's end.
    pub range_vector: Option<RangeVectorFrame>,
    /// `expect string "..."` (promqltest compares string results against `""` when absent).
    pub expected_string: Option<String>,
    /// Set by `expect range vector` and `expect string`: the instant query is not re-run in range mode.
    pub exclude_from_range_query: bool,
}

impl EvalCmd {
    /// Whether the expected values mention a native histogram.
    pub fn expects_histograms(&self) -> bool {
        match &self.expected {
            ExpectedValue::Scalar(_) => false,
            ExpectedValue::Series(series) => series
                .iter()
                .any(|expected| expected.values.iter().any(|value| matches!(value, SequenceValue::Histogram(_)))),
        }
    }

    /// Evaluation time of an instant query (the range-vector frame's end when there is one).
    pub fn instant_time_ms(&self) -> Option<i64> {
        match self.kind {
            EvalKind::Instant { time_ms } => Some(self.range_vector.map_or(time_ms, |frame| frame.end_ms)),
            EvalKind::Range { .. } => None,
        }
    }
}

/// Lines as promqltest's `getLines` sees them: trimmed, with comment lines turned into blank lines.
fn script_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|line| {
            let trimmed = line.trim();
            if trimmed.starts_with('#') { "" } else { trimmed }
        })
        .collect()
}

fn at_line(line: usize, error: ScriptError) -> ScriptError {
    match error {
        ScriptError::AtLine { .. } => error,
        other => ScriptError::AtLine { line, source: Box::new(other) },
    }
}

fn command_error(line: usize, reason: impl Into<String>) -> ScriptError {
    ScriptError::Command { line, reason: reason.into() }
}

/// Parses a whole script. Fails at the first malformed command, as promqltest does.
pub fn parse_script(text: &str) -> Result<Script, ScriptError> {
    let lines = script_lines(text);
    let mut commands = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.is_empty() {
            index += 1;
            continue;
        }
        let keyword = line.split([' ', '\t']).next().unwrap_or("").to_ascii_lowercase();
        let (next_index, command) = if keyword == "clear" {
            (index + 1, Command::Clear { line: index + 1 })
        } else if keyword.starts_with("load") {
            let (next_index, load) = parse_load(&lines, index)?;
            (next_index, Command::Load(load))
        } else if keyword.starts_with("eval") {
            let (next_index, eval) = parse_eval(&lines, index)?;
            (next_index, Command::Eval(Box::new(eval)))
        } else {
            return Err(command_error(index + 1, format!("invalid command {line:?}")));
        };
        commands.push(command);
        index = next_index;
    }
    Ok(Script { commands })
}

/// Parses a `load` block starting at `index`; returns the index after the block.
fn parse_load(lines: &[&str], index: usize) -> Result<(usize, LoadCmd), ScriptError> {
    let header_line = index + 1;
    let Some(parts) = LOAD_HEADER.captures(lines[index]) else {
        return Err(command_error(header_line, "invalid load command. (load[_with_nhcb] <step:duration>)"));
    };
    let with_nhcb = parts.get(1).is_some();
    let interval_ms = parse_duration_ms(&parts[2]).map_err(|err| at_line(header_line, err))?;
    let mut load = LoadCmd { line: header_line, interval_ms, with_nhcb, series: Vec::new() };
    let mut default_start_offsets: Vec<Option<i64>> = Vec::new();
    // A `metric@st ...` line waiting for the sample line of the same series.
    let mut pending_start_offsets: Option<(usize, Labels, Vec<Option<i64>>)> = None;
    let mut cursor = index + 1;
    while cursor < lines.len() && !lines[cursor].is_empty() {
        let line = lines[cursor];
        let line_number = cursor + 1;
        cursor += 1;
        if is_start_timestamp_line(line) {
            if let Some((pending_line, _, _)) = pending_start_offsets {
                return Err(command_error(pending_line, "@st line has no following sample line"));
            }
            let (labels, offsets) = parse_start_timestamp_line(line).map_err(|err| at_line(line_number, err))?;
            match labels {
                None => default_start_offsets = offsets,
                Some(labels) => pending_start_offsets = Some((line_number, labels, offsets)),
            }
            continue;
        }
        let desc = parse_series_desc(line).map_err(|err| at_line(line_number, err))?;
        let mut start_offsets_ms = Vec::new();
        if let Some((pending_line, pending_labels, offsets)) = pending_start_offsets.take() {
            if pending_labels != desc.labels {
                return Err(command_error(pending_line, "@st metric does not match the following sample line metric"));
            }
            if offsets.len() != desc.values.len() {
                return Err(command_error(
                    pending_line,
                    format!("@st line has {} values but sample line has {}", offsets.len(), desc.values.len()),
                ));
            }
            start_offsets_ms = offsets;
        } else if !default_start_offsets.is_empty() {
            start_offsets_ms = (0..desc.values.len())
                .map(|position| default_start_offsets[position % default_start_offsets.len()])
                .collect();
        }
        let series = LoadSeries { line: line_number, labels: desc.labels, values: desc.values, start_offsets_ms };
        // promqltest keys a load's series by label hash: a repeated series replaces the earlier line.
        match load.series.iter_mut().find(|existing| existing.labels == series.labels) {
            Some(existing) => *existing = series,
            None => load.series.push(series),
        }
    }
    if let Some((pending_line, _, _)) = pending_start_offsets {
        return Err(command_error(pending_line, "@st line has no following sample line"));
    }
    Ok((cursor, load))
}

/// A start-timestamp line: its first word ends in `@st` (`metric{a="b"}@st -1m-1mx3` or `@st 0x5`).
fn is_start_timestamp_line(line: &str) -> bool {
    line.split([' ', '\t']).next().is_some_and(|first| first.ends_with("@st")) && line.contains([' ', '\t'])
}

/// Parses a start-timestamp line; the labels are `None` for the block-wide default form `@st <sequence>`.
fn parse_start_timestamp_line(line: &str) -> Result<(Option<Labels>, Vec<Option<i64>>), ScriptError> {
    let split_at = line.find([' ', '\t']).unwrap_or(line.len());
    let metric_part = line[..split_at].trim_end_matches("@st");
    let offsets = parse_start_timestamp_sequence(line[split_at..].trim())?;
    if metric_part.is_empty() {
        return Ok((None, offsets));
    }
    let (labels, rest) = parse_series_labels(metric_part)?;
    if !rest.trim().is_empty() {
        return Err(ScriptError::Series { reason: format!("unexpected {rest:?} in @st line metric") });
    }
    Ok((Some(labels), offsets))
}

/// Parses a start-timestamp offset sequence (promqltest `parseSTSequence`): `_`, `_xN` (N positions), `*`
/// and `*xN` (repeat the previous offset, N+1 times), `<dur>`, `<dur>xN`, `<dur>+<dur>xN`, `<dur>-<dur>xN`,
/// where durations may be signed.
pub fn parse_start_timestamp_sequence(text: &str) -> Result<Vec<Option<i64>>, ScriptError> {
    let invalid =
        |item: &str, reason: &str| ScriptError::Series { reason: format!("invalid ST item {item:?}: {reason}") };
    let parse_count =
        |item: &str, digits: &str| digits.parse::<usize>().map_err(|_| invalid(item, "invalid repeat count"));
    let mut offsets: Vec<Option<i64>> = Vec::new();
    for item in text.split_whitespace() {
        let previous = offsets.iter().rev().find_map(|offset| *offset).unwrap_or(0);
        if item == "_" {
            offsets.push(None);
        } else if let Some(count) = item.strip_prefix("_x") {
            let count = parse_count(item, count)?;
            if count == 0 {
                return Err(invalid(item, "invalid repeat count"));
            }
            offsets.extend(std::iter::repeat_n(None, count));
        } else if item == "*" {
            offsets.push(Some(previous));
        } else if let Some(count) = item.strip_prefix("*x") {
            offsets.extend(std::iter::repeat_n(Some(previous), parse_count(item, count)? + 1));
        } else {
            let (base, rest) = parse_signed_duration_prefix(item).map_err(|reason| invalid(item, &reason))?;
            if rest.is_empty() {
                offsets.push(Some(base));
            } else if let Some(count) = rest.strip_prefix('x') {
                offsets.extend(std::iter::repeat_n(Some(base), parse_count(item, count)? + 1));
            } else if rest.starts_with(['+', '-']) {
                let (delta, after_delta) =
                    parse_signed_duration_prefix(rest).map_err(|reason| invalid(item, &reason))?;
                let Some(count) = after_delta.strip_prefix('x') else {
                    return Err(invalid(item, "expected 'x<count>' after step duration"));
                };
                let mut offset = base;
                for _ in 0..=parse_count(item, count)? {
                    offsets.push(Some(offset));
                    offset += delta;
                }
            } else {
                return Err(invalid(item, "unexpected character after duration"));
            }
        }
    }
    Ok(offsets)
}

/// Reads an optionally signed duration at the start of `text` (digits, then letters other than `x`);
/// returns milliseconds and the rest.
fn parse_signed_duration_prefix(text: &str) -> Result<(i64, &str), String> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits_len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if digits_len == 0 {
        return Err(format!("expected digits in duration {text:?}"));
    }
    let unit_len = unsigned[digits_len..].bytes().take_while(|c| c.is_ascii_alphabetic() && *c != b'x').count();
    let end = digits_len + unit_len;
    let magnitude = parse_duration_ms(&unsigned[..end]).map_err(|err| err.to_string())?;
    Ok((if negative { -magnitude } else { magnitude }, &unsigned[end..]))
}

/// Parses an `eval` block starting at `index`; returns the index after the block.
fn parse_eval(lines: &[&str], index: usize) -> Result<(usize, EvalCmd), ScriptError> {
    let header = lines[index];
    let header_line = index + 1;
    let instant = EVAL_INSTANT_HEADER.captures(header);
    let range = EVAL_RANGE_HEADER.captures(header);
    let (modifier, query, kind) = match (instant, range) {
        (Some(parts), _) => {
            let at = parts.get(2).map_or("", |at| at.as_str());
            let time_ms = parse_duration_ms(at).map_err(|err| at_line(header_line, err))?;
            (parts.get(1).map(|m| m.as_str().to_string()), parts[3].to_string(), EvalKind::Instant { time_ms })
        }
        (None, Some(parts)) => {
            let (start_ms, end_ms, step_ms) =
                parse_time_frame(&parts[2], &parts[3], &parts[4]).map_err(|err| at_line(header_line, err))?;
            let kind = EvalKind::Range { start_ms, end_ms, step_ms };
            (parts.get(1).map(|m| m.as_str().to_string()), parts[5].to_string(), kind)
        }
        (None, None) => {
            return Err(command_error(
                header_line,
                "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] \
                 <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
            ));
        }
    };
    let is_instant = matches!(kind, EvalKind::Instant { .. });
    let mut expectations = Expectations::default();
    match modifier.as_deref() {
        Some("fail") => expectations.legacy_fail = Some(MessageMatch::Any),
        Some("warn") => expectations.legacy_warn = true,
        Some("info") => expectations.legacy_info = true,
        Some("ordered") => expectations.ordered = true,
        _ => {}
    }
    let legacy_fail = modifier.as_deref() == Some("fail");
    let mut eval = EvalCmd {
        line: header_line,
        query,
        kind,
        expectations,
        expected: ExpectedValue::Series(Vec::new()),
        range_vector: None,
        expected_string: None,
        exclude_from_range_query: false,
    };
    let mut expected_series: Vec<ExpectedSeries> = Vec::new();
    let mut expected_scalar: Option<f64> = None;
    let mut cursor = index + 1;
    // promqltest's `j`: the position of the next result line, not advanced by `expect` lines.
    let mut position = 1;
    while cursor < lines.len() && !lines[cursor].is_empty() {
        let line = lines[cursor];
        let line_number = cursor + 1;
        cursor += 1;
        let in_block = |err: ScriptError| at_line(line_number, err);
        if legacy_fail && let Some(message) = line.strip_prefix("expected_fail_message") {
            // promqltest ignores an empty message.
            let message = message.trim();
            let matcher = if message.is_empty() { MessageMatch::Any } else { MessageMatch::Exact(message.to_string()) };
            eval.expectations.legacy_fail = Some(matcher);
            break;
        }
        if legacy_fail && let Some(pattern) = line.strip_prefix("expected_fail_regexp") {
            let regex = Regex::new(pattern.trim())
                .map_err(|err| command_error(line_number, format!("invalid expected_fail_regexp: {err}")))?;
            eval.expectations.legacy_fail = Some(MessageMatch::Pattern(regex));
            break;
        }
        if line.starts_with("expect range vector") {
            let Some(parts) = EXPECT_RANGE_VECTOR.captures(line) else {
                return Err(command_error(line_number, format!("invalid range vector definition {line:?}")));
            };
            let (start_ms, end_ms, step_ms) = parse_time_frame(&parts[1], &parts[2], &parts[3]).map_err(in_block)?;
            eval.range_vector = Some(RangeVectorFrame { start_ms, end_ms, step_ms });
            eval.exclude_from_range_query = true;
            position += 1;
            continue;
        }
        if line.starts_with("expect string") {
            eval.expected_string = Some(parse_expected_string(line).map_err(in_block)?);
            eval.exclude_from_range_query = true;
            position += 1;
            continue;
        }
        if line.split(' ').next() == Some("expect") {
            parse_expect_line(line, &mut eval.expectations).map_err(in_block)?;
            continue;
        }
        if let Some(value) = parse_number(line) {
            expected_scalar = Some(value);
            break;
        }
        let desc = parse_series_desc(line).map_err(in_block)?;
        if desc.values.len() > 1 && is_instant && eval.range_vector.is_none() {
            return Err(command_error(
                line_number,
                "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' \
                 directive to enable a range vector result for an instant query",
            ));
        }
        let series = ExpectedSeries { line: line_number, position, labels: desc.labels, values: desc.values };
        match expected_series.iter_mut().find(|existing| existing.labels == series.labels) {
            Some(existing) => *existing = series,
            None => expected_series.push(series),
        }
        position += 1;
    }
    eval.expected = match expected_scalar {
        Some(value) => ExpectedValue::Scalar(value),
        None => ExpectedValue::Series(expected_series),
    };
    Ok((cursor, eval))
}

fn parse_time_frame(start: &str, end: &str, step: &str) -> Result<(i64, i64, i64), ScriptError> {
    let start_ms = parse_duration_ms(start)?;
    let end_ms = parse_duration_ms(end)?;
    if end_ms < start_ms {
        return Err(ScriptError::Series {
            reason: format!("invalid test definition, end timestamp ({end}) is before start timestamp ({start})"),
        });
    }
    let step_ms = parse_duration_ms(step)?;
    Ok((start_ms, end_ms, step_ms))
}

/// Parses `expect string "..."` (double, single or back quotes).
fn parse_expected_string(line: &str) -> Result<String, ScriptError> {
    let invalid = || ScriptError::Series {
        reason: "expected string literal not valid - a quoted string literal is required".to_string(),
    };
    let quoted = line.strip_prefix("expect string ").ok_or_else(invalid)?;
    if quoted.is_empty() {
        return Err(invalid());
    }
    let (value, rest) = take_quoted(quoted)?;
    if !rest.is_empty() {
        return Err(ScriptError::Series {
            reason: "expected string literal not valid - check that the string is correctly quoted".to_string(),
        });
    }
    Ok(value)
}

/// Parses an `expect <type> [msg:|regex: <text>]` line into `expectations`, rejecting the combinations
/// promqltest rejects.
fn parse_expect_line(line: &str, expectations: &mut Expectations) -> Result<(), ScriptError> {
    let invalid = |reason: String| ScriptError::Series { reason };
    let Some(parts) = EXPECT_LINE.captures(line.trim()) else {
        return Err(invalid(format!(
            "invalid expect statement {line:?}, must match `expect <type> <match_type>: <string>` format"
        )));
    };
    let kind = &parts[1];
    let matcher = match (parts.get(2).map(|m| m.as_str()), parts.get(3)) {
        (Some("msg"), Some(text)) => MessageMatch::Exact(text.as_str().trim().to_string()),
        (Some("regex"), Some(text)) => {
            let pattern = text.as_str().trim();
            MessageMatch::Pattern(
                Regex::new(pattern).map_err(|_| invalid(format!("invalid regex {pattern} for {kind}")))?,
            )
        }
        _ => MessageMatch::Any,
    };
    match kind {
        "fail" => expectations.fail.push(matcher),
        "warn" => expectations.warn.push(matcher),
        "info" => expectations.info.push(matcher),
        "no_warn" => expectations.no_warn = true,
        "no_info" => expectations.no_info = true,
        "ordered" => expectations.ordered = true,
        other => unreachable!("BUG: the expect pattern admitted {other:?}"),
    }
    if !expectations.info.is_empty() && expectations.no_info {
        return Err(invalid("invalid expect lines, info and no_info cannot be used together".to_string()));
    }
    if !expectations.warn.is_empty() && expectations.no_warn {
        return Err(invalid("invalid expect lines, warn and no_warn cannot be used together".to_string()));
    }
    if expectations.fail.len() > 1 {
        return Err(invalid("invalid expect lines, multiple expect fail lines are not allowed".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
