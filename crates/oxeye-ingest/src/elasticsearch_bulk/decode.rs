//! The bulk body: action lines, documents, and each document's conversion into a log entry.

use oxeye_model::{Label, LogEntry};

use super::document::flatten_document;
use super::params::{BulkParams, MISSING_MESSAGE};
use super::timestamp::parse_timestamp;
use crate::DecodeError;
use crate::log_streams::{MetadataBuilder, StreamGrouper, build_labels, normalize_label_name};

/// The action of a bulk item; both store the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkAction {
    Create,
    Index,
}

impl BulkAction {
    /// The name used in the action line and in the response item.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Create => "create",
            BulkAction::Index => "index",
        }
    }
}

/// The outcome of one bulk item, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkItem {
    pub action: BulkAction,
    /// HTTP-style status: 201 when the document was turned into an entry, 400 when it was refused.
    pub status: u16,
    /// Why the document was refused.
    pub error: Option<String>,
}

/// A decoded bulk request: the entries to store and one outcome per document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedBulk {
    pub batch: oxeye_model::LogBatch,
    pub items: Vec<BulkItem>,
}

/// Decodes an Elasticsearch bulk body (NDJSON: an action line `{"create":{…}}` or `{"index":{…}}`, then the
/// document) into log entries, as VictoriaLogs' `/insert/elasticsearch/_bulk` does.
///
/// A document that is not a JSON object, or whose timestamp cannot be read, or that has a field whose name cannot
/// become a label name, is refused on its own (a 400 item) and the others are kept. Documents without a timestamp
/// (or with `"0"`) get `now_ns`. Fails with [`DecodeError::BulkLine`] when an action line is not `create` or
/// `index` (for example `delete`), or an action has no document after it; nothing is kept then.
pub fn decode(body: &[u8], params: &BulkParams, now_ns: i64) -> Result<DecodedBulk, DecodeError> {
    let mut grouper = StreamGrouper::default();
    let mut items = Vec::new();
    let mut lines = body.split(|byte| *byte == b'\n').enumerate().map(|(index, line)| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (index + 1, line)
    });
    while let Some((line_number, action_line)) = lines.next() {
        if action_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let action = parse_action(action_line).ok_or_else(|| DecodeError::BulkLine {
            line: line_number,
            message: format!(
                "unexpected command {:?}; expecting \"create\" or \"index\"",
                String::from_utf8_lossy(action_line)
            ),
        })?;
        let Some((_, document)) = lines.next() else {
            return Err(DecodeError::BulkLine {
                line: line_number,
                message: "missing document after the \"create\" or \"index\" command".to_string(),
            });
        };
        match document_entry(document, params, now_ns) {
            Ok((labels, entry)) => {
                grouper.push(&labels, entry);
                items.push(BulkItem { action, status: 201, error: None });
            }
            Err(error) => items.push(BulkItem { action, status: 400, error: Some(error) }),
        }
    }
    Ok(DecodedBulk { batch: grouper.into_batch(), items })
}

/// `{"create": {…}}` or `{"index": {…}}`; anything else is `None`.
fn parse_action(line: &[u8]) -> Option<BulkAction> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let object = value.as_object()?;
    if object.len() != 1 {
        return None;
    }
    match object.keys().next()?.as_str() {
        "create" => Some(BulkAction::Create),
        "index" => Some(BulkAction::Index),
        _ => None,
    }
}

fn document_entry(
    document: &[u8],
    params: &BulkParams,
    now_ns: i64,
) -> Result<(oxeye_model::Labels, LogEntry), String> {
    // VictoriaLogs stores the bytes as sent; oxeye's lines and values are UTF-8, so invalid sequences are replaced.
    let text = String::from_utf8_lossy(document);
    if text.trim().is_empty() {
        return Err("empty document".to_string());
    }
    let mut fields =
        flatten_document(&text).map_err(|error| format!("cannot parse json-encoded log entry: {error}"))?;

    let mut timestamp_ns = None;
    if let Some(position) =
        params.time_fields.iter().find_map(|name| fields.iter().position(|(field, _)| field == name))
    {
        let (_, value) = fields.remove(position);
        timestamp_ns = parse_timestamp(&value).map_err(|error| format!("cannot parse timestamp: {error}"))?;
    }

    for (name, value) in &params.extra_fields {
        fields.retain(|(field, _)| field != name);
        fields.push((name.clone(), value.clone()));
    }

    let message_position = params
        .msg_fields
        .iter()
        .find_map(|name| fields.iter().position(|(field, value)| field == name && !value.is_empty()))
        .or_else(|| fields.iter().position(|(field, value)| field == "_msg" && !value.is_empty()));
    let line = match message_position {
        Some(position) => fields.remove(position).1,
        None => MISSING_MESSAGE.to_string(),
    };

    let mut stream_pairs: Vec<Label> = Vec::with_capacity(params.stream_fields.len());
    for stream_field in &params.stream_fields {
        let Some(position) = fields.iter().position(|(field, value)| field == stream_field && !value.is_empty()) else {
            continue;
        };
        let (name, value) = fields.remove(position);
        let label_name = label_name(&name)?;
        stream_pairs.retain(|label| label.name != label_name);
        stream_pairs.push(Label { name: label_name, value });
    }
    let labels = build_labels(stream_pairs).map_err(|duplicate| format!("duplicate stream label {duplicate:?}"))?;

    let mut metadata = MetadataBuilder::with_capacity(fields.len());
    for (name, value) in fields {
        if params.is_ignored(&name) {
            continue;
        }
        metadata.set(label_name(&name)?, value);
    }
    let entry = LogEntry { timestamp_ns: timestamp_ns.unwrap_or(now_ns), line, metadata: metadata.build() };
    Ok((labels, entry))
}

fn label_name(field: &str) -> Result<String, String> {
    normalize_label_name(field).map_err(|error| format!("field {field:?} cannot be stored: {error}"))
}
