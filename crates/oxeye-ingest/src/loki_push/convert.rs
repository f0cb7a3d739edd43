//! From raw streams (JSON or protobuf) to a [`DecodedLogs`]: label validation, `service_name` discovery,
//! structured-metadata normalisation, grouping, and per-stream refusals.

use oxeye_model::{Label, LogEntry};
use prost::Message;

use super::json::JsonPushRequest;
use super::proto::{PushRequest, StreamAdapter};
use super::selector::parse_selector;
use crate::log_level::add_detected_level;
use crate::log_streams::{
    LogRejectReason, LogRejection, MetadataBuilder, StreamGrouper, build_labels, discover_service_name,
    is_valid_label_name, normalize_label_name, sanitize_metadata_value,
};
use crate::{DecodeError, DecodedLogs};

/// Labels that mark Loki's own internal streams (aggregated metrics, patterns), which skip `service_name`
/// discovery.
const INTERNAL_STREAM_LABELS: &[&str] = &["__aggregated_metric__", "__pattern__"];

/// One entry before validation.
#[derive(Debug, Default)]
pub(super) struct RawEntry {
    pub timestamp_ns: i64,
    pub line: String,
    pub metadata: Vec<(String, String)>,
}

pub(super) fn convert_json(body: &[u8]) -> Result<DecodedLogs, DecodeError> {
    // RFC 8259 JSON is UTF-8; like Go's decoders, invalid sequences are replaced rather than refused.
    // `from_utf8` first: its validation is word-at-a-time on ASCII, much faster than `from_utf8_lossy`'s.
    let text = match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    };
    // serde would also read a struct from an array; a push body is an object.
    if !text.trim_start().starts_with('{') {
        return Err(DecodeError::Json { message: "expected a JSON object with a \"streams\" array".to_string() });
    }
    let request: JsonPushRequest =
        serde_json::from_str(&text).map_err(|error| DecodeError::Json { message: error.to_string() })?;
    let mut converter = Converter::default();
    for (stream_index, stream) in request.streams.unwrap_or_default().into_iter().enumerate() {
        let rendered = render_label_map(&stream.labels);
        if let Some(error) = stream.error {
            let message = format!("streams[{stream_index}] {rendered}: {error}");
            converter.reject(LogRejectReason::InvalidEntry, rendered, stream.entry_count, message);
            continue;
        }
        if let Some(bad) = stream.labels.iter().find(|(name, _)| !is_valid_label_name(name)) {
            let message = format!(
                "streams[{stream_index}]: error parsing labels '{rendered}' with error: invalid label name {:?}",
                bad.0
            );
            converter.reject(LogRejectReason::InvalidLabels, rendered, stream.entry_count, message);
            continue;
        }
        converter.add_stream(stream_index, rendered, stream.labels, stream.entries);
    }
    Ok(converter.finish())
}

pub(super) fn convert_protobuf(protobuf: &[u8]) -> Result<DecodedLogs, DecodeError> {
    let request =
        PushRequest::decode(protobuf).map_err(|error| DecodeError::Protobuf { message: error.to_string() })?;
    let mut converter = Converter::default();
    for (stream_index, stream) in request.streams.into_iter().enumerate() {
        converter.add_protobuf_stream(stream_index, stream);
    }
    Ok(converter.finish())
}

#[derive(Default)]
struct Converter {
    grouper: StreamGrouper,
    rejections: Vec<LogRejection>,
}

impl Converter {
    fn reject(&mut self, reason: LogRejectReason, stream: String, entries: usize, message: String) {
        self.rejections.push(LogRejection::new(reason, stream, entries, message));
    }

    fn add_protobuf_stream(&mut self, stream_index: usize, stream: StreamAdapter) {
        let entry_count = stream.entries.len();
        let selector = match String::from_utf8(stream.labels) {
            Ok(selector) => selector,
            Err(error) => {
                let rendered = String::from_utf8_lossy(error.as_bytes()).into_owned();
                let message =
                    format!("streams[{stream_index}]: error parsing labels '{rendered}' with error: invalid UTF-8");
                return self.reject(LogRejectReason::InvalidLabels, rendered, entry_count, message);
            }
        };
        let pairs = match parse_selector(&selector) {
            Ok(pairs) => pairs,
            Err(error) => {
                let message = format!("streams[{stream_index}]: error parsing labels '{selector}' with error: {error}");
                return self.reject(LogRejectReason::InvalidLabels, selector, entry_count, message);
            }
        };
        let mut entries = Vec::with_capacity(entry_count);
        for (entry_index, entry) in stream.entries.into_iter().enumerate() {
            let timestamp = entry.timestamp.unwrap_or_default();
            let timestamp_ns = timestamp
                .seconds
                .checked_mul(1_000_000_000)
                .and_then(|nanos| nanos.checked_add(i64::from(timestamp.nanos)));
            let Some(timestamp_ns) = timestamp_ns else {
                let message = format!(
                    "streams[{stream_index}] {selector}: entries[{entry_index}]: timestamp {}s {}ns is out of range",
                    timestamp.seconds, timestamp.nanos
                );
                return self.reject(LogRejectReason::InvalidEntry, selector, entry_count, message);
            };
            let metadata = entry
                .structured_metadata
                .into_iter()
                .map(|pair| (lossy_utf8(pair.name), lossy_utf8(pair.value)))
                .collect();
            entries.push(RawEntry { timestamp_ns, line: lossy_utf8(entry.line), metadata });
        }
        self.add_stream(stream_index, selector, pairs, entries);
    }

    /// Validates a stream whose label names are syntactically valid and adds its entries.
    fn add_stream(&mut self, stream_index: usize, rendered: String, pairs: Vec<(String, String)>, raw: Vec<RawEntry>) {
        if raw.is_empty() {
            return;
        }
        let entry_count = raw.len();
        let mut names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        if let Some(duplicate) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            let message =
                format!("streams[{stream_index}]: stream '{rendered}' has duplicate label name: '{}'", duplicate[0]);
            return self.reject(LogRejectReason::DuplicateLabelNames, rendered, entry_count, message);
        }
        // Empty values are the absence of the label (Loki's `ParseLabels` drops them).
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| Label { name, value })
            .collect();
        let is_internal = labels.iter().any(|label| INTERNAL_STREAM_LABELS.contains(&label.name.as_str()));
        if !is_internal {
            discover_service_name(&mut labels);
        }
        let labels = match build_labels(labels) {
            Ok(labels) => labels,
            Err(duplicate) => unreachable!("BUG: duplicate label {duplicate} after the duplicate check"),
        };

        let mut entries = Vec::with_capacity(entry_count);
        for (entry_index, entry) in raw.into_iter().enumerate() {
            let mut metadata = MetadataBuilder::with_capacity(entry.metadata.len() + 1);
            for (name, value) in entry.metadata {
                match normalize_label_name(&name) {
                    Ok(normalized) => metadata.set(normalized, sanitize_metadata_value(value)),
                    Err(error) => {
                        let message = format!(
                            "streams[{stream_index}] {rendered}: entries[{entry_index}]: structured metadata name \
                             {name:?} is invalid: {error}"
                        );
                        return self.reject(LogRejectReason::InvalidEntry, rendered, entry_count, message);
                    }
                }
            }
            add_detected_level(&labels, &mut metadata, &entry.line);
            entries.push(LogEntry { timestamp_ns: entry.timestamp_ns, line: entry.line, metadata: metadata.build() });
        }
        for entry in entries {
            self.grouper.push(&labels, entry);
        }
    }

    fn finish(self) -> DecodedLogs {
        DecodedLogs { batch: self.grouper.into_batch(), rejections: self.rejections }
    }
}

fn lossy_utf8(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// A JSON `stream` object rendered as Loki renders it (`LabelSet.String`): sorted by name, `, `-separated,
/// values quoted.
fn render_label_map(labels: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rendered = String::from("{");
    for (position, (name, value)) in sorted.into_iter().enumerate() {
        if position > 0 {
            rendered.push_str(", ");
        }
        rendered.push_str(name);
        rendered.push('=');
        rendered.push_str(&format!("{value:?}"));
    }
    rendered.push('}');
    rendered
}
