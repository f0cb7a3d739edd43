//! Loki endpoints through the router: push (JSON, protobuf, gzip), OTLP logs, Elasticsearch bulk, metadata.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::tests::harness;

fn now_ns() -> i64 {
    oxeye_logs_store::now_ns()
}

async fn push_json(harness: &crate::tests::Harness, body: &Value, tenant: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::post("/loki/api/v1/push").header("content-type", "application/json");
    if let Some(tenant) = tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    harness.send(request.body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn pushed_streams_show_in_labels_series_and_index_stats() {
    let harness = harness();
    let now = now_ns();
    let body = json!({"streams": [
        {"stream": {"app": "api", "env": "prod"}, "values": [[(now - 2_000_000_000).to_string(), "GET /a 200"], [(now - 1_000_000_000).to_string(), "GET /b 500", {"trace_id": "abc"}]]},
        {"stream": {"app": "db", "env": "prod"}, "values": [[now.to_string(), "slow query"]]},
    ]});
    let (status, text) = push_json(&harness, &body, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");

    let labels = harness.get_json("/loki/api/v1/labels", None).await;
    assert_eq!(labels, json!({"status": "success", "data": ["app", "env", "service_name"]}));
    let values = harness.get_json("/loki/api/v1/label/app/values", None).await;
    assert_eq!(values, json!({"status": "success", "data": ["api", "db"]}));
    let values = harness.get_json("/loki/api/v1/label/app/values?query=%7Bapp%3D%22db%22%7D", None).await;
    assert_eq!(values["data"], json!(["db"]));
    let series = harness.get_json("/loki/api/v1/series?match[]=%7Bapp%3D%22api%22%7D", None).await;
    assert_eq!(series, json!({"status": "success", "data": [{"app": "api", "env": "prod", "service_name": "api"}]}));
    let stats = harness.get_json("/loki/api/v1/index/stats?query=%7Benv%3D%22prod%22%7D", None).await;
    assert_eq!(stats["streams"], 2);
    assert_eq!(stats["entries"], 3);
    // Lines and metadata, including the `detected_level="unknown"` Loki's distributor adds to each entry.
    let detected_level = "detected_level".len() + "unknown".len();
    assert_eq!(stats["bytes"], (10 + 10 + 8 + 3 + 10 + 3 * detected_level) as u64);
    let volume = harness.get_json("/loki/api/v1/index/volume?query=%7Bapp%3D~%22.%2B%22%7D", None).await;
    let result = &volume["data"]["result"];
    assert_eq!(result[0]["metric"], json!({"app": "api"}));
    assert_eq!(result[0]["value"][1], (31 + 2 * detected_level).to_string());
    assert_eq!(result[1]["metric"], json!({"app": "db"}));
    // aggregateBy=labels: one group per label name, metric `{name: ""}`, largest first.
    let by_label =
        harness.get_json("/loki/api/v1/index/volume?query=%7Bapp%3D~%22.%2B%22%7D&aggregateBy=labels", None).await;
    let groups: Vec<(Value, String)> = by_label["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["metric"].clone(), r["value"][1].as_str().unwrap().to_string()))
        .collect();
    let all = (31 + 10 + 3 * detected_level).to_string();
    assert_eq!(
        groups,
        [(json!({"app": ""}), all.clone()), (json!({"env": ""}), all.clone()), (json!({"service_name": ""}), all)]
    );
    let (status, _) = harness.get("/loki/api/v1/index/volume?query=%7Bapp%3D%22db%22%7D&aggregateBy=pods", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Another tenant sees nothing.
    let labels = harness.get_json("/loki/api/v1/labels", Some("other")).await;
    assert_eq!(labels, json!({"status": "success"}));
}

#[tokio::test]
async fn refusals_are_plain_text_and_the_rest_is_kept() {
    let harness = harness();
    let now = now_ns();
    let long_line = "x".repeat(300 << 10);
    let body = json!({"streams": [
        {"stream": {"app": "ok"}, "values": [[now.to_string(), "fine"]]},
        {"stream": {"app": "big"}, "values": [[now.to_string(), long_line]]},
        {"stream": {"bad-name": "x"}, "values": [[now.to_string(), "refused"]]},
    ]});
    let (status, text) = push_json(&harness, &body, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("Max entry size '262144' bytes exceeded for stream '{app=\"big\""), "{text}");
    assert!(text.contains("bad-name"), "{text}");
    let values = harness.get_json("/loki/api/v1/label/app/values", None).await;
    assert_eq!(values["data"], json!(["ok"]));

    let (status, text) = harness
        .send(
            Request::post("/loki/api/v1/push")
                .header("content-type", "application/json")
                .body(Body::from("{"))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("cannot decode push request"), "{text}");
}

#[tokio::test]
async fn protobuf_push_and_otlp_http_logs_are_stored() {
    use oxeye_ingest::loki_push::{EntryAdapter, PushRequest, StreamAdapter, Timestamp, encode_protobuf_snappy};
    let harness = harness();
    let now = now_ns();
    let request = PushRequest {
        streams: vec![StreamAdapter {
            labels: r#"{app="proto"}"#.into(),
            entries: vec![EntryAdapter {
                timestamp: Some(Timestamp { seconds: now / 1_000_000_000, nanos: (now % 1_000_000_000) as i32 }),
                line: "from protobuf".into(),
                structured_metadata: vec![],
            }],
            hash: 0,
        }],
    };
    let (status, text) = harness
        .send(
            Request::post("/loki/api/v1/push")
                .header("content-type", "application/x-protobuf")
                .body(Body::from(encode_protobuf_snappy(&request)))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");

    let otlp = json!({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": now.to_string(), "severityText": "ERROR", "body": {"stringValue": "payment failed"},
        "traceId": "5b8efff798038103d269b633813fc60c"}]}]}]});
    let (status, text) = harness
        .send(
            Request::post("/v1/logs")
                .header("content-type", "application/json")
                .body(Body::from(otlp.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let values = harness.get_json("/loki/api/v1/label/service_name/values", None).await;
    assert_eq!(values["data"], json!(["checkout", "proto"]));
}

#[tokio::test]
async fn elasticsearch_bulk_answers_per_document() {
    let harness = harness();
    let body = concat!(
        "{\"create\":{}}\n",
        "{\"_msg\":\"hello\",\"host\":\"h1\",\"level\":\"info\"}\n",
        "{\"create\":{}}\n",
        "[1,2]\n",
    );
    let (status, text) = harness
        .send(
            Request::post("/insert/elasticsearch/_bulk?_stream_fields=host")
                .header("content-type", "application/x-ndjson")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(response["errors"], true);
    assert_eq!(response["items"].as_array().unwrap().len(), 2);
    assert_eq!(response["items"][0]["create"]["status"], 201);
    assert_eq!(response["items"][1]["create"]["status"], 400);
    let values = harness.get_json("/loki/api/v1/label/host/values", None).await;
    assert_eq!(values["data"], json!(["h1"]));
}

#[tokio::test]
async fn log_and_metric_queries_answer_in_lokis_shapes() {
    let harness = harness();
    let base = now_ns() - 60_000_000_000;
    let body = json!({"streams": [
        {"stream": {"app": "api"}, "values": [
            [(base + 1_000_000_000).to_string(), "level=info status=200 path=/a"],
            [(base + 2_000_000_000).to_string(), "level=error status=500 path=/b", {"trace_id": "abc"}],
            [(base + 3_000_000_000).to_string(), "level=info status=200 path=/c"],
        ]},
    ]});
    assert_eq!(push_json(&harness, &body, None).await.0, StatusCode::NO_CONTENT);
    let start = base.to_string();
    let end = (base + 10_000_000_000).to_string();
    let uri = |query: &str, extra: &str| {
        let query: String = url_escape(query);
        format!("/loki/api/v1/query_range?query={query}&start={start}&end={end}{extra}")
    };

    let result = harness.get_json(&uri(r#"{app="api"} | logfmt | status >= 500"#, ""), None).await;
    assert_eq!(result["status"], "success");
    let data = &result["data"];
    assert_eq!(data["resultType"], "streams");
    let streams = data["result"].as_array().unwrap();
    assert_eq!(streams.len(), 1);
    // The default encoding merges structured metadata and parsed labels into the stream's labels.
    assert_eq!(
        streams[0]["stream"],
        json!({"app": "api", "detected_level": "error", "level": "error", "path": "/b", "service_name": "api", "status": "500", "trace_id": "abc"})
    );
    assert_eq!(streams[0]["values"], json!([[(base + 2_000_000_000).to_string(), "level=error status=500 path=/b"]]));
    assert_eq!(data["stats"]["summary"]["totalLinesProcessed"], 3);
    assert_eq!(data["stats"]["summary"]["totalEntriesReturned"], 1);

    // categorize-labels: stream labels alone, metadata and parsed labels per entry.
    let request = Request::get(uri(r#"{app="api"} | logfmt | status >= 500"#, ""))
        .header("X-Loki-Response-Encoding-Flags", "categorize-labels")
        .body(Body::empty())
        .unwrap();
    let (status, text) = harness.send(request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let result: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(result["data"]["encodingFlags"], json!(["categorize-labels"]));
    let stream = &result["data"]["result"][0];
    assert_eq!(stream["stream"], json!({"app": "api", "service_name": "api"}));
    assert_eq!(stream["values"][0][2]["structuredMetadata"], json!({"detected_level": "error", "trace_id": "abc"}));
    assert_eq!(stream["values"][0][2]["parsed"], json!({"level": "error", "path": "/b", "status": "500"}));

    // Backward (the default) with a limit: the newest entry.
    let result = harness.get_json(&uri(r#"{app="api"}"#, "&limit=1"), None).await;
    assert_eq!(result["data"]["result"][0]["values"][0][1], "level=info status=200 path=/c");

    // A metric query: a matrix with second timestamps and string values.
    let result = harness
        .get_json(&uri(r#"sum by (level) (count_over_time({app="api"} | logfmt [10s]))"#, "&step=10s"), None)
        .await;
    let data = &result["data"];
    assert_eq!(data["resultType"], "matrix");
    let series = data["result"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["metric"], json!({"level": "error"}));
    assert_eq!(series[1]["metric"], json!({"level": "info"}));
    let last_point = |series: &Value| series["values"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last_point(&series[1])[1], "2");

    // Errors are plain text with Loki's wording.
    let (status, text) = harness.get(&uri(r#"{app="api"} |= "#, ""), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("parse error at line 1, col"), "{text}");
    let instant = format!("/loki/api/v1/query?query={}", url_escape(r#"{app="api"}"#));
    let (status, text) = harness.get(&instant, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("log queries are not supported as an instant query type"), "{text}");
    let instant = format!("/loki/api/v1/query?query={}&time={end}", url_escape(r#"count_over_time({app="api"}[1m])"#));
    let result = harness.get_json(&instant, None).await;
    assert_eq!(result["data"]["resultType"], "vector");
    // Structured metadata is part of a sample's labels in Loki 3: one series per (stream, metadata) set.
    let counts: Vec<(String, String)> = result["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (s["metric"]["detected_level"].as_str().unwrap().to_string(), s["value"][1].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(counts, [("error".to_string(), "1".to_string()), ("info".to_string(), "2".to_string())]);
    let instant =
        format!("/loki/api/v1/query?query={}&time={end}", url_escape(r#"sum(count_over_time({app="api"}[1m]))"#));
    let result = harness.get_json(&instant, None).await;
    assert_eq!(
        result["data"]["result"],
        json!([{"metric": {}, "value": [((base + 10_000_000_000) / 1_000_000) as f64 / 1000.0, "3"]}])
    );
}

fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn detected_labels_and_fields_for_logs_drilldown() {
    let harness = harness();
    let now = now_ns();
    let body = json!({"streams": [
        {"stream": {"app": "api", "pod": "p-1", "request": "1"}, "values": [
            [(now - 3_000_000_000).to_string(), r#"{"status":200,"latency":"15ms","user":{"id":"u1"},"ok":true}"#, {"trace_id": "abc"}],
            [(now - 2_000_000_000).to_string(), r#"{"status":500,"latency":"2s","user":{"id":"u2"},"ok":false}"#],
        ]},
        {"stream": {"app": "worker", "pod": "p-2", "request": "2"}, "values": [
            [(now - 1_000_000_000).to_string(), "level=info msg=\"job done\" took=1.5 size=10KB"],
        ]},
    ]});
    assert_eq!(push_json(&harness, &body, None).await.0, StatusCode::NO_CONTENT);

    let labels = harness.get_json("/loki/api/v1/detected_labels?query=%7Bapp%3D~%22.%2B%22%7D", None).await;
    // `request` holds only numbers (ids): left out; `pod` is a static label: kept.
    assert_eq!(
        labels,
        json!({"detectedLabels": [
            {"label": "app", "cardinality": 2},
            {"label": "pod", "cardinality": 2},
            {"label": "service_name", "cardinality": 2},
        ]})
    );

    let fields = harness.get_json("/loki/api/v1/detected_fields?query=%7Bapp%3D~%22.%2B%22%7D", None).await;
    assert_eq!(fields["limit"], 1000);
    let by_name: std::collections::BTreeMap<String, Value> = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["label"].as_str().unwrap().to_string(), f.clone()))
        .collect();
    assert_eq!(
        by_name["status"],
        json!({"label": "status", "type": "int", "cardinality": 2, "parsers": ["json"], "jsonPath": ["status"]})
    );
    assert_eq!(by_name["user_id"]["jsonPath"], json!(["user", "id"]));
    assert_eq!(by_name["ok"]["type"], "boolean");
    assert_eq!(by_name["latency"]["type"], "duration");
    assert_eq!(by_name["took"], json!({"label": "took", "type": "float", "cardinality": 1, "parsers": ["logfmt"]}));
    assert_eq!(by_name["size"]["type"], "bytes");
    assert_eq!(by_name["msg"]["type"], "string");
    // Structured metadata has no parser.
    assert_eq!(by_name["trace_id"]["parsers"], Value::Null);

    let values = harness.get_json("/loki/api/v1/detected_field/status/values?query=%7Bapp%3D%22api%22%7D", None).await;
    assert_eq!(values, json!({"limit": 1000, "values": ["200", "500"]}));
}
