//! Data points to samples: gauges and sums (`number_data_points.go`), classic histograms and summaries
//! (`helper.go`: `addHistogramDataPoints`, `addSummaryDataPoints`), and exemplars (`getPromExemplars`).

use std::cmp::Ordering;

use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar as OtlpExemplar, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint, exemplar,
    number_data_point,
};
use oxeye_model::{Exemplar, Labels, METRIC_NAME_LABEL, RejectReason, STALE_NAN, Sample};

use super::attribute_value::attribute_value_string;
use super::delta::{HistogramTotals, OutOfOrder};
use super::names::format_go_float;
use super::translate::{Translator, nanos_to_millis};

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the point marks the end of its series; written as a stale marker.
const NO_RECORDED_VALUE: u32 = 1;
/// Exemplar attributes are kept only if all exemplar labels together stay within OpenMetrics' limit.
const MAX_EXEMPLAR_RUNES: usize = 128;

impl Translator<'_> {
    /// Gauge and sum points: one sample each, under the family name. Sums carry their exemplars (gauges do not,
    /// as in Prometheus); delta sums go through the caller's delta-to-cumulative state.
    pub(super) fn add_number_points(
        &mut self,
        metric: &Metric,
        family: &str,
        points: &[NumberDataPoint],
        with_exemplars: bool,
        is_delta: bool,
    ) {
        for point in points {
            let Some(label_set) = self.data_point_labels(metric, &point.attributes, Some(family)) else {
                continue;
            };
            let labels = label_set.to_labels_with(&[]);
            let stale = point.flags & NO_RECORDED_VALUE != 0;
            // A point without a value is written as 0, as Prometheus does.
            let mut value = match point.value {
                Some(number_data_point::Value::AsDouble(double)) => double,
                Some(number_data_point::Value::AsInt(integer)) => integer as f64,
                None => 0.0,
            };
            if is_delta && let Some(deltas) = self.delta.as_deref_mut() {
                if stale {
                    deltas.forget(&labels);
                } else {
                    match deltas.add_number(&labels, point.start_time_unix_nano, point.time_unix_nano, value, self.now)
                    {
                        Ok(total) => value = total,
                        Err(out_of_order) => {
                            self.reject_out_of_order(metric, &labels, point.time_unix_nano, out_of_order);
                            continue;
                        }
                    }
                }
            }
            if stale {
                value = STALE_NAN;
            }
            let exemplars = if with_exemplars { convert_exemplars(&point.exemplars) } else { Vec::new() };
            self.push_sample(labels, Sample::new(nanos_to_millis(point.time_unix_nano), value), exemplars);
        }
    }

    /// Classic histogram points: `_sum` (when set), `_count`, and cumulative `_bucket{le}` series ending with
    /// `le="+Inf"` = count. Exemplars go to the first bucket whose bound is not below their value.
    pub(super) fn add_histogram_points(
        &mut self,
        metric: &Metric,
        family: &str,
        points: &[HistogramDataPoint],
        is_delta: bool,
    ) {
        let sum_name = format!("{family}_sum");
        let count_name = format!("{family}_count");
        let bucket_name = format!("{family}_bucket");
        for point in points {
            let Some(base) = self.data_point_labels(metric, &point.attributes, None) else {
                continue;
            };
            let stale = point.flags & NO_RECORDED_VALUE != 0;
            let mut totals = HistogramTotals {
                explicit_bounds: point.explicit_bounds.clone(),
                bucket_counts: point.bucket_counts.clone(),
                count: point.count,
                sum: point.sum,
            };
            if is_delta && let Some(deltas) = self.delta.as_deref_mut() {
                let key = base.to_labels_with(&[(METRIC_NAME_LABEL, family)]);
                if stale {
                    deltas.forget(&key);
                } else {
                    match deltas.add_histogram(&key, point.start_time_unix_nano, point.time_unix_nano, totals, self.now)
                    {
                        Ok(cumulative) => totals = cumulative,
                        Err(out_of_order) => {
                            self.reject_out_of_order(metric, &key, point.time_unix_nano, out_of_order);
                            continue;
                        }
                    }
                }
            }
            let timestamp_ms = nanos_to_millis(point.time_unix_nano);
            let sample = |value: f64| Sample::new(timestamp_ms, if stale { STALE_NAN } else { value });
            if let Some(sum) = totals.sum {
                self.push_sample(base.to_labels_with(&[(METRIC_NAME_LABEL, &sum_name)]), sample(sum), Vec::new());
            }
            let count_labels = base.to_labels_with(&[(METRIC_NAME_LABEL, &count_name)]);
            self.push_sample(count_labels, sample(totals.count as f64), Vec::new());

            let exemplars = convert_exemplars(&point.exemplars);
            let mut next_exemplar = 0;
            let mut cumulative_count: u64 = 0;
            for (bound, bucket_count) in totals.explicit_bounds.iter().zip(&totals.bucket_counts) {
                cumulative_count = cumulative_count.wrapping_add(*bucket_count);
                let first_exemplar = next_exemplar;
                // Prometheus assumes exemplars sorted by value and stops at the first one above the bound.
                // (A NaN value is not above any bound, as with Go's `>`.)
                while next_exemplar < exemplars.len()
                    && exemplars[next_exemplar].value.partial_cmp(bound) != Some(Ordering::Greater)
                {
                    next_exemplar += 1;
                }
                let le = format_go_float(*bound);
                let labels = base.to_labels_with(&[("le", &le), (METRIC_NAME_LABEL, &bucket_name)]);
                let bucket_exemplars = exemplars[first_exemplar..next_exemplar].to_vec();
                self.push_sample(labels, sample(cumulative_count as f64), bucket_exemplars);
            }
            let infinity_labels = base.to_labels_with(&[("le", "+Inf"), (METRIC_NAME_LABEL, &bucket_name)]);
            let remaining_exemplars = exemplars[next_exemplar..].to_vec();
            self.push_sample(infinity_labels, sample(totals.count as f64), remaining_exemplars);
        }
    }

    /// Summary points: `_sum`, `_count`, and one series per quantile under the family name with a `quantile`
    /// label.
    pub(super) fn add_summary_points(&mut self, metric: &Metric, family: &str, points: &[SummaryDataPoint]) {
        let sum_name = format!("{family}_sum");
        let count_name = format!("{family}_count");
        for point in points {
            let Some(base) = self.data_point_labels(metric, &point.attributes, None) else {
                continue;
            };
            let stale = point.flags & NO_RECORDED_VALUE != 0;
            let timestamp_ms = nanos_to_millis(point.time_unix_nano);
            let sample = |value: f64| Sample::new(timestamp_ms, if stale { STALE_NAN } else { value });
            self.push_sample(base.to_labels_with(&[(METRIC_NAME_LABEL, &sum_name)]), sample(point.sum), Vec::new());
            let count_labels = base.to_labels_with(&[(METRIC_NAME_LABEL, &count_name)]);
            self.push_sample(count_labels, sample(point.count as f64), Vec::new());
            for quantile in &point.quantile_values {
                let quantile_text = format_go_float(quantile.quantile);
                let labels = base.to_labels_with(&[("quantile", &quantile_text), (METRIC_NAME_LABEL, family)]);
                self.push_sample(labels, sample(quantile.value), Vec::new());
            }
        }
    }

    fn reject_out_of_order(&mut self, metric: &Metric, series: &Labels, time_ns: u64, out_of_order: OutOfOrder) {
        self.reject(RejectReason::OutOfOrder, &metric.name, 1, || {
            format!(
                "metric {:?}: delta point of series {series} at {} ms is not after the last point of its stream ({} ms)",
                metric.name,
                nanos_to_millis(time_ns),
                nanos_to_millis(out_of_order.last_time_ns)
            )
        });
    }
}

/// `getPromExemplars`: value, millisecond timestamp, `trace_id`/`span_id` in hex (when not all zero), and the
/// filtered attributes if everything fits in 128 characters. An exemplar without a value is dropped (Prometheus
/// fails the data point instead).
fn convert_exemplars(exemplars: &[OtlpExemplar]) -> Vec<Exemplar> {
    exemplars.iter().filter_map(convert_exemplar).collect()
}

fn convert_exemplar(otlp: &OtlpExemplar) -> Option<Exemplar> {
    let value = match otlp.value? {
        exemplar::Value::AsDouble(double) => double,
        exemplar::Value::AsInt(integer) => integer as f64,
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut runes = 0;
    for (name, id) in [("trace_id", &otlp.trace_id), ("span_id", &otlp.span_id)] {
        if id.iter().any(|byte| *byte != 0) {
            let hex = hex_encode(id);
            runes += name.len() + hex.len();
            pairs.push((name.to_string(), hex));
        }
    }
    let attributes: Vec<(&str, String)> = otlp
        .filtered_attributes
        .iter()
        .map(|attribute| (attribute.key.as_str(), attribute_value_string(attribute.value.as_ref())))
        .collect();
    runes += attributes.iter().map(|(key, value)| key.chars().count() + value.chars().count()).sum::<usize>();
    if runes <= MAX_EXEMPLAR_RUNES {
        for (key, value) in attributes {
            if !pairs.iter().any(|(name, _)| name == key) {
                pairs.push((key.to_string(), value));
            }
        }
    }
    let labels = Labels::from_pairs(pairs).ok()?;
    Some(Exemplar { labels, value, timestamp_ms: nanos_to_millis(otlp.time_unix_nano) })
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(DIGITS[usize::from(byte >> 4)] as char);
        hex.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    hex
}
