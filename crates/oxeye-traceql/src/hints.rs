//! Pruning hints: conditions every trace a query can match meets somewhere, for a store to skip data with.
//!
//! Terms come from equality tests on strings (`resource.service.name = "api"`, `name = "GET /"`), `status = error`
//! and lower bounds on `duration`, found in the `&&`-conjunctions of spanset filters. Spanset operators that need
//! both sides to match (`&&`, the structural ones) keep the terms of both; `||` keeps only the terms both sides
//! share; negated structural operators keep only the right side's. Anything under `!`, `||` inside a filter
//! (unless shared), or a comparison the store cannot check yields no term: hints must never exclude a match.

use oxeye_storage_api::{TraceFilterHints, TraceTerm};

use crate::parser::ast::{
    Attribute, AttributeScope, BinaryOp, FieldExpr, Intrinsic, Pipeline, Query, SpansetExpr, SpansetOp, Stage, Static,
};

impl Query {
    /// Conservative conjunctive pruning terms: every trace the query could match meets all of them. Empty if
    /// unsure.
    pub fn hints(&self) -> TraceFilterHints {
        let mut all_of = Vec::new();
        pipeline_terms(self.pipeline(), &mut all_of);
        TraceFilterHints { all_of }
    }
}

/// Every spanset stage narrows the spans of the trace, so the terms of all of them hold together.
fn pipeline_terms(pipeline: &Pipeline, terms: &mut Vec<TraceTerm>) {
    for stage in &pipeline.stages {
        if let Stage::Spanset(expr) = stage {
            for term in spanset_terms(expr) {
                push_unique(terms, term);
            }
        }
    }
}

fn spanset_terms(expr: &SpansetExpr) -> Vec<TraceTerm> {
    match expr {
        SpansetExpr::Filter(filter) => field_terms(&filter.expr),
        SpansetExpr::Pipeline(pipeline) => {
            let mut terms = Vec::new();
            pipeline_terms(pipeline, &mut terms);
            terms
        }
        SpansetExpr::Op { op, lhs, rhs } => match op {
            SpansetOp::Or => common_terms(spanset_terms(lhs), spanset_terms(rhs)),
            // The right side may match with an empty left side.
            SpansetOp::NotChild
            | SpansetOp::NotParent
            | SpansetOp::NotDescendant
            | SpansetOp::NotAncestor
            | SpansetOp::NotSibling => spanset_terms(rhs),
            _ => {
                let mut terms = spanset_terms(lhs);
                for term in spanset_terms(rhs) {
                    push_unique(&mut terms, term);
                }
                terms
            }
        },
    }
}

/// Terms implied by a field expression being true on some span.
fn field_terms(expr: &FieldExpr) -> Vec<TraceTerm> {
    match expr {
        FieldExpr::Binary { op: BinaryOp::And, lhs, rhs } => {
            let mut terms = field_terms(lhs);
            for term in field_terms(rhs) {
                push_unique(&mut terms, term);
            }
            terms
        }
        FieldExpr::Binary { op: BinaryOp::Or, lhs, rhs } => common_terms(field_terms(lhs), field_terms(rhs)),
        FieldExpr::Binary { op, lhs, rhs } => {
            // Normalize `literal op field` to `field op' literal`.
            let (field, op, literal) = match (lhs.as_ref(), rhs.as_ref()) {
                (FieldExpr::Attribute(attribute), FieldExpr::Static(value)) => (attribute, *op, value),
                (FieldExpr::Static(value), FieldExpr::Attribute(attribute)) => (attribute, flip(*op), value),
                _ => return Vec::new(),
            };
            comparison_term(field, op, literal).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

fn comparison_term(attribute: &Attribute, op: BinaryOp, literal: &Static) -> Option<TraceTerm> {
    match (attribute, op, literal) {
        (Attribute::Intrinsic(Intrinsic::Name), BinaryOp::Eq, Static::Str(name)) => {
            Some(TraceTerm::SpanName(name.clone()))
        }
        (Attribute::Intrinsic(Intrinsic::Status), BinaryOp::Eq, Static::Status(oxeye_model::StatusCode::Error)) => {
            Some(TraceTerm::StatusError)
        }
        (Attribute::Intrinsic(Intrinsic::Duration), BinaryOp::Gt | BinaryOp::Gte, Static::Duration(nanos)) => {
            u64::try_from(*nanos).ok().filter(|nanos| *nanos > 0).map(TraceTerm::MinSpanDurationNs)
        }
        (Attribute::Scoped { scope, name }, BinaryOp::Eq, Static::Str(value)) => {
            let key = name.clone();
            let value = value.clone();
            match scope {
                AttributeScope::Span => Some(TraceTerm::SpanAttr { key, value }),
                AttributeScope::Resource => Some(TraceTerm::ResourceAttr { key, value }),
                AttributeScope::Unscoped => Some(TraceTerm::AnyAttr { key, value }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The operator seen from the other side (`1s < duration` is `duration > 1s`).
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        other => other,
    }
}

fn common_terms(left: Vec<TraceTerm>, right: Vec<TraceTerm>) -> Vec<TraceTerm> {
    left.into_iter().filter(|term| right.contains(term)).collect()
}

fn push_unique(terms: &mut Vec<TraceTerm>, term: TraceTerm) {
    if !terms.contains(&term) {
        terms.push(term);
    }
}

#[cfg(test)]
mod tests {
    use oxeye_storage_api::TraceTerm::{self, *};

    use crate::parse;

    fn terms(query: &str) -> Vec<TraceTerm> {
        parse(query).unwrap_or_else(|error| panic!("{query}: {error}")).hints().all_of
    }

    fn attr(key: &str, value: &str) -> (String, String) {
        (key.to_string(), value.to_string())
    }

    #[test]
    fn conjunctions_yield_one_term_per_condition() {
        let (key, value) = attr("service.name", "a");
        let (span_key, span_value) = attr("x", "y");
        assert_eq!(
            terms(r#"{ resource.service.name = "a" && span.x = "y" }"#),
            vec![ResourceAttr { key, value }, SpanAttr { key: span_key, value: span_value }]
        );
        assert_eq!(terms("{ status = error }"), vec![StatusError]);
        assert_eq!(terms("{ span:status = error }"), vec![StatusError]);
        assert_eq!(terms("{ duration > 1s }"), vec![MinSpanDurationNs(1_000_000_000)]);
        assert_eq!(terms("{ 100ms <= span:duration }"), vec![MinSpanDurationNs(100_000_000)]);
        assert_eq!(terms(r#"{ name = "GET /" }"#), vec![SpanName("GET /".into())]);
        assert_eq!(terms(r#"{ "GET /" = span:name }"#), vec![SpanName("GET /".into())]);
        let (key, value) = attr("http.method", "GET");
        assert_eq!(terms(r#"{ .http.method = "GET" }"#), vec![AnyAttr { key, value }]);
    }

    #[test]
    fn spanset_operators_combine_terms() {
        // both sides of && and of structural operators must match somewhere
        assert_eq!(terms(r#"{ name = "a" } && { status = error }"#), vec![SpanName("a".into()), StatusError]);
        assert_eq!(terms(r#"{ name = "a" } >> { status = error }"#), vec![SpanName("a".into()), StatusError]);
        assert_eq!(terms(r#"{ name = "a" } &~ { status = error }"#), vec![SpanName("a".into()), StatusError]);
        // a negated structural operator matches with an empty left side
        assert_eq!(terms(r#"{ name = "a" } !>> { status = error }"#), vec![StatusError]);
        // pipeline stages all narrow the trace's spans
        assert_eq!(
            terms(r#"{ name = "a" } | count() > 2 | { status = error } | by(kind)"#),
            vec![SpanName("a".into()), StatusError]
        );
        assert_eq!(
            terms(r#"({ name = "a" } | count() > 1) && { status = error }"#),
            vec![SpanName("a".into()), StatusError]
        );
        assert_eq!(terms(r#"{ status = error } | rate() by (name)"#), vec![StatusError]);
    }

    #[test]
    fn disjunctions_keep_only_common_terms() {
        assert_eq!(terms(r#"{ name = "a" || name = "b" }"#), vec![]);
        assert_eq!(terms(r#"{ name = "a" } || { name = "b" }"#), vec![]);
        assert_eq!(terms(r#"{ (status = error && name = "a") || (status = error && name = "b") }"#), vec![StatusError]);
        assert_eq!(terms(r#"{ status = error && name = "a" } || { status = error }"#), vec![StatusError]);
    }

    #[test]
    fn negations_and_uncheckable_conditions_yield_nothing() {
        let none: Vec<TraceTerm> = Vec::new();
        for query in [
            r#"{ !(name = "a") }"#,
            r#"{ name != "a" }"#,
            "{ status != error }",
            "{ status = ok }",
            "{ duration < 1s }",
            "{ duration = 1s && false }",
            r#"{ span.x =~ "a.*" }"#,
            "{ span.http.status_code = 200 }",
            r#"{ event.exception.type = "E" }"#,
            r#"{ span.x = nil }"#,
            "{ }",
            "count() > 2",
        ] {
            assert_eq!(terms(query), none, "{query}");
        }
    }
}
