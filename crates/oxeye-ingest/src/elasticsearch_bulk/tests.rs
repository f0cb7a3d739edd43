use std::collections::HashMap;

use oxeye_model::{Label, Labels};
use proptest::prelude::*;

use super::*;
use crate::DecodeError;

const NOW: i64 = 1_800_000_000_000_000_000;

fn params(query: &[(&str, &str)], headers: &[(&str, &str)]) -> BulkParams {
    let query: HashMap<String, String> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let headers: HashMap<String, String> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    BulkParams::from_request(|name| query.get(name).cloned(), |name| headers.get(name).cloned()).unwrap()
}

fn meta(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs.iter().map(|(name, value)| Label::new(*name, *value)).collect()
}

#[test]
fn parameters_come_from_query_then_headers() {
    let params = params(
        &[("_stream_fields", "host.name, app"), ("_msg_field", ""), ("extra_fields", "env=prod")],
        &[("VL-Msg-Field", "message,log"), ("VL-Stream-Fields", "ignored"), ("VL-Ignore-Fields", "agent*,ecs.version")],
    );
    assert_eq!(params.stream_fields, ["host.name", "app"]);
    assert_eq!(params.msg_fields, ["message", "log"]);
    assert_eq!(params.time_fields, ["_time"]);
    assert_eq!(params.ignore_fields, ["agent*", "ecs.version"]);
    assert_eq!(params.extra_fields, [("env".to_string(), "prod".to_string())]);
    assert!(params.is_ignored("agent.name") && params.is_ignored("ecs.version") && !params.is_ignored("ecs"));
    assert_eq!(BulkParams::from_request(|_| None, |_| None).unwrap(), BulkParams::default());
    let error = BulkParams::from_request(|name| (name == "extra_fields").then(|| "novalue".to_string()), |_| None);
    assert!(matches!(error, Err(DecodeError::InvalidParameter { .. })), "{error:?}");
}

#[test]
fn filebeat_style_documents() {
    let params = params(
        &[
            ("_msg_field", "message"),
            ("_time_field", "@timestamp"),
            ("_stream_fields", "host.name,log.file.path"),
            ("ignore_fields", "agent*"),
        ],
        &[],
    );
    let body = br#"{"create":{"_index":"filebeat-8"}}
{"@timestamp":"2023-06-20T15:32:10.5Z","message":"cannot open file","host":{"name":"h1"},"log":{"file":{"path":"/var/log/a"},"offset":12},"agent":{"type":"filebeat"},"empty":""}
{"index":{}}
{"@timestamp":1686026893,"message":"second","host":{"name":"h1"},"log":{"file":{"path":"/var/log/a"}}}

{"create":{}}
{"message":"no time, other stream","host":{"name":"h2"}}
{"create":{}}
{"no_message":true}
"#;
    let decoded = decode(body, &params, NOW).unwrap();
    assert_eq!(decoded.items.len(), 4);
    assert!(decoded.items.iter().all(|item| item.status == 201 && item.error.is_none()));
    assert_eq!(decoded.items[1].action, BulkAction::Index);
    let streams = &decoded.batch.streams;
    assert_eq!(streams.len(), 3);
    assert_eq!(streams[0].labels, Labels::from_pairs([("host_name", "h1"), ("log_file_path", "/var/log/a")]).unwrap());
    assert_eq!(streams[0].entries[0].timestamp_ns, 1_687_275_130_500_000_000);
    assert_eq!(streams[0].entries[0].line, "cannot open file");
    assert_eq!(streams[0].entries[0].metadata, meta(&[("log_offset", "12")]));
    assert_eq!(streams[0].entries[1].timestamp_ns, 1_686_026_893_000_000_000);
    assert_eq!(streams[1].labels, Labels::from_pairs([("host_name", "h2")]).unwrap());
    assert_eq!(streams[1].entries[0].timestamp_ns, NOW);
    assert_eq!(streams[2].labels, Labels::empty());
    assert_eq!(streams[2].entries[0].line, MISSING_MESSAGE);
    assert_eq!(streams[2].entries[0].metadata, meta(&[("no_message", "true")]));
}

#[test]
fn default_fields_and_extra_fields() {
    let params = params(&[("extra_fields", "env=prod,_msg=overridden"), ("_stream_fields", "env")], &[]);
    let body =
        b"{\"create\":{}}\r\n{\"_msg\":\"m\",\"_time\":\"0\",\"env\":\"dev\",\"message\":\"kept as metadata\"}\r\n";
    let decoded = decode(body, &params, NOW).unwrap();
    let stream = &decoded.batch.streams[0];
    assert_eq!(stream.labels, Labels::from_pairs([("env", "prod")]).unwrap());
    assert_eq!(stream.entries[0].line, "overridden");
    assert_eq!(stream.entries[0].timestamp_ns, NOW);
    assert_eq!(stream.entries[0].metadata, meta(&[("message", "kept as metadata")]));
}

#[test]
fn bad_documents_are_refused_one_by_one() {
    let body = br#"{"create":{}}
not json
{"create":{}}
{"_msg":"bad time","_time":"yesterday"}
{"create":{}}
{"_msg":"bad name","...":"x"}
{"create":{}}
{"_msg":"good"}
"#;
    let decoded = decode(body, &BulkParams::default(), NOW).unwrap();
    let statuses: Vec<u16> = decoded.items.iter().map(|item| item.status).collect();
    assert_eq!(statuses, [400, 400, 400, 201]);
    assert!(decoded.items[0].error.as_deref().unwrap().starts_with("cannot parse json-encoded log entry: "));
    assert_eq!(
        decoded.items[1].error.as_deref(),
        Some(r#"cannot parse timestamp: cannot parse unix timestamp "yesterday""#)
    );
    assert!(decoded.items[2].error.as_deref().unwrap().starts_with(r#"field "..." cannot be stored: "#));
    assert_eq!(decoded.batch.entry_count(), 1);

    let response = render_response(&decoded.items, 7);
    assert_eq!(
        response,
        concat!(
            r#"{"took":7,"errors":true,"items":["#,
            r#"{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"cannot parse json-encoded log entry: expected ident at line 1 column 2"}}},"#,
            r#"{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"cannot parse timestamp: cannot parse unix timestamp \"yesterday\""}}},"#,
            r#"{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"field \"...\" cannot be stored: normalization for label name \"...\" resulted in invalid name \"_\""}}},"#,
            r#"{"create":{"status":201}}]}"#
        )
    );
    let ok = [BulkItem { action: BulkAction::Index, status: 201, error: None }];
    assert_eq!(render_response(&ok, 0), r#"{"took":0,"errors":false,"items":[{"index":{"status":201}}]}"#);
    assert_eq!(render_response(&[], 1), r#"{"took":1,"errors":false,"items":[]}"#);
}

#[test]
fn broken_structure_fails_the_request() {
    let f = |body: &str, want: &str| {
        let error = decode(body.as_bytes(), &BulkParams::default(), NOW).unwrap_err();
        assert_eq!(error.to_string(), want, "{body}");
    };
    f(
        "{\"delete\":{\"_id\":\"1\"}}\n",
        r#"bulk line 1: unexpected command "{\"delete\":{\"_id\":\"1\"}}"; expecting "create" or "index""#,
    );
    f("\n\n{\"create\":{}}", r#"bulk line 3: missing document after the "create" or "index" command"#);
    f("{\"_msg\":\"x\"}\n", r#"bulk line 1: unexpected command "{\"_msg\":\"x\"}"; expecting "create" or "index""#);
    assert!(decode(b"", &BulkParams::default(), NOW).unwrap().items.is_empty());
}

#[test]
fn invalid_utf8_is_replaced() {
    let mut body = b"{\"create\":{}}\n{\"_msg\":\"a".to_vec();
    body.push(0xff);
    body.extend_from_slice(b"b\"}\n");
    let decoded = decode(&body, &BulkParams::default(), NOW).unwrap();
    assert_eq!(decoded.batch.streams[0].entries[0].line, "a\u{fffd}b");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&body, &BulkParams::default(), NOW);
        let mut with_action = b"{\"index\":{}}\n".to_vec();
        with_action.extend_from_slice(&body);
        if let Ok(decoded) = decode(&with_action, &BulkParams::default(), NOW) {
            let _ = render_response(&decoded.items, 0);
        }
    }

    #[test]
    fn arbitrary_time_values_never_panic(time in "[0-9eE.+: TZ-]{0,32}") {
        let body = format!("{{\"create\":{{}}}}\n{{\"_msg\":\"x\",\"_time\":{:?}}}\n", time);
        let decoded = decode(body.as_bytes(), &BulkParams::default(), NOW).unwrap();
        prop_assert_eq!(decoded.items.len(), 1);
    }
}
