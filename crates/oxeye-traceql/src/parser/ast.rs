//! The TraceQL syntax tree, shaped after Tempo's grammar (`pkg/traceql/expr.y`).
//!
//! A query is a pipeline of stages separated by `|`: spanset expressions (`{ … }` filters combined with `&&`, `||`
//! and the structural operators), scalar filters over aggregates (`count() > 2`), `by()`, `select()` and
//! `coalesce()`. A metrics query ends with a metrics aggregation (`| rate() by (…)`) and optional second-stage
//! functions. Scoped intrinsics are normalized at parse time (`span:duration` and `duration` are one node), so two
//! spellings of one query compare equal.

use std::fmt;

use oxeye_model::{SpanKind, StatusCode};
use regex::Regex;

/// A parsed TraceQL query. `Display` prints it in a canonical form that parses back to an equal tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub expr: RootExpr,
    /// Query hints from a trailing `with(name = value, …)`; kept and printed, not interpreted.
    pub hints: Vec<QueryHint>,
}

/// What a query computes.
#[derive(Clone, Debug, PartialEq)]
pub enum RootExpr {
    /// A search: spansets per trace.
    Search(Pipeline),
    /// A TraceQL metrics query: time series over the spans the pipeline selects.
    Metrics(MetricsQuery),
}

/// One `name = value` query hint.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryHint {
    pub name: String,
    pub value: Static,
}

/// Stages separated by `|`; each one consumes the spansets of the previous one.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

/// One pipeline stage.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Filters (and combines) the spans of each spanset.
    Spanset(SpansetExpr),
    /// Keeps spansets whose aggregate compares true (`count() > 2`).
    ScalarFilter(ScalarFilter),
    /// Splits each spanset into one per distinct value of the expression.
    By(FieldExpr),
    /// Adds attributes to the spans returned (no effect on which spans match).
    Select(Vec<Attribute>),
    /// Merges all spansets of a trace back into one.
    Coalesce,
}

/// Spanset filters combined by spanset operators.
#[derive(Clone, Debug, PartialEq)]
pub enum SpansetExpr {
    Filter(SpansetFilter),
    Op {
        op: SpansetOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
    },
    /// A parenthesized pipeline used as an operand: `({ a } | count() > 1) && { b }`.
    Pipeline(Box<Pipeline>),
}

/// `{ expression }`: the spans for which the expression is true.
#[derive(Clone, Debug, PartialEq)]
pub struct SpansetFilter {
    pub expr: FieldExpr,
    /// What the expression reads, computed once at parse time for the evaluator.
    pub(crate) refs: FieldRefs,
}

impl SpansetFilter {
    pub fn new(expr: FieldExpr) -> Self {
        let mut refs = FieldRefs::default();
        expr.collect_refs(&mut refs);
        Self { expr, refs }
    }
}

/// What a field expression reads from a span, so the evaluator iterates events or links only when needed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldRefs {
    /// Event attributes or event intrinsics are read: the expression is tried once per event.
    pub(crate) events: bool,
    /// Link attributes or link intrinsics are read: the expression is tried once per link.
    pub(crate) links: bool,
    /// Unscoped attribute names read (`.foo`): either the span's or the resource's value may match.
    pub(crate) unscoped: Vec<String>,
    /// `span:childCount` is read: the trace's parent index is needed.
    pub(crate) child_count: bool,
}

/// The spanset operators, with Tempo's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpansetOp {
    /// `&&`: both sides matched; returns the spans of both.
    And,
    /// `||`: either side matched; returns the spans of both.
    Or,
    /// `>`: right-hand spans whose parent matched the left.
    Child,
    /// `<`: right-hand spans that are the parent of a left-hand span.
    Parent,
    /// `>>`: right-hand spans with an ancestor on the left.
    Descendant,
    /// `<<`: right-hand spans with a descendant on the left.
    Ancestor,
    /// `~`: right-hand spans with a sibling on the left.
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`: like `>` but returns the matching spans of both sides.
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

impl SpansetOp {
    pub fn symbol(self) -> &'static str {
        match self {
            SpansetOp::And => "&&",
            SpansetOp::Or => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        }
    }

    /// A structural operator (everything but `&&` and `||`).
    pub fn is_structural(self) -> bool {
        !matches!(self, SpansetOp::And | SpansetOp::Or)
    }
}

/// `aggregate op constant`, the only scalar filter shape Tempo evaluates.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarFilter {
    pub aggregate: Aggregate,
    pub op: ComparisonOp,
    /// A constant (constant arithmetic is folded at parse time, as Tempo does).
    pub value: Static,
}

/// An aggregate over the spans of a spanset.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub function: AggregateFunction,
    /// The value aggregated; `None` for `count()`.
    pub expr: Option<FieldExpr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateFunction {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

impl AggregateFunction {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::Sum => "sum",
        }
    }
}

/// Comparison operators of scalar and metrics filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComparisonOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl ComparisonOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ComparisonOp::Eq => "=",
            ComparisonOp::Neq => "!=",
            ComparisonOp::Gt => ">",
            ComparisonOp::Gte => ">=",
            ComparisonOp::Lt => "<",
            ComparisonOp::Lte => "<=",
        }
    }

    pub(crate) fn as_binary(self) -> BinaryOp {
        match self {
            ComparisonOp::Eq => BinaryOp::Eq,
            ComparisonOp::Neq => BinaryOp::Neq,
            ComparisonOp::Gt => BinaryOp::Gt,
            ComparisonOp::Gte => BinaryOp::Gte,
            ComparisonOp::Lt => BinaryOp::Lt,
            ComparisonOp::Lte => BinaryOp::Lte,
        }
    }

    /// Applies the comparison to two floats (metrics filters compare sample values).
    pub fn compare_f64(self, lhs: f64, rhs: f64) -> bool {
        match self {
            ComparisonOp::Eq => lhs == rhs,
            ComparisonOp::Neq => lhs != rhs,
            ComparisonOp::Gt => lhs > rhs,
            ComparisonOp::Gte => lhs >= rhs,
            ComparisonOp::Lt => lhs < rhs,
            ComparisonOp::Lte => lhs <= rhs,
        }
    }
}

/// An expression evaluated on one span.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldExpr {
    Static(Static),
    Attribute(Attribute),
    Binary {
        op: BinaryOp,
        lhs: Box<FieldExpr>,
        rhs: Box<FieldExpr>,
    },
    /// `lhs =~ "re"` or `lhs !~ "re"`: the right-hand side is always a string literal, compiled at parse time.
    Regex {
        lhs: Box<FieldExpr>,
        regex: RegexLiteral,
        negated: bool,
    },
    Unary {
        op: UnaryOp,
        expr: Box<FieldExpr>,
    },
}

/// Binary operators of field expressions (regex matching is [`FieldExpr::Regex`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// Operators whose result is a boolean.
    pub fn is_boolean(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::Neq
                | BinaryOp::Gt
                | BinaryOp::Gte
                | BinaryOp::Lt
                | BinaryOp::Lte
                | BinaryOp::And
                | BinaryOp::Or
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `x != nil`
    Exists,
    /// `x = nil`
    NotExists,
}

/// A regular expression literal: the pattern as written and its fully anchored compiled form.
#[derive(Clone, Debug)]
pub struct RegexLiteral {
    pub pattern: String,
    pub(crate) compiled: Regex,
}

impl RegexLiteral {
    /// Compiles `pattern` anchored at both ends, as Tempo (and Prometheus) treat every TraceQL regex.
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let compiled = Regex::new(&format!("^(?:{pattern})$"))?;
        Ok(Self { pattern: pattern.to_string(), compiled })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

impl PartialEq for RegexLiteral {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Static {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Nanoseconds.
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
}

/// An intrinsic field or an attribute.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attribute {
    Intrinsic(Intrinsic),
    Scoped { scope: AttributeScope, name: String },
}

impl Attribute {
    pub fn scoped(scope: AttributeScope, name: impl Into<String>) -> Self {
        Attribute::Scoped { scope, name: name.into() }
    }

    /// The key Tempo gives this attribute in search results and `by()` labels: the attribute name without its
    /// scope (`http.status_code` for `span.http.status_code`), or the intrinsic's name (`status`, `event:name`).
    pub fn result_key(&self) -> &str {
        match self {
            Attribute::Intrinsic(intrinsic) => intrinsic.name(),
            Attribute::Scoped { name, .. } => name,
        }
    }
}

/// Where an attribute is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttributeScope {
    /// `.foo`: the span's attribute, else the resource's (either may match).
    Unscoped,
    Span,
    Resource,
    /// Attributes of the span's events (a span matches if one of its events does).
    Event,
    /// Attributes of the span's links.
    Link,
    /// Attributes of the instrumentation scope.
    Instrumentation,
}

impl AttributeScope {
    /// The prefix written before the attribute name.
    pub fn prefix(self) -> &'static str {
        match self {
            AttributeScope::Unscoped => ".",
            AttributeScope::Span => "span.",
            AttributeScope::Resource => "resource.",
            AttributeScope::Event => "event.",
            AttributeScope::Link => "link.",
            AttributeScope::Instrumentation => "instrumentation.",
        }
    }
}

/// The intrinsic fields Tempo 2.x supports (the nested-set ones and `parent` are not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `duration`, `span:duration`
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `span:childCount`
    ChildCount,
    /// `rootName`, `trace:rootName`
    RootName,
    /// `rootServiceName`, `trace:rootService`
    RootService,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `trace:id`
    TraceId,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
}

impl Intrinsic {
    /// Tempo's name for the intrinsic, as its printer writes it and as search results key it.
    pub fn name(self) -> &'static str {
        match self {
            Intrinsic::Duration => "duration",
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::ChildCount => "span:childCount",
            Intrinsic::RootName => "rootName",
            Intrinsic::RootService => "rootServiceName",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
        }
    }

    /// The intrinsic named by an unscoped keyword (`duration`, `rootServiceName`, …).
    pub(crate) fn from_unscoped(word: &str) -> Option<Intrinsic> {
        Some(match word {
            "duration" => Intrinsic::Duration,
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "rootName" => Intrinsic::RootName,
            "rootServiceName" => Intrinsic::RootService,
            "traceDuration" => Intrinsic::TraceDuration,
            _ => return None,
        })
    }

    /// The intrinsic named `scope:word` (`trace:duration`, `event:name`, …), per Tempo's grammar.
    pub(crate) fn from_scoped(scope: &str, word: &str) -> Option<Intrinsic> {
        Some(match (scope, word) {
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "rootName") => Intrinsic::RootName,
            ("trace", "rootService") => Intrinsic::RootService,
            ("trace", "id") => Intrinsic::TraceId,
            ("span", "duration") => Intrinsic::Duration,
            ("span", "name") => Intrinsic::Name,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// The static type of the intrinsic's values.
    pub(crate) fn value_type(self) -> ValueType {
        match self {
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => ValueType::Duration,
            Intrinsic::Status => ValueType::Status,
            Intrinsic::Kind => ValueType::Kind,
            Intrinsic::ChildCount => ValueType::Int,
            Intrinsic::Name
            | Intrinsic::StatusMessage
            | Intrinsic::RootName
            | Intrinsic::RootService
            | Intrinsic::TraceId
            | Intrinsic::SpanId
            | Intrinsic::ParentId
            | Intrinsic::EventName
            | Intrinsic::LinkTraceId
            | Intrinsic::LinkSpanId
            | Intrinsic::InstrumentationName
            | Intrinsic::InstrumentationVersion => ValueType::Str,
        }
    }

    /// Intrinsics Tempo leaves out of a span's attributes in search results (they have fields of their own).
    pub(crate) fn omitted_from_results(self) -> bool {
        matches!(
            self,
            Intrinsic::Name
                | Intrinsic::Duration
                | Intrinsic::TraceDuration
                | Intrinsic::RootService
                | Intrinsic::RootName
                | Intrinsic::TraceId
                | Intrinsic::SpanId
        )
    }
}

/// Static types for validation (Tempo's `StaticType`); `Attribute` is "known only at evaluation".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueType {
    Attribute,
    Nil,
    Bool,
    Int,
    Float,
    Str,
    Duration,
    Status,
    Kind,
}

impl ValueType {
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, ValueType::Int | ValueType::Float | ValueType::Duration)
    }

    /// Whether two types may meet in a binary operation (Tempo's `isMatchingOperand`).
    pub(crate) fn matches(self, other: ValueType) -> bool {
        self == ValueType::Attribute
            || other == ValueType::Attribute
            || self == other
            || (self.is_numeric() && other.is_numeric())
            || self == ValueType::Nil
            || other == ValueType::Nil
    }

    /// Whether `op` applies to this type (Tempo's `binaryTypeValid`).
    pub(crate) fn supports(self, op: BinaryOp) -> bool {
        use BinaryOp::*;
        match self {
            ValueType::Attribute => true,
            ValueType::Bool => matches!(op, And | Or | Eq | Neq),
            ValueType::Int | ValueType::Float | ValueType::Duration => {
                matches!(op, Add | Sub | Mul | Div | Mod | Pow | Eq | Neq | Gt | Gte | Lt | Lte)
            }
            ValueType::Str => matches!(op, Eq | Neq | Gt | Gte | Lt | Lte),
            ValueType::Nil | ValueType::Status | ValueType::Kind => matches!(op, Eq | Neq),
        }
    }
}

impl Static {
    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            Static::Nil => ValueType::Nil,
            Static::Bool(_) => ValueType::Bool,
            Static::Int(_) => ValueType::Int,
            Static::Float(_) => ValueType::Float,
            Static::Str(_) => ValueType::Str,
            Static::Duration(_) => ValueType::Duration,
            Static::Status(_) => ValueType::Status,
            Static::Kind(_) => ValueType::Kind,
        }
    }

    /// The value as a float, for numeric statics.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Static::Int(value) => Some(*value as f64),
            Static::Float(value) => Some(*value),
            Static::Duration(value) => Some(*value as f64),
            _ => None,
        }
    }
}

impl FieldExpr {
    /// Whether the expression reads anything from the span (Tempo's `referencesSpan`).
    pub fn references_span(&self) -> bool {
        match self {
            FieldExpr::Static(_) => false,
            FieldExpr::Attribute(_) => true,
            FieldExpr::Binary { lhs, rhs, .. } => lhs.references_span() || rhs.references_span(),
            FieldExpr::Regex { lhs, .. } => lhs.references_span(),
            FieldExpr::Unary { expr, .. } => expr.references_span(),
        }
    }

    /// Calls `visit` on every attribute the expression reads, left to right.
    pub fn for_each_attribute<'a>(&'a self, visit: &mut dyn FnMut(&'a Attribute)) {
        match self {
            FieldExpr::Static(_) => {}
            FieldExpr::Attribute(attribute) => visit(attribute),
            FieldExpr::Binary { lhs, rhs, .. } => {
                lhs.for_each_attribute(visit);
                rhs.for_each_attribute(visit);
            }
            FieldExpr::Regex { lhs, .. } => lhs.for_each_attribute(visit),
            FieldExpr::Unary { expr, .. } => expr.for_each_attribute(visit),
        }
    }

    pub(crate) fn collect_refs(&self, refs: &mut FieldRefs) {
        self.for_each_attribute(&mut |attribute| match attribute {
            Attribute::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart) => refs.events = true,
            Attribute::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId) => refs.links = true,
            Attribute::Intrinsic(Intrinsic::ChildCount) => refs.child_count = true,
            Attribute::Intrinsic(_) => {}
            Attribute::Scoped { scope: AttributeScope::Event, .. } => refs.events = true,
            Attribute::Scoped { scope: AttributeScope::Link, .. } => refs.links = true,
            Attribute::Scoped { scope: AttributeScope::Unscoped, name } => {
                if !refs.unscoped.contains(name) {
                    refs.unscoped.push(name.clone());
                }
            }
            Attribute::Scoped { .. } => {}
        });
    }

    /// The static type of the expression's value (Tempo's `impliedType`).
    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            FieldExpr::Static(value) => value.value_type(),
            FieldExpr::Attribute(Attribute::Intrinsic(intrinsic)) => intrinsic.value_type(),
            FieldExpr::Attribute(Attribute::Scoped { .. }) => ValueType::Attribute,
            FieldExpr::Binary { op, lhs, rhs } => {
                if op.is_boolean() {
                    return ValueType::Bool;
                }
                let lhs_type = lhs.value_type();
                if lhs_type != ValueType::Attribute { lhs_type } else { rhs.value_type() }
            }
            FieldExpr::Regex { .. } => ValueType::Bool,
            FieldExpr::Unary { op: UnaryOp::Exists | UnaryOp::NotExists, .. } => ValueType::Bool,
            FieldExpr::Unary { expr, .. } => expr.value_type(),
        }
    }
}

impl Query {
    /// The search pipeline of the query (for a metrics query, the pipeline before the metrics aggregation).
    pub fn pipeline(&self) -> &Pipeline {
        match &self.expr {
            RootExpr::Search(pipeline) => pipeline,
            RootExpr::Metrics(metrics) => &metrics.pipeline,
        }
    }
}

impl Pipeline {
    /// Calls `visit` on every attribute any stage reads or selects, in query order.
    pub fn for_each_attribute<'a>(&'a self, visit: &mut dyn FnMut(&'a Attribute)) {
        for stage in &self.stages {
            match stage {
                Stage::Spanset(expr) => expr.for_each_attribute(visit),
                Stage::ScalarFilter(filter) => {
                    if let Some(expr) = &filter.aggregate.expr {
                        expr.for_each_attribute(visit);
                    }
                }
                Stage::By(expr) => expr.for_each_attribute(visit),
                Stage::Select(attributes) => attributes.iter().for_each(&mut *visit),
                Stage::Coalesce => {}
            }
        }
    }
}

impl SpansetExpr {
    pub fn for_each_attribute<'a>(&'a self, visit: &mut dyn FnMut(&'a Attribute)) {
        match self {
            SpansetExpr::Filter(filter) => filter.expr.for_each_attribute(visit),
            SpansetExpr::Op { lhs, rhs, .. } => {
                lhs.for_each_attribute(visit);
                rhs.for_each_attribute(visit);
            }
            SpansetExpr::Pipeline(pipeline) => pipeline.for_each_attribute(visit),
        }
    }
}

/// A TraceQL metrics query: `pipeline | aggregation [| second stage …]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsQuery {
    pub pipeline: Pipeline,
    pub aggregation: MetricsAggregation,
    pub second_stage: Vec<SecondStage>,
}

/// The first-stage metrics function and its grouping.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsAggregation {
    pub function: MetricsFunction,
    /// `by (a, b)`: one series per distinct combination.
    pub by: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MetricsFunction {
    Rate,
    CountOverTime,
    MinOverTime(Attribute),
    MaxOverTime(Attribute),
    AvgOverTime(Attribute),
    SumOverTime(Attribute),
    QuantileOverTime(Attribute, Vec<f64>),
    HistogramOverTime(Attribute),
}

impl MetricsFunction {
    pub fn name(&self) -> &'static str {
        match self {
            MetricsFunction::Rate => "rate",
            MetricsFunction::CountOverTime => "count_over_time",
            MetricsFunction::MinOverTime(_) => "min_over_time",
            MetricsFunction::MaxOverTime(_) => "max_over_time",
            MetricsFunction::AvgOverTime(_) => "avg_over_time",
            MetricsFunction::SumOverTime(_) => "sum_over_time",
            MetricsFunction::QuantileOverTime(..) => "quantile_over_time",
            MetricsFunction::HistogramOverTime(_) => "histogram_over_time",
        }
    }

    pub fn attribute(&self) -> Option<&Attribute> {
        match self {
            MetricsFunction::Rate | MetricsFunction::CountOverTime => None,
            MetricsFunction::MinOverTime(attribute)
            | MetricsFunction::MaxOverTime(attribute)
            | MetricsFunction::AvgOverTime(attribute)
            | MetricsFunction::SumOverTime(attribute)
            | MetricsFunction::QuantileOverTime(attribute, _)
            | MetricsFunction::HistogramOverTime(attribute) => Some(attribute),
        }
    }
}

/// Functions applied to the series a metrics aggregation produced.
#[derive(Clone, Debug, PartialEq)]
pub enum SecondStage {
    /// Keeps the k series with the highest value at each step.
    TopK(u32),
    /// Keeps the k series with the lowest value at each step.
    BottomK(u32),
    /// Keeps the samples that compare true against the constant.
    Filter(ComparisonOp, f64),
}

impl fmt::Display for SpansetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}
