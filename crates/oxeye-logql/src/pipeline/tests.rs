use oxeye_model::Labels;

use super::*;
use crate::parser::ast::Expr;
use crate::pipeline::labels::{Category, LabelBuffers};

/// Runs a log query's pipeline on one line of a stream; returns the final line and the non-stream labels.
fn run(query: &str, stream: &[(&str, &str)], metadata: &[(&str, &str)], line: &str) -> Option<(String, Vec<String>)> {
    let Expr::Log(log) = crate::parse(query).unwrap() else { panic!("not a log query") };
    let pipeline = Pipeline::compile(&log.stages, false, &[]).unwrap();
    let base = Labels::from_pairs(stream.iter().copied()).unwrap();
    let mut buffers = LabelBuffers::default();
    let mut scratch = Scratch::default();
    let mut key_scratch = String::new();
    let mut row = buffers.row(&base);
    row.add_structured_metadata(metadata, &mut key_scratch);
    let out = pipeline.process(1_000, line, &mut row, &mut scratch)?.to_string();
    let mut labels = Vec::new();
    row.for_each(|name, value, category| {
        if category != Category::Stream {
            labels.push(format!("{name}={value}"));
        }
    });
    labels.sort();
    Some((out, labels))
}

#[test]
fn stages_run_in_order() {
    let stream = [("app", "api")];
    let line = r#"{"level":"error","msg":"db timeout","latency":"1.5s","app":"web"}"#;
    assert_eq!(
        run(
            r#"{app="api"} |= "timeout" | json | level="error" | latency > 1s | line_format "{{.msg}} ({{.app_extracted}})""#,
            &stream,
            &[],
            line
        ),
        Some((
            "db timeout (web)".to_string(),
            vec!["app_extracted=web".into(), "latency=1.5s".into(), "level=error".into(), "msg=db timeout".into()]
        ))
    );
    assert_eq!(run(r#"{app="api"} |= "nope""#, &stream, &[], line), None);
    assert_eq!(run(r#"{app="api"} | json | level="info""#, &stream, &[], line), None);
    // A filter after line_format sees the new line.
    assert!(run(r#"{app="api"} | json | line_format "{{.msg}}" |= "db" != "level""#, &stream, &[], line).is_some());
}

#[test]
fn structured_metadata_is_filterable() {
    let result = run(
        r#"{app="api"} | trace_id="abc" | keep trace_id"#,
        &[("app", "api")],
        &[("trace_id", "abc"), ("user", "u1")],
        "x",
    );
    assert_eq!(result, Some(("x".to_string(), vec!["trace_id=abc".into()])));
    assert_eq!(run(r#"{app="api"} | trace_id="zzz""#, &[("app", "api")], &[("trace_id", "abc")], "x"), None);
}

#[test]
fn errors_are_labels_and_filterable() {
    let stream = [("app", "api")];
    assert_eq!(
        run(r#"{app="api"} | json | __error__!="""#, &stream, &[], "not json").map(|(_, labels)| labels),
        Some(vec![
            "__error__=JSONParserErr".to_string(),
            "__error_details__=Value looks like object, but can't find closing '}' symbol".to_string()
        ])
    );
    assert_eq!(run(r#"{app="api"} | json | __error__="""#, &stream, &[], "not json"), None);
    assert_eq!(
        run(r#"{app="api"} | json | drop __error__, __error_details__"#, &stream, &[], "not json").map(|(_, l)| l),
        Some(vec![])
    );
}

#[test]
fn unpack_and_decolorize_rewrite_the_line() {
    assert_eq!(
        run(r#"{app="api"} | unpack |= "inner""#, &[("app", "api")], &[], r#"{"_entry":"inner line","pod":"p"}"#),
        Some(("inner line".to_string(), vec!["pod=p".into()]))
    );
    assert_eq!(
        run(r#"{app="api"} | decolorize"#, &[("app", "api")], &[], "\x1b[32mok\x1b[0m").map(|(l, _)| l),
        Some("ok".to_string())
    );
}

#[test]
fn bad_stages_fail_with_loki_messages() {
    let f = |query: &str, want: &str| {
        let Expr::Log(log) = crate::parse(query).unwrap() else { panic!("not a log query") };
        assert_eq!(Pipeline::compile(&log.stages, false, &[]).unwrap_err().to_string(), want, "{query}");
    };
    f(
        r#"{app="api"} | regexp "(a)""#,
        r#"parse error : stage '| regexp "(a)"' : at least one named capture must be supplied"#,
    );
    f(r#"{app="api"} | pattern "foo""#, r#"parse error : stage '| pattern "foo"' : at least one capture is required"#);
    f(
        r#"{app="api"} | line_format "{{.a""#,
        r#"parse error : stage '| line_format "{{.a"' : invalid line template: template: line:1: unclosed action"#,
    );
    f(
        r#"{app="api"} | label_format a="x", a="y""#,
        r#"parse error : stage '| label_format a="x", a="y"' : multiple label name 'a' not allowed in a single format operation"#,
    );
}

#[test]
fn parsers_are_skipped_when_no_label_is_kept() {
    let Expr::Log(log) = crate::parse(r#"{app="api"} | json"#).unwrap() else { panic!("not a log query") };
    let pipeline = Pipeline::compile(&log.stages, true, &[]).unwrap();
    let base = Labels::from_pairs([("app", "api")]).unwrap();
    let mut buffers = LabelBuffers::default();
    let mut row = buffers.row(&base);
    assert!(pipeline.process(0, "not json", &mut row, &mut Scratch::default()).is_some());
    assert!(!row.has_error());
}
