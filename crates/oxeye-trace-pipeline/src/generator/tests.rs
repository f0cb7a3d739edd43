use std::sync::Arc;

use oxeye_model::{Resource, Sample, WriteBatch};

use super::*;

fn resource(service: &str) -> Arc<Resource> {
    Arc::new(Resource { attributes: vec![Attribute::string("service.name", service)], ..Default::default() })
}

fn span(trace: u8, id: u8, parent: u8, service: &Arc<Resource>, name: &str, kind: SpanKind, ms: u64) -> Span {
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: SpanId([parent; 8]),
        name: name.into(),
        kind,
        start_ns: 1_000_000_000,
        end_ns: 1_000_000_000 + ms * 1_000_000,
        resource: service.clone(),
        ..Default::default()
    }
}

fn value(batch: &WriteBatch, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    batch
        .series
        .iter()
        .find(|series| {
            series.labels.metric_name() == Some(name)
                && pairs.iter().all(|(label, value)| series.labels.get(label) == Some(*value))
        })
        .map(|series| series.samples.last().unwrap().value)
}

#[test]
fn span_metrics_count_every_span_with_tempo_labels() {
    let api = resource("api");
    let mut generator = MetricsGenerator::new(GeneratorConfig::default());
    let mut spans = Vec::new();
    for trace in 1..=5u8 {
        spans.push(span(trace, 1, 0, &api, "GET /", SpanKind::Server, 3));
        let mut failing = span(trace, 2, 1, &api, "SELECT", SpanKind::Client, 50);
        failing.status_code = StatusCode::Error;
        spans.push(failing);
    }
    generator.observe(&spans, 10_000);
    let batch = generator.collect(11_000);
    let server = [
        ("service", "api"),
        ("span_name", "GET /"),
        ("span_kind", "SPAN_KIND_SERVER"),
        ("status_code", "STATUS_CODE_UNSET"),
    ];
    assert_eq!(value(&batch, "traces_spanmetrics_calls_total", &server), Some(5.0));
    let client = [("span_name", "SELECT"), ("span_kind", "SPAN_KIND_CLIENT"), ("status_code", "STATUS_CODE_ERROR")];
    assert_eq!(value(&batch, "traces_spanmetrics_calls_total", &client), Some(5.0));
    let total: f64 = batch
        .series
        .iter()
        .filter(|series| series.labels.metric_name() == Some("traces_spanmetrics_calls_total"))
        .map(|series| series.samples.last().unwrap().value)
        .sum();
    assert_eq!(total, spans.len() as f64, "span-metric counts equal raw span counts");
    // 3 ms falls in the 4 ms bucket, 50 ms in the 64 ms one.
    assert_eq!(
        value(&batch, "traces_spanmetrics_latency_bucket", &[("span_name", "GET /"), ("le", "0.002")]),
        Some(0.0)
    );
    assert_eq!(
        value(&batch, "traces_spanmetrics_latency_bucket", &[("span_name", "GET /"), ("le", "0.004")]),
        Some(5.0)
    );
    assert_eq!(
        value(&batch, "traces_spanmetrics_latency_bucket", &[("span_name", "SELECT"), ("le", "0.032")]),
        Some(0.0)
    );
    assert_eq!(
        value(&batch, "traces_spanmetrics_latency_bucket", &[("span_name", "SELECT"), ("le", "0.064")]),
        Some(5.0)
    );
    assert_eq!(value(&batch, "traces_spanmetrics_latency_count", &[("span_name", "SELECT")]), Some(5.0));
    let sum = value(&batch, "traces_spanmetrics_latency_sum", &[("span_name", "SELECT")]).unwrap();
    assert!((sum - 0.25).abs() < 1e-9, "{sum}");
    let bucket = batch
        .series
        .iter()
        .find(|series| series.labels.get("le") == Some("0.064") && series.labels.get("span_name") == Some("SELECT"))
        .unwrap();
    assert_eq!(bucket.samples[0], Sample::new(10_999, 0.0), "a new series starts with a zero sample");
    assert_eq!(bucket.exemplars.len(), 1);
    assert_eq!(bucket.exemplars[0].labels.get("traceID"), Some(TraceId([5; 16]).to_hex().as_str()));
}

#[test]
fn configured_dimensions_become_labels() {
    let api = resource("api");
    let mut generator =
        MetricsGenerator::new(GeneratorConfig { dimensions: vec!["http.method".into()], ..Default::default() });
    let mut get = span(1, 1, 0, &api, "h", SpanKind::Server, 1);
    get.attributes.push(Attribute::string("http.method", "GET"));
    generator.observe(&[get], 0);
    let batch = generator.collect(1);
    assert_eq!(value(&batch, "traces_spanmetrics_calls_total", &[("http_method", "GET")]), Some(1.0));
}

#[test]
fn service_graph_pairs_client_and_server_spans_and_infers_virtual_nodes() {
    let (frontend, checkout, payments) = (resource("frontend"), resource("checkout"), resource("payments"));
    let mut generator = MetricsGenerator::new(GeneratorConfig::default());
    // Trace 1: user → frontend (root server) → checkout (client/server pair, failed on the server side).
    let root = span(1, 1, 0, &frontend, "GET /buy", SpanKind::Server, 300);
    let client = span(1, 2, 1, &frontend, "POST /checkout", SpanKind::Client, 200);
    let mut server = span(1, 3, 2, &checkout, "POST /checkout", SpanKind::Server, 150);
    server.status_code = StatusCode::Error;
    // Server half first, client later: order does not matter.
    generator.observe(&[server, root], 0);
    generator.observe(&[client], 1_000);
    // Trace 2: checkout calls an uninstrumented payment provider (peer.service) and a database.
    let mut external = span(2, 1, 0, &payments, "charge", SpanKind::Client, 400);
    external.attributes.push(Attribute::string("peer.service", "stripe"));
    let mut query = span(2, 2, 0, &checkout, "SELECT orders", SpanKind::Client, 20);
    query.attributes.push(Attribute::string("db.name", "orders"));
    query.attributes.push(Attribute::string("server.address", "pg-1"));
    // Trace 3: a client span with nothing to infer expires unpaired.
    let lonely = span(3, 1, 0, &checkout, "GET /x", SpanKind::Client, 5);
    generator.observe(&[external, query, lonely], 2_000);
    assert_eq!(generator.pending_edges(), 3, "root server half, external client half, lonely client half");
    let batch = generator.collect(20_000);
    assert_eq!(
        value(&batch, "traces_service_graph_request_total", &[("client", "frontend"), ("server", "checkout")]),
        Some(1.0)
    );
    assert_eq!(
        value(&batch, "traces_service_graph_request_failed_total", &[("client", "frontend"), ("server", "checkout")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &batch,
            "traces_service_graph_request_total",
            &[("client", "user"), ("server", "frontend"), ("connection_type", "virtual_node")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &batch,
            "traces_service_graph_request_total",
            &[("client", "payments"), ("server", "stripe"), ("connection_type", "virtual_node")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &batch,
            "traces_service_graph_request_total",
            &[("client", "checkout"), ("server", "pg-1"), ("connection_type", "database")]
        ),
        Some(1.0)
    );
    let server_seconds = value(
        &batch,
        "traces_service_graph_request_server_seconds_sum",
        &[("client", "frontend"), ("server", "checkout")],
    );
    assert_eq!(server_seconds, Some(0.15));
    assert_eq!(generator.stats().edges_expired_unpaired, 1);
    assert_eq!(generator.pending_edges(), 0);
}

#[test]
fn unpaired_halves_are_bounded() {
    let api = resource("api");
    let mut generator = MetricsGenerator::new(GeneratorConfig { max_edges: 2, ..Default::default() });
    let spans: Vec<Span> = (1..=4u8).map(|trace| span(trace, 1, 0, &api, "c", SpanKind::Client, 1)).collect();
    generator.observe(&spans, 0);
    assert_eq!(generator.pending_edges(), 2);
    assert_eq!(generator.stats().edge_halves_dropped, 2);
}
