//! The Go `text/template` subset used by `line_format` and `label_format`.
//!
//! Supported (with Go's semantics, `missingkey=zero`):
//! - text and actions `{{ … }}`, trim markers `{{- … -}}`, comments `{{/* … */}}`;
//! - pipelines `a | f x | g` (a piped value becomes the last argument), parenthesized pipelines, `.label`,
//!   `.` (all labels), `$`, variables (`{{ $x := .a }}`, `$x`), string/raw/char/number/bool/`nil` literals;
//! - `if`/`else if`/`else`/`end` and `with`/`else`/`end`;
//! - Go built-ins `and or not eq ne lt le gt ge len print printf println urlquery html js` (`printf` supports the
//!   verbs `%s %v %d %f %F %e %E %g %G %x %X %o %b %c %q %t %%` with flags, width and precision);
//! - Loki's functions: `ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix TrimSuffix TrimSpace
//!   regexReplaceAll regexReplaceAllLiteral count urlencode urldecode bytes duration duration_seconds
//!   unixEpochMillis unixEpochNanos toDateInZone unixToTime alignLeft alignRight b64dec` and the Sprig ones Loki
//!   registers: `b64enc lower upper title trunc substr contains hasPrefix hasSuffix indent nindent replace repeat
//!   trim trimAll trimSuffix trimPrefix int float64 add sub mul div mod addf subf mulf divf max min maxf minf ceil
//!   floor round date toDate now unixEpoch default`, plus `__line__` and `__timestamp__`.
//!
//! Not supported: `range`, `template`/`define`/`block`, `fromJson`, method calls, and time zones other than UTC
//! (times are always UTC). Error texts follow Go's shape (`template: line:1: function "x" not defined`) but not
//! always its exact wording.

mod exec;
mod funcs;
mod parse;
mod printf;
mod timefmt;

/// A parsed template, ready to execute.
#[derive(Debug)]
pub(crate) struct Template {
    name: &'static str,
    nodes: Vec<parse::Node>,
    /// The template is exactly `{{.name}}` (Loki's fast path for `line_format`).
    simple_field: Option<String>,
}

/// What a template reads while executing.
pub(crate) trait TemplateData {
    /// The value of a label, `None` when absent (templates then see an empty string).
    fn label(&self, name: &str) -> Option<&str>;
    /// Every label, for `{{ . }}`.
    fn all_labels(&self) -> Vec<(String, String)>;
    /// The current line, for `__line__`.
    fn line(&self) -> &str;
    /// The entry's timestamp in nanoseconds, for `__timestamp__`.
    fn timestamp_ns(&self) -> i64;
}

impl Template {
    /// Parses `source`; `name` is the template name in error messages (`line` or `label`, as in Loki).
    pub(crate) fn parse(name: &'static str, source: &str) -> Result<Self, String> {
        let nodes = parse::parse(source).map_err(|error| format!("template: {name}:{error}"))?;
        let simple_field = match nodes.as_slice() {
            [parse::Node::Action(pipeline)] => pipeline.as_single_field().map(str::to_string),
            _ => None,
        };
        Ok(Template { name, nodes, simple_field })
    }

    /// The label read by a template that is exactly `{{.name}}`.
    pub(crate) fn simple_field(&self) -> Option<&str> {
        self.simple_field.as_deref()
    }

    /// Label names the template reads with `.name` (for deciding whether parsers may be skipped).
    pub(crate) fn referenced_fields(&self, out: &mut Vec<String>) {
        for node in &self.nodes {
            node.referenced_fields(out);
        }
    }

    /// Executes into `out` (cleared first).
    pub(crate) fn execute(&self, data: &dyn TemplateData, out: &mut String) -> Result<(), String> {
        out.clear();
        exec::execute(&self.nodes, data, out).map_err(|error| format!("template: {}: {error}", self.name))
    }
}

#[cfg(test)]
mod tests;
