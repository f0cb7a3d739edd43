//! In-process tests of the HTTP API: real router, real store on a temporary directory, requests through tower.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use oxeye_ingest::remote_write::{
    Exemplar, Label, MetricMetadata, Sample, TimeSeries, WriteRequest, encode_write_request,
};
use oxeye_metrics_store::{MetricsStore, StoreOptions};
use prost::Message;
use serde_json::Value;
use tower::ServiceExt;

use crate::{ApiConfig, ApiState, router};

pub(crate) struct Harness {
    _dir: tempfile::TempDir,
    pub(crate) app: axum::Router,
    pub(crate) state: ApiState,
}

/// A logs store in `dir` that does not fsync (tests).
pub(crate) fn open_logs(dir: &std::path::Path) -> Arc<oxeye_logs_store::LogsStore> {
    let mut options = oxeye_logs_store::LogsOptions::new(dir);
    options.wal_sync = oxeye_metrics_store::WalSyncPolicy::Never;
    Arc::new(oxeye_logs_store::LogsStore::open(options).unwrap())
}

pub(crate) fn open_traces(
    dir: &std::path::Path,
    metrics: Arc<oxeye_metrics_store::MetricsStore>,
) -> Arc<oxeye_trace_pipeline::TracePipeline> {
    let mut options = oxeye_traces_store::TracesOptions::new(dir);
    options.wal_sync = oxeye_metrics_store::WalSyncPolicy::Never;
    let store = Arc::new(oxeye_traces_store::TracesStore::open(options).unwrap());
    let config = oxeye_trace_pipeline::PipelineConfig::default();
    Arc::new(oxeye_trace_pipeline::TracePipeline::open(store, metrics, config, dir, 0).unwrap())
}

pub(crate) fn harness_with(configure: impl FnOnce(&mut StoreOptions)) -> Harness {
    harness_with_config(configure, ApiConfig::default())
}

pub(crate) fn harness_with_config(configure: impl FnOnce(&mut StoreOptions), config: ApiConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StoreOptions::new(dir.path());
    options.wal_sync = oxeye_metrics_store::WalSyncPolicy::Never;
    configure(&mut options);
    let store = Arc::new(MetricsStore::open(options).unwrap());
    let state = ApiState::new(
        store.clone(),
        open_logs(dir.path()),
        open_traces(dir.path(), store),
        crate::loki::TailHub::new(),
        config,
    );
    state.ready.store(true, Ordering::Release);
    Harness { _dir: dir, app: router(state.clone()), state }
}

pub(crate) fn harness() -> Harness {
    harness_with(|_| {})
}

pub(crate) fn now_ms() -> i64 {
    crate::write::now_ms()
}

impl Harness {
    pub(crate) async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    /// Status and raw body bytes.
    pub(crate) async fn send_raw(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, bytes.to_vec())
    }

    pub(crate) async fn get(&self, uri: &str, tenant: Option<&str>) -> (StatusCode, String) {
        let uri = uri.replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace(' ', "%20");
        let mut builder = Request::get(uri);
        if let Some(tenant) = tenant {
            builder = builder.header("X-Scope-OrgID", tenant);
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn get_json(&self, uri: &str, tenant: Option<&str>) -> Value {
        let (status, body) = self.get(uri, tenant).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub(crate) async fn remote_write(&self, request: &WriteRequest, tenant: Option<&str>) -> (StatusCode, String) {
        let mut builder = Request::post("/api/v1/write")
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0");
        if let Some(tenant) = tenant {
            builder = builder.header("X-Scope-OrgID", tenant);
        }
        self.send(builder.body(Body::from(encode_write_request(request))).unwrap()).await
    }
}

pub(crate) fn label(name: &str, value: &str) -> Label {
    Label { name: name.into(), value: value.into() }
}

pub(crate) fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: samples.iter().map(|(t, v)| Sample { timestamp: *t, value: *v }).collect(),
        exemplars: vec![],
    }
}

#[tokio::test]
async fn remote_write_round_trips_through_every_read_endpoint() {
    let h = harness();
    let now = now_ms();
    let mut counter = series(
        &[("__name__", "http_requests_total"), ("job", "api"), ("code", "200")],
        &[(now - 15_000, 10.0), (now, 12.5)],
    );
    counter.exemplars.push(Exemplar { labels: vec![label("trace_id", "abc123")], value: 1.0, timestamp: now });
    let request = WriteRequest {
        timeseries: vec![counter, series(&[("__name__", "up"), ("job", "db")], &[(now, 1.0)])],
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "http_requests_total".into(),
            help: "Requests.".into(),
            unit: "".into(),
        }],
    };
    let (status, body) = h.remote_write(&request, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let series_json = h.get_json("/api/v1/series?match[]=http_requests_total", None).await;
    assert_eq!(
        series_json,
        serde_json::json!({"status": "success", "data": [{"__name__": "http_requests_total", "code": "200", "job": "api"}]})
    );
    let labels = h.get_json("/api/v1/labels", None).await;
    assert_eq!(labels["data"], serde_json::json!(["__name__", "code", "job"]));
    let values = h.get_json("/api/v1/label/job/values", None).await;
    assert_eq!(values["data"], serde_json::json!(["api", "db"]));
    let limited = h.get_json("/api/v1/label/job/values?limit=1", None).await;
    assert_eq!(limited["data"], serde_json::json!(["api"]));
    assert_eq!(limited["warnings"], serde_json::json!(["results truncated due to limit"]));
    let filtered = h.get_json("/api/v1/labels?match[]=up", None).await;
    assert_eq!(filtered["data"], serde_json::json!(["__name__", "job"]));
    let metadata = h.get_json("/api/v1/metadata", None).await;
    assert_eq!(
        metadata["data"],
        serde_json::json!({"http_requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}]})
    );

    let (status, export) =
        h.get(&format!("/api/v1/export?match[]={{job=\"api\"}}&start={}", (now - 60_000) / 1000), None).await;
    assert_eq!(status, StatusCode::OK);
    let line: Value = serde_json::from_str(export.trim()).unwrap();
    assert_eq!(line["values"], serde_json::json!([10, 12.5]));
    assert_eq!(line["timestamps"], serde_json::json!([now - 15_000, now]));
    // A time range before the data selects nothing.
    let empty = h.get_json("/api/v1/series?match[]=up&start=1000&end=2000", None).await;
    assert_eq!(empty["data"], serde_json::json!([]));

    let form = Request::post("/api/v1/series")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from("match%5B%5D=up"))
        .unwrap();
    let (status, body) = h.send(form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"job\":\"db\""), "{body}");

    let (_, metrics) = h.get("/metrics", None).await;
    assert!(
        metrics.contains("oxeye_samples_ingested_total{tenant=\"default\",protocol=\"remote_write\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("oxeye_http_request_duration_seconds_count{handler=\"/api/v1/write\"} 1"), "{metrics}");
}

#[tokio::test]
async fn bad_requests_get_prometheus_style_errors() {
    let h = harness();
    let (status, body) = h.get("/api/v1/series", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::json!({"status": "error", "errorType": "bad_data", "error": "no match[] parameter provided"})
    );
    let (status, body) = h.get("/api/v1/series?match[]=up{job=", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("parse error"), "{body}");
    let (status, body) = h.get("/api/v1/labels?start=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid parameter \\\"start\\\""), "{body}");
    let (status, body) = h.get("/api/v1/labels", Some("a/b")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid X-Scope-OrgID"), "{body}");

    let corrupt = Request::post("/api/v1/write")
        .header("Content-Encoding", "snappy")
        .body(Body::from(vec![0xff, 0xff, 0xff, 0x01, 0x02]))
        .unwrap();
    let (status, body) = h.send(corrupt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("cannot decode remote write request: snappy"), "{body}");
    let unknown_message = Request::post("/api/v1/write")
        .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request")
        .body(Body::from(vec![0]))
        .unwrap();
    assert_eq!(h.send(unknown_message).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // One invalid series is refused by name; the valid rest of the batch is stored.
    let now = now_ms();
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "good")], &[(now, 1.0)]), series(&[("job", "nameless")], &[(now, 1.0)])],
        metadata: vec![],
    };
    let (status, body) = h.remote_write(&request, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("{job=\"nameless\"}"), "{body}");
    assert_eq!(h.get_json("/api/v1/series?match[]=good", None).await["data"].as_array().unwrap().len(), 1);
    let (_, metrics) = h.get("/metrics", None).await;
    assert!(
        metrics.contains("oxeye_rejected_samples_total{tenant=\"default\",reason=\"missing_metric_name\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn limits_answer_400_or_429_and_keep_the_rest() {
    let h = harness_with(|options| {
        options.default_limits.max_active_series = 2;
        options.default_limits.max_labels_per_series = 3;
    });
    let now = now_ms();
    let request = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "a")], &[(now, 1.0)]),
            series(&[("__name__", "b"), ("x", "1"), ("y", "2"), ("z", "3")], &[(now, 1.0)]),
        ],
        metadata: vec![],
    };
    let (status, body) = h.remote_write(&request, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("has 4 labels, the limit is 3"), "{body}");
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "c")], &[(now, 1.0)]), series(&[("__name__", "d")], &[(now, 1.0)])],
        metadata: vec![],
    };
    let (status, body) = h.remote_write(&request, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("series limit of 2") && body.contains("d{}"), "{body}");
    let names = h.get_json("/api/v1/label/__name__/values", None).await;
    assert_eq!(names["data"], serde_json::json!(["a", "c"]));
}

#[tokio::test]
async fn tenants_are_isolated_on_every_read_endpoint() {
    let h = harness();
    let now = now_ms();
    let request = WriteRequest {
        timeseries: vec![series(&[("__name__", "secret"), ("team", "a")], &[(now, 1.0)])],
        metadata: vec![MetricMetadata {
            r#type: 2,
            metric_family_name: "secret".into(),
            help: "h".into(),
            unit: "".into(),
        }],
    };
    assert_eq!(h.remote_write(&request, Some("team-a")).await.0, StatusCode::NO_CONTENT);
    for tenant in [Some("team-b"), None] {
        for uri in [
            "/api/v1/series?match[]=secret",
            "/api/v1/labels",
            "/api/v1/label/team/values",
            "/api/v1/label/__name__/values",
        ] {
            let body = h.get_json(uri, tenant).await;
            assert_eq!(body["data"], serde_json::json!([]), "{uri} as {tenant:?}");
        }
        assert_eq!(h.get_json("/api/v1/metadata", tenant).await["data"], serde_json::json!({}));
        assert_eq!(h.get("/api/v1/export?match[]=secret", tenant).await.1, "");
    }
    assert_eq!(h.get_json("/api/v1/label/team/values", Some("team-a")).await["data"], serde_json::json!(["a"]));
}

#[tokio::test]
async fn otlp_conformance_file_is_stored_with_every_point() {
    // The file's timestamps are from 2018: accept them.
    let h = harness_with(|options| options.default_limits.retention = Duration::from_secs(100 * 365 * 86_400));
    let body =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/conformance/otlp/metrics.json")).unwrap();
    let request =
        Request::post("/v1/metrics").header("Content-Type", "application/json").body(Body::from(body)).unwrap();
    let (status, response) = h.send(request).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    let response: Value = serde_json::from_str(&response).unwrap();
    // Only the exponential histogram is refused.
    assert_eq!(response["partialSuccess"]["rejectedDataPoints"], serde_json::json!(1), "{response}");
    let (_, export) = h.get("/api/v1/export?match[]={job=\"my.service\"}", None).await;
    let mut found: Vec<(String, Value, Value)> = export
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            (
                value["metric"]["__name__"].as_str().unwrap().to_string(),
                value["values"].clone(),
                value["timestamps"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "my_counter_total",
            "my_gauge_ratio",
            "my_histogram_bucket",
            "my_histogram_bucket",
            "my_histogram_count",
            "my_histogram_sum"
        ]
    );
    let counter = &found[0];
    assert_eq!(counter.1, serde_json::json!([5]));
    assert_eq!(counter.2, serde_json::json!([1_544_712_660_300i64]));
    assert_eq!(found[1].1, serde_json::json!([10]));
    assert_eq!(found[4].1, serde_json::json!([2]));
    assert_eq!(found[5].1, serde_json::json!([2]));
}

#[tokio::test]
async fn otlp_protobuf_gzip_and_garbage() {
    use flate2::write::GzEncoder;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
    };
    use std::io::Write;
    let h = harness();
    let now_ns = (now_ms() as u64) * 1_000_000;
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "temperature".into(),
                    unit: "Cel".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: now_ns,
                            value: Some(number_data_point::Value::AsDouble(21.5)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&request.encode_to_vec()).unwrap();
    let post = Request::post("/api/v1/otlp/v1/metrics")
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "gzip")
        .header("X-Scope-OrgID", "otel")
        .body(Body::from(gz.finish().unwrap()))
        .unwrap();
    let (status, _) = h.send(post).await;
    assert_eq!(status, StatusCode::OK);
    let names = h.get_json("/api/v1/label/__name__/values", Some("otel")).await;
    assert_eq!(names["data"], serde_json::json!(["temperature_celsius"]));

    let garbage = Request::post("/v1/metrics")
        .header("Content-Type", "application/x-protobuf")
        .body(Body::from(vec![0xff; 16]))
        .unwrap();
    let response = h.app.clone().oneshot(garbage).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    #[derive(Clone, PartialEq, prost::Message)]
    struct Status {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    let status = Status::decode(bytes.as_ref()).unwrap();
    assert_eq!(status.code, 3);
    assert!(status.message.contains("cannot decode OTLP metrics request"), "{}", status.message);
    let wrong_type = Request::post("/v1/metrics").header("Content-Type", "text/plain").body(Body::from("x")).unwrap();
    assert_eq!(h.send(wrong_type).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn import_reports_bad_lines_and_keeps_good_ones_and_flush_writes_blocks() {
    let h = harness();
    let body = "# TYPE temp gauge\ntemp{room=\"a\"} 20\nthis is not a sample\ntemp{room=\"b\"} 21\n";
    let request = Request::post("/api/v1/import/prometheus").body(Body::from(body)).unwrap();
    let (status, response) = h.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(response.contains("line 3"), "{response}");
    assert_eq!(h.get_json("/api/v1/label/room/values", None).await["data"], serde_json::json!(["a", "b"]));
    let (status, _) = h.send(Request::post("/api/v1/admin/flush").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let db = h.state.store.existing_tenant(&oxeye_model::TenantId::default_tenant()).unwrap();
    assert_eq!(db.block_summary().0, 1);
    assert_eq!(db.head_series(), 0);
    assert_eq!(
        h.get_json("/api/v1/label/room/values", None).await["data"],
        serde_json::json!(["a", "b"]),
        "read from the block"
    );
    assert_eq!(h.get("/ready", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_in_flight_write_budget_answers_429_when_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MetricsStore::open(StoreOptions::new(dir.path())).unwrap());
    let config = ApiConfig { max_inflight_write_bytes: 64 << 10, ..ApiConfig::default() };
    let state = ApiState::new(
        store.clone(),
        open_logs(dir.path()),
        open_traces(dir.path(), store),
        crate::loki::TailHub::new(),
        config,
    );
    let held = state.reserve_write(6 << 10).expect("48 KiB of 64 KiB");
    assert!(state.reserve_write(4 << 10).is_none(), "32 KiB more does not fit");
    let app = router(state.clone());
    let request = Request::post("/api/v1/import/prometheus").body(Body::from(vec![b'#'; 4 << 10])).unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    drop(held);
    assert!(state.reserve_write(4 << 10).is_some(), "released when the permit is dropped");
}

#[tokio::test]
async fn remote_write_2_is_stored_and_answers_with_written_counts() {
    use oxeye_ingest::remote_write::{ExemplarV2, MetadataV2, RequestV2, TimeSeriesV2, encode_write_request_v2};
    let h = harness();
    let now = now_ms();
    let symbols = ["", "__name__", "jobs_total", "job", "batch", "Jobs run.", "trace_id", "t1"];
    let request = RequestV2 {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![TimeSeriesV2 {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![Sample { value: 7.0, timestamp: now }],
            exemplars: vec![ExemplarV2 { labels_refs: vec![6, 7], value: 1.0, timestamp: now }],
            metadata: Some(MetadataV2 { r#type: 1, help_ref: 5, unit_ref: 0 }),
            ..Default::default()
        }],
    };
    let post = Request::post("/api/v1/write")
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(Body::from(encode_write_request_v2(&request)))
        .unwrap();
    let response = h.app.clone().oneshot(post).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["x-prometheus-remote-write-samples-written"], "1");
    assert_eq!(response.headers()["x-prometheus-remote-write-exemplars-written"], "1");
    let series = h.get_json("/api/v1/series?match[]=jobs_total", None).await;
    assert_eq!(series["data"], serde_json::json!([{"__name__": "jobs_total", "job": "batch"}]));
    let metadata = h.get_json("/api/v1/metadata?metric=jobs_total", None).await;
    assert_eq!(metadata["data"]["jobs_total"][0]["help"], "Jobs run.");
}
