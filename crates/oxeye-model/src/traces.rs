//! Spans and traces.
//!
//! The model follows OTLP's: a span belongs to a resource (the process that emitted it, e.g. `service.name`) and an
//! instrumentation scope; it has a name, a kind, start and end times in nanoseconds, a status, typed attributes,
//! events and links. A trace is every span sharing a trace id. Spans keep their resource and scope behind `Arc`s so
//! a batch of thousands of spans from one process holds one copy of its resource attributes.
//!
//! Receivers (`oxeye-ingest`) map OTLP and Zipkin into these types; the trace store persists them; TraceQL and the
//! Tempo and Jaeger APIs read them back.

use std::fmt;
use std::sync::Arc;

/// A 16-byte trace id. All-zero is invalid (OTLP).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. All-zero means "none" (e.g. a root span's parent).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanId(pub [u8; 8]);

/// Why an id could not be parsed from hex.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id {0:?} is not hexadecimal")]
    NotHex(String),
    #[error("id {0:?} is longer than {1} hex digits")]
    TooLong(String, usize),
    #[error("id is empty")]
    Empty,
}

fn parse_hex_id<const N: usize>(text: &str) -> Result<[u8; N], IdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > N * 2 {
        return Err(IdError::TooLong(text.to_string(), N * 2));
    }
    let mut out = [0u8; N];
    // Shorter ids are left-padded with zeros, as Tempo accepts 64-bit trace ids.
    let offset = N * 2 - text.len();
    for (index, digit) in text.bytes().enumerate() {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => return Err(IdError::NotHex(text.to_string())),
        };
        let nibble = offset + index;
        out[nibble / 2] |= if nibble.is_multiple_of(2) { value << 4 } else { value };
    }
    Ok(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        write!(f, "{}{}", DIGITS[(byte >> 4) as usize] as char, DIGITS[(byte & 15) as usize] as char)?;
    }
    Ok(())
}

impl TraceId {
    /// Parses up to 32 hex digits (shorter ids are zero-padded on the left, as Tempo does).
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        parse_hex_id::<16>(text).map(TraceId)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(bytes).ok().map(TraceId)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The low 8 bytes as an integer: a well-mixed value (trace ids are random) for sampling decisions.
    pub fn low_u64(&self) -> u64 {
        u64::from_be_bytes(self.0[8..].try_into().expect("8 bytes"))
    }
}

impl SpanId {
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        parse_hex_id::<8>(text).map(SpanId)
    }

    /// An id from bytes; an empty slice is the zero id (no parent).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return Some(SpanId::default());
        }
        <[u8; 8]>::try_from(bytes).ok().map(SpanId)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }

    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// An attribute value, as OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    KvList(Vec<Attribute>),
}

impl AttrValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value as text, the way Tempo shows non-string attributes in tag values and Jaeger tags.
    pub fn to_text(&self) -> String {
        match self {
            AttrValue::Str(text) => text.clone(),
            AttrValue::Bool(value) => value.to_string(),
            AttrValue::Int(value) => value.to_string(),
            AttrValue::Double(value) => value.to_string(),
            AttrValue::Bytes(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            AttrValue::Array(values) => {
                let parts: Vec<String> = values.iter().map(AttrValue::to_text).collect();
                format!("[{}]", parts.join(","))
            }
            AttrValue::KvList(pairs) => {
                let parts: Vec<String> =
                    pairs.iter().map(|pair| format!("{}={}", pair.key, pair.value.to_text())).collect();
                format!("{{{}}}", parts.join(","))
            }
        }
    }

    /// Bytes this value counts for in size limits.
    pub fn size_bytes(&self) -> usize {
        match self {
            AttrValue::Str(text) => text.len(),
            AttrValue::Bool(_) => 1,
            AttrValue::Int(_) | AttrValue::Double(_) => 8,
            AttrValue::Bytes(bytes) => bytes.len(),
            AttrValue::Array(values) => values.iter().map(AttrValue::size_bytes).sum(),
            AttrValue::KvList(pairs) => pairs.iter().map(Attribute::size_bytes).sum(),
        }
    }
}

/// A key and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub key: String,
    pub value: AttrValue,
}

impl Attribute {
    pub fn new(key: impl Into<String>, value: AttrValue) -> Self {
        Self { key: key.into(), value }
    }

    pub fn string(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: AttrValue::Str(value.into()) }
    }

    pub fn size_bytes(&self) -> usize {
        self.key.len() + self.value.size_bytes()
    }
}

/// The first attribute named `key`.
pub fn find_attribute<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a AttrValue> {
    attributes.iter().find(|attribute| attribute.key == key).map(|attribute| &attribute.value)
}

/// Resource attribute naming the service (OpenTelemetry semantic conventions).
pub const SERVICE_NAME_ATTRIBUTE: &str = "service.name";
/// What a span without `service.name` belongs to (the OpenTelemetry SDK default prefix is `unknown_service`).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The process that emitted spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub attributes: Vec<Attribute>,
    pub dropped_attributes_count: u32,
}

impl Resource {
    pub fn service_name(&self) -> &str {
        find_attribute(&self.attributes, SERVICE_NAME_ATTRIBUTE).and_then(AttrValue::as_str).unwrap_or(UNKNOWN_SERVICE)
    }
}

/// The instrumentation library that produced spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Vec<Attribute>,
}

/// OTLP span kinds, numbered as in the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SpanKind {
    #[default]
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    pub fn from_i32(value: i32) -> Self {
        match value {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The TraceQL / Tempo name (`unspecified`, `internal`, `server`, `client`, `producer`, `consumer`).
    pub fn name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// The OTLP JSON enum name (`SPAN_KIND_SERVER`, …).
    pub fn otlp_name(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
            SpanKind::Internal => "SPAN_KIND_INTERNAL",
            SpanKind::Server => "SPAN_KIND_SERVER",
            SpanKind::Client => "SPAN_KIND_CLIENT",
            SpanKind::Producer => "SPAN_KIND_PRODUCER",
            SpanKind::Consumer => "SPAN_KIND_CONSUMER",
        }
    }
}

/// OTLP status codes, numbered as in the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum StatusCode {
    #[default]
    Unset = 0,
    Ok = 1,
    Error = 2,
}

impl StatusCode {
    pub fn from_i32(value: i32) -> Self {
        match value {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    /// The TraceQL name (`unset`, `ok`, `error`).
    pub fn name(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }

    /// The OTLP JSON enum name (`STATUS_CODE_ERROR`, …).
    pub fn otlp_name(self) -> &'static str {
        match self {
            StatusCode::Unset => "STATUS_CODE_UNSET",
            StatusCode::Ok => "STATUS_CODE_OK",
            StatusCode::Error => "STATUS_CODE_ERROR",
        }
    }
}

/// A timestamped event within a span (an exception is an event named `exception` with `exception.type`,
/// `exception.message` and `exception.stacktrace` attributes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanEvent {
    pub time_ns: u64,
    pub name: String,
    pub attributes: Vec<Attribute>,
    pub dropped_attributes_count: u32,
}

/// A link to a span of another (or the same) trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Vec<Attribute>,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One span.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// Zero for a root span.
    pub parent_span_id: SpanId,
    pub trace_state: String,
    pub flags: u32,
    pub name: String,
    pub kind: SpanKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<Attribute>,
    pub dropped_attributes_count: u32,
    pub events: Vec<SpanEvent>,
    pub dropped_events_count: u32,
    pub links: Vec<SpanLink>,
    pub dropped_links_count: u32,
    pub status_code: StatusCode,
    pub status_message: String,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
}

impl Default for Span {
    fn default() -> Self {
        Self {
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: SpanId::default(),
            trace_state: String::new(),
            flags: 0,
            name: String::new(),
            kind: SpanKind::Unspecified,
            start_ns: 0,
            end_ns: 0,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            resource: Arc::new(Resource::default()),
            scope: Arc::new(Scope::default()),
        }
    }
}

impl Span {
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_zero()
    }

    pub fn service_name(&self) -> &str {
        self.resource.service_name()
    }

    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        find_attribute(&self.attributes, key)
    }

    /// Approximate bytes this span counts for in rate limits and statistics.
    pub fn size_bytes(&self) -> usize {
        64 + self.name.len()
            + self.status_message.len()
            + self.attributes.iter().map(Attribute::size_bytes).sum::<usize>()
            + self
                .events
                .iter()
                .map(|event| 8 + event.name.len() + event.attributes.iter().map(Attribute::size_bytes).sum::<usize>())
                .sum::<usize>()
            + self
                .links
                .iter()
                .map(|link| 24 + link.attributes.iter().map(Attribute::size_bytes).sum::<usize>())
                .sum::<usize>()
    }
}

/// Every stored span of one trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub trace_id: TraceId,
    pub spans: Vec<Span>,
    /// Spans refused because the trace reached its span limit (counted, not stored). Non-zero marks the trace as
    /// truncated.
    pub truncated_spans: u64,
}

impl Trace {
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|span| span.start_ns).min().unwrap_or(0)
    }

    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(|span| span.end_ns).max().unwrap_or(0)
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// The root span: the one without a parent (the earliest if several), else the earliest span.
    pub fn root(&self) -> Option<&Span> {
        self.spans
            .iter()
            .filter(|span| span.is_root())
            .min_by_key(|span| span.start_ns)
            .or_else(|| self.spans.iter().min_by_key(|span| span.start_ns))
    }
}

/// What one export request carries, ready for a trace store: spans in any order, from any number of traces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanBatch {
    pub spans: Vec<Span>,
}

impl SpanBatch {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex_and_short_ids_are_left_padded() {
        let id = TraceId::from_hex("0102030405060708090a0b0c0d0e0fAB").unwrap();
        assert_eq!(id.to_hex(), "0102030405060708090a0b0c0d0e0fab");
        let short = TraceId::from_hex("abc").unwrap();
        assert_eq!(short.to_hex(), "00000000000000000000000000000abc");
        assert_eq!(SpanId::from_hex("00f0000000000001").unwrap().0, [0, 0xf0, 0, 0, 0, 0, 0, 1]);
        assert!(matches!(TraceId::from_hex("xyz"), Err(IdError::NotHex(_))));
        assert!(matches!(SpanId::from_hex("0123456789abcdef0"), Err(IdError::TooLong(_, 16))));
        assert_eq!(TraceId::from_hex(""), Err(IdError::Empty));
    }

    #[test]
    fn trace_root_and_duration() {
        let resource =
            Arc::new(Resource { attributes: vec![Attribute::string("service.name", "api")], ..Default::default() });
        let root = Span {
            span_id: SpanId([1; 8]),
            start_ns: 100,
            end_ns: 500,
            name: "GET /".into(),
            resource: resource.clone(),
            ..Default::default()
        };
        let child = Span {
            span_id: SpanId([2; 8]),
            parent_span_id: SpanId([1; 8]),
            start_ns: 150,
            end_ns: 700,
            ..Default::default()
        };
        let trace = Trace { trace_id: TraceId([9; 16]), spans: vec![child, root], truncated_spans: 0 };
        assert_eq!(trace.root().unwrap().name, "GET /");
        assert_eq!(trace.duration_ns(), 600);
        assert_eq!(trace.root().unwrap().service_name(), "api");
        assert_eq!(trace.spans[0].service_name(), UNKNOWN_SERVICE);
    }
}
