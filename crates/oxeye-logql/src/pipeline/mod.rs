//! The log pipeline: a query's stages compiled once ([`Pipeline::compile`]) and applied to each row
//! ([`Pipeline::process`]).
//!
//! Stages run in the order written (Loki moves line filters forward, which never changes a result). Per row the
//! pipeline works on [`labels::RowLabels`] (reused buffers) and two reusable line buffers, so a row that only goes
//! through filters allocates nothing. A stage that cannot be built fails the query with Loki's
//! `stage '…' : reason` parse error.

pub(crate) mod format;
pub(crate) mod hints;
pub(crate) mod ip;
pub(crate) mod json;
pub(crate) mod label_filter;
pub mod labels;
pub(crate) mod line_filter;
pub(crate) mod logfmt;
pub(crate) mod pattern;
pub(crate) mod template;

use crate::error::ParseError;
use crate::parser::ast::Stage;
use format::{LabelFormatter, LabelSelector, LineFormatter, PatternParser, RegexpParser};
use json::{JsonExpressionParser, JsonParser, JsonScratch};
use label_filter::CompiledLabelFilter;
use labels::RowLabels;
use line_filter::LineFilterStage;
use logfmt::LogfmtParser;

#[derive(Debug)]
enum CompiledStage {
    LineFilter(LineFilterStage),
    LabelFilter(CompiledLabelFilter),
    Json(JsonParser),
    JsonExpressions(JsonExpressionParser),
    Logfmt(LogfmtParser),
    Regexp(RegexpParser),
    Pattern(PatternParser),
    Unpack,
    LineFormat(LineFormatter),
    LabelFormat(LabelFormatter),
    Drop(Vec<LabelSelector>),
    Keep(Vec<LabelSelector>),
    Decolorize(regex::Regex),
}

impl CompiledStage {
    fn is_parser(&self) -> bool {
        matches!(
            self,
            CompiledStage::Json(_)
                | CompiledStage::JsonExpressions(_)
                | CompiledStage::Logfmt(_)
                | CompiledStage::Pattern(_)
                | CompiledStage::Unpack
        )
    }
}

/// A compiled pipeline.
#[derive(Debug)]
pub(crate) struct Pipeline {
    stages: Vec<CompiledStage>,
    /// Parsers are skipped: the query keeps no labels and reads none (Loki's "no labels" parser hint).
    skip_parsers: bool,
}

/// Reusable per-query buffers of the pipeline.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    lines: [String; 2],
    json: JsonScratch,
    key: String,
    suffixed: String,
    rendered: String,
    names: Vec<(String, String)>,
}

/// Which buffer holds the current line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineSource {
    Original,
    Buffer(usize),
}

impl Pipeline {
    /// Compiles stages; `extra_label_names` are labels read after the pipeline (unwrap, grouping), and
    /// `keeps_no_labels` says whether the query's result keeps no labels at all (`sum(count_over_time(…))`).
    pub(crate) fn compile(
        stages: &[Stage],
        keeps_no_labels: bool,
        extra_label_names: &[String],
    ) -> Result<Self, ParseError> {
        let mut compiled = Vec::with_capacity(stages.len());
        for stage in stages {
            let built = compile_stage(stage)
                .map_err(|reason| ParseError::unpositioned(format!("stage '{stage}' : {reason}")))?;
            compiled.push(built);
        }
        let mut referenced = extra_label_names.to_vec();
        for stage in &compiled {
            match stage {
                CompiledStage::LabelFilter(filter) => filter.referenced_names(&mut referenced),
                CompiledStage::LineFormat(formatter) => formatter.template.referenced_fields(&mut referenced),
                CompiledStage::LabelFormat(formatter) => formatter.referenced_names(&mut referenced),
                _ => {}
            }
        }
        let skip_parsers = keeps_no_labels && referenced.is_empty();
        Ok(Pipeline { stages: compiled, skip_parsers })
    }

    /// Runs the stages on one row. Returns `None` when a filter drops the row, otherwise the final line (the
    /// original or one of the scratch buffers).
    pub(crate) fn process<'l>(
        &self,
        timestamp_ns: i64,
        line: &'l str,
        labels: &mut RowLabels<'_>,
        scratch: &'l mut Scratch,
    ) -> Option<&'l str> {
        let mut source = LineSource::Original;
        let Scratch { lines, json, key, suffixed, rendered, names } = scratch;
        for stage in &self.stages {
            if self.skip_parsers && stage.is_parser() {
                continue;
            }
            let current: &str = match source {
                LineSource::Original => line,
                LineSource::Buffer(index) => &lines[index],
            };
            let target = match source {
                LineSource::Buffer(0) => 1,
                _ => 0,
            };
            match stage {
                CompiledStage::LineFilter(filter) => {
                    if !filter.keeps(current) {
                        return None;
                    }
                }
                CompiledStage::LabelFilter(filter) => {
                    if !filter.keeps(labels) {
                        return None;
                    }
                }
                CompiledStage::Json(parser) => parser.process(current, labels, json),
                CompiledStage::JsonExpressions(parser) => parser.process(current, labels, json),
                CompiledStage::Logfmt(parser) => parser.process(current, labels, key, suffixed),
                CompiledStage::Regexp(parser) => parser.process(current, labels, suffixed),
                CompiledStage::Pattern(parser) => parser.process(current, labels, suffixed),
                CompiledStage::Unpack => {
                    if let Some(entry) = json::unpack(current, labels, json) {
                        lines[target] = entry;
                        source = LineSource::Buffer(target);
                    }
                }
                CompiledStage::LineFormat(formatter) => {
                    let (first, second) = lines.split_at_mut(1);
                    let (current, out) = match source {
                        LineSource::Original => (line, &mut first[0]),
                        LineSource::Buffer(0) => (first[0].as_str(), &mut second[0]),
                        LineSource::Buffer(_) => (second[0].as_str(), &mut first[0]),
                    };
                    if formatter.format(current, timestamp_ns, labels, out) {
                        source = LineSource::Buffer(target);
                    }
                }
                CompiledStage::LabelFormat(formatter) => formatter.process(current, timestamp_ns, labels, rendered),
                CompiledStage::Drop(selectors) => format::drop_labels(selectors, labels),
                CompiledStage::Keep(selectors) => format::keep_labels(selectors, labels, names),
                CompiledStage::Decolorize(regex) => {
                    if regex.is_match(current) {
                        let replaced = regex.replace_all(current, "").into_owned();
                        lines[target] = replaced;
                        source = LineSource::Buffer(target);
                    }
                }
            }
        }
        let lines: &'l [String; 2] = lines;
        Some(match source {
            LineSource::Original => line,
            LineSource::Buffer(index) => &lines[index],
        })
    }
}

fn compile_stage(stage: &Stage) -> Result<CompiledStage, String> {
    Ok(match stage {
        Stage::LineFilter(filter) => CompiledStage::LineFilter(LineFilterStage::compile(filter)?),
        Stage::LabelFilter(filter) => CompiledStage::LabelFilter(CompiledLabelFilter::compile(filter)?),
        Stage::Json(extractions) if extractions.is_empty() => CompiledStage::Json(JsonParser),
        Stage::Json(extractions) => {
            let mut expressions = Vec::with_capacity(extractions.len());
            for extraction in extractions {
                expressions.push((extraction.label.clone(), json::parse_path(&extraction.expression)?));
            }
            CompiledStage::JsonExpressions(JsonExpressionParser::new(expressions))
        }
        Stage::Logfmt { strict, keep_empty, extractions } => {
            CompiledStage::Logfmt(LogfmtParser::new(*strict, *keep_empty, extractions)?)
        }
        Stage::Regexp(source) => CompiledStage::Regexp(RegexpParser::new(source)?),
        Stage::Pattern(source) => CompiledStage::Pattern(PatternParser::new(source)?),
        Stage::Unpack => CompiledStage::Unpack,
        Stage::LineFormat(source) => CompiledStage::LineFormat(LineFormatter::new(source)?),
        Stage::LabelFormat(operations) => CompiledStage::LabelFormat(LabelFormatter::new(operations)?),
        Stage::Drop(matchers) => CompiledStage::Drop(format::compile_selectors(matchers)?),
        Stage::Keep(matchers) => CompiledStage::Keep(format::compile_selectors(matchers)?),
        Stage::Decolorize => CompiledStage::Decolorize(format::ansi_regex()),
    })
}

#[cfg(test)]
mod tests;
