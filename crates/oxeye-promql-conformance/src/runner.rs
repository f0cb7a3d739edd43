//! Executing a script: loads into a fresh [`MemReader`], each `eval` through the engine, one outcome per eval.
//!
//! # Skipped cases
//!
//! oxeye has no native histograms and [`oxeye_storage_api::MetricsReader`] carries no start timestamps, so a
//! case that depends on them cannot be judged. Such a case is counted as skipped, never as passed:
//!
//! 1. its expected result contains a native histogram (`{{...}}`);
//! 2. a selector of its query ([`crate::selectors`], a generous scan of the query text) matches a series that a
//!    `load` since the last `clear` gave native histogram samples (`{{...}}` values, or the `foo` series that
//!    `load_with_nhcb` builds from `foo_bucket`/`foo_count`/`foo_sum`) or start timestamps (`@st` lines), at any
//!    time: this also skips queries the engine rejects before reading anything, such as histogram functions;
//! 3. running it, the engine selected such a series with such data in the selected time range (a safety net
//!    for selectors the scan misses). Whatever the outcome, the engine computed it without that data.
//!
//! Selectors that exclude the unsupported series (`http_requests{instance!~"histogram_.*"}`) run normally, and
//! float samples of a series that also has histogram samples stay loaded.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use oxeye_model::{Labels, LabelsBuilder, METRIC_NAME_LABEL, Sample};
use oxeye_promql::{Engine, EngineOptions};

use crate::at_variants::at_modifier_variants;
use crate::compare::{AnswerCheck, RANGE_MODE_STEP_MS, check_answer, check_range_mode, wants_range_mode_check};
use crate::mem_reader::{MemReader, UnsupportedData};
use crate::script::{Command, EvalCmd, EvalKind, LoadCmd, parse_script};
use crate::selectors::query_selectors;
use crate::series::SequenceValue;

/// Engine settings of promqltest's test engine (`NewTestEngine` as used by `RunBuiltinTests`): 5m lookback,
/// at most 10,000 samples per query (`DefaultMaxSamplesPerQuery`), experimental functions enabled, 1m step for
/// subqueries without one, 100s timeout. Other settings keep the engine's defaults.
pub fn conformance_engine_options() -> EngineOptions {
    EngineOptions {
        lookback_delta_ms: 5 * 60 * 1000,
        timeout: Duration::from_secs(100),
        max_samples: 10_000,
        experimental_functions: true,
        no_step_subquery_interval_ms: 60_000,
        ..EngineOptions::default()
    }
}

/// A case that did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFailure {
    /// 1-based line of the `eval` header.
    pub line: usize,
    pub query: String,
    /// What differed (expected vs got), or the unexpected error.
    pub reason: String,
}

/// A case that could not be judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseSkip {
    pub line: usize,
    pub query: String,
    pub reason: String,
}

/// The outcome of one script file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// File name, e.g. `aggregators.test`.
    pub file: String,
    /// Lines of the `eval` headers of passing cases.
    pub passed: Vec<usize>,
    pub failed: Vec<CaseFailure>,
    pub skipped: Vec<CaseSkip>,
    /// Set when the script could not be read or parsed; no case ran.
    pub script_error: Option<String>,
}

impl FileReport {
    /// The per-file summary line: `file: N passed, M failed, K skipped`.
    pub fn summary(&self) -> String {
        let (passed, failed, skipped) = (self.passed.len(), self.failed.len(), self.skipped.len());
        let mut line = format!("{}: {passed} passed, {failed} failed, {skipped} skipped", self.file);
        if let Some(error) = &self.script_error {
            line.push_str(&format!(" (script error: {error})"));
        }
        line
    }

    pub fn total_cases(&self) -> usize {
        self.passed.len() + self.failed.len() + self.skipped.len()
    }
}

/// The outcome of one eval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseOutcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// Reads and runs one script file; a read or parse error is reported in [`FileReport::script_error`].
pub fn run_file(path: &Path, engine: &Engine) -> FileReport {
    let file = path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned());
    match std::fs::read_to_string(path) {
        Ok(text) => run_script(&file, &text, engine),
        Err(error) => FileReport {
            file,
            script_error: Some(format!("cannot read {}: {error}", path.display())),
            ..FileReport::default()
        },
    }
}

/// Runs a script's commands in order against a fresh store.
pub fn run_script(file: &str, text: &str, engine: &Engine) -> FileReport {
    let mut report = FileReport { file: file.to_string(), ..FileReport::default() };
    let script = match parse_script(text) {
        Ok(script) => script,
        Err(error) => {
            report.script_error = Some(error.to_string());
            return report;
        }
    };
    let mut reader = MemReader::new();
    for command in &script.commands {
        match command {
            Command::Load(load) => apply_load(&mut reader, load),
            Command::Clear { .. } => reader.clear(),
            Command::Eval(eval) => {
                let (line, query) = (eval.line, eval.query.clone());
                match run_eval(engine, &reader, eval) {
                    CaseOutcome::Passed => report.passed.push(line),
                    CaseOutcome::Failed(reason) => report.failed.push(CaseFailure { line, query, reason }),
                    CaseOutcome::Skipped(reason) => report.skipped.push(CaseSkip { line, query, reason }),
                }
            }
        }
    }
    report
}

/// Loads a `load` block: values at `i * interval`, histograms and start timestamps recorded as unsupported.
pub fn apply_load(reader: &mut MemReader, load: &LoadCmd) {
    for series in &load.series {
        let mut samples = Vec::with_capacity(series.values.len());
        for (position, value) in series.values.iter().enumerate() {
            let timestamp_ms = position as i64 * load.interval_ms;
            match value {
                SequenceValue::Omitted => {}
                SequenceValue::Float(value) => {
                    samples.push(Sample::new(timestamp_ms, *value));
                    if series.start_offsets_ms.get(position).is_some_and(Option::is_some) {
                        reader.add_unsupported(&series.labels, timestamp_ms, UnsupportedData::StartTimestamp);
                    }
                }
                SequenceValue::Histogram(_) => {
                    reader.add_unsupported(&series.labels, timestamp_ms, UnsupportedData::NativeHistogram);
                }
            }
        }
        reader.append(&series.labels, &samples);
        if load.with_nhcb
            && let Some(histogram_labels) = nhcb_series_labels(&series.labels)
        {
            for sample in &samples {
                reader.add_unsupported(&histogram_labels, sample.timestamp_ms, UnsupportedData::NativeHistogram);
            }
        }
    }
}

/// The native-histogram series `load_with_nhcb` builds from a classic histogram series (promqltest
/// `appendCustomHistogram` with `convertnhcb.GetHistogramMetricBaseName`): `foo_bucket{le="1",a="b"}`,
/// `foo_count{a="b"}` and `foo_sum{a="b"}` all feed `foo{a="b"}`. A bucket whose `le` is not a number is ignored.
fn nhcb_series_labels(labels: &Labels) -> Option<Labels> {
    let name = labels.metric_name()?;
    let base = if let Some(base) = name.strip_suffix("_bucket") {
        let upper_bound: f64 = labels.get("le")?.parse().ok()?;
        if upper_bound.is_nan() {
            return None;
        }
        base
    } else {
        name.strip_suffix("_count").or_else(|| name.strip_suffix("_sum"))?
    };
    let mut builder = LabelsBuilder::with_capacity(labels.len());
    for label in labels {
        if label.name != "le" {
            builder.push(label.name.clone(), label.value.clone());
        }
    }
    builder.set(METRIC_NAME_LABEL, base);
    builder.build().ok()
}

/// Runs one eval and judges it (see the module documentation for when it is skipped). An engine panic is a
/// failed case.
pub fn run_eval(engine: &Engine, reader: &MemReader, eval: &EvalCmd) -> CaseOutcome {
    if eval.expects_histograms() {
        return CaseOutcome::Skipped("expected result contains native histograms".to_string());
    }
    for matchers in query_selectors(&eval.query) {
        if let Some((labels, kind)) = reader.find_unsupported(&matchers) {
            return CaseOutcome::Skipped(format!("query may read {labels}, which holds {}", kind.describe()));
        }
    }
    reader.take_unsupported_reads();
    let verdict = catch_unwind(AssertUnwindSafe(|| execute_eval(engine, reader, eval)));
    if let Some(kind) = reader.take_unsupported_reads().first() {
        return CaseOutcome::Skipped(format!("query selected series holding {}", kind.describe()));
    }
    match verdict {
        Ok(Ok(())) => CaseOutcome::Passed,
        Ok(Err(reason)) => CaseOutcome::Failed(reason),
        Err(panic) => CaseOutcome::Failed(format!("engine panicked: {}", panic_message(panic.as_ref()))),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        return (*message).to_string();
    }
    payload.downcast_ref::<String>().cloned().unwrap_or_else(|| "(non-string panic payload)".to_string())
}

/// Runs the eval's query (and for an instant query, its range-mode re-run) and compares.
fn execute_eval(engine: &Engine, reader: &MemReader, eval: &EvalCmd) -> Result<(), String> {
    match eval.kind {
        EvalKind::Range { start_ms, end_ms, step_ms } => {
            let answer = engine.range_query(reader, &eval.query, start_ms, end_ms, step_ms);
            check_answer(eval, &answer).map(|_| ())
        }
        EvalKind::Instant { .. } => {
            let time_ms = eval.instant_time_ms().unwrap_or_else(|| unreachable!("BUG: instant eval without a time"));
            run_instant(engine, reader, eval, &eval.query, time_ms)?;
            // promqltest's variants: the query with `@ <time>` everywhere, evaluated at other times.
            for (query, at_ms) in at_modifier_variants(&eval.query, time_ms) {
                run_instant(engine, reader, eval, &query, at_ms)
                    .map_err(|e| format!("@ variant {query:?} at {at_ms} ms: {e}"))?;
            }
            Ok(())
        }
    }
}

/// One instant evaluation of `query` at `time_ms`, judged against the eval's expectations, plus its range-mode
/// re-run.
fn run_instant(engine: &Engine, reader: &MemReader, eval: &EvalCmd, query: &str, time_ms: i64) -> Result<(), String> {
    let answer = engine.instant_query(reader, query, time_ms);
    if check_answer(eval, &answer)? == AnswerCheck::FailedAsExpected || !wants_range_mode_check(eval) {
        return Ok(());
    }
    let Ok(instant) = &answer else { unreachable!("BUG: a matched answer is a success") };
    let range_answer = engine.range_query(
        reader,
        query,
        time_ms - RANGE_MODE_STEP_MS,
        time_ms + RANGE_MODE_STEP_MS,
        RANGE_MODE_STEP_MS,
    );
    check_range_mode(eval, &instant.value, time_ms, &range_answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_storage_api::Matcher;

    #[test]
    fn nhcb_series_follow_convertnhcb() {
        let labels = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied()).unwrap();
        let f = |from: Labels, want: Option<Labels>| assert_eq!(nhcb_series_labels(&from), want, "{from}");
        let base = labels(&[("__name__", "foo"), ("a", "b")]);
        f(labels(&[("__name__", "foo_bucket"), ("le", "0.5"), ("a", "b")]), Some(base.clone()));
        f(labels(&[("__name__", "foo_bucket"), ("le", "+Inf"), ("a", "b")]), Some(base.clone()));
        f(labels(&[("__name__", "foo_count"), ("a", "b")]), Some(base.clone()));
        f(labels(&[("__name__", "foo_sum"), ("a", "b")]), Some(base));
        f(labels(&[("__name__", "foo_bucket"), ("le", "NaN")]), None);
        f(labels(&[("__name__", "foo_bucket")]), None);
        f(labels(&[("__name__", "foo_total")]), None);
    }

    fn loaded(text: &str) -> MemReader {
        let script = parse_script(text).unwrap();
        let mut reader = MemReader::new();
        for command in &script.commands {
            let Command::Load(load) = command else { panic!("only loads") };
            apply_load(&mut reader, load);
        }
        reader
    }

    #[test]
    fn loads_place_values_at_interval_steps_and_note_unsupported_data() {
        let reader = loaded(
            "load 1m\n  a{x=\"1\"} 1 _ 3 stale\n  h 1 {{count:1}}\n  c_bucket{le=\"1\"} 2\n  s@st _ -1m\n  s _ 5\n\n\
             load_with_nhcb 1m\n  d_bucket{le=\"1\"} 1 2\n",
        );
        let a = Labels::from_pairs([("__name__", "a"), ("x", "1")]).unwrap();
        let samples = reader.series_samples(&a).unwrap();
        assert_eq!(samples.iter().map(|s| s.timestamp_ms).collect::<Vec<_>>(), [0, 120_000, 180_000]);
        assert!(oxeye_model::is_stale_nan(samples[2].value));
        assert_eq!(reader.series_samples(&Labels::from_pairs([("__name__", "h")]).unwrap()).unwrap().len(), 1);
        let unsupported = |name: &str| reader.find_unsupported(&[Matcher::equal("__name__", name)]).map(|(_, k)| k);
        assert_eq!(unsupported("h"), Some(UnsupportedData::NativeHistogram));
        assert_eq!(unsupported("s"), Some(UnsupportedData::StartTimestamp));
        assert_eq!(unsupported("d"), Some(UnsupportedData::NativeHistogram), "built by load_with_nhcb");
        assert_eq!(unsupported("c"), None, "c_bucket was not loaded with_nhcb");
        assert_eq!(unsupported("a"), None);
    }

    #[test]
    fn cases_reading_histograms_are_skipped_never_passed() {
        let engine = Engine::new(conformance_engine_options());
        let reader = loaded(
            "load 1m\n  m{i=\"float\"} 1 2\n  m{i=\"hist\"} {{count:1}} {{count:2}}\n  other{i=\"hist\"} {{count:1}}\n",
        );
        let outcome = |text: &str| {
            let script = parse_script(text).unwrap();
            let Command::Eval(eval) = &script.commands[0] else { panic!("an eval") };
            run_eval(&engine, &reader, eval)
        };
        let skipped = |outcome: CaseOutcome| matches!(outcome, CaseOutcome::Skipped(_));
        assert!(skipped(outcome("eval instant at 1m m\n  m{i=\"float\"} 2\n")), "selector matches the histogram");
        assert!(skipped(outcome("eval instant at 1m count({i=~\"h.*\"})\n  {} 1\n")));
        assert!(skipped(outcome("eval instant at 1m m{i=\"float\"}\n  m{i=\"hist\"} {{count:2}}\n")));
        // Whatever the engine answers here, the case does not read histogram data, so it is judged.
        let judged = outcome("eval instant at 1m m{i!=\"hist\"}\n  m{i=\"float\"} 2\n");
        assert!(!skipped(judged.clone()), "{judged:?}");
    }
}
