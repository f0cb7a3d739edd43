//! TraceQL metrics on the fixture traces. The range is `(BASE - 1s, BASE + 2s]` in 1s steps: spans starting at
//! BASE (the three roots A, G, J) fall in the first interval (a timestamp on a boundary closes the interval before
//! it, as in Tempo), every other span starts within the following second.

mod fixture;

use fixture::{BASE_NS, traces};
use oxeye_model::AttrValue;
use oxeye_traceql::{EvalError, MetricSeries, parse};

const SECOND: u64 = 1_000_000_000;

fn series(query: &str) -> Vec<MetricSeries> {
    let parsed = parse(query).unwrap_or_else(|error| panic!("{query}: {error}"));
    assert!(parsed.is_metrics());
    let traces = traces();
    parsed.evaluate_metrics(traces.iter(), BASE_NS - SECOND, BASE_NS + 2 * SECOND, SECOND).unwrap()
}

/// Series as `labels => values`, labels `name=value` joined by `,`, NaN written as `-`.
fn render(query: &str) -> Vec<String> {
    series(query)
        .iter()
        .map(|series| {
            let labels: Vec<String> =
                series.labels.iter().map(|(name, value)| format!("{name}={}", value.to_text())).collect();
            let values: Vec<String> = series
                .values
                .iter()
                .map(|value| if value.is_nan() { "-".to_string() } else { format!("{value}") })
                .collect();
            format!("{} => {}", labels.join(","), values.join(" "))
        })
        .collect()
}

#[test]
fn counts_and_rates_per_interval() {
    assert_eq!(render("{ } | count_over_time()"), ["__name__=count_over_time => 3 9 0"]);
    assert_eq!(render("{ } | rate()"), ["__name__=rate => 3 9 0"]);
    assert_eq!(render("{ status = error } | rate()"), ["__name__=rate => 0 3 0"]);
    let all = series("{ } | rate()");
    assert_eq!(all[0].timestamps_ns, vec![BASE_NS, BASE_NS + SECOND, BASE_NS + 2 * SECOND]);
    assert!(render("{ name = \"nothing\" } | rate()").is_empty());
}

#[test]
fn grouping_labels_follow_tempo() {
    assert_eq!(
        render("{ } | rate() by (resource.service.name)"),
        [
            "resource.service.name=billing => 0 2 0",
            "resource.service.name=catalog => 0 2 0",
            "resource.service.name=checkout => 0 3 0",
            "resource.service.name=frontend => 2 2 0",
            "resource.service.name=orders => 1 0 0",
        ]
    );
    // nil values are left out of the labels; an all-nil group keeps the first label as "nil"
    assert_eq!(
        render("{ status = error } | count_over_time() by (resource.service.name, span.http.method)"),
        [
            "resource.service.name=billing => 0 1 0",
            "resource.service.name=checkout => 0 1 0",
            "resource.service.name=frontend,span.http.method=POST => 0 1 0",
        ]
    );
    assert_eq!(
        render("{ } | count_over_time() by (span.http.method)"),
        ["span.http.method=GET => 2 0 0", "span.http.method=POST => 0 1 0", "span.http.method=nil => 1 8 0"]
    );
    assert_eq!(
        render("{ kind = server } | count_over_time() by (name)"),
        [
            "name=GET /checkout => 1 0 0",
            "name=GET /products => 1 0 0",
            "name=list products => 0 1 0",
            "name=pay => 0 1 0"
        ]
    );
}

#[test]
fn over_time_aggregations() {
    assert_eq!(render("{ } | max_over_time(duration)"), ["__name__=max_over_time => 1 2 -"]);
    assert_eq!(render("{ } | min_over_time(duration)"), ["__name__=min_over_time => 0.05 0.01 -"]);
    assert_eq!(render("{ } | sum_over_time(span.db.rows)"), ["__name__=sum_over_time => - 43 -"]);
    assert_eq!(render("{ } | avg_over_time(span.db.rows)"), ["__name__=avg_over_time => - 21.5 -"]);
    assert_eq!(
        render("{ } | avg_over_time(span.db.rows) by (resource.service.name)"),
        ["resource.service.name=catalog => - 40 -", "resource.service.name=checkout => - 3 -"]
    );
}

#[test]
fn quantiles_use_power_of_two_buckets() {
    // checkout spans in the second interval: 770ms, 270ms and 10ms, bucketed to 2^30, 2^29 and 2^24 ns
    assert_eq!(
        render(r#"{ resource.service.name = "checkout" } | quantile_over_time(duration, .1, .5, .9)"#),
        [
            "__name__=quantile_over_time,p=0.1 => 0 0.016777216 0",
            "__name__=quantile_over_time,p=0.5 => 0 0.536870912 0",
            "__name__=quantile_over_time,p=0.9 => 0 1.073741824 0",
        ]
    );
    assert_eq!(
        render(r#"{ resource.service.name = "checkout" } | histogram_over_time(duration)"#),
        [
            "__name__=histogram_over_time,__bucket=0.016777216 => 0 1 0",
            "__name__=histogram_over_time,__bucket=0.536870912 => 0 1 0",
            "__name__=histogram_over_time,__bucket=1.073741824 => 0 1 0",
        ]
    );
}

#[test]
fn second_stage_functions() {
    assert_eq!(
        render("{ } | rate() by (resource.service.name) | topk(2)"),
        [
            "resource.service.name=billing => - 2 0",
            "resource.service.name=catalog => - - 0",
            "resource.service.name=checkout => - 3 -",
            "resource.service.name=frontend => 2 - -",
            "resource.service.name=orders => 1 - -",
        ]
    );
    assert_eq!(
        render("{ } | rate() by (resource.service.name) | bottomk(1)"),
        ["resource.service.name=billing => 0 - 0", "resource.service.name=orders => - 0 -"]
    );
    assert_eq!(render("{ } | rate() by (resource.service.name) > 2"), ["resource.service.name=checkout => - 3 -"]);
    assert_eq!(render("{ } | max_over_time(duration) >= 1500ms"), ["__name__=max_over_time => - 2 -"]);
    assert_eq!(
        render("{ } | rate() by (resource.service.name) >= 2 | topk(1)"),
        ["resource.service.name=checkout => - 3 -", "resource.service.name=frontend => 2 - -"]
    );
}

#[test]
fn labels_are_typed() {
    let grouped = series("{ } | count_over_time() by (span.http.status_code)");
    let labels: Vec<&AttrValue> = grouped.iter().map(|series| &series.labels[0].1).collect();
    assert!(labels.contains(&&AttrValue::Int(200)));
    assert!(labels.contains(&&AttrValue::Int(500)));
    let quantile = series("{ } | quantile_over_time(duration, 0.99)");
    assert_eq!(quantile[0].labels[1], ("p".to_string(), AttrValue::Double(0.99)));
}

#[test]
fn metrics_errors() {
    let traces = traces();
    let search = parse("{ }").unwrap();
    assert!(!search.is_metrics());
    assert!(matches!(search.evaluate_metrics(traces.iter(), 0, 10, 1), Err(EvalError::NotMetrics(_))));
    let rate = parse("{ } | rate()").unwrap();
    assert!(matches!(rate.evaluate_metrics(traces.iter(), 0, 10, 0), Err(EvalError::InvalidRange { .. })));
    assert!(matches!(rate.evaluate_metrics(traces.iter(), 10, 10, 1), Err(EvalError::InvalidRange { .. })));
    assert!(matches!(
        rate.evaluate_metrics(traces.iter(), 0, 1_000_000, 1),
        Err(EvalError::TooManySteps { steps: 1_000_000, .. })
    ));
    // evaluate() on a metrics query returns the spans its pipeline selects
    let errors = parse("{ status = error } | rate()").unwrap();
    assert_eq!(errors.evaluate(&traces[0])[0].spans.len(), 2);
}
