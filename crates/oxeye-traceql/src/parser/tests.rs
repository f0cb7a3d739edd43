//! Parser tests: every construct round-trips through the printer; invalid queries fail with Tempo's messages.

use oxeye_model::{SpanKind, StatusCode};

use super::ast::*;
use super::parse;

/// Parses, prints, parses again: the trees must be equal and the printed text stable.
fn assert_round_trip(query: &str) -> String {
    let parsed = parse(query).unwrap_or_else(|error| panic!("{query:?} should parse: {error}"));
    let printed = parsed.to_string();
    let reparsed = parse(&printed).unwrap_or_else(|error| panic!("{printed:?} (from {query:?}) should parse: {error}"));
    assert_eq!(parsed, reparsed, "round trip of {query:?} via {printed:?}");
    assert_eq!(reparsed.to_string(), printed, "printing is stable for {query:?}");
    printed
}

#[test]
fn every_construct_round_trips() {
    let queries = [
        // spanset filters
        "{}",
        "{ }",
        "{ true }",
        "{ false }",
        "{ !true }",
        "{ true && false || true }",
        "{ 1 = 2 }",
        "{ -1 = 2 }",
        "{ 1 != 2 } && { 1 > 2 } && { 1 >= 2 } && { 1 < 2 } && { 1 <= 2 }",
        r#"{ "test" =~ "te.*" }"#,
        r#"{ "test" !~ "te.*" }"#,
        "{ .a }",
        "{ !.a }",
        "{ .a && false }",
        "{ .a = 2 }",
        "{ -.a = 2 }",
        r#"{ .a != "test" }"#,
        r#"{ !("test" != .c || ((true && .b) || 3 < .a)) }"#,
        // intrinsics, unscoped and scoped
        "{ status = ok }",
        "{ status = unset || status = error }",
        "{ status != error }",
        r#"{ statusMessage = "status message" }"#,
        "{ kind = internal }",
        "{ kind = server || kind = client || kind = producer || kind = consumer || kind = unspecified }",
        "{ traceDuration > 1s }",
        r#"{ rootServiceName = "foo" }"#,
        r#"{ rootName != "foo" }"#,
        "{ duration > 1s }",
        r#"{ name = "GET /" }"#,
        "{ trace:duration > 2s }",
        r#"{ trace:rootName = "a" }"#,
        r#"{ trace:rootService = "a" }"#,
        r#"{ trace:id = "aasdf4ergf" }"#,
        "{ span:duration > 2s }",
        r#"{ span:name = "a" }"#,
        "{ span:status = error }",
        "{ span:kind = client }",
        r#"{ span:statusMessage = "status message" }"#,
        r#"{ span:id = "61626364656667" }"#,
        r#"{ span:parentID = "84737586494" }"#,
        "{ span:childCount > 1 }",
        r#"{ event:name = "exception" }"#,
        "{ event:timeSinceStart > 1s }",
        r#"{ link:traceID = "f1f1f1f1f1f1ff1f1f1f1f1f1f1f1f1" }"#,
        r#"{ link:spanID = "f1f1f1f1f1f1f1f1" }"#,
        r#"{ instrumentation:name = "grpc" }"#,
        r#"{ instrumentation:version = "v3.34" }"#,
        // scoped attributes, dots and quotes in names
        r#"{ span.http.status_code = 200 }"#,
        r#"{ resource.service.name = "api" }"#,
        r#"{ event.exception.type = "IOError" }"#,
        r#"{ link.foo = "bar" }"#,
        r#"{ instrumentation.language = "java" }"#,
        r#"{ span."attribute name with space" = "value" }"#,
        r#"{ span.attribute."with space" = "value" }"#,
        r#"{ ."foo bar" = "v" }"#,
        r#"{ ."a\"b" = "v" }"#,
        r#"{ ."a\\b" = "v" }"#,
        "{ .\"foo\tbar\" = \"v\" }",
        r#"{ ."5xx" = 1 }"#,
        r#"{ span.a-b = 1 }"#,
        // literals
        r#"{ .s = "double \"quoted\" \\ \n\t" }"#,
        r#"{ .s = `back\quoted` }"#,
        "{ .i = 123 && .f = 1.5 && .g = 0.000001 && .h = 1e10 }",
        "{ .a = minInt || .a = maxInt }",
        "{ duration > 1ns && duration > 2us && duration > 3µs && duration > 4ms && duration > 5s }",
        "{ duration > 6m && duration < 7h && duration != 1h30m && duration != 1.5s }",
        "{ .b = true || .b = false }",
        "{ .a != nil }",
        "{ .a = nil }",
        "{ nil != .a }",
        "{ nil = nil }",
        "{ -1.5 = .f }",
        "{ -2s < event:timeSinceStart }",
        // arithmetic
        "{ 1 + 1 = 2 }",
        "{ .a - 1 = 2 && .a * 2 = 4 && .a / 2 = 1 && .a % 2 = 0 && .a ^ 2 = 4 }",
        "{ duration > 1s * 2 }",
        "{ duration < (10s * 20s) }",
        "{ span.http.request_content_length > 10 * 1024 * 1024 }",
        "{ (-(3 / 2) * .test - .blerg + .other) ^ 3 = 2 }",
        "{ -.a ^ 2 = -4 }",
        "{ 2 ^ 3 ^ 2 = 512 }",
        "{ (-5) ^ 2 = 25 }",
        // regexes
        r#"{ span.db.system =~ "postgresql|mysql" }"#,
        r#"{ resource.deployment.environment =~ "prod-.*" && span.http.status_code = 200 }"#,
        // spanset operators
        "{ true } && { true }",
        "{ true } || { true }",
        "{ true } >> { true }",
        "{ true } << { true }",
        "{ true } > { true }",
        "{ true } < { true }",
        "{ true } ~ { true }",
        "{ true } !> { true }",
        "{ true } !< { true }",
        "{ true } !~ { true }",
        "{ true } !>> { true }",
        "{ true } !<< { true }",
        "{ true } &> { true }",
        "{ true } &< { true }",
        "{ true } &~ { true }",
        "{ true } &>> { true }",
        "{ true } &<< { true }",
        "{ .a } && { .b } > { .c } || { .d }",
        "({ .a } || { .b }) >> ({ .c } && { .d })",
        "({ true } | count() > 1 | { false }) >> ({ true } | count() > 1 | { false })",
        "({ true } | count() > 1) && ({ true } | by(.a))",
        "(({ .a }))",
        // pipelines
        "{ true } | { .a }",
        "{ true } | count() = 1",
        "{ } | count() > 2",
        "count() > 2",
        "avg(duration) > 1s",
        "{ true } | avg(duration) = 1h",
        "{ true } | min(duration) < 1h | max(duration) >= 1ms | sum(duration) != 1h",
        "{ true } | max(span.a) = 1.5",
        "{ true } | max((1 + .a) * 2) = 1",
        "avg(.field) > 1 - 3",
        "max(duration) > 2 * 3s",
        "count() > -1",
        "max(duration) > 3s | { status = error || .http.status = 500 }",
        "{ status = error } | by(resource.service.name) | count() > 1",
        "{ true } | by(1 + .a) | coalesce()",
        "by(.a) | { true }",
        "{ } | select(span.http.method, resource.service.name, duration, span:id)",
        "select(.a)",
        "{ status = error } | select(span.http.status_code, span.http.url) | by(name) | coalesce() | count() > 0",
        // metrics
        "{ } | rate()",
        "{ } | rate() by (resource.service.name)",
        "{ } | count_over_time() by (name, span.http.method)",
        "{ } | min_over_time(duration) by (span.http.path)",
        "{ } | max_over_time(duration)",
        "{ } | avg_over_time(duration)",
        "{ } | sum_over_time(span.bytes)",
        "{ } | quantile_over_time(duration, 0, 0.9, 1) by (span.http.path)",
        "{ } | histogram_over_time(duration)",
        "{ } | rate() | topk(10)",
        "{ } | rate() by (span.client_ip) | bottomk(3)",
        "{ } | rate() > 10",
        "{ } | rate() > -3",
        "{ } | rate() | topk(5) > 20 | bottomk(10) <= 10",
        "{ status = error } | by(name) | rate()",
        // hints
        "{ } with(most_recent=true)",
        "{ } | count_over_time() by (name) with(sample=0.1)",
        r#"{ } with(a="x", b=1, c=2s)"#,
    ];
    for query in queries {
        assert_round_trip(query);
    }
}

#[test]
fn printer_writes_canonical_text() {
    let f = |query: &str, want: &str| assert_eq!(assert_round_trip(query), want, "{query}");
    f("{}", "{ true }");
    f("{span.foo=\"bar\"}", r#"{ span.foo = "bar" }"#);
    f("{ span:duration > 1s }", "{ duration > 1s }");
    f("{ trace:rootService = `a` }", r#"{ rootServiceName = "a" }"#);
    f("{ .a } && { .b } && { .c }", "({ .a } && { .b }) && { .c }");
    f("{ 1 + 2 * 3 = 7 }", "{ (1 + (2 * 3)) = 7 }");
    f("{ .a = 1 || .b = 2 && .c = 3 }", "{ ((.a = 1) || (.b = 2)) && (.c = 3) }");
    f("{ duration > 90s }", "{ duration > 1m30s }");
    f("{ .f = 2.0 }", "{ .f = 2.0 }");
    f("{ .x = -9223372036854775807 - 1 }", "{ .x = ((-9223372036854775807) - 1) }");
    f("{ span.\"a b\" != nil }", r#"{ span."a b" != nil }"#);
    f("count() > 2 * 3", "count() > 6");
    f("count() > 1.5 * 2", "count() > 3.0");
    f("{} | quantile_over_time(duration, .9, 1)", "{ true } | quantile_over_time(duration, 0.9, 1.0)");
}

#[test]
fn intrinsics_normalize_their_spellings() {
    let f = |a: &str, b: &str| assert_eq!(parse(a).unwrap(), parse(b).unwrap(), "{a} vs {b}");
    f("{ span:duration > 1s }", "{ duration > 1s }");
    f("{ span:name = \"a\" }", "{ name = \"a\" }");
    f("{ span:status = error }", "{ status = error }");
    f("{ span:kind = server }", "{ kind = server }");
    f("{ span:statusMessage = \"a\" }", "{ statusMessage = \"a\" }");
    f("{ trace:duration > 1s }", "{ traceDuration > 1s }");
    f("{ trace:rootName = \"a\" }", "{ rootName = \"a\" }");
    f("{ trace:rootService = \"a\" }", "{ rootServiceName = \"a\" }");
    f("{ .a = `x` }", "{ .a = \"x\" }");
}

#[test]
fn literals_and_attributes_parse_to_the_right_nodes() {
    let filter_expr = |query: &str| -> FieldExpr {
        let parsed = parse(query).unwrap();
        let RootExpr::Search(pipeline) = parsed.expr else { panic!("search") };
        let Some(Stage::Spanset(SpansetExpr::Filter(filter))) = pipeline.stages.into_iter().next() else {
            panic!("filter")
        };
        filter.expr
    };
    let rhs = |query: &str| -> FieldExpr {
        match filter_expr(query) {
            FieldExpr::Binary { rhs, .. } => *rhs,
            other => panic!("binary expected, got {other:?}"),
        }
    };
    let lhs = |query: &str| -> FieldExpr {
        match filter_expr(query) {
            FieldExpr::Binary { lhs, .. } => *lhs,
            FieldExpr::Regex { lhs, .. } => *lhs,
            other => panic!("binary expected, got {other:?}"),
        }
    };
    assert_eq!(rhs("{ .a = 1h30m }"), FieldExpr::Static(Static::Duration(5_400_000_000_000)));
    assert_eq!(rhs("{ .a = 1.5ms }"), FieldExpr::Static(Static::Duration(1_500_000)));
    assert_eq!(rhs("{ .a = 250µs }"), FieldExpr::Static(Static::Duration(250_000)));
    assert_eq!(rhs("{ .a = -3 }"), FieldExpr::Static(Static::Int(-3)));
    assert_eq!(rhs("{ .a = .25 }"), FieldExpr::Static(Static::Float(0.25)));
    assert_eq!(rhs(r#"{ .a = "\x41\u00e9\101" }"#), FieldExpr::Static(Static::Str("AéA".into())));
    assert_eq!(rhs("{ .a = `raw\\n` }"), FieldExpr::Static(Static::Str("raw\\n".into())));
    assert_eq!(rhs("{ status = error }"), FieldExpr::Static(Static::Status(StatusCode::Error)));
    assert_eq!(rhs("{ kind = producer }"), FieldExpr::Static(Static::Kind(SpanKind::Producer)));
    assert_eq!(
        lhs("{ span.http.status_code = 200 }"),
        FieldExpr::Attribute(Attribute::scoped(AttributeScope::Span, "http.status_code"))
    );
    assert_eq!(lhs("{ .foo = 1 }"), FieldExpr::Attribute(Attribute::scoped(AttributeScope::Unscoped, "foo")));
    assert_eq!(
        lhs(r#"{ span.attribute."with space".x = 1 }"#),
        FieldExpr::Attribute(Attribute::scoped(AttributeScope::Span, "attribute.with space.x"))
    );
    assert_eq!(lhs("{ span.status = 1 }"), FieldExpr::Attribute(Attribute::scoped(AttributeScope::Span, "status")));
    assert_eq!(lhs("{ .duration = 1 }"), FieldExpr::Attribute(Attribute::scoped(AttributeScope::Unscoped, "duration")));
    assert_eq!(lhs("{ event:name = \"x\" }"), FieldExpr::Attribute(Attribute::Intrinsic(Intrinsic::EventName)));
    assert_eq!(
        filter_expr("{ .a != nil }"),
        FieldExpr::Unary {
            op: UnaryOp::Exists,
            expr: Box::new(FieldExpr::Attribute(Attribute::scoped(AttributeScope::Unscoped, "a")))
        }
    );
    assert_eq!(filter_expr("{ nil = nil }"), FieldExpr::Static(Static::Bool(false)));
    // `-a * b` is `-(a * b)` in Tempo's grammar.
    assert!(matches!(filter_expr("{ -.a * 2 = 1 }"), FieldExpr::Binary { op: BinaryOp::Eq, lhs, .. }
        if matches!(*lhs, FieldExpr::Unary { op: UnaryOp::Neg, .. })));
}

#[test]
fn operator_precedence_follows_tempo() {
    let structure = |query: &str| parse(query).unwrap().to_string();
    // Structural operators bind tighter than && and ||, which share one level.
    assert_eq!(structure("{ .a } && { .b } > { .c }"), "{ .a } && ({ .b } > { .c })");
    assert_eq!(structure("{ .a } || { .b } && { .c }"), "({ .a } || { .b }) && { .c }");
    assert_eq!(structure("{ .a } > { .b } >> { .c }"), "({ .a } > { .b }) >> { .c }");
    // Field expressions: && and || share the loosest level, comparisons next, then + -, then * / %, then ^.
    assert_eq!(structure("{ .a || .b && .c }"), "{ (.a || .b) && .c }");
    assert_eq!(structure("{ .a + 2 * 3 > 1 }"), "{ (.a + (2 * 3)) > 1 }");
    assert_eq!(structure("{ 2 ^ 3 ^ 2 = 1 }"), "{ (2 ^ (3 ^ 2)) = 1 }");
    assert_eq!(structure("{ !.a = true }"), "{ (!.a) = true }");
}

#[test]
fn invalid_queries_fail_with_a_message_saying_why() {
    let f = |query: &str, want: &str| match parse(query) {
        Ok(parsed) => panic!("{query:?} should not parse, got {parsed}"),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains(want), "{query:?}: {message:?} should contain {want:?}");
        }
    };
    f("", "parse error at line 1, col 1: syntax error: unexpected $end");
    f("{ .a } | { .b", "parse error at line 1, col 14: syntax error: unexpected $end, expecting }");
    f("{ .a | .b }", "col 6: syntax error: unexpected |");
    f("({ .a } | { .b }", "unexpected $end, expecting )");
    f("true", "syntax error: unexpected true");
    f("[ true ]", "syntax error: unexpected [");
    f("{ . }", "unexpected END_ATTRIBUTE, expecting IDENTIFIER");
    f("{ span. }", "unexpected END_ATTRIBUTE, expecting IDENTIFIER");
    f("{ < }", "syntax error: unexpected <");
    f("{ .a < }", "syntax error: unexpected }");
    f("{ (.a < 3 }", "unexpected }, expecting )");
    f("{ attribute = 4 }", "unknown identifier: attribute");
    f("wharblgarbl", "syntax error: unexpected IDENTIFIER");
    f("{ .attribute == 4 }", "syntax error: unexpected =");
    f("{ 2 <> 3 }", "syntax error: unexpected >");
    f("{ + }", "syntax error: unexpected +");
    f(r#"{ ."foo }"#, "unexpected EOF, expecting \"");
    f(r#"{ .a = "unterminated }"#, "literal not terminated");
    f("{ .a = 99999999999999999999 }", "value out of range");
    f("{ true } + { true }", "syntax error: unexpected +");
    f("{ true } = { true }", "syntax error: unexpected =");
    f("{ true } &&", "unexpected $end, expecting { or (");
    f("coalesce() | { true }", "syntax error: unexpected coalesce");
    f("{ true } | count()", "unexpected $end, expecting comparison operator");
    f("{ true } | count = 1", "unexpected =, expecting (");
    f("{ true } | max() = 1", "syntax error: unexpected )");
    f("{ true } | by()", "syntax error: unexpected )");
    f("select()", "syntax error: unexpected )");
    f("select(.a", "unexpected $end, expecting )");
    f("count() > 3 && { true }", "syntax error: unexpected &&, expecting with");
    f("{ trace:status = error }", "unexpected status after trace:");
    f("{ span:rootName = \"x\" }", "unexpected rootName after span:");
    f("{ parent.a = 1 }", "parent not yet supported");
    f("{ nestedSetLeft > 3 }", "intrinsic (nestedSetLeft) not supported");
    f("{ .a > nil }", "nil can only be compared with = or !=");
    f("{} | topk(10)", "syntax error: unexpected topk");
    f("{} | rate() | topk(0)", "topk limit must be greater than 0");
    f("{} | rate() == 42", "syntax error: unexpected =");
    f("{} | compare({status=error})", "compare() not supported");
    f("({} | rate()) + ({} | rate())", "metrics queries inside parentheses are not supported");
    // validation, with Tempo's wording
    f("{ status }", "span filter field expressions must resolve to a boolean: { status }");
    f("{ 1 + 1 }", "span filter field expressions must resolve to a boolean");
    f(r#"{ "foo" }"#, "span filter field expressions must resolve to a boolean");
    f(r#"{ 1 + "foo" = 1 }"#, "binary operations must operate on the same type: 1 + \"foo\"");
    f(r#"{ 1 = "foo" }"#, "binary operations must operate on the same type");
    f("{ 1 != true }", "binary operations must operate on the same type");
    f("{ 1 =~ 2 }", "invalid type for =~ or !~: 2");
    f("{ 1 && \"foo\" }", "binary operations must operate on the same type");
    f("{ status > ok }", "illegal operation for the given types: status > ok");
    f("{ kind < consumer }", "illegal operation for the given types");
    f(r#"{ traceDuration > "test" }"#, "binary operations must operate on the same type");
    f("{ rootServiceName = 1 }", "binary operations must operate on the same type");
    f(r#"{ "foo" = span:childCount }"#, "binary operations must operate on the same type");
    f("{ span:status = nil }", "status=nil is not valid because intrinsics cannot be nil");
    f("{ nil = span:status }", "intrinsics cannot be nil");
    f("{ resource.service.name = nil }", "resource.service.name cannot be nil");
    f(r#"{ span.foo =~ "[" }"#, r#"invalid regex: "[""#);
    f("{ -true }", "illegal operation for the given type: -true");
    f(r#"{ !"foo" = "bar" }"#, "illegal operation for the given type");
    f("{ !1 = 1 }", "illegal operation for the given type");
    f(r#"max(name) = "foo""#, "aggregate field expressions must resolve to a number type: max(name)");
    f("max(status) = ok", "aggregate field expressions must resolve to a number type");
    f("sum(3) = 2", "aggregate field expressions must reference the span: sum(3)");
    f("count() = \"a\"", "syntax error: unexpected STRING");
    f("max(duration) < ok", "syntax error: unexpected ok");
    f("{ true } | by(1)", "grouping field expressions must reference the span: by(1)");
    f(r#"{ true } | by("foo")"#, "grouping field expressions must reference the span");
}

#[test]
fn errors_report_line_and_column() {
    let error = parse("{ .a = 1 }\n  | by()").unwrap_err();
    assert_eq!((error.line, error.column), (2, 8));
    assert_eq!(error.to_string(), "parse error at line 2, col 8: syntax error: unexpected )");
}

/// A fuzz-style property over generated token soups (no external fuzzer): parsing never panics, and whatever
/// parses prints to text that parses to the same tree.
#[test]
fn generated_queries_never_panic_and_round_trip() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "(",
        ")",
        "{ }",
        "|",
        "&&",
        "||",
        ">",
        ">>",
        "<",
        "<<",
        "~",
        "!>",
        "!<<",
        "&>",
        "&~",
        "!~",
        "=",
        "!=",
        "=~",
        ">=",
        "<=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "!",
        ",",
        ".a",
        "span.http.status_code",
        "resource.service.name",
        "event.x",
        "link.y",
        "instrumentation.z",
        "span.\"a b\"",
        "name",
        "status",
        "duration",
        "kind",
        "span:id",
        "trace:duration",
        "event:name",
        "span:childCount",
        "error",
        "ok",
        "server",
        "nil",
        "true",
        "false",
        "1",
        "-2",
        "3.5",
        "1s",
        "250ms",
        "\"GET\"",
        "`x.*`",
        "count()",
        "avg(duration)",
        "max(",
        "by(",
        "select(",
        "coalesce()",
        "rate()",
        "| rate()",
        "quantile_over_time(duration, .9)",
        "by (name)",
        "topk(3)",
        "with(most_recent=true)",
        "minInt",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed_count = 0;
    for _ in 0..20_000 {
        let length = 1 + (next() % 12) as usize;
        let mut query = String::new();
        for _ in 0..length {
            query.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            query.push(' ');
        }
        if let Ok(parsed) = parse(&query) {
            parsed_count += 1;
            let printed = parsed.to_string();
            assert_eq!(parse(&printed).as_ref(), Ok(&parsed), "{query:?} printed as {printed:?}");
        }
    }
    // Also well-formed shapes, so the round trip is exercised on more than a few lucky soups.
    let mut wellformed = 0;
    for _ in 0..5_000 {
        let field = |next: &mut dyn FnMut() -> u64| {
            let fields = ["span.a", ".b", "duration", "name", "span:childCount", "event.c", "resource.d"];
            let ops = ["=", "!=", ">", "<=", "=~"];
            let values = ["1", "-2.5", "3ms", "\"x\"", "nil", "true", "\"a.*\"", "error"];
            format!(
                "{} {} {}",
                fields[(next() % fields.len() as u64) as usize],
                ops[(next() % ops.len() as u64) as usize],
                values[(next() % values.len() as u64) as usize]
            )
        };
        let joins = ["&&", "||", ">", ">>", "~", "!<", "&>>"];
        let query = format!(
            "{{ {} }} {} {{ {} && {} }}",
            field(&mut next),
            joins[(next() % joins.len() as u64) as usize],
            field(&mut next),
            field(&mut next)
        );
        if let Ok(parsed) = parse(&query) {
            wellformed += 1;
            let printed = parsed.to_string();
            assert_eq!(parse(&printed).as_ref(), Ok(&parsed), "{query:?} printed as {printed:?}");
        }
    }
    assert!(parsed_count > 20, "only {parsed_count} generated soups parsed");
    assert!(wellformed > 500, "only {wellformed} well-formed queries parsed");
}
