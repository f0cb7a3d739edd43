//! The walk over an OTLP request: resources, scopes, metrics; label building; `target_info`; the result.
//!
//! This follows Prometheus's `storage/remote/otlptranslator/prometheusremotewrite/metrics_to_prw.go` and
//! `helper.go` (`FromMetrics`, `createAttributes`, `addResourceTargetInfo`). Where Prometheus fails the whole
//! request on a translation error, oxeye refuses only the affected data points and reports them through OTLP's
//! partial success, which is what the OTLP specification asks of a receiver.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsPartialSuccess, ExportMetricsServiceRequest};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, ResourceMetrics, ScopeMetrics, metric::Data,
};
use oxeye_model::{
    Exemplar, Labels, LabelsBuilder, METRIC_NAME_LABEL, MetricMetadata, MetricType, RejectReason, Rejection, Sample,
    TimeSeries, WriteBatch,
};

use super::attribute_value::{attribute_value_string, find_attribute};
use super::config::OtlpMetricsConfig;
use super::delta::DeltaToCumulative;
use super::names::{LabelNamer, MetricKind, MetricNamer, metadata_unit};
use crate::DecodedWrite;

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";
const TARGET_INFO: &str = "target_info";
/// At most this many `target_info` samples per resource and request. Prometheus writes one every half lookback
/// delta across the resource's time span, which is unbounded for a request whose timestamps span years; this cap
/// (about 41 hours at the default interval) keeps memory bounded by the request size. The latest samples are kept.
const MAX_TARGET_INFO_SAMPLES: u64 = 1000;
/// At most this many distinct rejection messages are joined into the partial-success error message.
const MAX_MESSAGES_IN_ERROR: usize = 10;

/// The outcome of translating one OTLP request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TranslatedMetrics {
    /// The series to store and the refused parts.
    pub write: DecodedWrite,
    /// What to put in `ExportMetricsServiceResponse.partial_success`: set when something was refused (or a
    /// metric had to be ignored), `None` when the request was accepted in full, as the OTLP specification asks.
    pub partial_success: Option<ExportMetricsPartialSuccess>,
}

/// Translates an OTLP metrics request into Prometheus series, as Prometheus 3.x's OTLP receiver does.
///
/// `delta` is the caller's delta-to-cumulative state for this tenant; without it, delta sums and histograms are
/// refused with reason `delta_temporality`. Exponential histograms are refused with `unsupported_metric_type`.
/// Never fails: everything that cannot be translated is reported in the result.
pub fn translate_metrics(
    request: &ExportMetricsServiceRequest,
    config: &OtlpMetricsConfig,
    delta: Option<&mut DeltaToCumulative>,
) -> TranslatedMetrics {
    let now = Instant::now();
    let mut translator = Translator::new(config, delta, now);
    if let Some(deltas) = translator.delta.as_deref_mut() {
        deltas.expire_idle(now);
    }
    for resource_metrics in &request.resource_metrics {
        translator.translate_resource(resource_metrics);
    }
    translator.finish()
}

/// A label set under construction with Prometheus `labels.Builder` semantics: setting an empty value deletes.
#[derive(Clone, Debug, Default)]
pub(crate) struct LabelSet(Vec<(String, String)>);

impl LabelSet {
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(label, _)| label == name).map_or("", |(_, value)| value.as_str())
    }

    pub fn set(&mut self, name: &str, value: String) {
        match self.0.iter().position(|(label, _)| label == name) {
            Some(index) if value.is_empty() => {
                self.0.swap_remove(index);
            }
            Some(index) => self.0[index].1 = value,
            None if value.is_empty() => {}
            None => self.0.push((name.to_string(), value)),
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The label set with `extras` set on top (`addLabels`), as model labels.
    pub fn to_labels_with(&self, extras: &[(&str, &str)]) -> Labels {
        let mut with_extras = self.clone();
        for (name, value) in extras {
            with_extras.set(name, (*value).to_string());
        }
        let mut builder = LabelsBuilder::with_capacity(with_extras.0.len());
        for (name, value) in with_extras.0 {
            builder.push(name, value);
        }
        // Names are unique and values non-empty by construction.
        builder.build().unwrap_or_else(|duplicate| unreachable!("BUG: label {duplicate:?} set twice"))
    }
}

/// Labels derived once per resource (`cachedResourceLabels`).
#[derive(Default)]
struct ResourceContext {
    job: String,
    instance: String,
    promoted: LabelSet,
}

/// Labels derived once per scope (`cachedScopeLabels`): its translated attributes, then name, version and schema
/// URL, which are set even when empty (deleting a label of that name, as `labels.Builder.Set` does).
struct ScopeLabels {
    attributes: LabelSet,
    identity: [(&'static str, String); 3],
}

/// Which parts of the context [`Translator::create_attributes`] merges in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AttributeSource {
    DataPoint,
    /// `target_info`: no promoted attributes, no scope labels.
    Resource,
}

pub(crate) struct Translator<'a> {
    config: &'a OtlpMetricsConfig,
    metric_namer: MetricNamer,
    label_namer: LabelNamer,
    pub(super) delta: Option<&'a mut DeltaToCumulative>,
    pub(super) now: Instant,
    resource: ResourceContext,
    /// Scope labels (`otel_scope_*`) when scope promotion is on and the scope has a name.
    scope: Option<ScopeLabels>,
    series: Vec<TimeSeries>,
    series_index: HashMap<Labels, usize>,
    metadata: Vec<MetricMetadata>,
    metadata_families: HashSet<String>,
    target_info_seen: HashSet<(Labels, i64)>,
    rejections: Vec<Rejection>,
    rejection_index: HashMap<(String, RejectReason), usize>,
    rejected_data_points: i64,
}

impl<'a> Translator<'a> {
    fn new(config: &'a OtlpMetricsConfig, delta: Option<&'a mut DeltaToCumulative>, now: Instant) -> Self {
        Self {
            config,
            metric_namer: MetricNamer::new(config.translation_strategy),
            label_namer: LabelNamer {
                utf8_allowed: !config.translation_strategy.escapes(),
                underscore_sanitization: config.label_name_underscore_sanitization,
                preserve_multiple_underscores: config.label_name_preserve_multiple_underscores,
            },
            delta,
            now,
            resource: ResourceContext::default(),
            scope: None,
            series: Vec::new(),
            series_index: HashMap::new(),
            metadata: Vec::new(),
            metadata_families: HashSet::new(),
            target_info_seen: HashSet::new(),
            rejections: Vec::new(),
            rejection_index: HashMap::new(),
            rejected_data_points: 0,
        }
    }

    fn translate_resource(&mut self, resource_metrics: &ResourceMetrics) {
        let resource_attributes: &[KeyValue] =
            resource_metrics.resource.as_ref().map_or(&[], |resource| resource.attributes.as_slice());
        if let Err(message) = self.set_resource_context(resource_attributes) {
            for scope_metrics in &resource_metrics.scope_metrics {
                self.reject_scope(scope_metrics, &message);
            }
            return;
        }
        let mut time_span: Option<(u64, u64)> = None;
        for scope_metrics in &resource_metrics.scope_metrics {
            if let Err(message) = self.set_scope_context(scope_metrics) {
                self.reject_scope(scope_metrics, &message);
                continue;
            }
            for metric in &scope_metrics.metrics {
                // Like Prometheus, the span counts every data point, even of metrics refused below.
                for time_ns in data_point_times(metric) {
                    time_span = Some(match time_span {
                        Some((earliest, latest)) => (earliest.min(time_ns), latest.max(time_ns)),
                        None => (time_ns, time_ns),
                    });
                }
                self.translate_metric(metric);
            }
        }
        if let Some((earliest_ns, latest_ns)) = time_span {
            self.add_target_info(resource_attributes, earliest_ns, latest_ns);
        }
    }

    /// `setResourceContext`: `job` from `service.namespace/service.name`, `instance` from `service.instance.id`,
    /// and the promoted resource attributes.
    fn set_resource_context(&mut self, attributes: &[KeyValue]) -> Result<(), String> {
        self.resource = ResourceContext::default();
        if let Some(service_name) = find_attribute(attributes, SERVICE_NAME) {
            let mut job = attribute_value_string(service_name.value.as_ref());
            if let Some(namespace) = find_attribute(attributes, SERVICE_NAMESPACE) {
                job = format!("{}/{job}", attribute_value_string(namespace.value.as_ref()));
            }
            self.resource.job = job;
        }
        if let Some(instance) = find_attribute(attributes, SERVICE_INSTANCE_ID) {
            self.resource.instance = attribute_value_string(instance.value.as_ref());
        }
        let config = self.config;
        let promote_all = config.promote_all_resource_attributes;
        if !promote_all && config.promote_resource_attributes.is_empty() {
            return Ok(());
        }
        for attribute in attributes {
            let promoted = if promote_all {
                !config.ignore_resource_attributes.contains(&attribute.key)
            } else {
                config.promote_resource_attributes.contains(&attribute.key)
            };
            if promoted {
                let name = self.label_namer.build(&attribute.key)?;
                self.resource.promoted.set(&name, attribute_value_string(attribute.value.as_ref()));
            }
        }
        Ok(())
    }

    /// `setScopeContext`: the `otel_scope_*` labels, only when scope promotion is on and the scope has a name.
    fn set_scope_context(&mut self, scope_metrics: &ScopeMetrics) -> Result<(), String> {
        self.scope = None;
        let Some(scope) = scope_metrics.scope.as_ref().filter(|scope| !scope.name.is_empty()) else {
            return Ok(());
        };
        if !self.config.promote_scope_metadata {
            return Ok(());
        }
        let mut labels = LabelSet::default();
        for attribute in &scope.attributes {
            let name = self.label_namer.build(&format!("otel_scope_{}", attribute.key))?;
            labels.set(&name, attribute_value_string(attribute.value.as_ref()));
        }
        self.scope = Some(ScopeLabels {
            attributes: labels,
            identity: [
                ("otel_scope_name", scope.name.clone()),
                ("otel_scope_version", scope.version.clone()),
                ("otel_scope_schema_url", scope_metrics.schema_url.clone()),
            ],
        });
        Ok(())
    }

    fn reject_scope(&mut self, scope_metrics: &ScopeMetrics, message: &str) {
        for metric in &scope_metrics.metrics {
            let count = data_point_times(metric).count();
            self.reject(RejectReason::InvalidLabelName, &metric.name, count, || {
                format!("metric {:?}: {message}", metric.name)
            });
        }
    }

    fn translate_metric(&mut self, metric: &Metric) {
        let Some(data) = &metric.data else {
            self.reject(RejectReason::UnsupportedMetricType, &metric.name, 0, || {
                format!("metric {:?}: unsupported metric type (no data)", metric.name)
            });
            return;
        };
        let data_point_count = data_point_times(metric).count();
        let (kind, temporality) = match data {
            Data::Gauge(_) => (MetricKind::Gauge, None),
            Data::Sum(sum) if sum.is_monotonic => (MetricKind::MonotonicCounter, Some(sum.aggregation_temporality)),
            Data::Sum(sum) => (MetricKind::NonMonotonicCounter, Some(sum.aggregation_temporality)),
            Data::Histogram(histogram) => (MetricKind::Histogram, Some(histogram.aggregation_temporality)),
            Data::ExponentialHistogram(histogram) => {
                (MetricKind::ExponentialHistogram, Some(histogram.aggregation_temporality))
            }
            Data::Summary(_) => (MetricKind::Summary, None),
        };
        let is_delta = temporality == Some(AggregationTemporality::Delta as i32);
        if let Some(temporality) = temporality {
            let valid = temporality == AggregationTemporality::Cumulative as i32 || is_delta;
            if !valid {
                self.reject(RejectReason::InvalidTemporality, &metric.name, data_point_count, || {
                    format!("invalid temporality and type combination for metric {:?}", metric.name)
                });
                return;
            }
        }
        if kind == MetricKind::ExponentialHistogram {
            self.reject(RejectReason::UnsupportedMetricType, &metric.name, data_point_count, || {
                format!("metric {:?}: exponential histograms are not supported yet", metric.name)
            });
            return;
        }
        if is_delta && self.delta.is_none() {
            self.reject(RejectReason::DeltaTemporality, &metric.name, data_point_count, || {
                format!("metric {:?}: delta temporality is not accepted (conversion to cumulative is off)", metric.name)
            });
            return;
        }
        let family = match self.metric_namer.build(&metric.name, &metric.unit, kind) {
            Ok(family) => family,
            Err(message) => {
                self.reject(RejectReason::InvalidMetricName, &metric.name, data_point_count, || message);
                return;
            }
        };
        let samples_before = self.sample_count();
        match data {
            Data::Gauge(gauge) => self.add_number_points(metric, &family, &gauge.data_points, false, false),
            Data::Sum(sum) => self.add_number_points(metric, &family, &sum.data_points, true, is_delta),
            Data::Histogram(histogram) => self.add_histogram_points(metric, &family, &histogram.data_points, is_delta),
            Data::Summary(summary) => self.add_summary_points(metric, &family, &summary.data_points),
            Data::ExponentialHistogram(_) => {
                unreachable!("BUG: exponential histograms are refused above")
            }
        }
        if self.sample_count() > samples_before {
            let metric_type = match kind {
                MetricKind::MonotonicCounter => MetricType::Counter,
                MetricKind::Gauge | MetricKind::NonMonotonicCounter => MetricType::Gauge,
                MetricKind::Histogram | MetricKind::ExponentialHistogram => MetricType::Histogram,
                MetricKind::Summary => MetricType::Summary,
            };
            self.add_metadata(family, metric_type, metric.description.clone(), metadata_unit(&metric.unit));
        }
    }

    /// `createAttributes`: data point attributes (sorted by key, translated, values of colliding names joined
    /// with `;`), then promoted resource attributes where not set, `job` and `instance`, scope labels, and
    /// `extras` (whose names are translated unless reserved, `__…__`).
    fn create_attributes(
        &self,
        attributes: &[KeyValue],
        ignored: &[&str],
        extras: &[(&str, &str)],
        source: AttributeSource,
    ) -> Result<LabelSet, String> {
        let mut sorted: Vec<(&str, String)> = attributes
            .iter()
            .filter(|attribute| !ignored.contains(&attribute.key.as_str()))
            .map(|attribute| (attribute.key.as_str(), attribute_value_string(attribute.value.as_ref())))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut labels = LabelSet::default();
        for (key, value) in sorted {
            if self.label_namer.utf8_allowed {
                labels.set(key, value);
                continue;
            }
            let name = self.label_namer.build(key)?;
            let existing = labels.get(&name);
            if existing.is_empty() {
                labels.set(&name, value);
            } else {
                let joined = format!("{existing};{value}");
                labels.set(&name, joined);
            }
        }
        if source == AttributeSource::DataPoint {
            for (name, value) in &self.resource.promoted.0 {
                if !labels.contains(name) {
                    labels.set(name, value.clone());
                }
            }
        }
        // Only a non-empty job or instance replaces an attribute of that name.
        for (name, value) in [("job", &self.resource.job), ("instance", &self.resource.instance)] {
            if !value.is_empty() {
                labels.set(name, value.clone());
            }
        }
        if source == AttributeSource::DataPoint
            && let Some(scope_labels) = &self.scope
        {
            for (name, value) in &scope_labels.attributes.0 {
                labels.set(name, value.clone());
            }
            for (name, value) in &scope_labels.identity {
                labels.set(name, value.clone());
            }
        }
        for (name, value) in extras {
            let reserved = name.len() > 4 && name.starts_with("__") && name.ends_with("__");
            let name = if reserved { (*name).to_string() } else { self.label_namer.build(name)? };
            labels.set(&name, (*value).to_string());
        }
        Ok(labels)
    }

    /// Data point labels, or a rejection of the data point when an attribute name cannot be translated.
    pub fn data_point_labels(
        &mut self,
        metric: &Metric,
        attributes: &[KeyValue],
        family: Option<&str>,
    ) -> Option<LabelSet> {
        let extras: &[(&str, &str)] = match family {
            Some(family) => &[(METRIC_NAME_LABEL, family)],
            None => &[],
        };
        match self.create_attributes(attributes, &[METRIC_NAME_LABEL], extras, AttributeSource::DataPoint) {
            Ok(labels) => Some(labels),
            Err(message) => {
                self.reject(RejectReason::InvalidLabelName, &metric.name, 1, || {
                    format!("metric {:?}: {message}", metric.name)
                });
                None
            }
        }
    }

    /// `addResourceTargetInfo`: a `target_info` gauge (value 1) carrying the resource attributes that are not
    /// already `job` and `instance`, written only when there are such attributes and the series has a `job` or
    /// `instance`; one sample every half lookback delta from the earliest to the latest data point, plus one at
    /// the latest.
    fn add_target_info(&mut self, attributes: &[KeyValue], earliest_ns: u64, latest_ns: u64) {
        let identifying = [SERVICE_NAMESPACE, SERVICE_NAME, SERVICE_INSTANCE_ID];
        let identifying_present = identifying.iter().filter(|key| find_attribute(attributes, key).is_some()).count();
        if attributes.len() <= identifying_present {
            return;
        }
        let ignored: &[&str] = if self.config.keep_identifying_resource_attributes { &[] } else { &identifying };
        let extras = [(METRIC_NAME_LABEL, TARGET_INFO)];
        let labels = match self.create_attributes(attributes, ignored, &extras, AttributeSource::Resource) {
            Ok(labels) => labels,
            Err(message) => {
                self.reject(RejectReason::InvalidLabelName, TARGET_INFO, 0, || format!("{TARGET_INFO}: {message}"));
                return;
            }
        };
        if !labels.contains("job") && !labels.contains("instance") {
            return;
        }
        let labels = labels.to_labels_with(&[]);
        let interval_ns = u64::try_from(self.config.target_info_interval().as_nanos()).unwrap_or(u64::MAX).max(1);
        let steps = (latest_ns - earliest_ns).div_ceil(interval_ns);
        let skipped_steps = steps.saturating_sub(MAX_TARGET_INFO_SAMPLES);
        let mut time_ns = earliest_ns + skipped_steps * interval_ns;
        let mut added = false;
        while time_ns < latest_ns {
            added |= self.push_target_info(&labels, time_ns);
            time_ns = time_ns.saturating_add(interval_ns);
        }
        added |= self.push_target_info(&labels, latest_ns);
        if added {
            self.add_metadata(TARGET_INFO.to_string(), MetricType::Gauge, "Target metadata".to_string(), String::new());
        }
    }

    /// One `target_info` sample, unless the same label set already has one at that millisecond in this request.
    fn push_target_info(&mut self, labels: &Labels, time_ns: u64) -> bool {
        // Go's `time.Time.UnixMilli` of `time.Unix(0, int64(ns))`: floor division.
        let timestamp_ms = (time_ns as i64).div_euclid(1_000_000);
        if !self.target_info_seen.insert((labels.clone(), timestamp_ms)) {
            return false;
        }
        self.push_sample(labels.clone(), Sample::new(timestamp_ms, 1.0), Vec::new());
        true
    }

    /// Appends a sample (and exemplars) to its series in the batch.
    pub fn push_sample(&mut self, labels: Labels, sample: Sample, exemplars: Vec<Exemplar>) {
        let index = match self.series_index.get(&labels) {
            Some(&index) => index,
            None => {
                self.series.push(TimeSeries { labels: labels.clone(), samples: Vec::new(), exemplars: Vec::new() });
                self.series_index.insert(labels, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        self.series[index].samples.push(sample);
        self.series[index].exemplars.extend(exemplars);
    }

    fn sample_count(&self) -> usize {
        self.series.iter().map(|series| series.samples.len()).sum()
    }

    fn add_metadata(&mut self, family: String, metric_type: MetricType, help: String, unit: String) {
        if self.metadata_families.insert(family.clone()) {
            self.metadata.push(MetricMetadata { metric_family: family, metric_type, help, unit });
        }
    }

    /// Records `data_points` refused data points of `metric_name`; rejections are aggregated per metric and
    /// reason, keeping the first message.
    pub fn reject(
        &mut self,
        reason: RejectReason,
        metric_name: &str,
        data_points: usize,
        message: impl FnOnce() -> String,
    ) {
        self.rejected_data_points += i64::try_from(data_points).unwrap_or(i64::MAX);
        let key = (metric_name.to_string(), reason);
        match self.rejection_index.get(&key) {
            Some(&index) => self.rejections[index].samples += data_points,
            None => {
                self.rejection_index.insert(key, self.rejections.len());
                self.rejections.push(Rejection::new(reason, metric_name, data_points, message()));
            }
        }
    }

    fn finish(self) -> TranslatedMetrics {
        let partial_success = (!self.rejections.is_empty()).then(|| {
            let mut messages: Vec<&str> = Vec::new();
            for rejection in &self.rejections {
                if !messages.contains(&rejection.message.as_str()) {
                    messages.push(&rejection.message);
                }
            }
            let mut error_message = messages.iter().take(MAX_MESSAGES_IN_ERROR).copied().collect::<Vec<_>>().join("; ");
            if messages.len() > MAX_MESSAGES_IN_ERROR {
                error_message.push_str(&format!("; and {} more", messages.len() - MAX_MESSAGES_IN_ERROR));
            }
            ExportMetricsPartialSuccess { rejected_data_points: self.rejected_data_points, error_message }
        });
        TranslatedMetrics {
            write: DecodedWrite {
                batch: WriteBatch { series: self.series, metadata: self.metadata },
                rejections: self.rejections,
            },
            partial_success,
        }
    }
}

/// The timestamps of every data point of `metric` (`findMinAndMaxTimestamps` reads these).
fn data_point_times(metric: &Metric) -> Box<dyn Iterator<Item = u64> + '_> {
    match &metric.data {
        None => Box::new(std::iter::empty()),
        Some(Data::Gauge(gauge)) => Box::new(gauge.data_points.iter().map(|point| point.time_unix_nano)),
        Some(Data::Sum(sum)) => Box::new(sum.data_points.iter().map(|point| point.time_unix_nano)),
        Some(Data::Histogram(histogram)) => Box::new(histogram.data_points.iter().map(|point| point.time_unix_nano)),
        Some(Data::ExponentialHistogram(histogram)) => {
            Box::new(histogram.data_points.iter().map(|point| point.time_unix_nano))
        }
        Some(Data::Summary(summary)) => Box::new(summary.data_points.iter().map(|point| point.time_unix_nano)),
    }
}

/// OTLP nanoseconds to Prometheus milliseconds, as Prometheus's `convertTimeStamp` does (`int64(ns) / 1e6`).
pub(crate) fn nanos_to_millis(time_ns: u64) -> i64 {
    (time_ns as i64) / 1_000_000
}
