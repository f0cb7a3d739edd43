//! A rough throughput check (ignored by default): `cargo test -p oxeye-traceql --release --test throughput --
//! --ignored --nocapture` prints spans per second for a few query shapes over 1M synthetic spans.

use std::sync::Arc;
use std::time::Instant;

use oxeye_model::{AttrValue, Attribute, Resource, Span, SpanId, StatusCode, Trace, TraceId};
use oxeye_traceql::parse;

fn synthetic_traces(trace_count: usize, spans_per_trace: usize) -> Vec<Trace> {
    let services: Vec<Arc<Resource>> = ["frontend", "checkout", "catalog", "billing"]
        .iter()
        .map(|name| {
            Arc::new(Resource {
                attributes: vec![Attribute::string("service.name", *name)],
                dropped_attributes_count: 0,
            })
        })
        .collect();
    (0..trace_count)
        .map(|trace_number| {
            let trace_id = TraceId((trace_number as u128 + 1).to_be_bytes());
            let spans = (0..spans_per_trace)
                .map(|position| Span {
                    trace_id,
                    span_id: SpanId((position as u64 + 1).to_be_bytes()),
                    parent_span_id: if position == 0 {
                        SpanId::default()
                    } else {
                        SpanId((position as u64 / 2 + 1).to_be_bytes())
                    },
                    name: format!("op-{}", position % 17),
                    start_ns: position as u64 * 1_000,
                    end_ns: position as u64 * 1_000 + (position as u64 % 13) * 1_000_000,
                    status_code: if position % 50 == 7 { StatusCode::Error } else { StatusCode::Unset },
                    attributes: vec![
                        Attribute::string("http.method", if position % 3 == 0 { "GET" } else { "POST" }),
                        Attribute::new("http.status_code", AttrValue::Int(200 + (position as i64 % 4) * 100)),
                    ],
                    resource: services[position % services.len()].clone(),
                    ..Default::default()
                })
                .collect();
            Trace { trace_id, spans, truncated_spans: 0 }
        })
        .collect()
}

#[test]
#[ignore]
fn spans_per_second() {
    let traces = synthetic_traces(10_000, 100);
    let span_count: usize = traces.iter().map(|trace| trace.spans.len()).sum();
    for query in [
        "{ }",
        r#"{ resource.service.name = "checkout" && span.http.status_code >= 500 }"#,
        r#"{ .http.method = "GET" && name =~ "op-1.*" }"#,
        "{ status = error } | count() > 1",
        r#"{ resource.service.name = "frontend" } >> { status = error }"#,
        "{ } | by(resource.service.name) | avg(duration) > 5ms",
    ] {
        let parsed = parse(query).unwrap();
        let started = Instant::now();
        let mut matched = 0usize;
        for trace in &traces {
            matched += parsed.evaluate(trace).iter().map(|spanset| spanset.spans.len()).sum::<usize>();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!("{:>12.0} spans/s  {matched:>8} matched  {query}", span_count as f64 / seconds);
    }
}
