//! The Elasticsearch bulk response that clients (Vector, Fluent Bit, Filebeat, Logstash) check.

use std::fmt::Write as _;

use super::decode::BulkItem;

/// Renders `{"took":…,"errors":…,"items":[{"create":{"status":201}},…]}` for the item outcomes in request order.
///
/// VictoriaLogs always answers `"errors":false` with status 201 items; oxeye reports refused documents as
/// Elasticsearch does, `{"status":400,"error":{"type":"mapper_parsing_exception","reason":"…"}}`, and sets
/// `errors` when there is one, so clients log or dead-letter them instead of believing them stored.
pub fn render_response(items: &[BulkItem], took_ms: u64) -> String {
    let mut json = String::with_capacity(40 + items.len() * 28);
    let errors = items.iter().any(|item| item.error.is_some());
    let _ = write!(json, r#"{{"took":{took_ms},"errors":{errors},"items":["#);
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            json.push(',');
        }
        let _ = write!(json, r#"{{"{}":{{"status":{}"#, item.action.as_str(), item.status);
        if let Some(reason) = &item.error {
            json.push_str(r#","error":{"type":"mapper_parsing_exception","reason":"#);
            oxeye_model::go_json::write_string(&mut json, reason);
            json.push('}');
        }
        json.push_str("}}");
    }
    json.push_str("]}");
    json
}
