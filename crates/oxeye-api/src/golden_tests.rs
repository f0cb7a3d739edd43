//! Golden tests: exact response bodies, byte for byte, of every endpoint Grafana's Prometheus data source calls
//! (query, query_range, query_exemplars, labels, label values, series, metadata, buildinfo, rules) and of the other
//! Prometheus status endpoints, for a known data set written through the real remote-write path.
//!
//! The expected bodies are what Prometheus 3 answers for the same data.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use oxeye_ingest::remote_write::{Exemplar, MetricMetadata, WriteRequest};
use serde_json::Value;

use crate::tests::{Harness, harness_with_config, label, series};
use crate::{ApiConfig, BuildInfo};

/// The evaluation time of the data set: 2023-11-14T23:00:00Z, in seconds. Samples run from `T - 3600` to `T`
/// every 20 s, all inside one 2 h block range, so the head holds one chunk per series.
const T: i64 = 1_700_002_800;
const STEP_SECONDS: i64 = 20;

fn golden_config() -> ApiConfig {
    ApiConfig {
        build_info: BuildInfo {
            version: "0.1.0".into(),
            revision: "0123abcd".into(),
            branch: "main".into(),
            build_user: "ci@builder".into(),
            build_date: "20231114-23:00:00".into(),
            go_version: "rustc 1.95.0".into(),
        },
        ..ApiConfig::default()
    }
}

/// A store that accepts the data set's 2023 timestamps.
fn golden_harness(config: ApiConfig) -> Harness {
    harness_with_config(|options| options.default_limits.retention = Duration::from_secs(100 * 365 * 86_400), config)
}

/// Three `http_requests_total` counters rising by 1, 2 and 0.5 per second (so `rate` over 5 m is exactly 1, 2 and
/// 0.5 at every 20 s-aligned time), two `up` gauges, metadata for both, one exemplar.
async fn write_data_set(h: &Harness) {
    let counter = |instance: &str, job: &str, code: &str, per_second: f64| {
        let samples: Vec<(i64, f64)> = (0..=3600 / STEP_SECONDS)
            .map(|i| ((T - 3600 + i * STEP_SECONDS) * 1000, per_second * (i * STEP_SECONDS) as f64))
            .collect();
        series(&[("__name__", "http_requests_total"), ("code", code), ("instance", instance), ("job", job)], &samples)
    };
    let gauge = |instance: &str, job: &str, value: f64| {
        let samples: Vec<(i64, f64)> =
            (0..=3600 / STEP_SECONDS).map(|i| ((T - 3600 + i * STEP_SECONDS) * 1000, value)).collect();
        series(&[("__name__", "up"), ("instance", instance), ("job", job)], &samples)
    };
    let mut with_exemplar = counter("a:1", "api", "200", 1.0);
    with_exemplar.exemplars.push(Exemplar {
        labels: vec![label("trace_id", "abc123")],
        value: 1.5,
        timestamp: (T - 10) * 1000,
    });
    let request = WriteRequest {
        timeseries: vec![
            with_exemplar,
            counter("b:1", "api", "200", 2.0),
            counter("c:1", "db", "500", 0.5),
            gauge("a:1", "api", 1.0),
            gauge("c:1", "db", 0.0),
        ],
        metadata: vec![
            MetricMetadata {
                r#type: 1,
                metric_family_name: "http_requests_total".into(),
                help: "Requests handled.".into(),
                unit: "".into(),
            },
            MetricMetadata {
                r#type: 2,
                metric_family_name: "up".into(),
                help: "Whether the target is up.".into(),
                unit: "".into(),
            },
        ],
    };
    let (status, body) = h.remote_write(&request, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn data_set() -> Harness {
    let h = golden_harness(golden_config());
    write_data_set(&h).await;
    h
}

impl Harness {
    /// Asserts a GET answers `status` with exactly `body` and Prometheus's content type.
    async fn expect(&self, uri: &str, status: StatusCode, body: &str) {
        let uri = uri.replace('{', "%7B").replace('}', "%7D").replace('"', "%22").replace(' ', "%20");
        let (got_status, content_type, got_body) = oneshot_get(self.app.clone(), &uri).await;
        assert_eq!(got_body, body, "{uri}");
        assert_eq!(got_status, status, "{uri}: {got_body}");
        if !got_body.is_empty() {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{uri}");
        }
    }

    /// Asserts a form-encoded POST answers `status` with exactly `body`.
    async fn expect_post(&self, path: &str, form: &str, status: StatusCode, body: &str) {
        let request = Request::post(path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        let (got_status, got_body) = self.send(request).await;
        assert_eq!(got_body, body, "{path} {form}");
        assert_eq!(got_status, status, "{path} {form}");
    }
}

/// A GET through the router: status, content type and body.
async fn oneshot_get(app: axum::Router, uri: &str) -> (StatusCode, Option<String>, String) {
    use tower::ServiceExt;
    let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, content_type, String::from_utf8_lossy(&bytes).to_string())
}

fn bad_data(message: &str) -> String {
    let mut body = String::new();
    crate::prom_json::write_str(&mut body, message);
    format!(r#"{{"status":"error","errorType":"bad_data","error":{body}}}"#)
}

// ---- Metadata endpoints (Grafana's metric browser and autocomplete) ----

#[tokio::test]
async fn grafana_metadata_endpoints() {
    let h = data_set().await;
    let ok = StatusCode::OK;
    let range = format!("start={}&end={}", T - 3600, T);
    h.expect(
        &format!("/api/v1/labels?{range}"),
        ok,
        r#"{"status":"success","data":["__name__","code","instance","job"]}"#,
    )
    .await;
    h.expect_post(
        "/api/v1/labels",
        &format!("match%5B%5D=up&{range}"),
        ok,
        r#"{"status":"success","data":["__name__","instance","job"]}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/label/__name__/values?{range}&limit=40000"),
        ok,
        r#"{"status":"success","data":["http_requests_total","up"]}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/label/instance/values?match[]=http_requests_total{{job=\"api\"}}&{range}"),
        ok,
        r#"{"status":"success","data":["a:1","b:1"]}"#,
    )
    .await;
    h.expect_post(
        "/api/v1/series",
        &format!("match%5B%5D=up&{range}&limit=40000"),
        ok,
        r#"{"status":"success","data":[{"__name__":"up","instance":"a:1","job":"api"},{"__name__":"up","instance":"c:1","job":"db"}]}"#,
    )
    .await;
    h.expect(
        "/api/v1/series?match[]=up&limit=1",
        ok,
        r#"{"status":"success","data":[{"__name__":"up","instance":"a:1","job":"api"}],"warnings":["results truncated due to limit"]}"#,
    )
    .await;
    h.expect(
        "/api/v1/metadata",
        ok,
        r#"{"status":"success","data":{"http_requests_total":[{"type":"counter","help":"Requests handled.","unit":""}],"up":[{"type":"gauge","help":"Whether the target is up.","unit":""}]}}"#,
    )
    .await;
    h.expect(
        "/api/v1/metadata?metric=up&limit=10",
        ok,
        r#"{"status":"success","data":{"up":[{"type":"gauge","help":"Whether the target is up.","unit":""}]}}"#,
    )
    .await;
    h.expect("/api/v1/metadata?limit=0", ok, r#"{"status":"success","data":{}}"#).await;
    h.expect("/api/v1/metadata?limit=x", StatusCode::BAD_REQUEST, &bad_data("limit must be a number")).await;
    h.expect(
        "/api/v1/labels?start=yesterday",
        StatusCode::BAD_REQUEST,
        &bad_data("invalid parameter \"start\": invalid time value for 'start': cannot parse \"yesterday\" to a valid timestamp"),
    )
    .await;
    h.expect(
        "/api/v1/series?match[]=up&limit=x",
        StatusCode::BAD_REQUEST,
        &bad_data("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"),
    )
    .await;
}

// ---- Status endpoints ----

#[tokio::test]
async fn buildinfo_reports_oxeye_in_prometheus_fields() {
    let h = data_set().await;
    h.expect(
        "/api/v1/status/buildinfo",
        StatusCode::OK,
        r#"{"status":"success","data":{"version":"0.1.0","revision":"0123abcd","branch":"main","buildUser":"ci@builder","buildDate":"20231114-23:00:00","goVersion":"rustc 1.95.0"}}"#,
    )
    .await;
    assert_eq!(BuildInfo::default().version, env!("CARGO_PKG_VERSION"), "oxeye's own version, not Prometheus's");
}

#[tokio::test]
async fn tsdb_status_describes_the_tenants_head() {
    let h = data_set().await;
    h.expect(
        "/api/v1/status/tsdb",
        StatusCode::OK,
        concat!(
            r#"{"status":"success","data":{"headStats":{"numSeries":5,"numLabelPairs":9,"chunkCount":5,"minTime":1699999200000,"maxTime":1700002800000},"#,
            r#""seriesCountByMetricName":[{"name":"http_requests_total","value":3},{"name":"up","value":2}],"#,
            r#""labelValueCountByLabelName":[{"name":"instance","value":3},{"name":"__name__","value":2},{"name":"code","value":2},{"name":"job","value":2}],"#,
            r#""memoryInBytesByLabelName":[{"name":"__name__","value":89},{"name":"instance","value":77},{"name":"job","value":68},{"name":"code","value":46}],"#,
            r#""seriesCountByLabelValuePair":[{"name":"__name__=http_requests_total","value":3},{"name":"job=api","value":3},"#,
            r#"{"name":"__name__=up","value":2},{"name":"code=200","value":2},{"name":"instance=a:1","value":2},{"name":"instance=c:1","value":2},{"name":"job=db","value":2},"#,
            r#"{"name":"code=500","value":1},{"name":"instance=b:1","value":1}]}}"#
        ),
    )
    .await;
    h.expect(
        "/api/v1/status/tsdb?limit=1",
        StatusCode::OK,
        concat!(
            r#"{"status":"success","data":{"headStats":{"numSeries":5,"numLabelPairs":9,"chunkCount":5,"minTime":1699999200000,"maxTime":1700002800000},"#,
            r#""seriesCountByMetricName":[{"name":"http_requests_total","value":3}],"labelValueCountByLabelName":[{"name":"instance","value":3}],"#,
            r#""memoryInBytesByLabelName":[{"name":"__name__","value":89}],"seriesCountByLabelValuePair":[{"name":"__name__=http_requests_total","value":3}]}}"#
        ),
    )
    .await;
    for bad in ["0", "-1", "x"] {
        h.expect(
            &format!("/api/v1/status/tsdb?limit={bad}"),
            StatusCode::BAD_REQUEST,
            &bad_data("limit must be a positive number"),
        )
        .await;
    }
    h.expect("/api/v1/status/tsdb?limit=10001", StatusCode::BAD_REQUEST, &bad_data("limit must not exceed 10000"))
        .await;
    // A tenant that never wrote has an empty head, reported as Prometheus reports one.
    let (status, body) = h.get("/api/v1/status/tsdb", Some("nobody")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        concat!(
            r#"{"status":"success","data":{"headStats":{"numSeries":0,"numLabelPairs":0,"chunkCount":0,"minTime":9223372036854775807,"maxTime":-9223372036854775808},"#,
            r#""seriesCountByMetricName":[],"labelValueCountByLabelName":[],"memoryInBytesByLabelName":[],"seriesCountByLabelValuePair":[]}}"#
        )
    );
}

#[tokio::test]
async fn runtimeinfo_has_prometheus_fields_in_order() {
    let h = data_set().await;
    let (status, body) = h.get("/api/v1/status/runtimeinfo", None).await;
    assert_eq!(status, StatusCode::OK);
    let keys = [
        "startTime",
        "CWD",
        "hostname",
        "serverTime",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOMEMLIMIT",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| body.find(&format!("\"{k}\":")).expect(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["storageRetention"], "100y", "{body}");
    assert_eq!(json["data"]["reloadConfigSuccess"], true);
    assert!(json["data"]["startTime"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn rules_and_alerts_are_empty() {
    let h = data_set().await;
    h.expect("/api/v1/rules", StatusCode::OK, r#"{"status":"success","data":{"groups":[]}}"#).await;
    h.expect("/api/v1/rules?type=alert", StatusCode::OK, r#"{"status":"success","data":{"groups":[]}}"#).await;
    h.expect(
        "/api/v1/rules?type=x",
        StatusCode::BAD_REQUEST,
        &bad_data("invalid parameter \"type\": not supported value \"x\""),
    )
    .await;
    h.expect("/api/v1/alerts", StatusCode::OK, r#"{"status":"success","data":{"alerts":[]}}"#).await;
}

// ---- Exemplars ----

#[tokio::test]
async fn query_exemplars_use_the_selectors_of_the_query() {
    let h = data_set().await;
    let ok = StatusCode::OK;
    let expected = r#"{"status":"success","data":[{"seriesLabels":{"__name__":"http_requests_total","code":"200","instance":"a:1","job":"api"},"exemplars":[{"labels":{"trace_id":"abc123"},"value":"1.5","timestamp":1700002790}]}]}"#;
    h.expect(
        &format!(
            "/api/v1/query_exemplars?query=sum(rate(http_requests_total{{job=\"api\"}}[5m]))&start={}&end={T}",
            T - 600
        ),
        ok,
        expected,
    )
    .await;
    // Grafana's backend POSTs the form; a series matched by two selectors is listed once.
    h.expect_post(
        "/api/v1/query_exemplars",
        &format!(
            "query=http_requests_total%20%2F%20http_requests_total%7Binstance%3D%22a%3A1%22%7D&start={}&end={T}",
            T - 600
        ),
        ok,
        expected,
    )
    .await;
    h.expect(
        &format!("/api/v1/query_exemplars?query=up&start={}&end={T}", T - 600),
        ok,
        r#"{"status":"success","data":[]}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/query_exemplars?query=http_requests_total&start={}", T - 5),
        ok,
        r#"{"status":"success","data":[]}"#,
    )
    .await;
    // No selector: Prometheus answers 204 without a body.
    h.expect("/api/v1/query_exemplars?query=1%2B1", StatusCode::NO_CONTENT, "").await;
    h.expect(
        "/api/v1/query_exemplars?query=up&start=10&end=5",
        StatusCode::BAD_REQUEST,
        &bad_data("end timestamp must not be before start timestamp"),
    )
    .await;
    let (status, body) = h.get("/api/v1/query_exemplars?query=sum(", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.starts_with(r#"{"status":"error","errorType":"bad_data","error":""#), "{body}");
    assert!(!body.contains("invalid parameter"), "Prometheus gives the bare parse error here: {body}");
}

// ---- format_query ----

#[tokio::test]
async fn format_query_pretty_prints() {
    let h = data_set().await;
    h.expect(
        "/api/v1/format_query?query=sum(rate(http_requests_total[5m]))by(job)",
        StatusCode::OK,
        r#"{"status":"success","data":"sum by (job) (rate(http_requests_total[5m]))"}"#,
    )
    .await;
    h.expect_post(
        "/api/v1/format_query",
        "query=foo%7Bbar%3D%22baz%22%7D",
        StatusCode::OK,
        r#"{"status":"success","data":"foo{bar=\"baz\"}"}"#,
    )
    .await;
    let (status, body) = h.get("/api/v1/format_query?query=sum(", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.starts_with(r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#),
        "{body}"
    );
}

// ---- query and query_range: parameter validation (no evaluator needed) ----

#[tokio::test]
async fn query_parameters_are_refused_in_prometheus_words() {
    let h = data_set().await;
    let bad = StatusCode::BAD_REQUEST;
    for (uri, message) in [
        ("/api/v1/query?query=up&limit=-1", "invalid parameter \"limit\": limit must be non-negative"),
        (
            "/api/v1/query?query=up&time=abc",
            "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp",
        ),
        (
            "/api/v1/query?query=up&timeout=abc",
            "invalid parameter \"timeout\": cannot parse \"abc\" to a valid duration",
        ),
        (
            "/api/v1/query?query=up&lookback_delta=5x",
            "error parsing lookback delta duration: cannot parse \"5x\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&end=10&step=1",
            "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=10&step=1",
            "invalid parameter \"end\": cannot parse \"\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=x&end=10&step=1",
            "invalid parameter \"start\": cannot parse \"x\" to a valid timestamp",
        ),
        (
            "/api/v1/query_range?query=up&start=20&end=10&step=1",
            "invalid parameter \"end\": end timestamp must not be before start time",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10",
            "invalid parameter \"step\": cannot parse \"\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=1x",
            "invalid parameter \"step\": cannot parse \"1x\" to a valid duration",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=-15",
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=11001&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/api/v1/query_range?query=up&start=-1e30&end=1e30&step=1",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=86400&step=7s",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=1&limit=x",
            "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=1&timeout=1x",
            "invalid parameter \"timeout\": cannot parse \"1x\" to a valid duration",
        ),
    ] {
        h.expect(uri, bad, &bad_data(message)).await;
    }
    // The same through a form-encoded POST, as Grafana sends it; body values win over the URL's.
    h.expect_post("/api/v1/query_range", "query=up&start=0&end=10&step=0", bad, &bad_data(
        "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
    ))
    .await;
    let request = Request::post("/api/v1/query?time=1")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from("query=up&time=abc"))
        .unwrap();
    let (status, body) = h.send(request).await;
    assert_eq!((status, body.contains("cannot parse \\\"abc\\\"")), (bad, true), "{body}");

    for uri in ["/api/v1/query?query=sum(", "/api/v1/query", "/api/v1/query_range?query=sum(&start=0&end=10&step=1"] {
        let (status, body) = h.get(uri, None).await;
        assert_eq!(status, bad, "{uri}: {body}");
        assert!(
            body.starts_with(r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#),
            "{uri}: {body}"
        );
    }
    // Querying a tenant that never wrote does not create it.
    h.get("/api/v1/query?query=1", Some("nobody")).await;
    assert!(h.state.store.existing_tenant(&oxeye_model::TenantId::new("nobody").unwrap()).is_none());
    // 11,000 points exactly are allowed.
    let (status, body) = h.get("/api/v1/query_range?query=1&start=0&end=11000&step=1", None).await;
    assert_ne!(status, bad, "{body}");
}

#[tokio::test]
async fn a_query_waiting_past_its_timeout_for_a_slot_is_answered_503() {
    let mut config = golden_config();
    config.query.max_concurrency = 1;
    let h = golden_harness(config);
    let held = h.state.query_slots.clone().acquire_owned().await.unwrap();
    let started = std::time::Instant::now();
    h.expect(
        "/api/v1/query?query=1&timeout=200ms",
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"status":"error","errorType":"timeout","error":"query timed out in query queue"}"#,
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    let (_, metrics) = h.get("/metrics", None).await;
    assert!(metrics.contains("oxeye_queries_queued 0\n"), "{metrics}");
    assert!(metrics.contains("oxeye_query_max_concurrency 1\n"), "{metrics}");

    // A query that gets its slot in time runs; the wait counted against its timeout.
    let app = h.app.clone();
    let waiting = tokio::spawn(async move { oneshot_get(app, "/api/v1/query?query=1&timeout=5s").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, metrics) = h.get("/metrics", None).await;
    assert!(metrics.contains("oxeye_queries_queued 1\n"), "{metrics}");
    drop(held);
    let (status, _, body) = waiting.await.unwrap();
    assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (_, metrics) = h.get("/metrics", None).await;
    assert!(
        metrics.contains("oxeye_queries_queued 0\n") && metrics.contains("oxeye_queries_in_flight 0\n"),
        "{metrics}"
    );
}

// ---- query and query_range: results (need the evaluator) ----

#[tokio::test]
async fn instant_query_of_a_selector() {
    let h = data_set().await;
    h.expect(
        &format!("/api/v1/query?query=up&time={T}"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a:1","job":"api"},"value":[1700002800,"1"]},{"metric":{"__name__":"up","instance":"c:1","job":"db"},"value":[1700002800,"0"]}]}}"#,
    )
    .await;
    // A fractional evaluation time keeps its three decimals.
    h.expect(
        &format!("/api/v1/query?query=up{{job=\"db\"}}&time={}.5", T - 1),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"c:1","job":"db"},"value":[1700002799.500,"0"]}]}}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/query?query=up&time={T}&limit=1"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a:1","job":"api"},"value":[1700002800,"1"]}]},"warnings":["results truncated due to limit"]}"#,
    )
    .await;
    // Another tenant sees nothing.
    let (status, body) = h.get(&format!("/api/v1/query?query=up&time={T}"), Some("team-b")).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
    );
    // A range selector at the top of an instant query returns the raw samples.
    h.expect(
        &format!("/api/v1/query?query=up{{job=\"api\"}}[1m]&time={T}"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"a:1","job":"api"},"values":[[1700002760,"1"],[1700002780,"1"],[1700002800,"1"]]}]}}"#,
    )
    .await;
}

#[tokio::test]
async fn instant_query_of_an_aggregated_rate() {
    let h = data_set().await;
    h.expect_post(
        "/api/v1/query",
        &format!("query=sum%20by(job)(rate(http_requests_total%5B5m%5D))&time={T}"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1700002800,"3"]},{"metric":{"job":"db"},"value":[1700002800,"0.5"]}]}}"#,
    )
    .await;
}

#[tokio::test]
async fn instant_query_of_a_scalar_and_a_string() {
    let h = data_set().await;
    h.expect(
        &format!("/api/v1/query?query=1%2B1&time={T}"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1700002800,"2"]}}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/query?query=\"a\"&time={T}"),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"string","result":[1700002800,"a"]}}"#,
    )
    .await;
    // Grafana's "Save & test": `1+1` at t = 4 s, POSTed.
    h.expect_post(
        "/api/v1/query",
        "query=1%2B1&time=4",
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#,
    )
    .await;
}

#[tokio::test]
async fn range_query_of_an_aggregated_rate() {
    let h = data_set().await;
    h.expect_post(
        "/api/v1/query_range",
        &format!("query=sum%20by(job)(rate(http_requests_total%5B5m%5D))&start={}&end={T}&step=30", T - 60),
        StatusCode::OK,
        concat!(
            r#"{"status":"success","data":{"resultType":"matrix","result":["#,
            r#"{"metric":{"job":"api"},"values":[[1700002740,"3"],[1700002770,"3"],[1700002800,"3"]]},"#,
            r#"{"metric":{"job":"db"},"values":[[1700002740,"0.5"],[1700002770,"0.5"],[1700002800,"0.5"]]}]}}"#
        ),
    )
    .await;
    h.expect(
        &format!("/api/v1/query_range?query=up&start={}&end={T}&step=30s&limit=1", T - 60),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"a:1","job":"api"},"values":[[1700002740,"1"],[1700002770,"1"],[1700002800,"1"]]}]},"warnings":["results truncated due to limit"]}"#,
    )
    .await;
    h.expect(
        &format!("/api/v1/query_range?query=1%2B1&start={}&end={T}&step=60", T - 60),
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700002740,"2"],[1700002800,"2"]]}]}}"#,
    )
    .await;
    let (status, body) =
        h.get(&format!("/api/v1/query_range?query=up[5m]&start={}&end={T}&step=30", T - 60), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        bad_data(
            "invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
        )
    );
}

#[tokio::test]
async fn stats_are_added_on_request() {
    let h = data_set().await;
    let json = h.get_json(&format!("/api/v1/query?query=up&time={T}&stats=true"), None).await;
    let stats = &json["data"]["stats"];
    let timings: Vec<&String> = stats["timings"].as_object().unwrap().keys().collect();
    assert_eq!(timings.len(), 6, "{stats}");
    assert!(stats["samples"]["totalQueryableSamples"].as_u64().unwrap() >= 2, "{stats}");
    let json = h.get_json(&format!("/api/v1/query?query=up&time={T}&stats=1"), None).await;
    assert_eq!(
        json["warnings"],
        serde_json::json!([
            "value \"1\" for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\""
        ])
    );
    let (_, metrics) = h.get("/metrics", None).await;
    assert!(metrics.contains("oxeye_query_samples_loaded_total{tenant=\"default\"}"), "{metrics}");
}

#[tokio::test]
async fn too_many_samples_is_an_execution_error() {
    let mut config = golden_config();
    config.query.engine.max_samples = 10;
    let h = golden_harness(config);
    write_data_set(&h).await;
    h.expect(
        &format!("/api/v1/query?query=up[1h]&time={T}"),
        StatusCode::UNPROCESSABLE_ENTITY,
        r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#,
    )
    .await;
}
