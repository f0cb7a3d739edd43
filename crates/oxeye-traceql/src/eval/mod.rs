//! Evaluation of a search query on one trace, as Tempo's engine does it (`ast_execute.go`, `engine.go`): the trace
//! enters the pipeline as one spanset holding all its spans; each stage maps spansets to spansets; whatever
//! spansets leave the last stage are the trace's matches.
//!
//! - [`value`]: field expressions on one span (typing rules, attributes, intrinsics);
//! - [`structural`]: the structural spanset operators over parent links;
//! - [`aggregate`]: scalar filters, `by()`, `coalesce()`;
//! - [`metrics`]: TraceQL metrics queries over many traces.
//!
//! Spans are handled as positions in `trace.spans` until results are built, so filtering allocates only the lists
//! of matching positions; the parent index is built only for queries with structural operators or
//! `span:childCount`.

mod aggregate;
pub mod metrics;
mod structural;
mod value;

use oxeye_model::{AttrValue, Trace, find_attribute};

use crate::error::EvalError;
use crate::parser::ast::{Attribute, AttributeScope, Pipeline, Query, SpansetExpr, SpansetFilter, SpansetOp, Stage};
use value::{SpanContext, TraceContext};

/// A set of spans of one trace that matched, as Tempo returns it in search results.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanset {
    /// Matched spans, sorted by start time (then by position in the trace).
    pub spans: Vec<SpanMatch>,
    /// Attributes Tempo attaches to the spanset: `by()` groupings (key `by(resource.service.name)`) and aggregate
    /// values of scalar filters (key `count()`, `avg(duration)`), in pipeline order. Durations, statuses and kinds
    /// are strings, as Tempo encodes them; a `by()` group of spans without the value is `"nil"`.
    pub attributes: Vec<(String, AttrValue)>,
}

/// One matched span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanMatch {
    /// Position in `trace.spans`.
    pub index: usize,
    /// The attributes the query reads or selects that the span has, keyed as Tempo keys them (`http.status_code`
    /// for `span.http.status_code`, `status`, `kind`, `event:name`, …), in query order. Intrinsics Tempo reports in
    /// fields of their own (name, duration, ids, trace-level ones) are left out.
    pub attributes: Vec<(String, AttrValue)>,
}

/// A spanset during evaluation: positions of spans in the trace.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpansetBuf {
    pub(crate) spans: Vec<usize>,
    pub(crate) attributes: Vec<(String, AttrValue)>,
}

impl Query {
    /// Evaluates the query on one trace (or trace fragment) and returns the matching spansets; empty means no
    /// match. A metrics query evaluates its search pipeline (the part before the metrics function). A query Tempo
    /// would fail on this trace (a structural operator meeting several spansets after `by()`) matches nothing; use
    /// [`Query::try_evaluate`] to see the error.
    pub fn evaluate(&self, trace: &Trace) -> Vec<Spanset> {
        self.try_evaluate(trace).unwrap_or_default()
    }

    /// [`Query::evaluate`], reporting evaluation errors.
    pub fn try_evaluate(&self, trace: &Trace) -> Result<Vec<Spanset>, EvalError> {
        let pipeline = self.pipeline();
        let context = TraceContext::new(trace);
        let spansets = evaluate_pipeline_on_trace(pipeline, &context)?;
        if spansets.is_empty() {
            return Ok(Vec::new());
        }
        let reported = reported_attributes(pipeline);
        Ok(spansets.into_iter().map(|spanset| build_spanset(spanset, &context, &reported)).collect())
    }

    /// True for TraceQL metrics queries (`| rate()` etc.), which [`Query::evaluate_metrics`] evaluates.
    pub fn is_metrics(&self) -> bool {
        matches!(self.expr, crate::parser::ast::RootExpr::Metrics(_))
    }
}

/// Runs the pipeline on the whole trace; spansets hold positions.
pub(crate) fn evaluate_pipeline_on_trace<'a>(
    pipeline: &'a Pipeline,
    context: &TraceContext<'a>,
) -> Result<Vec<SpansetBuf>, EvalError> {
    let span_count = context.trace.spans.len();
    if span_count == 0 {
        return Ok(Vec::new());
    }
    let everything = SpansetBuf { spans: (0..span_count).collect(), attributes: Vec::new() };
    evaluate_pipeline(pipeline, vec![everything], context)
}

fn evaluate_pipeline<'a>(
    pipeline: &'a Pipeline,
    input: Vec<SpansetBuf>,
    trace: &TraceContext<'a>,
) -> Result<Vec<SpansetBuf>, EvalError> {
    let mut current = input;
    for stage in &pipeline.stages {
        current = match stage {
            Stage::Spanset(expr) => {
                let mut output = Vec::with_capacity(current.len());
                for spanset in &current {
                    output.extend(evaluate_spanset_expr(expr, spanset, trace)?);
                }
                output
            }
            Stage::ScalarFilter(filter) => aggregate::scalar_filter(filter, current, trace),
            Stage::By(expr) => aggregate::group(expr, current, trace),
            // The attributes are added when results are built.
            Stage::Select(_) => current,
            Stage::Coalesce => aggregate::coalesce(current),
        };
        if current.is_empty() {
            return Ok(current);
        }
    }
    Ok(current)
}

fn evaluate_spanset_expr<'a>(
    expr: &'a SpansetExpr,
    input: &SpansetBuf,
    trace: &TraceContext<'a>,
) -> Result<Vec<SpansetBuf>, EvalError> {
    match expr {
        SpansetExpr::Filter(filter) => {
            let spans: Vec<usize> =
                input.spans.iter().copied().filter(|&index| filter_matches(filter, trace, index)).collect();
            Ok(spanset_with(input, spans))
        }
        SpansetExpr::Pipeline(pipeline) => evaluate_pipeline(pipeline, vec![input.clone()], trace),
        SpansetExpr::Op { op, lhs, rhs } => {
            let left = evaluate_spanset_expr(lhs, input, trace)?;
            let right = evaluate_spanset_expr(rhs, input, trace)?;
            match op {
                SpansetOp::And if left.is_empty() || right.is_empty() => Ok(Vec::new()),
                SpansetOp::And | SpansetOp::Or => Ok(spanset_with(input, unique_spans(trace.trace, &left, &right))),
                _ => {
                    // Tempo's joinSpansets: nothing without a right-hand side; one spanset per side at most.
                    if right.is_empty() {
                        return Ok(Vec::new());
                    }
                    if left.len() > 1 || right.len() > 1 {
                        return Err(EvalError::MultipleSpansets);
                    }
                    let left_spans = left.first().map(|spanset| spanset.spans.as_slice()).unwrap_or(&[]);
                    let selected = structural::relate(*op, trace.trace, trace.structure(), left_spans, &right[0].spans);
                    Ok(spanset_with(input, selected))
                }
            }
        }
    }
}

/// A spanset carrying the input's attributes forward, or none when no span is left.
fn spanset_with(input: &SpansetBuf, spans: Vec<usize>) -> Vec<SpansetBuf> {
    if spans.is_empty() {
        return Vec::new();
    }
    vec![SpansetBuf { spans, attributes: input.attributes.clone() }]
}

/// Every span of both sides, once.
fn unique_spans(trace: &Trace, left: &[SpansetBuf], right: &[SpansetBuf]) -> Vec<usize> {
    let mut seen = vec![false; trace.spans.len()];
    let mut spans = Vec::new();
    for spanset in left.iter().chain(right) {
        for &index in &spanset.spans {
            if !std::mem::replace(&mut seen[index], true) {
                spans.push(index);
            }
        }
    }
    spans
}

/// Whether the filter holds for the span. An expression reading events (links) holds if it holds for one of the
/// span's events (links), with that event's values throughout; one reading unscoped attributes holds if it holds
/// with the span's values or with the resource's (Tempo matches `.foo` in either scope).
fn filter_matches<'a>(filter: &'a SpansetFilter, trace: &TraceContext<'a>, index: usize) -> bool {
    let span = &trace.trace.spans[index];
    let refs = &filter.refs;
    let mut context = SpanContext { trace, span, index, event: None, link: None, resource_first: false };
    if !refs.events && !refs.links && refs.unscoped.is_empty() {
        return value::evaluate(&filter.expr, &context).is_true();
    }
    // With both span and resource holding an unscoped name, the resource's value gets its own try (checked only
    // once the span's values have failed).
    let shadowed = std::cell::OnceCell::new();
    let is_shadowed = || {
        *shadowed.get_or_init(|| {
            refs.unscoped.iter().any(|name| {
                find_attribute(&span.attributes, name).is_some()
                    && find_attribute(&span.resource.attributes, name).is_some()
            })
        })
    };
    let event_tries = if refs.events { span.events.len().max(1) } else { 1 };
    let link_tries = if refs.links { span.links.len().max(1) } else { 1 };
    for event_position in 0..event_tries {
        context.event = if refs.events { span.events.get(event_position) } else { None };
        for link_position in 0..link_tries {
            context.link = if refs.links { span.links.get(link_position) } else { None };
            context.resource_first = false;
            let mut matched = value::evaluate(&filter.expr, &context).is_true();
            if !matched && is_shadowed() {
                context.resource_first = true;
                matched = value::evaluate(&filter.expr, &context).is_true();
            }
            if matched {
                let event = if refs.events && context.event.is_some() { Some(event_position) } else { None };
                let link = if refs.links && context.link.is_some() { Some(link_position) } else { None };
                trace.record_binding(index, event, link);
                return true;
            }
        }
    }
    false
}

/// The attributes reported on matched spans: everything the pipeline reads or selects, once, in query order,
/// without the intrinsics Tempo reports elsewhere.
fn reported_attributes(pipeline: &Pipeline) -> Vec<&Attribute> {
    let mut reported: Vec<&Attribute> = Vec::new();
    pipeline.for_each_attribute(&mut |attribute| {
        if let Attribute::Intrinsic(intrinsic) = attribute
            && intrinsic.omitted_from_results()
        {
            return;
        }
        if !reported.contains(&attribute) {
            reported.push(attribute);
        }
    });
    reported
}

fn build_spanset<'a>(spanset: SpansetBuf, context: &TraceContext<'a>, reported: &[&'a Attribute]) -> Spanset {
    let trace = context.trace;
    let mut positions = spanset.spans;
    positions.sort_unstable_by_key(|&index| (trace.spans[index].start_ns, index));
    positions.dedup();
    let spans = positions
        .into_iter()
        .map(|index| SpanMatch { index, attributes: span_attributes(context, index, reported) })
        .collect();
    Spanset { spans, attributes: spanset.attributes }
}

fn span_attributes<'a>(trace: &TraceContext<'a>, index: usize, reported: &[&'a Attribute]) -> Vec<(String, AttrValue)> {
    let span = &trace.trace.spans[index];
    let mut attributes = Vec::new();
    for attribute in reported {
        let mut context = SpanContext::plain(trace, index);
        // Event and link values come from the event (link) a filter matched through, else from the first event
        // (link) that has them.
        let matched_event = trace.matched_event(index);
        let matched_link = trace.matched_link(index);
        context.event = matched_event.or(context.event);
        context.link = matched_link.or(context.link);
        match attribute {
            Attribute::Scoped { scope: AttributeScope::Event, name }
                if matched_event.is_none_or(|event| find_attribute(&event.attributes, name).is_none()) =>
            {
                context.event = span.events.iter().find(|event| find_attribute(&event.attributes, name).is_some());
            }
            Attribute::Scoped { scope: AttributeScope::Link, name }
                if matched_link.is_none_or(|link| find_attribute(&link.attributes, name).is_none()) =>
            {
                context.link = span.links.iter().find(|link| find_attribute(&link.attributes, name).is_some());
            }
            _ => {}
        }
        if let Some(value) = value::attribute_value(attribute, &context).to_attr_value() {
            attributes.push((attribute.result_key().to_string(), value));
        }
    }
    attributes
}
