//! Span ingest, the Tempo API and the Jaeger API through the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use prost::Message;
use serde_json::{Value, json};

use crate::tests::{Harness, harness};

const TRACE_A: &str = "0102030405060708090a0b0c0d0e0f10";
const TRACE_B: &str = "00000000000000000000000000000abc";

fn now_ns() -> u64 {
    oxeye_traces_store::now_ns() as u64
}

fn kv(key: &str, value: Value) -> Value {
    json!({ "key": key, "value": value })
}

/// Trace A: frontend `GET /checkout` (server) → checkout `POST /pay` (client → server, error with an exception).
/// Trace B: one `GET /health` span of frontend.
fn export_body(start: u64) -> Value {
    let span = |trace: &str, id: &str, parent: &str, name: &str, kind: u8, offset_ms: u64, ms: u64| {
        json!({
            "traceId": trace, "spanId": id, "parentSpanId": parent, "name": name, "kind": kind,
            "startTimeUnixNano": (start + offset_ms * 1_000_000).to_string(),
            "endTimeUnixNano": (start + (offset_ms + ms) * 1_000_000).to_string(),
            "attributes": [kv("http.status_code", json!({"intValue": "200"})), kv("http.method", json!({"stringValue": "GET"}))],
        })
    };
    let mut failing = span(TRACE_A, "00000000000000c3", "00000000000000c2", "POST /pay", 2, 20, 100);
    failing["status"] = json!({"code": 2, "message": "card declined"});
    failing["events"] = json!([{"timeUnixNano": (start + 50_000_000).to_string(), "name": "exception",
        "attributes": [kv("exception.type", json!({"stringValue": "CardError"})), kv("exception.message", json!({"stringValue": "card declined"}))]}]);
    json!({"resourceSpans": [
        {"resource": {"attributes": [kv("service.name", json!({"stringValue": "frontend"})), kv("host.name", json!({"stringValue": "web-1"}))]},
         "scopeSpans": [{"scope": {"name": "shop.http", "version": "1.2"}, "spans": [
            span(TRACE_A, "00000000000000c1", "", "GET /checkout", 2, 0, 300),
            span(TRACE_A, "00000000000000c2", "00000000000000c1", "POST /pay", 3, 10, 150),
            span(TRACE_B, "00000000000000d1", "", "GET /health", 2, 500, 1),
         ]}]},
        {"resource": {"attributes": [kv("service.name", json!({"stringValue": "checkout"}))]},
         "scopeSpans": [{"scope": {"name": "shop.http"}, "spans": [failing]}]},
    ]})
}

async fn post(
    harness: &Harness,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    tenant: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::post(path).header("content-type", content_type);
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    harness.send(request.body(Body::from(body)).unwrap()).await
}

async fn ingest(harness: &Harness, tenant: Option<&str>) -> u64 {
    let start = now_ns() - 60_000_000_000;
    let (status, body) =
        post(harness, "/v1/traces", "application/json", export_body(start).to_string().into_bytes(), tenant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({}));
    start
}

fn base64_id(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn traces_by_id_in_tempo_json_and_protobuf() {
    let harness = harness();
    let start = ingest(&harness, None).await;

    let v1 = harness.get_json(&format!("/api/traces/{TRACE_A}"), None).await;
    let batches = v1["batches"].as_array().expect("v1 answers with batches");
    assert_eq!(batches.len(), 2, "{v1}");
    let frontend =
        batches.iter().find(|b| b["resource"]["attributes"][0]["value"]["stringValue"] == "frontend").unwrap();
    assert_eq!(frontend["scopeSpans"][0]["scope"], json!({"name": "shop.http", "version": "1.2"}));
    let spans = frontend["scopeSpans"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|s| s["name"] == "GET /checkout").unwrap();
    assert_eq!(root["traceId"], base64_id(TRACE_A), "ids are base64 as Tempo's jsonpb writes them");
    assert_eq!(root["spanId"], base64_id("00000000000000c1"));
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(root["kind"], "SPAN_KIND_SERVER");
    assert_eq!(root["startTimeUnixNano"], start.to_string());
    assert_eq!(root["attributes"][0], kv("http.status_code", json!({"intValue": "200"})));
    let checkout =
        batches.iter().find(|b| b["resource"]["attributes"][0]["value"]["stringValue"] == "checkout").unwrap();
    let failing = &checkout["scopeSpans"][0]["spans"][0];
    assert_eq!(failing["status"], json!({"code": "STATUS_CODE_ERROR", "message": "card declined"}));
    assert_eq!(failing["events"][0]["name"], "exception");
    assert_eq!(failing["events"][0]["attributes"][1]["value"]["stringValue"], "card declined");

    let v2 = harness.get_json(&format!("/api/v2/traces/{TRACE_A}"), None).await;
    assert_eq!(v2["trace"]["resourceSpans"].as_array().unwrap().len(), 2);
    assert!(v2.get("status").is_none(), "a complete trace has no status");

    // Protobuf, as Grafana asks for it: Tempo's `Trace` is wire-compatible with OTLP's `TracesData`.
    let request = Request::get(format!("/api/traces/{TRACE_A}")).header("accept", "application/protobuf");
    let response = harness.send_raw(request.body(Body::empty()).unwrap()).await;
    assert_eq!(response.0, StatusCode::OK);
    let decoded = opentelemetry_proto::tonic::trace::v1::TracesData::decode(response.1.as_slice()).unwrap();
    let span_count: usize = decoded.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
    assert_eq!(span_count, 3);

    // A 64-bit id is left-padded; unknown ids are 404 with no body; malformed ones 400 in plain text.
    let short = harness.get_json("/api/traces/abc", None).await;
    assert_eq!(short["batches"][0]["scopeSpans"][0]["spans"][0]["name"], "GET /health");
    let (status, body) = harness.get("/api/traces/ffff", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, ""));
    let (status, body) = harness.get("/api/v2/traces/not-hex", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid trace id"), "{body}");
    // Other tenants see nothing.
    let (status, _) = harness.get(&format!("/api/traces/{TRACE_A}"), Some("other")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn traceql_and_tag_search() {
    let harness = harness();
    ingest(&harness, None).await;

    let found = harness.get_json("/api/search?q={ status = error }", None).await;
    let traces = found["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1, "{found}");
    assert_eq!(traces[0]["traceID"], TRACE_A.trim_start_matches('0'));
    assert_eq!(traces[0]["rootServiceName"], "frontend");
    assert_eq!(traces[0]["rootTraceName"], "GET /checkout");
    assert_eq!(traces[0]["durationMs"], 300);
    let spanset = &traces[0]["spanSets"][0];
    assert_eq!(spanset["matched"], 1);
    assert_eq!(spanset["spans"][0]["spanID"], "00000000000000c3");
    assert_eq!(spanset["spans"][0]["durationNanos"], "100000000");
    assert_eq!(traces[0]["spanSet"], *spanset);
    assert_eq!(traces[0]["serviceStats"]["checkout"], json!({"spanCount": 1, "errorCount": 1}));
    assert_eq!(traces[0]["serviceStats"]["frontend"], json!({"spanCount": 2}));

    // Structural and pipeline queries reach the engine unchanged.
    let child =
        harness.get_json("/api/search?q={ resource.service.name = \"frontend\" } %3E { status = error }", None).await;
    assert_eq!(child["traces"].as_array().unwrap().len(), 1);
    let by = harness.get_json("/api/search?q={ } %7C by(resource.service.name)", None).await;
    assert_eq!(by["traces"].as_array().unwrap().len(), 2);

    // Empty query, limit, duration filters, legacy tags.
    let all = harness.get_json("/api/search", None).await;
    assert_eq!(all["traces"].as_array().unwrap().len(), 2);
    let one = harness.get_json("/api/search?limit=1", None).await;
    assert_eq!(one["traces"].as_array().unwrap().len(), 1);
    let slow = harness.get_json("/api/search?minDuration=200ms", None).await;
    assert_eq!(slow["traces"].as_array().unwrap().len(), 1);
    let fast = harness.get_json("/api/search?maxDuration=10ms", None).await;
    assert_eq!(fast["traces"][0]["rootTraceName"], "GET /health");
    let tagged = harness.get_json("/api/search?tags=service.name%3Dcheckout", None).await;
    assert_eq!(tagged["traces"].as_array().unwrap().len(), 1);
    let (status, body) = harness.get("/api/search?q={ status = }", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with("invalid TraceQL query"), "{body}");
    let (status, _) = harness.get("/api/search?minDuration=fast", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let other = harness.get_json("/api/search", Some("other")).await;
    assert_eq!(other["traces"], json!([]));

    let tags = harness.get_json("/api/search/tags", None).await;
    let names: Vec<&str> = tags["tagNames"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        names.contains(&"http.method") && names.contains(&"service.name") && names.contains(&"host.name"),
        "{tags}"
    );
    let v2 = harness.get_json("/api/v2/search/tags?scope=resource", None).await;
    assert_eq!(v2["scopes"][0]["name"], "resource");
    assert!(v2["scopes"][0]["tags"].as_array().unwrap().contains(&json!("host.name")));
    assert_eq!(v2["scopes"].as_array().unwrap().len(), 1);
    let services = harness.get_json("/api/v2/search/tag/resource.service.name/values", None).await;
    let mut values: Vec<Value> = services["tagValues"].as_array().unwrap().clone();
    values.sort_by_key(|v| v["value"].as_str().unwrap().to_string());
    assert_eq!(
        values,
        vec![json!({"type": "string", "value": "checkout"}), json!({"type": "string", "value": "frontend"})]
    );
    let codes = harness.get_json("/api/v2/search/tag/span.http.status_code/values", None).await;
    assert_eq!(codes["tagValues"], json!([{"type": "int", "value": "200"}]));
    let status = harness.get_json("/api/v2/search/tag/status/values", None).await;
    assert!(status["tagValues"].as_array().unwrap().contains(&json!({"type": "keyword", "value": "error"})));
    let names = harness.get_json("/api/v2/search/tag/name/values", None).await;
    assert!(names["tagValues"].as_array().unwrap().contains(&json!({"type": "string", "value": "POST /pay"})));
    let v1_values = harness.get_json("/api/search/tag/http.method/values", None).await;
    assert_eq!(v1_values, json!({"tagValues": ["GET"]}));
    let other = harness.get_json("/api/search/tag/http.method/values", Some("other")).await;
    assert_eq!(other, json!({"tagValues": []}));
}

#[tokio::test]
async fn jaeger_api_answers_in_jaeger_shapes() {
    let harness = harness();
    ingest(&harness, None).await;
    let services = harness.get_json("/jaeger/api/services", None).await;
    assert_eq!(
        services,
        json!({"data": ["checkout", "frontend"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let operations = harness.get_json("/jaeger/api/services/frontend/operations", None).await;
    assert_eq!(operations["data"], json!(["GET /checkout", "GET /health", "POST /pay"]));
    let kinds = harness.get_json("/jaeger/api/operations?service=frontend&spanKind=client", None).await;
    assert_eq!(kinds["data"], json!([{"name": "POST /pay", "spanKind": "client"}]));

    let found = harness.get_json("/jaeger/api/traces?service=checkout&tags=%7B%22error%22%3A%22true%22%7D", None).await;
    assert_eq!(found["total"], 1, "{found}");
    let trace = &found["data"][0];
    assert_eq!(trace["traceID"], TRACE_A);
    assert_eq!(trace["spans"].as_array().unwrap().len(), 3, "whole traces are returned");
    let failing = trace["spans"].as_array().unwrap().iter().find(|s| s["spanID"] == "00000000000000c3").unwrap();
    assert_eq!(failing["operationName"], "POST /pay");
    assert_eq!(
        failing["references"][0],
        json!({"refType": "CHILD_OF", "traceID": TRACE_A, "spanID": "00000000000000c2"})
    );
    assert_eq!(failing["duration"], 100_000);
    let tags = failing["tags"].as_array().unwrap();
    assert!(tags.contains(&json!({"key": "error", "type": "bool", "value": true})));
    assert!(tags.contains(&json!({"key": "span.kind", "type": "string", "value": "server"})));
    assert!(tags.contains(&json!({"key": "http.status_code", "type": "int64", "value": 200})));
    assert_eq!(failing["logs"][0]["fields"][0], json!({"key": "event", "type": "string", "value": "exception"}));
    let process = &trace["processes"][failing["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "checkout");

    let slow_only = harness.get_json("/jaeger/api/traces?service=frontend&minDuration=200ms", None).await;
    assert_eq!(slow_only["total"], 1);
    let by_id = harness.get_json(&format!("/jaeger/api/traces/{TRACE_B}"), None).await;
    assert_eq!(by_id["data"][0]["traceID"], "0000000000000abc");
    let (status, body) = harness.get("/jaeger/api/traces/ffff", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["errors"][0],
        json!({"code": 404, "msg": "trace not found"})
    );
    let (status, body) = harness.get("/jaeger/api/traces", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("parameter 'service' is required"), "{body}");
    let other = harness.get_json("/jaeger/api/services", Some("other")).await;
    assert_eq!(other["data"], json!([]));

    // Dependencies come from the service-graph series, written at a flush.
    let (status, _) = harness.send(Request::post("/api/v1/admin/flush").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let now_ms = now_ns() / 1_000_000 + 60_000;
    let dependencies =
        harness.get_json(&format!("/jaeger/api/dependencies?endTs={now_ms}&lookback=3600000"), None).await;
    assert_eq!(
        dependencies["data"],
        json!([{"parent": "frontend", "child": "checkout", "callCount": 1}]),
        "{dependencies}"
    );
    let (status, _) = harness.get("/jaeger/api/dependencies?lookback=soon", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ingest_refusals_zipkin_and_span_metrics() {
    let harness = harness();
    // A span with an all-zero trace id is refused and reported; the rest is stored.
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "00000000000000000000000000000000", "spanId": "0000000000000001", "name": "bad"},
        {"traceId": TRACE_B, "spanId": "0000000000000002", "name": "good", "startTimeUnixNano": now_ns().to_string(), "endTimeUnixNano": now_ns().to_string()},
    ]}]}]});
    let (status, text) = post(&harness, "/v1/traces", "application/json", body.to_string().into_bytes(), None).await;
    assert_eq!(status, StatusCode::OK);
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(response["partialSuccess"]["rejectedSpans"], 1, "{text}");
    assert!(response["partialSuccess"]["errorMessage"].as_str().unwrap().contains("all-zero trace id"), "{text}");
    let (status, text) = post(&harness, "/v1/traces", "application/x-protobuf", b"\xff\xff".to_vec(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    let zipkin = json!([{"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312", "name": "get /z",
        "kind": "SERVER", "timestamp": now_ns() / 1000, "duration": 1500, "localEndpoint": {"serviceName": "zsvc"}}]);
    let (status, text) =
        post(&harness, "/api/v2/spans", "application/json", zipkin.to_string().into_bytes(), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let trace = harness.get_json("/api/v2/traces/463ac35c9f6413ad48485a3953bb6124", None).await;
    assert_eq!(trace["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "get /z");
    let (status, _) = post(&harness, "/api/v2/spans", "application/json", b"{\"no\":1}".to_vec(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Span metrics are written at a flush and queried with PromQL like any series.
    ingest(&harness, None).await;
    let (status, _) = harness.send(Request::post("/api/v1/admin/flush").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let result = harness.get_json("/api/v1/query?query=sum(traces_spanmetrics_calls_total)", None).await;
    assert_eq!(result["data"]["result"][0]["value"][1], "6", "2 + 4 spans accepted: {result}");
    let errors = harness
        .get_json("/api/v1/query?query=traces_spanmetrics_calls_total{status_code=\"STATUS_CODE_ERROR\"}", None)
        .await;
    assert_eq!(errors["data"]["result"][0]["metric"]["service"], "checkout");
    let graph = harness.get_json("/api/v1/query?query=traces_service_graph_request_total", None).await;
    let edge = &graph["data"]["result"][0];
    assert_eq!(
        (edge["metric"]["client"].as_str(), edge["metric"]["server"].as_str()),
        (Some("frontend"), Some("checkout"))
    );
    // The trace store is flushed to a block and still answers.
    let after_flush = harness.get_json(&format!("/api/traces/{TRACE_A}"), None).await;
    assert_eq!(after_flush["batches"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn traceql_metrics_over_stored_spans() {
    let harness = harness();
    let start = ingest(&harness, None).await;
    let from = start / 1_000_000_000 - 60;
    let to = start / 1_000_000_000 + 60;
    let uri = format!(
        "/api/metrics/query_range?q={{ }} %7C count_over_time() by (resource.service.name)&start={from}&end={to}&step=120s"
    );
    let result = harness.get_json(&uri, None).await;
    let mut counts: Vec<(String, f64)> = result["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|series| {
            let service = series["labels"][0]["value"]["stringValue"].as_str().unwrap().to_string();
            let total: f64 = series["samples"].as_array().unwrap().iter().map(|s| s["value"].as_f64().unwrap()).sum();
            (service, total)
        })
        .collect();
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(counts, vec![("checkout".to_string(), 1.0), ("frontend".to_string(), 3.0)], "{result}");
    assert_eq!(result["series"][0]["labels"][0]["key"], "resource.service.name");

    let instant = harness
        .get_json(
            &format!("/api/metrics/query?q={{ status = error }} %7C count_over_time()&start={from}&end={to}"),
            None,
        )
        .await;
    assert_eq!(instant["series"][0]["value"], 1.0, "{instant}");
    let (status, body) = harness.get("/api/metrics/query_range?q={ }", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("not a metrics query"), "{body}");
}

#[tokio::test]
async fn span_metric_exemplars_point_at_traces() {
    let harness = harness();
    let start = ingest(&harness, None).await;
    let (status, _) = harness.send(Request::post("/api/v1/admin/flush").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let from = start / 1_000_000_000 - 3600;
    let to = now_ns() / 1_000_000_000 + 60;
    let exemplars = harness
        .get_json(
            &format!("/api/v1/query_exemplars?query=traces_spanmetrics_latency_bucket&start={from}&end={to}"),
            None,
        )
        .await;
    let trace_ids: Vec<&str> = exemplars["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| series["exemplars"].as_array().unwrap().iter())
        .map(|exemplar| exemplar["labels"]["traceID"].as_str().unwrap())
        .collect();
    assert!(trace_ids.contains(&TRACE_A), "{exemplars}");
}

#[tokio::test]
async fn searches_past_the_timeout_are_answered_504() {
    let mut config = crate::ApiConfig::default();
    config.traceql.timeout = std::time::Duration::ZERO;
    let harness = crate::tests::harness_with_config(|_| {}, config);
    ingest(&harness, None).await;
    std::thread::sleep(std::time::Duration::from_millis(2));
    let (status, body) = harness.get("/api/search?q={ }", None).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(body.contains("timeout"), "{body}");
    let (status, _) = harness.get("/api/metrics/query_range?q={ } %7C rate()", None).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
}
