//! Stages that rewrite lines or labels: `regexp` and `pattern` parsers, `line_format`, `label_format`, `drop`,
//! `keep` and `decolorize`.

use oxeye_storage_api::Matcher;
use regex::Regex;

use crate::parser::ast::{LabelFormatOp, NamedMatcher};
use crate::parser::parse::to_storage_matcher;
use crate::pipeline::labels::{Category, ERROR_DETAILS_LABEL, ERROR_LABEL, PRESERVE_ERROR_LABEL, RowLabels};
use crate::pipeline::pattern::Pattern;
use crate::pipeline::template::{Template, TemplateData};

pub(crate) const TEMPLATE_ERROR: &str = "TemplateFormatErr";

/// `| regexp "(?P<name>…)"`: named groups of the first match become labels (a group that did not take part in
/// the match gives an empty label).
#[derive(Debug)]
pub(crate) struct RegexpParser {
    regex: Regex,
    /// (group index, label name)
    names: Vec<(usize, String)>,
}

impl RegexpParser {
    pub(crate) fn new(source: &str) -> Result<Self, String> {
        let regex = Regex::new(source)
            .map_err(|error| format!("error parsing regexp: {}", error.to_string().lines().last().unwrap_or("")))?;
        let mut names: Vec<(usize, String)> = Vec::new();
        for (index, name) in regex.capture_names().enumerate() {
            let Some(name) = name else { continue };
            if names.iter().any(|(_, existing)| existing == name) {
                return Err(format!("duplicate extracted label name '{name}'"));
            }
            names.push((index, name.to_string()));
        }
        if names.is_empty() {
            return Err("at least one named capture must be supplied".to_string());
        }
        Ok(RegexpParser { regex, names })
    }

    pub(crate) fn process(&self, line: &str, labels: &mut RowLabels<'_>, suffixed: &mut String) {
        let Some(captures) = self.regex.captures(line) else {
            return;
        };
        for (index, name) in &self.names {
            let key = labels.parsed_name(name, suffixed);
            if labels.was_extracted(key) {
                continue;
            }
            let value = captures.get(*index).map_or("", |found| found.as_str());
            labels.set(Category::Parsed, key, value);
        }
    }
}

/// `| pattern "<a> <_> <b>"`.
#[derive(Debug)]
pub(crate) struct PatternParser {
    pattern: Pattern,
}

impl PatternParser {
    pub(crate) fn new(source: &str) -> Result<Self, String> {
        Ok(PatternParser { pattern: Pattern::for_parser(source)? })
    }

    pub(crate) fn process(&self, line: &str, labels: &mut RowLabels<'_>, suffixed: &mut String) {
        self.pattern.captures(line, |name, value| {
            let key = labels.parsed_name(name, suffixed);
            if !labels.was_extracted(key) {
                labels.set(Category::Parsed, key, value);
            }
        });
    }
}

/// What templates see of a row: its live labels.
pub(crate) struct RowData<'r, 'a> {
    pub labels: &'r RowLabels<'a>,
    pub line: &'r str,
    pub timestamp_ns: i64,
}

impl TemplateData for RowData<'_, '_> {
    fn label(&self, name: &str) -> Option<&str> {
        match name {
            ERROR_LABEL | ERROR_DETAILS_LABEL => Some(self.labels.value_for_filter(name)).filter(|v| !v.is_empty()),
            _ => self.labels.get(name),
        }
    }

    fn all_labels(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.labels.for_each(|name, value, _| out.push((name.to_string(), value.to_string())));
        out.sort();
        out
    }

    fn line(&self) -> &str {
        self.line
    }

    fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }
}

/// A copy of a row's labels taken when `label_format` runs its first template (Loki renders every template of one
/// `label_format` against the labels as they were then).
struct Snapshot<'s> {
    labels: &'s [(String, String)],
    line: &'s str,
    timestamp_ns: i64,
}

impl TemplateData for Snapshot<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(existing, _)| existing == name).map(|(_, value)| value.as_str())
    }

    fn all_labels(&self) -> Vec<(String, String)> {
        self.labels.to_vec()
    }

    fn line(&self) -> &str {
        self.line
    }

    fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }
}

/// `| line_format "…"`.
#[derive(Debug)]
pub(crate) struct LineFormatter {
    pub(crate) template: Template,
}

impl LineFormatter {
    pub(crate) fn new(source: &str) -> Result<Self, String> {
        Ok(LineFormatter {
            template: Template::parse("line", source).map_err(|error| format!("invalid line template: {error}"))?,
        })
    }

    /// Renders the new line into `out`; `false` (line unchanged) when the template failed, with `__error__` set.
    pub(crate) fn format(&self, line: &str, timestamp_ns: i64, labels: &mut RowLabels<'_>, out: &mut String) -> bool {
        if let Some(field) = self.template.simple_field() {
            out.clear();
            out.push_str(labels.get(field).unwrap_or(""));
            return true;
        }
        let result = self.template.execute(&RowData { labels, line, timestamp_ns }, out);
        match result {
            Ok(()) => true,
            Err(details) => {
                labels.set_error(TEMPLATE_ERROR, Some(&details));
                false
            }
        }
    }
}

#[derive(Debug)]
enum LabelAssignment {
    Rename { dst: String, src: String },
    Template { dst: String, template: Template },
}

/// `| label_format a=b, c="{{…}}"`.
#[derive(Debug)]
pub(crate) struct LabelFormatter {
    assignments: Vec<LabelAssignment>,
}

impl LabelFormatter {
    pub(crate) fn new(operations: &[LabelFormatOp]) -> Result<Self, String> {
        let mut assignments = Vec::with_capacity(operations.len());
        for (index, operation) in operations.iter().enumerate() {
            let dst = operation.dst();
            if dst == ERROR_LABEL {
                return Err(format!("{dst} cannot be formatted"));
            }
            if operations[..index].iter().any(|earlier| earlier.dst() == dst) {
                return Err(format!("multiple label name '{dst}' not allowed in a single format operation"));
            }
            assignments.push(match operation {
                LabelFormatOp::Rename { dst, src } => LabelAssignment::Rename { dst: dst.clone(), src: src.clone() },
                LabelFormatOp::Template { dst, template } => LabelAssignment::Template {
                    dst: dst.clone(),
                    template: Template::parse("label", template)
                        .map_err(|error| format!("invalid template for label '{dst}': {error}"))?,
                },
            });
        }
        Ok(LabelFormatter { assignments })
    }

    pub(crate) fn process(&self, line: &str, timestamp_ns: i64, labels: &mut RowLabels<'_>, rendered: &mut String) {
        let mut snapshot: Option<Vec<(String, String)>> = None;
        for assignment in &self.assignments {
            match assignment {
                LabelAssignment::Rename { dst, src } => {
                    if let Some(value) = labels.get(src).map(str::to_string) {
                        labels.set(Category::Parsed, dst, &value);
                        labels.delete(src);
                    }
                }
                LabelAssignment::Template { dst, template } => {
                    let snapshot = snapshot.get_or_insert_with(|| {
                        let mut copy = Vec::new();
                        labels.for_each(|name, value, _| copy.push((name.to_string(), value.to_string())));
                        copy
                    });
                    let data = Snapshot { labels: snapshot, line, timestamp_ns };
                    match template.execute(&data, rendered) {
                        Ok(()) => labels.set(Category::Parsed, dst, rendered),
                        Err(details) => labels.set_error(TEMPLATE_ERROR, Some(&details)),
                    }
                }
            }
        }
    }

    pub(crate) fn referenced_names(&self, out: &mut Vec<String>) {
        for assignment in &self.assignments {
            match assignment {
                LabelAssignment::Rename { src, .. } => out.push(src.clone()),
                LabelAssignment::Template { template, .. } => template.referenced_fields(out),
            }
        }
    }
}

/// An entry of `drop`/`keep`.
#[derive(Debug)]
pub(crate) enum LabelSelector {
    Name(String),
    Matcher(Matcher),
}

pub(crate) fn compile_selectors(matchers: &[NamedMatcher]) -> Result<Vec<LabelSelector>, String> {
    matchers
        .iter()
        .map(|matcher| match matcher {
            NamedMatcher::Name(name) => Ok(LabelSelector::Name(name.clone())),
            NamedMatcher::Matcher(matcher) => {
                to_storage_matcher(matcher).map(LabelSelector::Matcher).map_err(|error| error.message)
            }
        })
        .collect()
}

/// `| drop a, b="x"`: removes labels (`__error__`/`__error_details__` clear the error).
pub(crate) fn drop_labels(selectors: &[LabelSelector], labels: &mut RowLabels<'_>) {
    for selector in selectors {
        let (name, matcher) = match selector {
            LabelSelector::Name(name) => (name.as_str(), None),
            LabelSelector::Matcher(matcher) => (matcher.name.as_str(), Some(matcher)),
        };
        let value = labels.value_for_filter(name);
        if matcher.is_some_and(|matcher| !matcher.matches(value)) {
            continue;
        }
        match name {
            ERROR_LABEL => labels.clear_error(),
            ERROR_DETAILS_LABEL => labels.clear_error_details(),
            _ => {
                if labels.get(name).is_some() {
                    labels.delete(name);
                }
            }
        }
    }
}

/// `| keep a, b="x"`: removes every label not listed (or whose value fails its matcher); error labels stay.
pub(crate) fn keep_labels(selectors: &[LabelSelector], labels: &mut RowLabels<'_>, names: &mut Vec<(String, String)>) {
    if selectors.is_empty() {
        return;
    }
    names.clear();
    labels.for_each(|name, value, _| names.push((name.to_string(), value.to_string())));
    for (name, value) in names.iter() {
        if matches!(name.as_str(), ERROR_LABEL | ERROR_DETAILS_LABEL | PRESERVE_ERROR_LABEL) {
            continue;
        }
        let keep = selectors.iter().any(|selector| match selector {
            LabelSelector::Name(kept) => kept == name,
            LabelSelector::Matcher(matcher) => matcher.name == *name && matcher.matches(value),
        });
        if !keep {
            labels.delete(name);
        }
    }
}

/// The ANSI escape sequences `decolorize` removes (colours, cursor movement, OSC titles).
pub(crate) fn ansi_regex() -> Regex {
    const ANSI: &str = r"[\x1b\x{9b}][\[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x07)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))";
    Regex::new(ANSI).unwrap_or_else(|error| unreachable!("BUG: the ANSI pattern is valid: {error}"))
}

#[cfg(test)]
mod tests {
    use oxeye_model::Labels;

    use super::*;
    use crate::pipeline::labels::LabelBuffers;

    fn collect(row: &RowLabels<'_>) -> Vec<String> {
        let mut out = Vec::new();
        row.for_each(|name, value, _| out.push(format!("{name}={value}")));
        out.sort();
        out
    }

    #[test]
    fn regexp_and_pattern_parsers() {
        let base = Labels::from_pairs([("method", "x")]).unwrap();
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        let regexp = RegexpParser::new(r"(?P<method>\w+) (?P<path>\S+)(?: (?P<extra>\d+))?").unwrap();
        regexp.process("GET /a", &mut row, &mut String::new());
        assert_eq!(collect(&row), ["extra=", "method=x", "method_extracted=GET", "path=/a"]);
        let pattern = PatternParser::new("<_> <path> <status>").unwrap();
        pattern.process("GET /b 200", &mut row, &mut String::new());
        // `path` was already extracted by the regexp: the first parser wins.
        assert_eq!(collect(&row), ["extra=", "method=x", "method_extracted=GET", "path=/a", "status=200"]);
        assert_eq!(RegexpParser::new("(a)").unwrap_err(), "at least one named capture must be supplied");
        assert!(RegexpParser::new("(?P<a>x)(?P<a>y)").is_err());
    }

    #[test]
    fn formats_lines_and_labels() {
        let base = Labels::from_pairs([("app", "api"), ("env", "prod")]).unwrap();
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        row.set(Category::Parsed, "level", "warn");
        let mut out = String::new();
        let formatter = LineFormatter::new("{{.app}}: {{ .level | ToUpper }} {{ __line__ }}").unwrap();
        assert!(formatter.format("original", 0, &mut row, &mut out));
        assert_eq!(out, "api: WARN original");
        let simple = LineFormatter::new("{{.missing}}").unwrap();
        assert!(simple.format("original", 0, &mut row, &mut out));
        assert_eq!(out, "");
        let labels = LabelFormatter::new(&[
            LabelFormatOp::Rename { dst: "environment".into(), src: "env".into() },
            LabelFormatOp::Template { dst: "summary".into(), template: "{{.environment}}/{{.level}}".into() },
            LabelFormatOp::Template { dst: "level".into(), template: "{{.level | upper}}".into() },
            LabelFormatOp::Template { dst: "again".into(), template: "{{.level}}".into() },
        ])
        .unwrap();
        labels.process("line", 0, &mut row, &mut String::new());
        // Templates see the labels as they were at the first template: `again` reads the old `level`.
        assert_eq!(collect(&row), ["again=warn", "app=api", "environment=prod", "level=WARN", "summary=prod/warn"]);
        assert!(LabelFormatter::new(&[LabelFormatOp::Rename { dst: "__error__".into(), src: "a".into() }]).is_err());
        let failing = LineFormatter::new("{{ ToUpper 1 }}").unwrap();
        assert!(!failing.format("original", 0, &mut row, &mut out));
        assert_eq!(row.error(), TEMPLATE_ERROR);
    }

    #[test]
    fn drops_and_keeps() {
        let base = Labels::from_pairs([("app", "api"), ("env", "prod"), ("pod", "p1")]).unwrap();
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        row.set(Category::Parsed, "level", "debug");
        row.set_error("JSONParserErr", Some("x"));
        let drop = compile_selectors(&[
            NamedMatcher::Name("pod".into()),
            NamedMatcher::Matcher(crate::parser::ast::LabelMatcher {
                name: "level".into(),
                op: crate::parser::ast::MatchType::Equal,
                value: "info".into(),
            }),
            NamedMatcher::Name("__error_details__".into()),
        ])
        .unwrap();
        drop_labels(&drop, &mut row);
        assert_eq!(collect(&row), ["__error__=JSONParserErr", "app=api", "env=prod", "level=debug"]);
        let keep = compile_selectors(&[NamedMatcher::Name("app".into())]).unwrap();
        keep_labels(&keep, &mut row, &mut Vec::new());
        assert_eq!(collect(&row), ["__error__=JSONParserErr", "app=api"]);
    }

    #[test]
    fn decolorizes() {
        assert_eq!(ansi_regex().replace_all("\x1b[31mred\x1b[0m plain \x1b]0;title\x07", ""), "red plain ");
    }
}
