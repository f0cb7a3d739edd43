//! Spans for tests: one with every field set, and realistic generated traces (services calling each other over
//! http and a database, random ids).

use std::sync::Arc;

use oxeye_model::{
    AttrValue, Attribute, Resource, Scope, Span, SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, TraceId,
};

/// Base time of generated spans (2027-01-15).
pub(crate) const BASE_NS: u64 = 1_800_000_000_000_000_000;

pub(crate) fn trace_id(seed: u64) -> TraceId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    id[8..].copy_from_slice(&(seed | 1).to_be_bytes());
    TraceId(id)
}

pub(crate) fn span_id(seed: u64) -> SpanId {
    SpanId((seed.wrapping_mul(0xff51_afd7_ed55_8ccd) | 1).to_be_bytes())
}

/// A span of trace `trace` with every field of the model set (attributes of all types, events, links, status,
/// resource, scope).
pub(crate) fn full_span(trace: u64, span: u64) -> Span {
    let resource = Arc::new(Resource {
        attributes: vec![
            Attribute::string("service.name", format!("svc-{}", trace % 3)),
            Attribute::string("host.name", "node-1"),
            Attribute::new("process.pid", AttrValue::Int(4242)),
        ],
        dropped_attributes_count: 2,
    });
    let scope = Arc::new(Scope {
        name: "io.opentelemetry.http".into(),
        version: "1.2.3".into(),
        attributes: vec![Attribute::new("scope.flag", AttrValue::Bool(true))],
    });
    let start_ns = BASE_NS + span * 1_000_000;
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(trace * 1000 + span),
        parent_span_id: if span == 1 { SpanId::default() } else { span_id(trace * 1000 + 1) },
        trace_state: "vendor=abc".into(),
        flags: 0x101,
        name: format!("GET /api/{span}"),
        kind: SpanKind::Server,
        start_ns,
        end_ns: start_ns + 5_000_000 + span,
        attributes: vec![
            Attribute::string("http.method", "GET"),
            Attribute::new("http.status_code", AttrValue::Int(503)),
            Attribute::new("ratio", AttrValue::Double(0.25)),
            Attribute::new("cached", AttrValue::Bool(false)),
            Attribute::new("payload", AttrValue::Bytes(vec![0, 1, 254, 255])),
            Attribute::new("tags", AttrValue::Array(vec![AttrValue::Str("a".into()), AttrValue::Int(-3)])),
            Attribute::new(
                "nested",
                AttrValue::KvList(vec![Attribute::string("k", "v"), Attribute::new("n", AttrValue::Int(1))]),
            ),
            Attribute::string("http.method", "duplicate keys keep their order"),
        ],
        dropped_attributes_count: 1,
        events: vec![
            SpanEvent {
                time_ns: start_ns + 1000,
                name: "exception".into(),
                attributes: vec![
                    Attribute::string("exception.type", "IOError"),
                    Attribute::string("exception.message", "connection reset"),
                ],
                dropped_attributes_count: 3,
            },
            SpanEvent { time_ns: start_ns - 5, name: "before start".into(), ..SpanEvent::default() },
        ],
        dropped_events_count: 4,
        links: vec![
            SpanLink {
                trace_id: trace_id(trace + 77),
                span_id: span_id(99),
                trace_state: "other=1".into(),
                attributes: vec![Attribute::string("link.kind", "follows")],
                dropped_attributes_count: 5,
                flags: 1,
            },
            SpanLink { trace_id: trace_id(trace), span_id: span_id(trace * 1000 + 1), ..SpanLink::default() },
        ],
        dropped_links_count: 6,
        status_code: StatusCode::Error,
        status_message: "upstream unavailable".into(),
        resource,
        scope,
    }
}

/// A small xorshift generator: deterministic test data without a dependency.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVICES: [&str; 10] =
    ["frontend", "checkout", "cart", "payment", "shipping", "currency", "email", "catalog", "ads", "recommendation"];
const ROUTES: [&str; 8] = [
    "/api/cart",
    "/api/checkout",
    "/api/products/{id}",
    "/api/currency/convert",
    "/api/shipping/quote",
    "/api/ads",
    "/api/recommendations",
    "/api/email/send",
];
const TABLES: [&str; 5] = ["orders", "carts", "products", "users", "payments"];

/// Resources of the ten services (one process each, `k8s`-style attributes).
pub(crate) fn service_resources() -> Vec<Arc<Resource>> {
    SERVICES
        .iter()
        .enumerate()
        .map(|(index, service)| {
            Arc::new(Resource {
                attributes: vec![
                    Attribute::string("service.name", *service),
                    Attribute::string("service.namespace", "shop"),
                    Attribute::string("service.version", format!("1.{index}.0")),
                    Attribute::string("deployment.environment", "production"),
                    Attribute::string("host.name", format!("node-{}", index % 4)),
                    Attribute::string("k8s.pod.name", format!("{service}-7d9f8b6c4-{index:05}")),
                    Attribute::string("telemetry.sdk.language", if index % 2 == 0 { "go" } else { "java" }),
                    Attribute::string("telemetry.sdk.name", "opentelemetry"),
                    Attribute::string("telemetry.sdk.version", "1.28.0"),
                ],
                dropped_attributes_count: 0,
            })
        })
        .collect()
}

/// One realistic trace: a server span at the frontend, then about `spans - 1` children across services — http
/// client/server pairs and database calls — with random 16-byte trace and 8-byte span ids.
pub(crate) fn generated_trace(
    rng: &mut Rng,
    resources: &[Arc<Resource>],
    scope: &Arc<Scope>,
    spans: usize,
    start_ns: u64,
) -> Vec<Span> {
    let trace_id = TraceId({
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&rng.next().to_be_bytes());
        id[8..].copy_from_slice(&rng.next().to_be_bytes());
        id
    });
    let mut out: Vec<Span> = Vec::with_capacity(spans);
    let root_route = ROUTES[rng.below(ROUTES.len() as u64) as usize];
    let root_duration = 20_000_000 + rng.below(200_000_000);
    for index in 0..spans {
        let span_id = SpanId((rng.next() | 1).to_be_bytes());
        let service = if index == 0 { 0 } else { 1 + rng.below(9) as usize };
        let parent = if index == 0 { SpanId::default() } else { out[rng.below(index as u64) as usize].span_id };
        let offset = if index == 0 { 0 } else { rng.below(root_duration / 2) };
        let duration = if index == 0 { root_duration } else { 50_000 + rng.below(root_duration / 4) };
        let is_db = index > 0 && rng.below(3) == 0;
        let error = rng.below(50) == 0;
        let (name, kind, attributes) = if index == 0 {
            (
                format!("GET {root_route}"),
                SpanKind::Server,
                vec![
                    Attribute::string("http.request.method", "GET"),
                    Attribute::string("http.route", root_route),
                    Attribute::string("url.path", root_route.replace("{id}", &rng.below(5000).to_string())),
                    Attribute::new("http.response.status_code", AttrValue::Int(if error { 500 } else { 200 })),
                    Attribute::string("server.address", "shop.example.com"),
                    Attribute::new("server.port", AttrValue::Int(443)),
                    Attribute::string("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
                    Attribute::string("client.address", format!("10.0.{}.{}", rng.below(4), rng.below(255))),
                ],
            )
        } else if is_db {
            let table = TABLES[rng.below(TABLES.len() as u64) as usize];
            let operation = ["SELECT", "INSERT", "UPDATE"][rng.below(3) as usize];
            (
                format!("{operation} shop.{table}"),
                SpanKind::Client,
                vec![
                    Attribute::string("db.system", "postgresql"),
                    Attribute::string("db.name", "shop"),
                    Attribute::string("db.operation", operation),
                    Attribute::string("db.sql.table", table),
                    Attribute::string(
                        "db.statement",
                        format!("{operation} * FROM {table} WHERE id = $1 AND tenant = $2 LIMIT 100"),
                    ),
                    Attribute::string("server.address", "postgres.shop.svc.cluster.local"),
                    Attribute::new("server.port", AttrValue::Int(5432)),
                ],
            )
        } else {
            let route = ROUTES[rng.below(ROUTES.len() as u64) as usize];
            let method = ["GET", "POST"][rng.below(2) as usize];
            let server = rng.below(2) == 0;
            (
                format!("{method} {route}"),
                if server { SpanKind::Server } else { SpanKind::Client },
                vec![
                    Attribute::string("http.request.method", method),
                    Attribute::string("http.route", route),
                    Attribute::string(
                        "url.full",
                        format!("http://{}{}", SERVICES[service], route.replace("{id}", &rng.below(5000).to_string())),
                    ),
                    Attribute::new("http.response.status_code", AttrValue::Int(if error { 503 } else { 200 })),
                    Attribute::string("network.protocol.version", "1.1"),
                    Attribute::string("server.address", SERVICES[service]),
                    Attribute::new("server.port", AttrValue::Int(8080)),
                ],
            )
        };
        let start_ns = start_ns + offset;
        out.push(Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            name,
            kind,
            start_ns,
            end_ns: start_ns + duration,
            attributes,
            events: if error {
                vec![SpanEvent {
                    time_ns: start_ns + duration / 2,
                    name: "exception".into(),
                    attributes: vec![
                        Attribute::string("exception.type", "java.net.SocketTimeoutException"),
                        Attribute::string("exception.message", "Read timed out"),
                    ],
                    dropped_attributes_count: 0,
                }]
            } else {
                Vec::new()
            },
            status_code: if error { StatusCode::Error } else { StatusCode::Unset },
            status_message: if error { "Read timed out".into() } else { String::new() },
            resource: resources[service].clone(),
            scope: scope.clone(),
            ..Span::default()
        });
    }
    out
}

/// The scope of generated spans.
pub(crate) fn generated_scope() -> Arc<Scope> {
    Arc::new(Scope { name: "io.opentelemetry.contrib.http".into(), version: "2.4.0".into(), attributes: Vec::new() })
}

/// Bytes of a varint.
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// A length-delimited field (tag below 16: one byte).
fn len_field(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn string_field(text: &str) -> usize {
    if text.is_empty() { 0 } else { len_field(text.len()) }
}

fn uint_field(value: u64) -> usize {
    if value == 0 { 0 } else { 1 + varint_len(value) }
}

fn any_value_size(value: &AttrValue) -> usize {
    match value {
        AttrValue::Str(text) => len_field(text.len()),
        AttrValue::Bool(_) => 2,
        AttrValue::Int(number) => 1 + varint_len(*number as u64),
        AttrValue::Double(_) => 9,
        AttrValue::Bytes(bytes) => len_field(bytes.len()),
        AttrValue::Array(values) => len_field(values.iter().map(|v| len_field(any_value_size(v))).sum()),
        AttrValue::KvList(pairs) => len_field(pairs.iter().map(|p| len_field(key_value_size(p))).sum()),
    }
}

fn key_value_size(attribute: &Attribute) -> usize {
    string_field(&attribute.key) + len_field(any_value_size(&attribute.value))
}

fn attributes_size(attributes: &[Attribute]) -> usize {
    attributes.iter().map(|attribute| len_field(key_value_size(attribute))).sum()
}

/// The protobuf size of an OTLP `Span` message, computed with protobuf's wire rules (proto3: default values are
/// not written; field 16 `flags` takes a two-byte tag).
pub(crate) fn otlp_span_size(span: &Span) -> usize {
    let events: usize = span
        .events
        .iter()
        .map(|event| {
            len_field(
                9 + string_field(&event.name)
                    + attributes_size(&event.attributes)
                    + uint_field(event.dropped_attributes_count as u64),
            )
        })
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|link| {
            len_field(
                18 + 10
                    + string_field(&link.trace_state)
                    + attributes_size(&link.attributes)
                    + uint_field(link.dropped_attributes_count as u64)
                    + if link.flags != 0 { 5 } else { 0 },
            )
        })
        .sum();
    let status = string_field(&span.status_message) + uint_field(span.status_code as u64);
    18 + 10
        + string_field(&span.trace_state)
        + if span.parent_span_id.is_zero() { 0 } else { 10 }
        + string_field(&span.name)
        + uint_field(span.kind as u64)
        + 9
        + 9
        + attributes_size(&span.attributes)
        + uint_field(span.dropped_attributes_count as u64)
        + events
        + uint_field(span.dropped_events_count as u64)
        + links
        + uint_field(span.dropped_links_count as u64)
        + if status > 0 { len_field(status) } else { 0 }
        + if span.flags != 0 { 6 } else { 0 }
}

/// The protobuf size of the `ExportTraceServiceRequest`s an OpenTelemetry SDK would send for `spans`: each
/// service's spans in batches of up to 512 (the batch span processor's default), each batch one request with one
/// `ResourceSpans` and one `ScopeSpans`.
pub(crate) fn otlp_export_size(spans: &[Span]) -> usize {
    let mut by_resource: std::collections::HashMap<usize, Vec<&Span>> = std::collections::HashMap::new();
    for span in spans {
        by_resource.entry(Arc::as_ptr(&span.resource) as usize).or_default().push(span);
    }
    let mut total = 0;
    for spans in by_resource.values() {
        for batch in spans.chunks(512) {
            let resource = &batch[0].resource;
            let scope = &batch[0].scope;
            let resource_size =
                attributes_size(&resource.attributes) + uint_field(resource.dropped_attributes_count as u64);
            let scope_size =
                string_field(&scope.name) + string_field(&scope.version) + attributes_size(&scope.attributes);
            let spans_size: usize = batch.iter().map(|span| len_field(otlp_span_size(span))).sum();
            let scope_spans = len_field(scope_size) + spans_size;
            let resource_spans = len_field(resource_size) + len_field(scope_spans);
            total += len_field(resource_spans);
        }
    }
    total
}
