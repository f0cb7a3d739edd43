//! The walk over an OTLP logs request: resources → stream labels and metadata, scopes → metadata, records →
//! entries. Follows Loki's `otlpToLokiPushRequest` and `otlplabels` (see the module documentation for the
//! differences).

use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use oxeye_model::{Label, Labels, LogEntry};

use crate::log_level::add_detected_level;
use crate::log_streams::{
    LogRejectReason, LogRejection, MetadataBuilder, SERVICE_NAME_LABEL, StreamGrouper, build_labels,
    discover_service_name, normalize_label_name, sanitize_metadata_value,
};
use crate::otlp_metrics::attribute_value::attribute_value_string;
use crate::{DecodedLogs, LogRejectReason as Reason};

/// Resource attributes that become stream labels: Loki's `distributor.otlp.default_resource_attributes_as_index_labels`.
pub const INDEX_LABEL_ATTRIBUTES: &[&str] = &[
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

const SERVICE_NAME_ATTRIBUTE: &str = "service.name";
const EVENT_NAME: &str = "event_name";
/// At most this many distinct messages are joined into a partial-success error message.
const MAX_MESSAGES_IN_ERROR: usize = 10;

/// Translates an OTLP logs request into streams as Loki 3 does (see the module documentation).
///
/// `now_ns` is the timestamp of records that carry neither `time_unix_nano` nor `observed_time_unix_nano`.
/// Never fails: a resource, scope or record that cannot be translated is reported as a [`LogRejection`] counting
/// its records.
pub fn translate(request: ExportLogsServiceRequest, now_ns: i64) -> DecodedLogs {
    let mut translator = Translator { now_ns, grouper: StreamGrouper::default(), rejections: Vec::new() };
    for (resource_index, resource_logs) in request.resource_logs.into_iter().enumerate() {
        translator.resource(resource_index, resource_logs);
    }
    DecodedLogs { batch: translator.grouper.into_batch(), rejections: translator.rejections }
}

/// The OTLP `partial_success` for a translated request: `None` when nothing was refused, otherwise the number of
/// refused records and up to ten distinct refusal messages joined with `; `.
pub fn partial_success(decoded: &DecodedLogs) -> Option<ExportLogsPartialSuccess> {
    if decoded.rejections.is_empty() {
        return None;
    }
    let mut messages: Vec<&str> = Vec::new();
    for rejection in &decoded.rejections {
        if messages.len() == MAX_MESSAGES_IN_ERROR {
            break;
        }
        if !messages.contains(&rejection.message.as_str()) {
            messages.push(&rejection.message);
        }
    }
    Some(ExportLogsPartialSuccess {
        rejected_log_records: i64::try_from(decoded.rejected_entries()).unwrap_or(i64::MAX),
        error_message: messages.join("; "),
    })
}

struct Translator {
    now_ns: i64,
    grouper: StreamGrouper,
    rejections: Vec<LogRejection>,
}

impl Translator {
    fn reject(&mut self, reason: Reason, position: String, entries: usize, message: String) {
        if entries > 0 {
            self.rejections.push(LogRejection::new(reason, position, entries, message));
        }
    }

    fn resource(&mut self, resource_index: usize, resource_logs: ResourceLogs) {
        let position = format!("resourceLogs[{resource_index}]");
        let record_count = resource_logs.scope_logs.iter().map(|scope| scope.log_records.len()).sum();
        let attributes = resource_logs.resource.map(|resource| resource.attributes).unwrap_or_default();

        let mut stream_pairs: Vec<Label> = Vec::new();
        let mut resource_metadata: Vec<Label> = Vec::new();
        for attribute in &attributes {
            let flattened = match flatten_attribute(&attribute.key, attribute.value.as_ref()) {
                Ok(flattened) => flattened,
                Err(error) => {
                    let message = format!("{position}: resource attribute {:?}: {error}", attribute.key);
                    return self.reject(LogRejectReason::InvalidLabels, position, record_count, message);
                }
            };
            if INDEX_LABEL_ATTRIBUTES.contains(&attribute.key.as_str()) {
                for label in flattened {
                    stream_pairs.retain(|existing| existing.name != label.name);
                    stream_pairs.push(label);
                }
            } else {
                resource_metadata.extend(flattened);
            }
        }
        // pdata's `Map.Get` finds the first attribute with the key.
        let has_service_name = attributes
            .iter()
            .find(|attribute| attribute.key == SERVICE_NAME_ATTRIBUTE)
            .is_some_and(|attribute| !attribute_value_string(attribute.value.as_ref()).is_empty());
        stream_pairs.retain(|label| !label.value.is_empty());
        if !has_service_name {
            stream_pairs.retain(|label| label.name != SERVICE_NAME_LABEL);
            discover_service_name(&mut stream_pairs);
        }
        let labels = match build_labels(stream_pairs) {
            Ok(labels) => labels,
            Err(duplicate) => unreachable!("BUG: duplicate stream label {duplicate} after deduplication"),
        };

        for (scope_index, scope_logs) in resource_logs.scope_logs.into_iter().enumerate() {
            let scope_position = format!("{position}.scopeLogs[{scope_index}]");
            self.scope(&position, &scope_position, &labels, &resource_metadata, scope_logs);
        }
    }

    fn scope(
        &mut self,
        resource_position: &str,
        scope_position: &str,
        labels: &Labels,
        resource_metadata: &[Label],
        scope_logs: ScopeLogs,
    ) {
        let record_count = scope_logs.log_records.len();
        let mut scope_metadata: Vec<Label> = Vec::new();
        if let Some(scope) = &scope_logs.scope {
            for attribute in &scope.attributes {
                match flatten_attribute(&attribute.key, attribute.value.as_ref()) {
                    Ok(flattened) => scope_metadata.extend(flattened),
                    Err(error) => {
                        let message = format!("{scope_position}: scope attribute {:?}: {error}", attribute.key);
                        let position = resource_position.to_string();
                        return self.reject(LogRejectReason::InvalidLabels, position, record_count, message);
                    }
                }
            }
            scope_metadata.push(Label::new("scope_name", scope.name.as_str()));
            scope_metadata.push(Label::new("scope_version", scope.version.as_str()));
            if scope.dropped_attributes_count != 0 {
                scope_metadata
                    .push(Label::new("scope_dropped_attributes_count", scope.dropped_attributes_count.to_string()));
            }
        }
        for (record_index, record) in scope_logs.log_records.into_iter().enumerate() {
            match self.entry(labels, resource_metadata, &scope_metadata, record) {
                Ok(entry) => self.grouper.push(labels, entry),
                Err(error) => {
                    let message = format!("{scope_position}.logRecords[{record_index}]: {error}");
                    self.reject(LogRejectReason::InvalidEntry, resource_position.to_string(), 1, message);
                }
            }
        }
    }

    fn entry(
        &self,
        labels: &Labels,
        resource_metadata: &[Label],
        scope_metadata: &[Label],
        record: LogRecord,
    ) -> Result<LogEntry, String> {
        let mut metadata = MetadataBuilder::with_capacity(
            record.attributes.len() + 9 + resource_metadata.len() + scope_metadata.len(),
        );
        for attribute in &record.attributes {
            // The record's own event name wins over an attribute of the same name.
            if attribute.key == EVENT_NAME && !record.event_name.is_empty() {
                continue;
            }
            let flattened = flatten_attribute(&attribute.key, attribute.value.as_ref())
                .map_err(|error| format!("attribute {:?}: {error}", attribute.key))?;
            for label in flattened {
                metadata.set(label.name, sanitize_metadata_value(label.value));
            }
        }
        if record.time_unix_nano != 0 && record.observed_time_unix_nano != 0 {
            metadata.set("observed_timestamp", record.observed_time_unix_nano.to_string());
        }
        if record.severity_number != 0 {
            metadata.set("severity_number", record.severity_number.to_string());
        }
        metadata.set("severity_text", sanitize_metadata_value(record.severity_text));
        if record.dropped_attributes_count != 0 {
            metadata.set("dropped_attributes_count", record.dropped_attributes_count.to_string());
        }
        if record.flags != 0 {
            metadata.set("flags", record.flags.to_string());
        }
        metadata.set(oxeye_model::TRACE_ID_METADATA, hex_id(&record.trace_id, 16, "trace_id")?);
        metadata.set(oxeye_model::SPAN_ID_METADATA, hex_id(&record.span_id, 8, "span_id")?);
        metadata.set(EVENT_NAME, sanitize_metadata_value(record.event_name));
        for label in resource_metadata.iter().chain(scope_metadata) {
            metadata.set_if_absent(&label.name, sanitize_metadata_value(label.value.clone()));
        }

        let line = attribute_value_string(record.body.as_ref());
        add_detected_level(labels, &mut metadata, &line);
        let timestamp = match (record.time_unix_nano, record.observed_time_unix_nano) {
            (0, 0) => self.now_ns,
            (0, observed) => saturating_ns(observed),
            (time, _) => saturating_ns(time),
        };
        Ok(LogEntry { timestamp_ns: timestamp, line, metadata: metadata.build() })
    }
}

fn saturating_ns(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// Lowercase hex of a trace or span id; empty for an absent or all-zero id (pdata's `IsEmpty`).
fn hex_id(id: &[u8], length: usize, name: &str) -> Result<String, String> {
    if id.is_empty() || id.iter().all(|byte| *byte == 0) {
        return Ok(String::new());
    }
    if id.len() != length {
        return Err(format!("{name} must be {length} bytes, got {}", id.len()));
    }
    let mut hex = String::with_capacity(id.len() * 2);
    for byte in id {
        let _ = write!(hex, "{byte:02x}");
    }
    Ok(hex)
}

/// One attribute as label pairs, the way Loki's `AttributeToLabels` makes them: a map value is flattened into
/// `key_subkey` pairs (recursively), every name is normalised, every other value is rendered with `AsString`.
fn flatten_attribute(key: &str, value: Option<&AnyValue>) -> Result<Vec<Label>, String> {
    let mut labels = Vec::with_capacity(1);
    flatten_into(&mut labels, key, value, "")?;
    Ok(labels)
}

fn flatten_into(labels: &mut Vec<Label>, key: &str, value: Option<&AnyValue>, prefix: &str) -> Result<(), String> {
    let name =
        if prefix.is_empty() { normalize_label_name(key)? } else { normalize_label_name(&format!("{prefix}_{key}"))? };
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::KvlistValue(list)) => {
            for KeyValue { key: inner_key, value: inner_value, .. } in &list.values {
                flatten_into(labels, inner_key, inner_value.as_ref(), &name)?;
            }
        }
        _ => labels.push(Label { name, value: attribute_value_string(value) }),
    }
    Ok(())
}
