//! The ingestion parameters VictoriaLogs takes from the query string or, failing that, from `VL-*` headers
//! (`app/vlinsert/insertutil/common_params.go`).

use crate::DecodeError;

/// How bulk documents become log entries. Each list comes from a comma-separated query parameter or, when that
/// is absent or empty, from the matching header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkParams {
    /// `_stream_fields` / `VL-Stream-Fields`: the (flattened, dotted) fields whose values form the stream labels.
    /// Empty: every document goes to the stream with no labels, as in VictoriaLogs.
    pub stream_fields: Vec<String>,
    /// `_msg_field` / `VL-Msg-Field`: candidates for the message, first non-empty one wins; a field literally
    /// named `_msg` is used when none is given or none is present.
    pub msg_fields: Vec<String>,
    /// `_time_field` / `VL-Time-Field`: candidates for the timestamp, the first present one is used; default
    /// `_time`.
    pub time_fields: Vec<String>,
    /// `ignore_fields` / `VL-Ignore-Fields`: fields dropped from the structured metadata; `prefix*` drops every
    /// field starting with `prefix`.
    pub ignore_fields: Vec<String>,
    /// `extra_fields` / `VL-Extra-Fields` (`name=value` items): fields added to every document, replacing a
    /// field of the same name.
    pub extra_fields: Vec<(String, String)>,
}

/// The message VictoriaLogs stores for a document without one (its `-defaultMsgValue`).
pub const MISSING_MESSAGE: &str =
    "missing _msg field; see https://docs.victoriametrics.com/victorialogs/keyconcepts/#message-field";

impl Default for BulkParams {
    fn default() -> Self {
        Self {
            stream_fields: Vec::new(),
            msg_fields: Vec::new(),
            time_fields: vec!["_time".to_string()],
            ignore_fields: Vec::new(),
            extra_fields: Vec::new(),
        }
    }
}

impl BulkParams {
    /// Reads the parameters of one request: `query` looks up a (decoded) query parameter, `header` an HTTP header.
    ///
    /// Fails with [`DecodeError::InvalidParameter`] for an `extra_fields` item that is not `name=value`.
    pub fn from_request(
        query: impl Fn(&str) -> Option<String>,
        header: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, DecodeError> {
        let list = |parameter: &str, header_name: &str| -> Vec<String> {
            let value = query(parameter).filter(|value| !value.is_empty()).or_else(|| header(header_name));
            value
                .map(|value| {
                    value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_string).collect()
                })
                .unwrap_or_default()
        };
        let mut params = BulkParams {
            stream_fields: list("_stream_fields", "VL-Stream-Fields"),
            msg_fields: list("_msg_field", "VL-Msg-Field"),
            time_fields: list("_time_field", "VL-Time-Field"),
            ignore_fields: list("ignore_fields", "VL-Ignore-Fields"),
            extra_fields: Vec::new(),
        };
        if params.time_fields.is_empty() {
            params.time_fields.push("_time".to_string());
        }
        for item in list("extra_fields", "VL-Extra-Fields") {
            match item.split_once('=') {
                Some((name, value)) if !name.is_empty() && !value.is_empty() => {
                    params.extra_fields.push((name.to_string(), value.to_string()))
                }
                _ => {
                    return Err(DecodeError::InvalidParameter {
                        name: "extra_fields".to_string(),
                        message: format!("invalid extra_field format: {item:?}; must be in the form \"field=value\""),
                    });
                }
            }
        }
        Ok(params)
    }

    pub(super) fn is_ignored(&self, field: &str) -> bool {
        self.ignore_fields.iter().any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => field.starts_with(prefix),
            None => field == pattern,
        })
    }
}
