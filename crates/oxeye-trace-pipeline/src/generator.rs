//! Span metrics and service graphs, computed from every span before sampling, with the metric names, labels and
//! defaults of Tempo's metrics-generator (`modules/generator/processor/{spanmetrics,servicegraphs}`), so Grafana's
//! RED views and service map work unchanged:
//!
//! - `traces_spanmetrics_calls_total`, `traces_spanmetrics_latency_{bucket,sum,count}` (seconds; buckets
//!   2 ms·2ⁿ up to 16.384 s) and `traces_spanmetrics_size_total`, by `service`, `span_name`, `span_kind`
//!   (`SPAN_KIND_SERVER`, …), `status_code` (`STATUS_CODE_ERROR`, …) and any configured attribute dimensions
//!   (label name with `.` → `_`);
//! - `traces_service_graph_request_total`, `…_request_failed_total`, `…_request_server_seconds_*` and
//!   `…_request_client_seconds_*` (buckets 0.1 s·2ⁿ up to 12.8 s) by `client`, `server`, `connection_type`. A
//!   client (or producer) span is paired with the server (or consumer) span whose parent it is; a pair completes
//!   the edge. Unpaired halves wait (default 10 s): a root server span then counts as called by `user` (or by its
//!   `peer.service`), a client span with a peer attribute (`peer.service`, `db.name`, `db.system`,
//!   `db.system.name`) as calling that virtual node; client spans with `db.name`/`db.namespace` are database
//!   edges at once (`connection_type="database"`, server named by `peer.service`, `server.address`,
//!   `network.peer.address[:port]` or the database name).
//!
//! Histogram buckets carry `traceID` exemplars. At most `max_edges` unpaired halves wait; beyond that new halves
//! are dropped and counted (as Tempo does).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use oxeye_model::{AttrValue, Attribute, Label, Span, SpanId, SpanKind, StatusCode, TraceId, WriteBatch};

use crate::registry::{FamilyId, Registry};

/// Settings of span metrics and service graphs.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorConfig {
    pub span_metrics: bool,
    pub service_graphs: bool,
    /// Span-metrics latency buckets, seconds.
    pub latency_buckets: Vec<f64>,
    /// Service-graph latency buckets, seconds.
    pub service_graph_buckets: Vec<f64>,
    /// Extra span-metric dimensions: attribute names looked up on the span, then the resource.
    pub dimensions: Vec<String>,
    /// How long half an edge waits for its other half.
    pub wait: Duration,
    pub max_edges: usize,
    /// Series idle this long are dropped.
    pub stale_after: Duration,
    pub peer_attributes: Vec<String>,
    pub database_name_attributes: Vec<String>,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            span_metrics: true,
            service_graphs: true,
            latency_buckets: exponential_buckets(0.002, 2.0, 14),
            service_graph_buckets: exponential_buckets(0.1, 2.0, 8),
            dimensions: Vec::new(),
            wait: Duration::from_secs(10),
            max_edges: 10_000,
            stale_after: Duration::from_secs(15 * 60),
            peer_attributes: ["peer.service", "db.name", "db.system", "db.system.name"].map(String::from).to_vec(),
            database_name_attributes: ["db.name", "db.namespace"].map(String::from).to_vec(),
        }
    }
}

/// `count` bounds starting at `start`, each `factor` times the previous (Prometheus's `ExponentialBuckets`).
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    (0..count).map(|index| start * factor.powi(index as i32)).collect()
}

/// The OTLP enum name of a span kind, as Tempo's span-metric labels show it.
fn kind_label(kind: SpanKind) -> &'static str {
    kind.otlp_name()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectionType {
    Unknown,
    MessagingSystem,
    Database,
    VirtualNode,
}

impl ConnectionType {
    fn label(self) -> &'static str {
        match self {
            ConnectionType::Unknown => "",
            ConnectionType::MessagingSystem => "messaging_system",
            ConnectionType::Database => "database",
            ConnectionType::VirtualNode => "virtual_node",
        }
    }
}

#[derive(Debug)]
struct Edge {
    trace_id: TraceId,
    client_service: String,
    server_service: String,
    client_seconds: f64,
    server_seconds: f64,
    connection_type: ConnectionType,
    failed: bool,
    peer_node: String,
    /// A server half without a parent: a root span.
    is_root: bool,
}

/// Counters of the generator itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GeneratorStats {
    pub spans_observed: u64,
    pub edges_completed: u64,
    pub edges_expired_unpaired: u64,
    pub edge_halves_dropped: u64,
}

/// Span metrics and service graph state of one tenant.
pub struct MetricsGenerator {
    config: GeneratorConfig,
    registry: Registry,
    calls: FamilyId,
    latency: FamilyId,
    size: FamilyId,
    graph_requests: FamilyId,
    graph_failed: FamilyId,
    graph_server_seconds: FamilyId,
    graph_client_seconds: FamilyId,
    dimension_labels: Vec<String>,
    edges: HashMap<(TraceId, SpanId), Edge>,
    expiry: VecDeque<(i64, TraceId, SpanId)>,
    stats: GeneratorStats,
}

impl MetricsGenerator {
    pub fn new(config: GeneratorConfig) -> Self {
        let mut registry = Registry::default();
        let calls = registry.counter("traces_spanmetrics_calls_total", "Spans by service, name, kind and status.");
        let latency = registry.histogram(
            "traces_spanmetrics_latency",
            "Span durations in seconds by service, name, kind and status.",
            &config.latency_buckets,
        );
        let size = registry.counter("traces_spanmetrics_size_total", "Span bytes by service, name, kind and status.");
        let graph_requests =
            registry.counter("traces_service_graph_request_total", "Requests between two nodes of the service graph.");
        let graph_failed = registry.counter(
            "traces_service_graph_request_failed_total",
            "Failed requests between two nodes of the service graph.",
        );
        let graph_server_seconds = registry.histogram(
            "traces_service_graph_request_server_seconds",
            "Server-side duration of requests between two nodes, seconds.",
            &config.service_graph_buckets,
        );
        let graph_client_seconds = registry.histogram(
            "traces_service_graph_request_client_seconds",
            "Client-side duration of requests between two nodes, seconds.",
            &config.service_graph_buckets,
        );
        let dimension_labels = config.dimensions.iter().map(|name| sanitize_label_name(name)).collect();
        Self {
            config,
            registry,
            calls,
            latency,
            size,
            graph_requests,
            graph_failed,
            graph_server_seconds,
            graph_client_seconds,
            dimension_labels,
            edges: HashMap::new(),
            expiry: VecDeque::new(),
            stats: GeneratorStats::default(),
        }
    }

    pub fn stats(&self) -> GeneratorStats {
        self.stats
    }

    /// Counts every span (call this before sampling) and pairs service-graph edges.
    pub fn observe(&mut self, spans: &[Span], now_ms: i64) {
        self.expire(now_ms);
        let mut labels: Vec<Label> = Vec::with_capacity(4 + self.dimension_labels.len());
        for span in spans {
            self.stats.spans_observed += 1;
            if self.config.span_metrics {
                labels.clear();
                labels.push(Label::new("service", span.service_name()));
                labels.push(Label::new("span_name", span.name.as_str()));
                labels.push(Label::new("span_kind", kind_label(span.kind)));
                labels.push(Label::new("status_code", span.status_code.otlp_name()));
                for (name, label) in self.config.dimensions.iter().zip(&self.dimension_labels) {
                    let value = attribute_text(span, name).unwrap_or_default();
                    labels.push(Label::new(label.as_str(), value));
                }
                let seconds = span.duration_ns() as f64 / 1e9;
                self.registry.add(self.calls, &labels, 1.0, now_ms);
                self.registry.observe(self.latency, &labels, seconds, span.trace_id, now_ms);
                self.registry.add(self.size, &labels, span.size_bytes() as f64, now_ms);
            }
            if self.config.service_graphs {
                self.observe_edge(span, now_ms);
            }
        }
    }

    fn observe_edge(&mut self, span: &Span, now_ms: i64) {
        let (is_client, connection_type) = match span.kind {
            SpanKind::Client => (true, ConnectionType::Unknown),
            SpanKind::Producer => (true, ConnectionType::MessagingSystem),
            SpanKind::Server => (false, ConnectionType::Unknown),
            SpanKind::Consumer => (false, ConnectionType::MessagingSystem),
            _ => return,
        };
        let key = if is_client { (span.trace_id, span.span_id) } else { (span.trace_id, span.parent_span_id) };
        if !self.edges.contains_key(&key) {
            if self.edges.len() >= self.config.max_edges {
                self.stats.edge_halves_dropped += 1;
                return;
            }
            let expires_at_ms = now_ms + self.config.wait.as_millis() as i64;
            self.edges.insert(
                key,
                Edge {
                    trace_id: span.trace_id,
                    client_service: String::new(),
                    server_service: String::new(),
                    client_seconds: 0.0,
                    server_seconds: 0.0,
                    connection_type: ConnectionType::Unknown,
                    failed: false,
                    peer_node: String::new(),
                    is_root: false,
                },
            );
            self.expiry.push_back((expires_at_ms, key.0, key.1));
        }
        let edge = self.edges.get_mut(&key).expect("inserted above");
        edge.connection_type = connection_type;
        edge.failed |= span.status_code == StatusCode::Error;
        let seconds = span.duration_ns() as f64 / 1e9;
        if let Some(peer) = self.config.peer_attributes.iter().find_map(|key| span_attribute_text(span, key)) {
            edge.peer_node = peer;
        }
        if is_client {
            edge.client_service = span.service_name().to_string();
            edge.client_seconds = seconds;
            let database = self.config.database_name_attributes.iter().find_map(|key| attribute_text(span, key));
            if let Some(database) = database {
                edge.connection_type = ConnectionType::Database;
                edge.server_seconds = seconds;
                edge.server_service = ["peer.service", "server.address"]
                    .iter()
                    .find_map(|key| attribute_text(span, key))
                    .or_else(|| {
                        attribute_text(span, "network.peer.address").map(|host| {
                            match attribute_text(span, "network.peer.port") {
                                Some(port) => format!("{host}:{port}"),
                                None => host,
                            }
                        })
                    })
                    .unwrap_or(database);
            }
        } else {
            edge.server_service = span.service_name().to_string();
            edge.server_seconds = seconds;
            edge.is_root = span.parent_span_id.is_zero();
        }
        if !edge.client_service.is_empty() && !edge.server_service.is_empty() {
            let edge = self.edges.remove(&key).expect("present");
            self.complete(&edge, now_ms);
        }
    }

    fn complete(&mut self, edge: &Edge, now_ms: i64) {
        self.stats.edges_completed += 1;
        let labels = [
            Label::new("client", edge.client_service.as_str()),
            Label::new("server", edge.server_service.as_str()),
            Label::new("connection_type", edge.connection_type.label()),
        ];
        self.registry.add(self.graph_requests, &labels, 1.0, now_ms);
        if edge.failed {
            self.registry.add(self.graph_failed, &labels, 1.0, now_ms);
        }
        self.registry.observe(self.graph_server_seconds, &labels, edge.server_seconds, edge.trace_id, now_ms);
        self.registry.observe(self.graph_client_seconds, &labels, edge.client_seconds, edge.trace_id, now_ms);
    }

    /// Settles halves whose wait is over: virtual-node edges where Tempo infers one, else counted as expired.
    pub fn expire(&mut self, now_ms: i64) {
        while let Some(&(expires_at_ms, trace_id, span_id)) = self.expiry.front() {
            if expires_at_ms > now_ms {
                break;
            }
            self.expiry.pop_front();
            let Some(mut edge) = self.edges.remove(&(trace_id, span_id)) else { continue };
            edge.connection_type = ConnectionType::VirtualNode;
            if edge.client_service.is_empty() && edge.is_root {
                edge.client_service =
                    if edge.peer_node.is_empty() { "user".to_string() } else { edge.peer_node.clone() };
                self.complete(&edge, now_ms);
            } else if edge.server_service.is_empty() && !edge.client_service.is_empty() && !edge.peer_node.is_empty() {
                edge.server_service = edge.peer_node.clone();
                self.complete(&edge, now_ms);
            } else {
                self.stats.edges_expired_unpaired += 1;
            }
        }
    }

    /// Every active series at `now_ms`, to be appended to the tenant's metrics.
    pub fn collect(&mut self, now_ms: i64) -> WriteBatch {
        self.expire(now_ms);
        let stale_before = now_ms - self.config.stale_after.as_millis() as i64;
        self.registry.collect(now_ms, stale_before)
    }

    pub fn active_series(&self) -> usize {
        self.registry.active_series()
    }

    /// Unpaired edge halves waiting.
    pub fn pending_edges(&self) -> usize {
        self.edges.len()
    }
}

/// Prometheus label name from an attribute name (`http.method` → `http_method`), as Tempo sanitises dimensions.
fn sanitize_label_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn text(value: &AttrValue) -> String {
    value.to_text()
}

/// An attribute of the span, else of its resource, as text.
fn attribute_text(span: &Span, key: &str) -> Option<String> {
    span.attribute(key).or_else(|| oxeye_model::find_attribute(&span.resource.attributes, key)).map(text)
}

fn span_attribute_text(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|Attribute { key: name, .. }| name == key).map(|attribute| text(&attribute.value))
}

#[cfg(test)]
mod tests;
