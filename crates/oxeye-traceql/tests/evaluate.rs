//! Golden evaluation tests on the fixture traces (see `fixture/mod.rs` for the span tree). Results are written as
//! `trace:spans` with spans by letter and spansets separated by `|`: `"1:BC 3:K"` means trace 1 returned one
//! spanset with spans B and C, trace 3 one with K.

mod fixture;

use oxeye_model::{AttrValue, Trace};
use oxeye_traceql::{EvalError, Spanset, parse};

fn letter(trace: &Trace, index: usize) -> char {
    let id = trace.spans[index].span_id.0[7];
    (b'A' + (id - 0xa1)) as char
}

fn render(trace: &Trace, spansets: &[Spanset]) -> String {
    spansets
        .iter()
        .map(|spanset| spanset.spans.iter().map(|span| letter(trace, span.index)).collect::<String>())
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs the query on every fixture trace.
fn run(query: &str) -> String {
    let parsed = parse(query).unwrap_or_else(|error| panic!("{query}: {error}"));
    let mut parts = Vec::new();
    for (number, trace) in fixture::traces().iter().enumerate() {
        let spansets = parsed.evaluate(trace);
        if !spansets.is_empty() {
            parts.push(format!("{}:{}", number + 1, render(trace, &spansets)));
        }
    }
    parts.join(" ")
}

fn check(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (query, want) in cases {
        let got = run(query);
        if got != *want {
            failures.push(format!("{query}\n    want {want:?}\n    got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

/// The spansets of one trace (1-based), with attributes.
fn spansets(query: &str, trace_number: usize) -> Vec<Spanset> {
    let traces = fixture::traces();
    parse(query).unwrap().evaluate(&traces[trace_number - 1])
}

fn text(value: &str) -> AttrValue {
    AttrValue::Str(value.to_string())
}

#[test]
fn spanset_filters_select_spans_in_start_order() {
    check(&[
        ("{}", "1:ABCDEF 2:GHI 3:JKL"),
        ("{ true }", "1:ABCDEF 2:GHI 3:JKL"),
        ("{ false }", ""),
        ("{ 1 = 1 }", "1:ABCDEF 2:GHI 3:JKL"),
        (r#"{ name = "pay" }"#, "1:C"),
        (r#"{ span:name = "pay" }"#, "1:C"),
    ]);
}

#[test]
fn intrinsics() {
    check(&[
        ("{ status = error }", "1:BC 3:K"),
        ("{ span:status = ok }", "1:A"),
        ("{ status = unset }", "1:DEF 2:GHI 3:JL"),
        ("{ status != error }", "1:ADEF 2:GHI 3:JL"),
        (r#"{ statusMessage = "payment failed" }"#, "1:B"),
        (r#"{ span:statusMessage =~ "payment.*" }"#, "1:B"),
        ("{ kind = server }", "1:AC 2:GH"),
        ("{ span:kind = client }", "1:BD 2:I"),
        ("{ kind = producer }", "3:J"),
        ("{ kind = consumer }", "3:K"),
        ("{ kind = internal }", "1:EF"),
        ("{ kind = unspecified }", "3:L"),
        ("{ duration > 1s }", "3:K"),
        ("{ span:duration >= 1s }", "1:A 3:K"),
        ("{ duration < 15ms }", "1:E"),
        ("{ duration = 770ms }", "1:C"),
        // trace-level intrinsics hold for every span of the trace
        ("{ traceDuration > 2s }", "3:JKL"),
        ("{ trace:duration < 500ms }", "2:GHI"),
        (r#"{ rootName = "GET /products" }"#, "2:GHI"),
        (r#"{ trace:rootName = "GET /products" && kind = client }"#, "2:I"),
        (r#"{ rootServiceName = "orders" }"#, "3:JKL"),
        (r#"{ trace:rootService = "orders" && status = error }"#, "3:K"),
        // events: a span matches through any of its events
        (r#"{ event:name = "exception" }"#, "1:C 3:K"),
        (r#"{ event:name = "retry" }"#, "3:K"),
        ("{ event:timeSinceStart > 400ms }", "1:C 3:K"),
        ("{ event:timeSinceStart < 100ms }", "3:K"),
        // ids compare as hex strings; leading zeros do not matter
        (r#"{ span:id = "00000000000000a3" }"#, "1:C"),
        (r#"{ span:id = "a3" }"#, "1:C"),
        (r#"{ span:id = "A3" }"#, "1:C"),
        (r#"{ span:parentID = "00000000000000a3" }"#, "1:DE"),
        (r#"{ trace:id = "a0000000000000000000000000000002" }"#, "2:GHI"),
        (r#"{ trace:id =~ "a0.*03" }"#, "3:JKL"),
        (r#"{ link:traceID = "a0000000000000000000000000000001" }"#, "2:H"),
        (r#"{ link:spanID = "00000000000000a1" }"#, "2:H"),
        (r#"{ instrumentation:name = "io.opentelemetry.jdbc" }"#, "3:L"),
        (r#"{ instrumentation:version = "1.2.0" }"#, "3:L"),
        ("{ span:childCount = 2 }", "1:AC"),
        ("{ span:childCount = 0 }", "1:DEF 2:I 3:L"),
    ]);
}

#[test]
fn attributes_by_scope() {
    check(&[
        ("{ span.http.status_code = 500 }", "1:B"),
        ("{ span.http.status_code >= 200 && span.http.status_code < 300 }", "1:A 2:G"),
        (r#"{ resource.service.name = "checkout" }"#, "1:CDE"),
        (r#"{ resource.deployment.environment = "prod" }"#, "1:ABCDEF 2:G 3:J"),
        // span scope does not see resource attributes and vice versa
        (r#"{ span.service.name = "checkout" }"#, ""),
        (r#"{ resource.http.method = "GET" }"#, ""),
        // unscoped: the span's or the resource's attribute may match
        (r#"{ .service.name = "catalog" }"#, "2:HI"),
        (r#"{ .http.method = "GET" }"#, "1:A 2:G"),
        (r#"{ .env = "staging" }"#, "3:J"),
        (r#"{ .env = "prod" }"#, "3:J"),
        (r#"{ span.env = "prod" }"#, ""),
        (r#"{ event.exception.type = "PaymentError" }"#, "1:C"),
        (r#"{ event.attempt = 1 }"#, "3:K"),
        // an expression reading events is evaluated per event: both conditions must hold on one event
        (r#"{ event:name = "retry" && event.exception.type = "Timeout" }"#, ""),
        (r#"{ event:name = "exception" && event.exception.type = "Timeout" }"#, "3:K"),
        (r#"{ link.kind = "follows" }"#, "2:H"),
        (r#"{ instrumentation.language = "java" }"#, "3:L"),
        (r#"{ span."attr with space" = "yes" }"#, "3:K"),
        (r#"{ ."attr with space" = "yes" }"#, "3:K"),
    ]);
}

#[test]
fn types_and_missing_attributes() {
    check(&[
        // ints, floats and durations compare with each other
        ("{ span.amount > 12 }", "1:C"),
        ("{ span.amount = 12.5 }", "1:C"),
        ("{ span.db.rows > 2.5 }", "1:D 2:I"),
        ("{ span.db.rows = 3.0 }", "1:D"),
        // a string never equals an int
        (r#"{ span.http.status_code = "500" }"#, ""),
        (r#"{ span.http.method >= "P" }"#, "1:B"),
        ("{ span.cache.hit = true }", "1:E"),
        ("{ span.cache.hit }", "1:E"),
        ("{ !span.cache.hit }", ""),
        // arrays: = matches any element, != means no element equals
        (r#"{ span.tags = "b" }"#, "1:E"),
        (r#"{ span.tags != "b" }"#, ""),
        (r#"{ span.tags != "c" }"#, "1:E"),
        (r#"{ span.tags =~ "[ab]" }"#, "1:E"),
        // a missing attribute makes every comparison false, != included
        ("{ span.http.status_code != 500 }", "1:A 2:G"),
        // ... so a negated comparison is true on spans without it (Tempo evaluates `!` on the boolean)
        ("{ !(span.http.status_code = 500) }", "1:ACDEF 2:GHI 3:JKL"),
        ("{ span.db.system != nil }", "1:D 2:I"),
        ("{ span.db.system = nil && resource.service.name = \"checkout\" }", "1:CE"),
        ("{ event.exception.message = nil && kind = server }", "1:A 2:GH"),
    ]);
}

#[test]
fn regexes_are_fully_anchored() {
    check(&[
        (r#"{ name =~ "SELECT.*" }"#, "1:D 2:I"),
        (r#"{ name =~ "SELECT" }"#, ""),
        (r#"{ name =~ ".*products" }"#, "2:GHI"),
        (r#"{ name =~ "GET.*" }"#, "1:A 2:G"),
        (r#"{ name !~ "SELECT.*" && kind = client }"#, "1:B"),
        (r#"{ span.db.system =~ "postgres|mysql" }"#, "2:I"),
        (r#"{ span.db.system =~ "postgres.*|mysql" }"#, "1:D 2:I"),
        (r#"{ span.db.rows =~ "3" }"#, ""),
    ]);
}

#[test]
fn arithmetic_and_logic() {
    check(&[
        ("{ span.db.rows * 10 > 100 }", "2:I"),
        ("{ duration / 2 > 500ms }", "3:K"),
        ("{ span.retries + 1 = 3 }", "1:C"),
        ("{ span.retries - 3 = -1 }", "1:C"),
        ("{ span.retries ^ 3 = 8 }", "1:C"),
        ("{ span.retries % 2 = 0 }", "1:C"),
        ("{ -span.retries = -2 }", "1:C"),
        ("{ span.db.rows / 3 = 13 }", "2:I"),
        ("{ span.amount * 2 = 25 }", "1:C"),
        ("{ kind = server || kind = client }", "1:ABCD 2:GHI"),
        ("{ !(status = error) && kind = client }", "1:D 2:I"),
        ("{ kind = server && status = error || kind = producer }", "1:C 3:J"),
        // && and || share one precedence level: this is (server || client) && error
        ("{ kind = server || kind = client && status = error }", "1:BC"),
    ]);
}

#[test]
fn spanset_operators() {
    check(&[
        // && and || return the spans of both sides
        (r#"{ resource.service.name = "frontend" } && { status = error }"#, "1:ABCF"),
        (r#"{ name = "pay" } || { name = "list products" }"#, "1:C 2:H"),
        (r#"{ name = "pay" } && { name = "list products" }"#, ""),
        // structural operators return the right-hand side
        (r#"{ resource.service.name = "frontend" } >> { status = error }"#, "1:BC"),
        (r#"{ name = "POST /api/pay" } > { }"#, "1:C"),
        (r#"{ name = "pay" } < { }"#, "1:B"),
        (r#"{ name = "SELECT payments" } << { }"#, "1:ABC"),
        (r#"{ name = "POST /api/pay" } ~ { }"#, "1:F"),
        (r#"{ name = "SELECT payments" } ~ { }"#, "1:E"),
        ("{ kind = server } > { kind = client }", "1:BD 2:I"),
        ("{ kind = server } >> { kind = client }", "1:BD 2:I"),
        (r#"{ name = "pay" } >> { kind = client }"#, "1:D"),
        // leaves of a service; the last error of a cascade (docs examples)
        (r#"{ } !< { resource.service.name = "checkout" }"#, "1:DE"),
        ("{ status = error } !< { status = error }", "1:C 3:K"),
        ("{ } !> { }", "1:A 2:G 3:J"),
        // with nothing on the left, every right-hand span lacks the relation
        (r#"{ name = "pay" } !>> { kind = client }"#, "1:B 2:I"),
        (r#"{ name = "pay" } !<< { kind = server }"#, "1:C 2:GH"),
        (r#"{ name = "render" } !~ { kind = internal }"#, "1:EF"),
        // union forms return both sides of each relation
        (r#"{ name = "GET /checkout" } &> { }"#, "1:ABF"),
        (r#"{ name = "pay" } &< { }"#, "1:BC"),
        (r#"{ name = "GET /checkout" } &>> { status = error }"#, "1:ABC"),
        (r#"{ name = "SELECT payments" } &<< { }"#, "1:ABCD"),
        (r#"{ name = "POST /api/pay" } &~ { kind = internal }"#, "1:BF"),
        // structural operators bind tighter than ||
        (r#"{ name = "render" } || { name = "pay" } > { name = "SELECT payments" }"#, "1:DF"),
        (r#"({ name = "render" } || { name = "pay" }) > { }"#, "1:DE"),
        // chains evaluate left to right
        (r#"{ kind = server } > { kind = client } > { }"#, "1:C"),
    ]);
}

#[test]
fn pipelines_aggregates_and_grouping() {
    check(&[
        ("{ } | count() > 4", "1:ABCDEF"),
        ("count() > 5", "1:ABCDEF"),
        ("{ } | count() = 3", "2:GHI 3:JKL"),
        (r#"{ resource.service.name = "checkout" } | avg(duration) > 200ms"#, "1:CDE"),
        (r#"{ resource.service.name = "checkout" } | avg(duration) > 400ms"#, ""),
        ("{ } | max(duration) > 1s", "3:JKL"),
        ("{ } | min(duration) < 20ms", "1:ABCDEF"),
        ("{ } | sum(span.db.rows) > 10", "2:GHI"),
        ("{ } | avg(span.db.rows) = 40", "2:GHI"),
        ("{ resource.service.name = \"checkout\" } | { kind = client }", "1:D"),
        ("({ kind = server } | count() > 1) && { status = error }", "1:ABC"),
        ("{ status = error } | by(resource.service.name)", "1:B|C 3:K"),
        ("{ } | by(kind) | count() > 1", "1:AC|BD|EF 2:GH"),
        ("{ } | by(resource.service.name) | coalesce()", "1:ABCDEF 2:GHI 3:JKL"),
        ("{ status = error } | by(resource.service.name) | count() > 1", ""),
        ("{ } | by(resource.service.name) | count() > 2", "1:ABF|CDE"),
        ("{ } | select(span.http.method)", "1:ABCDEF 2:GHI 3:JKL"),
        ("{ } | by(kind) | { status = error }", "1:C|B 3:K"),
    ]);
}

#[test]
fn spanset_attributes_carry_groupings_and_aggregates() {
    let by_kind = spansets("{ } | by(kind) | count() > 1", 1);
    let attributes: Vec<_> = by_kind.iter().map(|spanset| spanset.attributes.clone()).collect();
    assert_eq!(
        attributes,
        vec![
            vec![("by(kind)".to_string(), text("server")), ("count()".to_string(), AttrValue::Int(2))],
            vec![("by(kind)".to_string(), text("client")), ("count()".to_string(), AttrValue::Int(2))],
            vec![("by(kind)".to_string(), text("internal")), ("count()".to_string(), AttrValue::Int(2))],
        ]
    );

    let by_method = spansets("{ } | by(span.http.method)", 2);
    assert_eq!(by_method[0].attributes, vec![("by(span.http.method)".to_string(), text("GET"))]);
    // spans without the value form their own group, labelled nil as Tempo labels it
    assert_eq!(by_method[1].attributes, vec![("by(span.http.method)".to_string(), text("nil"))]);
    assert_eq!(by_method[1].spans.len(), 2);

    // Aggregates keep the value's type; durations are reported as Go duration strings (Tempo's AsAnyValue).
    let average = spansets(r#"{ resource.service.name = "checkout" } | avg(duration) > 200ms"#, 1);
    assert_eq!(average[0].attributes, vec![("avg(duration)".to_string(), text("350ms"))]);
    let sum = spansets("{ } | sum(span.db.rows) > 10", 2);
    assert_eq!(sum[0].attributes, vec![("sum(span.db.rows)".to_string(), AttrValue::Int(40))]);
    let mean_rows = spansets("{ } | avg(span.db.rows) = 40", 2);
    assert_eq!(mean_rows[0].attributes, vec![("avg(span.db.rows)".to_string(), AttrValue::Double(40.0))]);
    let maximum = spansets("{ } | max(duration) > 1s", 3);
    assert_eq!(maximum[0].attributes, vec![("max(duration)".to_string(), text("2s"))]);

    // coalesce() drops the group attributes
    let coalesced = spansets("{ } | by(kind) | coalesce()", 1);
    assert_eq!(coalesced.len(), 1);
    assert!(coalesced[0].attributes.is_empty());
}

#[test]
fn span_attributes_are_those_the_query_reads_or_selects() {
    let f = |query: &str, trace: usize, want: Vec<Vec<(&str, AttrValue)>>| {
        let got: Vec<Vec<(String, AttrValue)>> =
            spansets(query, trace).into_iter().flat_map(|spanset| spanset.spans).map(|span| span.attributes).collect();
        let want: Vec<Vec<(String, AttrValue)>> = want
            .into_iter()
            .map(|attributes| attributes.into_iter().map(|(key, value)| (key.to_string(), value)).collect())
            .collect();
        assert_eq!(got, want, "{query}");
    };
    // keyed without the scope; name and duration are reported elsewhere by Tempo
    f("{ span.http.status_code = 500 }", 1, vec![vec![("http.status_code", AttrValue::Int(500))]]);
    f(r#"{ name = "pay" && kind = server && duration > 1ms }"#, 1, vec![vec![("kind", text("server"))]]);
    f(
        "{ status = error } | select(span.http.method, resource.service.name)",
        1,
        vec![
            vec![("status", text("error")), ("http.method", text("POST")), ("service.name", text("frontend"))],
            vec![("status", text("error")), ("service.name", text("checkout"))],
        ],
    );
    f(
        r#"{ event:name = "exception" } | select(event.exception.type, span:parentID)"#,
        1,
        vec![vec![
            ("event:name", text("exception")),
            ("exception.type", text("PaymentError")),
            ("span:parentID", text("00000000000000a2")),
        ]],
    );
    // event values come from the event the filter matched through (K's exception is its second event)
    f(
        r#"{ event:name = "exception" } | select(event.exception.type, event:timeSinceStart)"#,
        3,
        vec![vec![
            ("event:name", text("exception")),
            ("exception.type", text("Timeout")),
            ("event:timeSinceStart", text("1s")),
        ]],
    );
    f(r#"{ event:name = "retry" }"#, 3, vec![vec![("event:name", text("retry"))]]);
    // the unscoped attribute reports the span's value (it has precedence over the resource's)
    f(r#"{ .env = "prod" }"#, 3, vec![vec![("env", text("staging"))]]);
    f(
        r#"{ span.tags = "a" } | select(span.cache.hit)"#,
        1,
        vec![vec![("tags", AttrValue::Array(vec![text("a"), text("b")])), ("cache.hit", AttrValue::Bool(true))]],
    );
    f(r#"{ link.kind = "follows" }"#, 2, vec![vec![("kind", text("follows"))]]);
}

#[test]
fn structural_operators_refuse_several_spansets_per_side() {
    let traces = fixture::traces();
    let query = parse("({ } | by(kind)) > { }").unwrap();
    assert_eq!(query.try_evaluate(&traces[0]), Err(EvalError::MultipleSpansets));
    assert!(query.evaluate(&traces[0]).is_empty());
    // after coalesce() there is one spanset again
    assert_eq!(run("({ } | by(kind) | coalesce()) > { kind = client }"), "1:BD 2:I");
}

#[test]
fn fragments_without_their_root_have_no_root_intrinsics() {
    let mut traces = fixture::traces();
    let mut fragment = traces.remove(0);
    fragment.spans.retain(|span| !span.is_root());
    let query = parse(r#"{ rootName = "GET /checkout" }"#).unwrap();
    assert!(query.evaluate(&fragment).is_empty());
    // parents within the fragment still relate
    let children = parse(r#"{ name = "pay" } > { }"#).unwrap().evaluate(&fragment);
    assert_eq!(render(&fragment, &children), "DE");
    assert!(parse("{ }").unwrap().evaluate(&Trace::default()).is_empty());
}
