//! End-to-end tests of the OTLP metrics receiver: JSON/protobuf in, Prometheus series out.

use oxeye_model::{MetricType, RejectReason, Sample, TimeSeries, is_stale_nan};
use prost::Message;
use serde_json::Value;

use super::*;

/// The OTLP/JSON example from opentelemetry-proto, kept outside the repository in the shared conformance data.
const CONFORMANCE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/otlp/metrics.json");
/// 2018-12-13T14:51:00.3Z, the time used throughout the OTLP examples.
const T0_NS: u64 = 1_544_712_660_300_000_000;
const T0_MS: i64 = 1_544_712_660_300;

fn delta_state() -> DeltaToCumulative {
    DeltaToCumulative::new(&DeltaToCumulativeConfig::default())
}

fn translate_json(json: &str, config: &OtlpMetricsConfig, delta: Option<&mut DeltaToCumulative>) -> TranslatedMetrics {
    let request = decode_metrics_json(json.as_bytes()).unwrap_or_else(|error| panic!("{error}: {json}"));
    translate_metrics(&request, config, delta)
}

/// A request with one resource (its attributes as a JSON array) and one scope holding `metrics` (a JSON array).
fn request_json(resource_attributes: &str, metrics: &str) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":{resource_attributes}}},
            "scopeMetrics":[{{"scope":{{"name":"lib","version":"1.2","attributes":[{{"key":"scope.attr","value":{{"stringValue":"s"}}}}]}},
            "schemaUrl":"https://schema","metrics":{metrics}}}]}}]}}"#
    )
}

const SERVICE: &str = r#"[{"key":"service.name","value":{"stringValue":"api"}}]"#;

/// The series of the batch, rendered `name{a="1", …}`, with their samples.
fn rendered(translated: &TranslatedMetrics) -> Vec<(String, Vec<Sample>)> {
    translated.write.batch.series.iter().map(|series| (series.labels.to_string(), series.samples.clone())).collect()
}

fn series<'a>(translated: &'a TranslatedMetrics, labels: &str) -> &'a TimeSeries {
    let batch = &translated.write.batch;
    batch.series.iter().find(|series| series.labels.to_string() == labels).unwrap_or_else(|| {
        let all: Vec<String> = batch.series.iter().map(|series| series.labels.to_string()).collect();
        panic!("no series {labels}; have {all:#?}")
    })
}

fn assert_single_sample(translated: &TranslatedMetrics, labels: &str, timestamp_ms: i64, value: f64) {
    let found = series(translated, labels);
    assert_eq!(found.samples, vec![Sample::new(timestamp_ms, value)], "{labels}");
}

#[test]
fn conformance_metrics_json() {
    let body = std::fs::read(CONFORMANCE_FILE).expect("the shared conformance data is next to the repository");
    let request = decode_metrics_json(&body).unwrap();
    let mut deltas = delta_state();
    let translated = translate_metrics(&request, &OtlpMetricsConfig::default(), Some(&mut deltas));

    // The file's sum and histogram are delta (aggregationTemporality 1); each is the first point of its stream.
    let expected: &[(&str, f64)] = &[
        (r#"my_counter_total{job="my.service", my_counter_attr="some value"}"#, 5.0),
        (r#"my_gauge_ratio{job="my.service", my_gauge_attr="some value"}"#, 10.0),
        (r#"my_histogram_sum{job="my.service", my_histogram_attr="some value"}"#, 2.0),
        (r#"my_histogram_count{job="my.service", my_histogram_attr="some value"}"#, 2.0),
        (r#"my_histogram_bucket{job="my.service", le="1", my_histogram_attr="some value"}"#, 1.0),
        (r#"my_histogram_bucket{job="my.service", le="+Inf", my_histogram_attr="some value"}"#, 2.0),
    ];
    for (labels, value) in expected {
        assert_single_sample(&translated, labels, T0_MS, *value);
    }
    // Only the resource's service.name: no other resource attribute, so no target_info.
    assert_eq!(translated.write.batch.series.len(), expected.len(), "{:#?}", rendered(&translated));

    // The exponential histogram's one data point is refused, with a message naming it.
    assert_eq!(translated.write.rejections.len(), 1);
    let rejection = &translated.write.rejections[0];
    assert_eq!(rejection.reason, RejectReason::UnsupportedMetricType);
    assert_eq!(rejection.series, "my.exponential.histogram");
    assert_eq!(rejection.samples, 1);
    let partial = translated.partial_success.clone().unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert_eq!(
        partial.error_message,
        r#"metric "my.exponential.histogram": exponential histograms are not supported yet"#
    );
    println!("otlp/metrics.json: 3 of 4 data points stored, 1 refused (exponential histogram)");

    let metadata = &translated.write.batch.metadata;
    let families: Vec<(&str, MetricType, &str, &str)> =
        metadata.iter().map(|m| (m.metric_family.as_str(), m.metric_type, m.help.as_str(), m.unit.as_str())).collect();
    assert_eq!(
        families,
        [
            ("my_counter_total", MetricType::Counter, "I am a Counter", ""),
            ("my_gauge_ratio", MetricType::Gauge, "I am a Gauge", ""),
            ("my_histogram", MetricType::Histogram, "I am a Histogram", ""),
        ]
    );

    // The same request as protobuf translates identically.
    let from_protobuf = decode_metrics_protobuf(&request.encode_to_vec()).unwrap();
    let mut fresh_deltas = delta_state();
    let again = translate_metrics(&from_protobuf, &OtlpMetricsConfig::default(), Some(&mut fresh_deltas));
    assert_eq!(again.write, translated.write);

    // Without delta conversion the delta sum and histogram are refused, the gauge is kept.
    let without_delta = translate_metrics(&request, &OtlpMetricsConfig::default(), None);
    assert_eq!(rendered(&without_delta).len(), 1);
    let reasons: Vec<(RejectReason, &str, usize)> =
        without_delta.write.rejections.iter().map(|r| (r.reason, r.series.as_str(), r.samples)).collect();
    assert_eq!(
        reasons,
        [
            (RejectReason::DeltaTemporality, "my.counter", 1),
            (RejectReason::DeltaTemporality, "my.histogram", 1),
            (RejectReason::UnsupportedMetricType, "my.exponential.histogram", 1),
        ]
    );
    assert_eq!(without_delta.partial_success.unwrap().rejected_data_points, 3);
}

/// Rewrites every object key to snake_case and every string of a 64-bit integer field to a JSON number.
fn to_snake_case_with_numbers(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let entries = std::mem::take(object);
            for (key, mut field) in entries {
                to_snake_case_with_numbers(&mut field);
                let snake: String = key
                    .chars()
                    .flat_map(|c| if c.is_ascii_uppercase() { vec!['_', c.to_ascii_lowercase()] } else { vec![c] })
                    .collect();
                let to_number = |item: &mut Value| {
                    if let Value::String(text) = item
                        && let Ok(number) = text.parse::<u64>()
                    {
                        *item = Value::from(number);
                    }
                };
                match (snake.as_str(), &mut field) {
                    ("bucket_counts", Value::Array(items)) => items.iter_mut().for_each(to_number),
                    ("time_unix_nano" | "start_time_unix_nano" | "count" | "zero_count" | "as_int", item) => {
                        to_number(item)
                    }
                    _ => {}
                }
                object.insert(snake, field);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_snake_case_with_numbers),
        _ => {}
    }
}

#[test]
fn conformance_file_in_snake_case_with_numeric_int64s_decodes_the_same() {
    let body = std::fs::read(CONFORMANCE_FILE).unwrap();
    let camel = decode_metrics_json(&body).unwrap();
    let mut value: Value = serde_json::from_slice(&body).unwrap();
    to_snake_case_with_numbers(&mut value);
    let snake_text = value.to_string();
    assert!(snake_text.contains("\"time_unix_nano\":1544712660300000000"), "{snake_text}");
    assert!(snake_text.contains("\"bucket_counts\":[1,1]"), "{snake_text}");
    let snake = decode_metrics_json(snake_text.as_bytes()).unwrap();
    assert_eq!(snake, camel);
}

#[test]
fn job_instance_and_target_info() {
    let resource = r#"[{"key":"service.name","value":{"stringValue":"api"}},
        {"key":"service.namespace","value":{"stringValue":"shop"}},
        {"key":"service.instance.id","value":{"stringValue":"pod-1"}},
        {"key":"host.name","value":{"stringValue":"h1"}},
        {"key":"k8s.pod.uid","value":{"intValue":"42"}}]"#;
    // Points at T0 and T0 + 6 minutes: target_info every 2.5 minutes from the first, and at the last.
    let later_ns = T0_NS + 360_000_000_000;
    let metrics = format!(
        r#"[{{"name":"up","gauge":{{"dataPoints":[{{"asInt":"1","timeUnixNano":"{T0_NS}"}},{{"asInt":"1","timeUnixNano":"{later_ns}"}}]}}}}]"#
    );
    let translated = translate_json(&request_json(resource, &metrics), &OtlpMetricsConfig::default(), None);
    let up = series(&translated, r#"up{instance="pod-1", job="shop/api"}"#);
    assert_eq!(up.samples, vec![Sample::new(T0_MS, 1.0), Sample::new(T0_MS + 360_000, 1.0)]);
    let target_info =
        series(&translated, r#"target_info{host_name="h1", instance="pod-1", job="shop/api", k8s_pod_uid="42"}"#);
    let times: Vec<i64> = target_info.samples.iter().map(|sample| sample.timestamp_ms - T0_MS).collect();
    assert_eq!(times, [0, 150_000, 300_000, 360_000]);
    assert!(target_info.samples.iter().all(|sample| sample.value == 1.0));
    let target_metadata = translated.write.batch.metadata.iter().find(|m| m.metric_family == "target_info").unwrap();
    assert_eq!((target_metadata.metric_type, target_metadata.help.as_str()), (MetricType::Gauge, "Target metadata"));

    let keep = OtlpMetricsConfig { keep_identifying_resource_attributes: true, ..OtlpMetricsConfig::default() };
    let translated = translate_json(&request_json(resource, &metrics), &keep, None);
    series(
        &translated,
        r#"target_info{host_name="h1", instance="pod-1", job="shop/api", k8s_pod_uid="42", service_instance_id="pod-1", service_name="api", service_namespace="shop"}"#,
    );

    let gauge = format!(r#"[{{"name":"up","gauge":{{"dataPoints":[{{"asInt":"1","timeUnixNano":"{T0_NS}"}}]}}}}]"#);
    let f = |resource: &str, want: &[&str]| {
        let translated = translate_json(&request_json(resource, &gauge), &OtlpMetricsConfig::default(), None);
        let names: Vec<String> = rendered(&translated).into_iter().map(|(labels, _)| labels).collect();
        assert_eq!(names, want, "{resource}");
    };
    // Only identifying attributes: target_info would say nothing.
    f(SERVICE, &[r#"up{job="api"}"#]);
    // No job or instance: target_info could not be joined, so it is not written.
    f(r#"[{"key":"host.name","value":{"stringValue":"h1"}}]"#, &["up{}"]);
    // An instance alone is enough.
    f(
        r#"[{"key":"service.instance.id","value":{"stringValue":"i"}},{"key":"os","value":{"stringValue":"linux"}}]"#,
        &[r#"up{instance="i"}"#, r#"target_info{instance="i", os="linux"}"#],
    );
    f("[]", &["up{}"]);

    // A data point attribute named `job` stays when the resource has no service.name, and is replaced otherwise.
    let with_job_attribute = format!(
        r#"[{{"name":"up","gauge":{{"dataPoints":[{{"asInt":"1","timeUnixNano":"{T0_NS}","attributes":[{{"key":"job","value":{{"stringValue":"own"}}}}]}}]}}}}]"#
    );
    let translated = translate_json(&request_json("[]", &with_job_attribute), &OtlpMetricsConfig::default(), None);
    assert_single_sample(&translated, r#"up{job="own"}"#, T0_MS, 1.0);
    let translated = translate_json(&request_json(SERVICE, &with_job_attribute), &OtlpMetricsConfig::default(), None);
    assert_single_sample(&translated, r#"up{job="api"}"#, T0_MS, 1.0);
}

#[test]
fn attribute_names_are_translated_like_prometheus() {
    let metrics = format!(
        r#"[{{"name":"m","gauge":{{"dataPoints":[{{"asDouble":1,"timeUnixNano":"{T0_NS}","attributes":[
            {{"key":"a_b","value":{{"stringValue":"second"}}}},
            {{"key":"a.b","value":{{"stringValue":"first"}}}},
            {{"key":"1st","value":{{"stringValue":"x"}}}},
            {{"key":"_private","value":{{"stringValue":"y"}}}},
            {{"key":"__reserved__","value":{{"stringValue":"z"}}}},
            {{"key":"__name__","value":{{"stringValue":"ignored"}}}},
            {{"key":"job","value":{{"stringValue":"overridden"}}}},
            {{"key":"empty","value":{{"stringValue":""}}}},
            {{"key":"flag","value":{{"boolValue":true}}}},
            {{"key":"ratio","value":{{"doubleValue":0.5}}}},
            {{"key":"list","value":{{"arrayValue":{{"values":[{{"stringValue":"a"}},{{"intValue":"2"}}]}}}}}}
        ]}}]}}}}]"#
    );
    let translated = translate_json(&request_json(SERVICE, &metrics), &OtlpMetricsConfig::default(), None);
    assert_single_sample(
        &translated,
        r#"m{__reserved__="z", a_b="first;second", flag="true", job="api", key_1st="x", key_private="y", list="[\"a\",2]", ratio="0.5"}"#,
        T0_MS,
        1.0,
    );
}

#[test]
fn promoted_resource_attributes_and_scope_labels() {
    let resource = r#"[{"key":"service.name","value":{"stringValue":"api"}},{"key":"cloud.region","value":{"stringValue":"eu"}},
        {"key":"host.name","value":{"stringValue":"h1"}}]"#;
    let metrics = format!(
        r#"[{{"name":"m","gauge":{{"dataPoints":[{{"asDouble":1,"timeUnixNano":"{T0_NS}","attributes":[{{"key":"host.name","value":{{"stringValue":"point"}}}}]}}]}}}}]"#
    );
    let config = OtlpMetricsConfig {
        promote_resource_attributes: vec!["cloud.region".into(), "host.name".into()],
        promote_scope_metadata: true,
        ..OtlpMetricsConfig::default()
    };
    let translated = translate_json(&request_json(resource, &metrics), &config, None);
    assert_single_sample(
        &translated,
        r#"m{cloud_region="eu", host_name="point", job="api", otel_scope_name="lib", otel_scope_schema_url="https://schema", otel_scope_scope_attr="s", otel_scope_version="1.2"}"#,
        T0_MS,
        1.0,
    );
    // target_info carries neither promoted-attribute merging nor scope labels.
    series(&translated, r#"target_info{cloud_region="eu", host_name="h1", job="api"}"#);

    let all_but_host = OtlpMetricsConfig {
        promote_all_resource_attributes: true,
        ignore_resource_attributes: vec!["host.name".into(), "service.name".into()],
        ..OtlpMetricsConfig::default()
    };
    let translated = translate_json(&request_json(resource, &metrics), &all_but_host, None);
    assert_single_sample(&translated, r#"m{cloud_region="eu", host_name="point", job="api"}"#, T0_MS, 1.0);
}

#[test]
fn sums_gauges_and_units() {
    let metrics = format!(
        r#"[
        {{"name":"http.requests","unit":"{{request}}","description":"Requests","sum":{{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{{"asInt":"7","timeUnixNano":"1999999","exemplars":[{{"asDouble":1,"timeUnixNano":"1000000",
            "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","filteredAttributes":[{{"key":"user","value":{{"stringValue":"u1"}}}}]}}]}}]}}}},
        {{"name":"queue.length","unit":"By","sum":{{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":false,
          "dataPoints":[{{"asDouble":3.5,"timeUnixNano":"{T0_NS}"}}]}}}},
        {{"name":"cpu.time","unit":"s","gauge":{{"dataPoints":[{{"asDouble":2,"timeUnixNano":"{T0_NS}","exemplars":[{{"asDouble":1}}]}},
          {{"timeUnixNano":"{T0_NS}","attributes":[{{"key":"novalue","value":{{"boolValue":false}}}}]}}]}}}},
        {{"name":"empty.gauge","gauge":{{"dataPoints":[]}}}}
        ]"#
    );
    let translated = translate_json(&request_json(SERVICE, &metrics), &OtlpMetricsConfig::default(), None);
    assert!(translated.partial_success.is_none(), "{:?}", translated.partial_success);
    let requests = series(&translated, r#"http_requests_total{job="api"}"#);
    assert_eq!(requests.samples, vec![Sample::new(1, 7.0)], "1,999,999 ns truncates to 1 ms");
    assert_eq!(requests.exemplars.len(), 1);
    let exemplar = &requests.exemplars[0];
    assert_eq!(
        exemplar.labels.to_string(),
        r#"{span_id="eee19b7ec3c1b174", trace_id="5b8efff798038103d269b633813fc60c", user="u1"}"#
    );
    assert_eq!((exemplar.value, exemplar.timestamp_ms), (1.0, 1));
    assert_single_sample(&translated, r#"queue_length_bytes{job="api"}"#, T0_MS, 3.5);
    let cpu = series(&translated, r#"cpu_time_seconds{job="api"}"#);
    assert!(cpu.exemplars.is_empty(), "gauges carry no exemplars in Prometheus");
    assert_single_sample(&translated, r#"cpu_time_seconds{job="api", novalue="false"}"#, T0_MS, 0.0);

    let metadata: Vec<(&str, MetricType, &str, &str)> = translated
        .write
        .batch
        .metadata
        .iter()
        .map(|m| (m.metric_family.as_str(), m.metric_type, m.help.as_str(), m.unit.as_str()))
        .collect();
    assert_eq!(
        metadata,
        [
            ("http_requests_total", MetricType::Counter, "Requests", ""),
            ("queue_length_bytes", MetricType::Gauge, "", "bytes"),
            ("cpu_time_seconds", MetricType::Gauge, "", "seconds"),
        ]
    );
}

#[test]
fn histograms_summaries_exemplars_and_staleness() {
    let metrics = format!(
        r#"[
        {{"name":"http.server.duration","unit":"ms","histogram":{{"aggregationTemporality":2,"dataPoints":[
          {{"timeUnixNano":"{T0_NS}","count":"10","sum":123.5,"bucketCounts":["1","2","3","4"],"explicitBounds":[0.005,1,250],
            "exemplars":[{{"asDouble":0.001,"traceId":"00000000000000000000000000000000"}},{{"asDouble":0.5}},{{"asDouble":2}},{{"asInt":"1000"}}]}},
          {{"timeUnixNano":"{T0_NS}","count":"1","bucketCounts":["1"],"explicitBounds":[],"attributes":[{{"key":"no.sum","value":{{"stringValue":"y"}}}}]}},
          {{"timeUnixNano":"{T0_NS}","count":"5","sum":1,"bucketCounts":["5","0"],"explicitBounds":[1],"flags":1,
            "attributes":[{{"key":"stale","value":{{"stringValue":"y"}}}}]}}]}}}},
        {{"name":"rpc.latency","unit":"s","summary":{{"dataPoints":[{{"timeUnixNano":"{T0_NS}","count":"4","sum":2.5,
          "quantileValues":[{{"quantile":0.5,"value":0.4}},{{"quantile":0.99,"value":1.2}},{{"quantile":1,"value":2}}]}}]}}}}
        ]"#
    );
    let translated = translate_json(&request_json(SERVICE, &metrics), &OtlpMetricsConfig::default(), None);
    let f = |labels: &str, value: f64| assert_single_sample(&translated, labels, T0_MS, value);
    f(r#"http_server_duration_milliseconds_sum{job="api"}"#, 123.5);
    f(r#"http_server_duration_milliseconds_count{job="api"}"#, 10.0);
    f(r#"http_server_duration_milliseconds_bucket{job="api", le="0.005"}"#, 1.0);
    f(r#"http_server_duration_milliseconds_bucket{job="api", le="1"}"#, 3.0);
    f(r#"http_server_duration_milliseconds_bucket{job="api", le="250"}"#, 6.0);
    f(r#"http_server_duration_milliseconds_bucket{job="api", le="+Inf"}"#, 10.0);
    let exemplar_values = |le: &str| -> Vec<(f64, String)> {
        let labels = format!(r#"http_server_duration_milliseconds_bucket{{job="api", le="{le}"}}"#);
        series(&translated, &labels).exemplars.iter().map(|e| (e.value, e.labels.to_string())).collect()
    };
    assert_eq!(exemplar_values("0.005"), [(0.001, "{}".to_string())], "an all-zero trace id is no trace id");
    assert_eq!(exemplar_values("1"), [(0.5, "{}".to_string())]);
    assert_eq!(exemplar_values("250"), [(2.0, "{}".to_string())]);
    assert_eq!(exemplar_values("+Inf"), [(1000.0, "{}".to_string())]);
    assert!(series(&translated, r#"http_server_duration_milliseconds_count{job="api"}"#).exemplars.is_empty());

    // No sum set: no _sum series. No bounds: only +Inf.
    let no_sum: Vec<String> = rendered(&translated)
        .into_iter()
        .map(|(labels, _)| labels)
        .filter(|labels| labels.contains("no_sum"))
        .collect();
    assert_eq!(
        no_sum,
        [
            r#"http_server_duration_milliseconds_count{job="api", no_sum="y"}"#,
            r#"http_server_duration_milliseconds_bucket{job="api", le="+Inf", no_sum="y"}"#,
        ]
    );
    // "No recorded value": every series of the point gets a stale marker.
    let stale: Vec<(String, Vec<Sample>)> =
        rendered(&translated).into_iter().filter(|(labels, _)| labels.contains("stale")).collect();
    assert_eq!(stale.len(), 4);
    for (labels, samples) in stale {
        assert_eq!(samples.len(), 1);
        assert!(is_stale_nan(samples[0].value), "{labels}");
    }

    f(r#"rpc_latency_seconds_sum{job="api"}"#, 2.5);
    f(r#"rpc_latency_seconds_count{job="api"}"#, 4.0);
    f(r#"rpc_latency_seconds{job="api", quantile="0.5"}"#, 0.4);
    f(r#"rpc_latency_seconds{job="api", quantile="0.99"}"#, 1.2);
    f(r#"rpc_latency_seconds{job="api", quantile="1"}"#, 2.0);
    let families: Vec<(&str, MetricType, &str)> = translated
        .write
        .batch
        .metadata
        .iter()
        .map(|m| (m.metric_family.as_str(), m.metric_type, m.unit.as_str()))
        .collect();
    assert_eq!(
        families,
        [
            ("http_server_duration_milliseconds", MetricType::Histogram, "milliseconds"),
            ("rpc_latency_seconds", MetricType::Summary, "seconds")
        ]
    );
}

#[test]
fn bad_metrics_are_refused_and_the_rest_kept() {
    let metrics = format!(
        r#"[
        {{"name":"unspecified","sum":{{"isMonotonic":true,"dataPoints":[{{"asInt":"1","timeUnixNano":"{T0_NS}"}},{{"asInt":"2","timeUnixNano":"{T0_NS}"}}]}}}},
        {{"name":"...","gauge":{{"dataPoints":[{{"asInt":"1","timeUnixNano":"{T0_NS}"}}]}}}},
        {{"name":"labels","gauge":{{"dataPoints":[
          {{"asInt":"1","timeUnixNano":"{T0_NS}","attributes":[{{"key":"...","value":{{"stringValue":"x"}}}}]}},
          {{"asInt":"2","timeUnixNano":"{T0_NS}","attributes":[{{"key":"ok","value":{{"stringValue":"x"}}}}]}}]}}}},
        {{"name":"nodata"}},
        {{"name":"good","gauge":{{"dataPoints":[{{"asInt":"3","timeUnixNano":"{T0_NS}"}}]}}}}
        ]"#
    );
    let translated = translate_json(&request_json(SERVICE, &metrics), &OtlpMetricsConfig::default(), None);
    let kept: Vec<String> = rendered(&translated).into_iter().map(|(labels, _)| labels).collect();
    assert_eq!(kept, [r#"labels{job="api", ok="x"}"#, r#"good{job="api"}"#]);
    let rejections: Vec<(RejectReason, &str, usize, &str)> = translated
        .write
        .rejections
        .iter()
        .map(|r| (r.reason, r.series.as_str(), r.samples, r.message.as_str()))
        .collect();
    assert_eq!(
        rejections,
        [
            (
                RejectReason::InvalidTemporality,
                "unspecified",
                2,
                r#"invalid temporality and type combination for metric "unspecified""#
            ),
            (RejectReason::InvalidMetricName, "...", 1, r#"normalization for metric "..." resulted in empty name"#),
            (
                RejectReason::InvalidLabelName,
                "labels",
                1,
                r#"metric "labels": normalization for label name "..." resulted in invalid name "___""#
            ),
            (RejectReason::UnsupportedMetricType, "nodata", 0, r#"metric "nodata": unsupported metric type (no data)"#),
        ]
    );
    let partial = translated.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 4);
    assert!(
        partial.error_message.starts_with(r#"invalid temporality and type combination for metric "unspecified"; "#)
    );
}

#[test]
fn delta_sums_and_histograms_accumulate_across_requests() {
    let mut deltas = delta_state();
    let config = OtlpMetricsConfig::default();
    let sum_request = |start_ns: u64, time_ns: u64, value: i64, flags: u32| {
        let metrics = format!(
            r#"[{{"name":"jobs.done","sum":{{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[
              {{"asInt":"{value}","startTimeUnixNano":"{start_ns}","timeUnixNano":"{time_ns}","flags":{flags}}}]}}}},
              {{"name":"lat","unit":"s","histogram":{{"aggregationTemporality":1,"dataPoints":[
              {{"count":"{value}","sum":{value},"bucketCounts":["{value}","0"],"explicitBounds":[1],
                "startTimeUnixNano":"{start_ns}","timeUnixNano":"{time_ns}","flags":{flags}}}]}}}}]"#
        );
        request_json(SERVICE, &metrics)
    };
    let second = 1_000_000_000;
    let values = |translated: &TranslatedMetrics| -> Vec<(String, i64, f64)> {
        rendered(translated)
            .into_iter()
            .flat_map(|(labels, samples)| samples.into_iter().map(move |s| (labels.clone(), s.timestamp_ms, s.value)))
            .filter(|(labels, _, _)| labels.starts_with("jobs") || labels.contains("+Inf"))
            .collect()
    };
    let first = translate_json(&sum_request(0, second, 2, 0), &config, Some(&mut deltas));
    assert_eq!(
        values(&first),
        [
            (r#"jobs_done_total{job="api"}"#.to_string(), 1000, 2.0),
            (r#"lat_seconds_bucket{job="api", le="+Inf"}"#.to_string(), 1000, 2.0)
        ]
    );
    assert_eq!(first.write.batch.metadata[0].metric_type, MetricType::Counter);
    let next = translate_json(&sum_request(second, 2 * second, 3, 0), &config, Some(&mut deltas));
    assert_eq!(
        values(&next),
        [
            (r#"jobs_done_total{job="api"}"#.to_string(), 2000, 5.0),
            (r#"lat_seconds_bucket{job="api", le="+Inf"}"#.to_string(), 2000, 5.0)
        ]
    );
    assert_eq!(deltas.len(), 2);

    let replay = translate_json(&sum_request(second, 2 * second, 3, 0), &config, Some(&mut deltas));
    assert!(values(&replay).is_empty());
    let reasons: Vec<(RejectReason, usize)> = replay.write.rejections.iter().map(|r| (r.reason, r.samples)).collect();
    assert_eq!(reasons, [(RejectReason::OutOfOrder, 1), (RejectReason::OutOfOrder, 1)]);
    assert_eq!(
        replay.write.rejections[0].message,
        r#"metric "jobs.done": delta point of series jobs_done_total{job="api"} at 2000 ms is not after the last point of its stream (2000 ms)"#
    );

    let ended = translate_json(&sum_request(2 * second, 3 * second, 0, 1), &config, Some(&mut deltas));
    let ended_values = values(&ended);
    assert_eq!(ended_values.len(), 2);
    assert!(ended_values.iter().all(|(_, _, value)| is_stale_nan(*value)));
    assert!(deltas.is_empty(), "a 'no recorded value' point ends its streams");
}
