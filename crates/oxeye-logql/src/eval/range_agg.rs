//! Range aggregations: one scan extracts samples per series, then every step aggregates its window.
//!
//! Samples are keyed by the labels Loki's sample extractor keeps: all labels, or those of the aggregation's
//! `by`/`without` (or of an enclosing `sum`'s, pushed down as Loki does), minus the unwrapped label unless grouped
//! `by`; an errored row keeps every label so that the error is reported. A series carrying `__error__` whose window
//! is not empty at some step fails the query with Loki's pipeline error.

use std::collections::HashMap;
use std::ops::ControlFlow;

use oxeye_model::Labels;
use oxeye_storage_api::{Direction, LogRow, LogScanRequest, StreamRef};

use super::{Evaluation, Series, labels_from};
use crate::error::QueryError;
use crate::parser::ast::{Grouping, LabelMatcher, MatchType, RangeAggregation, RangeOp, UnwrapConversion};
use crate::parser::parse::to_storage_matcher;
use crate::pipeline::hints::derive_hints;
use crate::pipeline::label_filter::CompiledLabelFilter;
use crate::pipeline::labels::{ERROR_LABEL, LabelBuffers, OutputGrouping, PRESERVE_ERROR_LABEL, RowLabels};
use crate::pipeline::{Pipeline, Scratch};
use crate::units::{parse_go_duration, parse_go_float, parse_humanized_bytes};

const SAMPLE_EXTRACTION_ERROR: &str = "SampleExtractionErr";

/// How a row becomes a number.
enum Extraction {
    Count,
    Bytes,
    Unwrap { label: String, conversion: UnwrapConversion, post_filters: Vec<CompiledLabelFilter> },
}

impl Extraction {
    /// The sample value of a row, `None` to skip it; conversion failures set `__error__` and give 0.
    fn value(&self, line: &str, labels: &mut RowLabels<'_>) -> Option<f64> {
        match self {
            Extraction::Count => Some(1.0),
            Extraction::Bytes => Some(line.len() as f64),
            Extraction::Unwrap { label, conversion, post_filters } => {
                let text = labels.get(label).filter(|text| !text.is_empty())?;
                let converted = match conversion {
                    UnwrapConversion::Float => parse_go_float(text),
                    UnwrapConversion::Duration | UnwrapConversion::DurationSeconds => {
                        parse_go_duration(text).map(|nanos| nanos as f64 / 1e9)
                    }
                    UnwrapConversion::Bytes => parse_humanized_bytes(text).map(|bytes| bytes as f64),
                };
                let value = match converted {
                    Ok(value) => value,
                    Err(details) => {
                        labels.set_error(SAMPLE_EXTRACTION_ERROR, Some(&details));
                        0.0
                    }
                };
                for filter in post_filters {
                    if !filter.keeps(labels) {
                        return None;
                    }
                }
                Some(value)
            }
        }
    }
}

/// The labels samples keep (Loki's `GroupedLabels` setup in the sample extractors).
fn output_grouping(aggregation: &RangeAggregation, pushed: Option<&Grouping>) -> OutputGrouping {
    if aggregation.op == RangeOp::AbsentOverTime {
        return OutputGrouping::NoLabels;
    }
    let grouping = aggregation.grouping.as_ref().or(pushed);
    let mut groups: Vec<String> = grouping.map(|grouping| grouping.labels.clone()).unwrap_or_default();
    groups.sort();
    let without = grouping.is_some_and(|grouping| grouping.without);
    if grouping.is_some_and(Grouping::is_singleton) {
        return OutputGrouping::NoLabels;
    }
    if let Some(unwrap) = &aggregation.range.unwrap
        && (groups.is_empty() || without)
    {
        groups.push(unwrap.label.clone());
        groups.sort();
        return OutputGrouping::Without(groups);
    }
    match grouping {
        None => OutputGrouping::All,
        Some(_) if without => OutputGrouping::Without(groups),
        Some(_) => OutputGrouping::By(groups),
    }
}

/// Samples of one series, in arrival order until sorted.
struct SampleSeries {
    labels: Labels,
    samples: Vec<(i64, f64)>,
}

impl Evaluation<'_> {
    /// Evaluates a range aggregation; `pushed` is the grouping of an enclosing `sum` (Loki's pushdown).
    pub(crate) fn range_aggregation(
        &mut self,
        aggregation: &RangeAggregation,
        pushed: Option<&Grouping>,
    ) -> Result<Vec<Series>, QueryError> {
        let range = &aggregation.range;
        let grouping = output_grouping(aggregation, pushed);
        let mut read_after_pipeline: Vec<String> = Vec::new();
        let extraction = match &range.unwrap {
            None if matches!(aggregation.op, RangeOp::BytesOverTime | RangeOp::BytesRate) => Extraction::Bytes,
            None => Extraction::Count,
            Some(unwrap) => {
                read_after_pipeline.push(unwrap.label.clone());
                let mut post_filters = Vec::with_capacity(unwrap.post_filters.len());
                for filter in &unwrap.post_filters {
                    let compiled = CompiledLabelFilter::compile(filter)
                        .map_err(|reason| crate::ParseError::unpositioned(format!("stage '| {filter}' : {reason}")))?;
                    compiled.referenced_names(&mut read_after_pipeline);
                    post_filters.push(compiled);
                }
                Extraction::Unwrap { label: unwrap.label.clone(), conversion: unwrap.conversion, post_filters }
            }
        };
        if let OutputGrouping::By(names) = &grouping {
            read_after_pipeline.extend(names.iter().cloned());
        }
        let pipeline =
            Pipeline::compile(&range.log.stages, grouping == OutputGrouping::NoLabels, &read_after_pipeline)?;
        let matchers = range.log.matchers.iter().map(to_storage_matcher).collect::<Result<Vec<_>, _>>()?;
        let request = LogScanRequest {
            matchers,
            start_ns: self.grid.start_ns - range.range_ns - range.offset_ns,
            end_ns: self.grid.end_ns() - range.offset_ns + 1,
            direction: Direction::Forward,
            hints: derive_hints(&range.log.stages),
        };

        let mut series: Vec<SampleSeries> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut by_stream: HashMap<u64, usize> = HashMap::new();
        let mut key = String::new();
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut buffers = LabelBuffers::default();
        let mut scratch = Scratch::default();
        let mut key_scratch = String::new();
        let stats = &mut self.stats;
        let mut sink = |stream: StreamRef<'_>, row: LogRow<'_>| {
            let metadata_bytes: usize = row.metadata.iter().map(|(name, value)| name.len() + value.len()).sum();
            stats.total_lines_processed += 1;
            stats.total_bytes_processed += (row.line.len() + metadata_bytes) as u64;
            stats.total_structured_metadata_bytes_processed += metadata_bytes as u64;
            let mut labels = buffers.row(stream.labels);
            labels.add_structured_metadata(row.metadata, &mut key_scratch);
            let Some(line) = pipeline.process(row.timestamp_ns, row.line, &mut labels, &mut scratch) else {
                return ControlFlow::Continue(());
            };
            let Some(value) = extraction.value(line, &mut labels) else {
                return ControlFlow::Continue(());
            };
            stats.total_post_filter_lines += 1;
            let unmodified = !labels.is_modified();
            let index = match unmodified.then(|| by_stream.get(&stream.id)).flatten() {
                Some(&index) => index,
                None => {
                    let mut count = 0;
                    labels.for_each_grouped(&grouping, |name, value| {
                        if count == pairs.len() {
                            pairs.push((String::new(), String::new()));
                        }
                        pairs[count].0.clear();
                        pairs[count].0.push_str(name);
                        pairs[count].1.clear();
                        pairs[count].1.push_str(value);
                        count += 1;
                    });
                    let used = &mut pairs[..count];
                    used.sort();
                    key.clear();
                    for (name, value) in used.iter().filter(|(_, value)| !value.is_empty()) {
                        key.push_str(name);
                        key.push('\u{0}');
                        key.push_str(value);
                        key.push('\u{1}');
                    }
                    let index = match by_key.get(&key) {
                        Some(&index) => index,
                        None => {
                            let mut borrowed: Vec<(&str, &str)> =
                                used.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
                            series.push(SampleSeries { labels: labels_from(&mut borrowed), samples: Vec::new() });
                            by_key.insert(key.clone(), series.len() - 1);
                            series.len() - 1
                        }
                    };
                    if unmodified {
                        by_stream.insert(stream.id, index);
                    }
                    index
                }
            };
            series[index].samples.push((row.timestamp_ns, value));
            ControlFlow::Continue(())
        };
        let scan_stats = self.reader.scan(&request, &mut sink)?;
        self.stats.store.add(&scan_stats);
        for one in &mut series {
            one.samples.sort_by_key(|(timestamp, _)| *timestamp);
        }
        self.windows(aggregation, series)
    }

    /// Evaluates every step's window `(t - offset - range, t - offset]`.
    fn windows(&self, aggregation: &RangeAggregation, series: Vec<SampleSeries>) -> Result<Vec<Series>, QueryError> {
        let range = &aggregation.range;
        let count = self.grid.count;
        let mut output: Vec<Series> = Vec::with_capacity(series.len());
        let mut first_error: Option<(usize, Labels)> = None;
        let mut any_sample = vec![false; count];
        for one in series {
            let errored = one.labels.get(ERROR_LABEL).is_some() && one.labels.get(PRESERVE_ERROR_LABEL) != Some("true");
            let mut values = vec![None; count];
            let (mut low, mut high) = (0usize, 0usize);
            for (step, value) in values.iter_mut().enumerate() {
                let window_end = self.grid.time(step) - range.offset_ns;
                let window_start = window_end - range.range_ns;
                while high < one.samples.len() && one.samples[high].0 <= window_end {
                    high += 1;
                }
                while low < high && one.samples[low].0 <= window_start {
                    low += 1;
                }
                if low >= high {
                    continue;
                }
                any_sample[step] = true;
                if errored {
                    let earlier = first_error
                        .as_ref()
                        .is_none_or(|(first, labels)| step < *first || (step == *first && one.labels < *labels));
                    if earlier {
                        first_error = Some((step, one.labels.clone()));
                    }
                    break;
                }
                *value = Some(aggregate_window(aggregation, &one.samples[low..high], window_end));
            }
            output.push(Series { labels: one.labels, values });
        }
        if let Some((_, labels)) = first_error {
            return Err(QueryError::Pipeline {
                error_type: labels.get(ERROR_LABEL).unwrap_or_default().to_string(),
                series: super::label_string(&labels),
            });
        }
        if aggregation.op == RangeOp::AbsentOverTime {
            let values = any_sample.iter().map(|present| (!present).then_some(1.0)).collect();
            return Ok(vec![Series { labels: absent_labels(&range.log.matchers), values }]);
        }
        Ok(output)
    }
}

/// One window's value (Loki's `BatchRangeVectorAggregator`s; sums are plain, as in Loki).
fn aggregate_window(aggregation: &RangeAggregation, samples: &[(i64, f64)], window_end: i64) -> f64 {
    let range_seconds = aggregation.range.range_ns as f64 / 1e9;
    let values = || samples.iter().map(|(_, value)| *value);
    let sum = || values().fold(0.0, |total, value| total + value);
    match aggregation.op {
        RangeOp::CountOverTime => samples.len() as f64,
        RangeOp::Rate if aggregation.range.unwrap.is_none() => samples.len() as f64 / range_seconds,
        RangeOp::Rate | RangeOp::BytesRate => sum() / range_seconds,
        RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
        RangeOp::RateCounter => extrapolated_rate(samples, aggregation.range.range_ns, window_end),
        RangeOp::AvgOverTime => {
            let (mut mean, mut count) = (0.0f64, 0.0f64);
            for value in values() {
                count += 1.0;
                if mean.is_infinite() {
                    if value.is_infinite() && (mean > 0.0) == (value > 0.0) {
                        continue;
                    }
                    if !value.is_infinite() && !value.is_nan() {
                        continue;
                    }
                }
                mean += value / count - mean / count;
            }
            mean
        }
        RangeOp::MaxOverTime => {
            values().fold(samples[0].1, |max, value| if value > max || max.is_nan() { value } else { max })
        }
        RangeOp::MinOverTime => {
            values().fold(samples[0].1, |min, value| if value < min || min.is_nan() { value } else { min })
        }
        RangeOp::StdvarOverTime | RangeOp::StddevOverTime => {
            let (mut aux, mut count, mut mean) = (0.0f64, 0.0f64, 0.0f64);
            for value in values() {
                count += 1.0;
                let delta = value - mean;
                mean += delta / count;
                aux += delta * (value - mean);
            }
            let variance = aux / count;
            if aggregation.op == RangeOp::StddevOverTime { variance.sqrt() } else { variance }
        }
        RangeOp::QuantileOverTime => {
            let mut sorted: Vec<f64> = values().collect();
            quantile(aggregation.param.unwrap_or(f64::NAN), &mut sorted)
        }
        RangeOp::FirstOverTime => samples[0].1,
        RangeOp::LastOverTime => samples[samples.len() - 1].1,
        RangeOp::AbsentOverTime => 1.0,
    }
}

/// Loki's `extrapolatedRate` for `rate_counter` (a counter: resets add the value before the reset).
fn extrapolated_rate(samples: &[(i64, f64)], range_ns: i64, range_end: i64) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let range_start = range_end - range_ns;
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.1 - first.1;
    let mut previous = 0.0;
    for (_, value) in samples {
        if *value < previous {
            result += previous;
        }
        previous = *value;
    }
    let mut duration_to_start = (first.0 - range_start) as f64 / 1e9;
    let mut duration_to_end = (range_end - last.0) as f64 / 1e9;
    let sampled_interval = (last.0 - first.0) as f64 / 1e9;
    let average_between_samples = sampled_interval / (samples.len() - 1) as f64;
    let threshold = average_between_samples * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_between_samples / 2.0;
    }
    let mut duration_to_zero = duration_to_start;
    if result > 0.0 && first.1 >= 0.0 {
        duration_to_zero = sampled_interval * (first.1 / result);
    }
    if duration_to_zero < duration_to_start {
        duration_to_start = duration_to_zero;
    }
    if duration_to_end >= threshold {
        duration_to_end = average_between_samples / 2.0;
    }
    let extrapolate_to = sampled_interval + duration_to_start + duration_to_end;
    result * (extrapolate_to / sampled_interval) / (range_ns as f64 / 1e9)
}

/// Prometheus/Loki quantile with linear interpolation; NaN for no values, ±Inf for q outside [0, 1].
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let count = values.len() as f64;
    let rank = q * (count - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (count - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// The labels of `absent_over_time`'s sample: equality matchers of names matched only once.
fn absent_labels(matchers: &[LabelMatcher]) -> Labels {
    let mut kept: Vec<(&str, &str)> = Vec::new();
    let mut dropped: Vec<&str> = Vec::new();
    for matcher in matchers {
        if matcher.op == MatchType::Equal && !kept.iter().any(|(name, _)| *name == matcher.name) {
            kept.push((&matcher.name, &matcher.value));
        } else {
            dropped.push(&matcher.name);
        }
    }
    kept.retain(|(name, _)| !dropped.contains(name));
    labels_from(&mut kept)
}
