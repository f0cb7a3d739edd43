use oxeye_model::Labels;

use super::*;
use crate::pipeline::labels::LabelBuffers;

fn parsed(line: &str, stream: &[(&str, &str)], mut run: impl FnMut(&str, &mut RowLabels<'_>)) -> Vec<String> {
    let base = Labels::from_pairs(stream.iter().copied()).unwrap();
    let mut buffers = LabelBuffers::default();
    let mut row = buffers.row(&base);
    run(line, &mut row);
    let mut out = Vec::new();
    row.for_each(|name, value, category| {
        if category != Category::Stream {
            out.push(format!("{name}={value}"));
        }
    });
    out.sort();
    out
}

fn json_all(line: &str, stream: &[(&str, &str)]) -> Vec<String> {
    parsed(line, stream, |line, row| JsonParser.process(line, row, &mut JsonScratch::default()))
}

#[test]
fn extracts_every_leaf() {
    assert_eq!(
        json_all(
            r#"{"level":"error","n":1.50,"ok":true,"nested":{"a b":{"c":"d"},"arr":[1,2]},"nil":null,"9x":"y","app":"other","esc":"a\"b\u00e9"}"#,
            &[("app", "api")]
        ),
        ["_9x=y", "app_extracted=other", "esc=a\"bé", "level=error", "n=1.50", "nested_a_b_c=d", "ok=true",]
    );
}

#[test]
fn first_value_wins_and_errors_keep_earlier_labels() {
    assert_eq!(json_all(r#"{"a":"1","a":"2"}"#, &[]), ["a=1"]);
    assert_eq!(
        json_all(r#"{"a":"1","b":"#, &[]),
        ["__error__=JSONParserErr", "__error_details__=Malformed JSON error", "a=1"]
    );
    assert_eq!(
        json_all("not json", &[]),
        ["__error__=JSONParserErr", "__error_details__=Value looks like object, but can't find closing '}' symbol"]
    );
    assert_eq!(json_all("{}", &[]), Vec::<String>::new());
}

#[test]
fn extracts_paths() {
    let expressions = [
        ("first", "a.b"),
        ("second", "list[1]"),
        ("third", r#"["with space"]"#),
        ("obj", "a"),
        ("none", "zzz"),
        ("app", "a.b"),
    ];
    let parser = JsonExpressionParser::new(
        expressions.iter().map(|(label, path)| (label.to_string(), parse_path(path).unwrap())).collect(),
    );
    let line = r#"{"a":{"b":"x\ty"},"list":[10,{"k":1}],"with space":null}"#;
    assert_eq!(
        parsed(line, &[("app", "api")], |line, row| parser.process(line, row, &mut JsonScratch::default())),
        ["app_extracted=x\ty", "first=x\ty", "none=", "obj={\"b\":\"x\\ty\"}", "second={\"k\":1}", "third="]
    );
    assert_eq!(
        parsed("plain text", &[], |line, row| parser.process(line, row, &mut JsonScratch::default())),
        ["__error__=JSONParserErr"]
    );
}

#[test]
fn parses_paths() {
    assert_eq!(
        parse_path(r#"a.b[0]["c d"]"#).unwrap(),
        [PathStep::Key("a".into()), PathStep::Key("b".into()), PathStep::Index(0), PathStep::Key("c d".into())]
    );
    assert!(parse_path("a..b").is_err());
    assert!(parse_path("a[1.5]").is_err());
}

#[test]
fn unpacks() {
    let mut entry = None;
    let labels = parsed(r#"{"_entry":"the line","pod":"p1","app":"x","n":1}"#, &[("app", "api")], |line, row| {
        entry = unpack(line, row, &mut JsonScratch::default());
    });
    assert_eq!(labels, ["app_extracted=x", "pod=p1"]);
    assert_eq!(entry.as_deref(), Some("the line"));
    // Without `_entry` nothing is extracted and the line stays.
    let mut entry = Some(String::new());
    let labels = parsed(r#"{"pod":"p1"}"#, &[], |line, row| entry = unpack(line, row, &mut JsonScratch::default()));
    assert!(labels.is_empty());
    assert_eq!(entry, None);
}
