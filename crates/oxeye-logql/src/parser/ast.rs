//! The LogQL syntax tree.
//!
//! Plain data with `PartialEq`, so that `parse(&expr.to_string()) == expr` can be tested. Regular expressions are
//! checked when parsing but stored as source text; the pipeline compiler and the evaluator build what they run from
//! this tree once per query. Constant folding (`1 + 1`) is left to the evaluator, so the tree keeps what was written.

/// A parsed query: either a log query (returns log lines) or a metric query (returns samples).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Log(LogExpr),
    Sample(SampleExpr),
}

impl Expr {
    /// Whether the query returns log lines (`{app="x"} |= "a"`) rather than samples.
    pub fn is_log_query(&self) -> bool {
        matches!(self, Expr::Log(_))
    }
}

/// How a stream matcher or a string label filter compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// `name op "value"`, in a stream selector or a label filter. Regex values are anchored at both ends when matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchType,
    pub value: String,
}

/// A log selector and its pipeline: `{app="api"} |= "error" | json | level="error"`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogExpr {
    pub matchers: Vec<LabelMatcher>,
    pub stages: Vec<Stage>,
}

/// One pipeline stage, in the order written.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// `|= "a" or "b"`, `!= "a"`, `|~ "re"`, `!~ "re"`, `|> "<_> pattern"`, `!> "…"`.
    LineFilter(LineFilter),
    /// `| json` (every field) or `| json a="b.c", d="e[0]"` (selected paths).
    Json(Vec<LabelExtraction>),
    /// `| logfmt [--strict] [--keep-empty] [a="b", c]`.
    Logfmt { strict: bool, keep_empty: bool, extractions: Vec<LabelExtraction> },
    /// `| regexp "(?P<name>…)"`.
    Regexp(String),
    /// `| pattern "<ip> - <_> <status>"`.
    Pattern(String),
    /// `| unpack` (Promtail's packed JSON).
    Unpack,
    /// `| level="error" and duration > 1s`.
    LabelFilter(LabelFilter),
    /// `| line_format "{{.msg}}"`.
    LineFormat(String),
    /// `| label_format dst=src, other="{{.a}}"`.
    LabelFormat(Vec<LabelFormatOp>),
    /// `| drop a, b="x"`.
    Drop(Vec<NamedMatcher>),
    /// `| keep a, b="x"`.
    Keep(Vec<NamedMatcher>),
    /// `| decolorize`.
    Decolorize,
}

/// The operator of a line filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`: the line contains the text.
    Contains,
    /// `!=`: the line does not contain the text.
    NotContains,
    /// `|~`: the regular expression (unanchored) matches the line.
    Regex,
    /// `!~`
    NotRegex,
    /// `|>`: the line matches the pattern (`<_>` matches anything).
    Pattern,
    /// `!>`
    NotPattern,
}

impl LineFilterOp {
    pub fn as_str(self) -> &'static str {
        match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Regex => "|~",
            LineFilterOp::NotRegex => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        }
    }

    /// Whether the filter keeps lines that match (`|=`, `|~`, `|>`), as opposed to lines that do not.
    pub fn is_positive(self) -> bool {
        matches!(self, LineFilterOp::Contains | LineFilterOp::Regex | LineFilterOp::Pattern)
    }
}

/// A line filter with its `or` alternatives: `|= "a" or "b"` keeps lines containing either; `!= "a" or "b"` keeps
/// lines containing neither (Loki applies De Morgan to negative filters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFilter {
    pub op: LineFilterOp,
    /// At least one value; more than one when `or` was used.
    pub values: Vec<LineFilterValue>,
}

/// What a line filter looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineFilterValue {
    /// `"text"`: a substring, regular expression or pattern, by the filter's operator.
    Text(String),
    /// `ip("10.0.0.0/8")`: an IP address matching the pattern (only with `|=` and `!=`).
    Ip(String),
}

impl From<&str> for LineFilterValue {
    fn from(text: &str) -> Self {
        LineFilterValue::Text(text.to_string())
    }
}

impl From<String> for LineFilterValue {
    fn from(text: String) -> Self {
        LineFilterValue::Text(text)
    }
}

/// `identifier` or `identifier="json.path"` in `| json …` / `| logfmt …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelExtraction {
    pub label: String,
    /// The path (JSON) or key (logfmt); equal to `label` when written without `=`.
    pub expression: String,
}

/// Comparison operators of numeric, duration and bytes label filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Equal => "==",
            CompareOp::NotEqual => "!=",
            CompareOp::Greater => ">",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Less => "<",
            CompareOp::LessOrEqual => "<=",
        }
    }

    pub(crate) fn compare<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CompareOp::Equal => left == right,
            CompareOp::NotEqual => left != right,
            CompareOp::Greater => left > right,
            CompareOp::GreaterOrEqual => left >= right,
            CompareOp::Less => left < right,
            CompareOp::LessOrEqual => left <= right,
        }
    }
}

/// A label filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFilter {
    /// `name="v"`, `name=~"re"`, …: compares the label's value (empty if absent).
    Matcher(LabelMatcher),
    /// `name > 1.5`: the label parsed as a float.
    Number { name: String, op: CompareOp, value: f64 },
    /// `name > 250ms`: the label parsed as a Go duration, in nanoseconds.
    Duration { name: String, op: CompareOp, value_ns: i64 },
    /// `name > 10KB`: the label parsed as a humanized byte size.
    Bytes { name: String, op: CompareOp, value: u64 },
    /// `name = ip("10.0.0.0/8")` (or `!=`): an IP address in the label's value matches the pattern.
    Ip { name: String, negated: bool, pattern: String },
    /// `a and b`, `a, b`, `a b`.
    And(Box<LabelFilter>, Box<LabelFilter>),
    /// `a or b`.
    Or(Box<LabelFilter>, Box<LabelFilter>),
}

/// One assignment of `label_format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelFormatOp {
    /// `dst=src`: renames `src` to `dst`.
    Rename { dst: String, src: String },
    /// `dst="{{ template }}"`.
    Template { dst: String, template: String },
}

impl LabelFormatOp {
    pub fn dst(&self) -> &str {
        match self {
            LabelFormatOp::Rename { dst, .. } | LabelFormatOp::Template { dst, .. } => dst,
        }
    }
}

/// An entry of `drop`/`keep`: a bare name, or a matcher that must hold for the label to be dropped (kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedMatcher {
    Name(String),
    Matcher(LabelMatcher),
}

/// A metric query.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleExpr {
    /// `rate({…}[5m])`, `quantile_over_time(0.99, {…} | unwrap x [5m]) by (a)`.
    RangeAggregation(RangeAggregation),
    /// `sum by (a) (…)`, `topk(5, …)`.
    VectorAggregation(VectorAggregation),
    /// `a / b`, `a > bool 1`.
    Binary(BinaryExpr),
    /// A number; a leading sign belongs to it (`-1`).
    Literal(f64),
    /// `label_replace(…, "dst", "replacement", "src", "regex")`.
    LabelReplace(LabelReplace),
    /// `vector(1)`.
    Vector(f64),
}

/// Range aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    CountOverTime,
    Rate,
    RateCounter,
    BytesOverTime,
    BytesRate,
    AvgOverTime,
    SumOverTime,
    MinOverTime,
    MaxOverTime,
    StdvarOverTime,
    StddevOverTime,
    QuantileOverTime,
    FirstOverTime,
    LastOverTime,
    AbsentOverTime,
}

impl RangeOp {
    pub const ALL: [RangeOp; 15] = [
        RangeOp::CountOverTime,
        RangeOp::Rate,
        RangeOp::RateCounter,
        RangeOp::BytesOverTime,
        RangeOp::BytesRate,
        RangeOp::AvgOverTime,
        RangeOp::SumOverTime,
        RangeOp::MinOverTime,
        RangeOp::MaxOverTime,
        RangeOp::StdvarOverTime,
        RangeOp::StddevOverTime,
        RangeOp::QuantileOverTime,
        RangeOp::FirstOverTime,
        RangeOp::LastOverTime,
        RangeOp::AbsentOverTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::Rate => "rate",
            RangeOp::RateCounter => "rate_counter",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
            RangeOp::AbsentOverTime => "absent_over_time",
        }
    }
}

/// `op([param,] log_range) [by|without (…)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeAggregation {
    pub op: RangeOp,
    /// The quantile of `quantile_over_time`.
    pub param: Option<f64>,
    pub range: LogRange,
    /// Only allowed for the unwrapped aggregations Loki allows it on (validated when parsing).
    pub grouping: Option<Grouping>,
}

/// The log selection of a range aggregation: `{…} | pipeline | unwrap x | post_filter [5m] offset 1h`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRange {
    pub log: LogExpr,
    pub range_ns: i64,
    pub offset_ns: i64,
    pub unwrap: Option<Unwrap>,
}

/// How `unwrap` converts the label value into a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnwrapConversion {
    /// `unwrap x`: a float (`strconv.ParseFloat`).
    Float,
    /// `unwrap duration(x)`: a Go duration, in seconds.
    Duration,
    /// `unwrap duration_seconds(x)`: the same as `duration`.
    DurationSeconds,
    /// `unwrap bytes(x)`: a humanized byte size.
    Bytes,
}

/// `| unwrap [conv(]label[)] [| post_filter …]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Unwrap {
    pub label: String,
    pub conversion: UnwrapConversion,
    /// Label filters after the unwrap, applied after conversion (they see `__error__` of conversion failures).
    pub post_filters: Vec<LabelFilter>,
}

/// `by (a, b)` or `without (a)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

impl Grouping {
    /// `by ()`: everything into one group without labels.
    pub fn is_singleton(&self) -> bool {
        !self.without && self.labels.is_empty()
    }
}

/// Vector aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Count,
    Max,
    Min,
    Stddev,
    Stdvar,
    Bottomk,
    Topk,
    Sort,
    SortDesc,
}

impl VectorOp {
    pub const ALL: [VectorOp; 11] = [
        VectorOp::Sum,
        VectorOp::Avg,
        VectorOp::Count,
        VectorOp::Max,
        VectorOp::Min,
        VectorOp::Stddev,
        VectorOp::Stdvar,
        VectorOp::Bottomk,
        VectorOp::Topk,
        VectorOp::Sort,
        VectorOp::SortDesc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VectorOp::Sum => "sum",
            VectorOp::Avg => "avg",
            VectorOp::Count => "count",
            VectorOp::Max => "max",
            VectorOp::Min => "min",
            VectorOp::Stddev => "stddev",
            VectorOp::Stdvar => "stdvar",
            VectorOp::Bottomk => "bottomk",
            VectorOp::Topk => "topk",
            VectorOp::Sort => "sort",
            VectorOp::SortDesc => "sort_desc",
        }
    }
}

/// `op [by|without (…)] ([param,] expr)`. The grouping is always present (`by ()` when none was written), as in
/// Loki.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorAggregation {
    pub op: VectorOp,
    /// `k` of `topk`/`bottomk`.
    pub param: Option<i64>,
    pub grouping: Grouping,
    pub expr: Box<SampleExpr>,
}

/// Binary operators, in Loki's precedence order from lowest to highest (`or`; `and`, `unless`; comparisons;
/// `+ -`; `* / %`; `^`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Unless,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    CmpEq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Unless => "unless",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::CmpEq => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
        }
    }

    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::CmpEq | BinaryOp::Neq | BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
            BinaryOp::Pow => 6,
        }
    }

    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::Or | BinaryOp::And | BinaryOp::Unless)
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryOp::CmpEq | BinaryOp::Neq | BinaryOp::Gt | BinaryOp::Gte | BinaryOp::Lt | BinaryOp::Lte)
    }
}

/// Matching cardinality of a binary operation between vectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cardinality {
    #[default]
    OneToOne,
    /// `group_left`
    ManyToOne,
    /// `group_right`
    OneToMany,
}

/// `bool`, `on (…)`/`ignoring (…)`, `group_left (…)`/`group_right (…)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinaryModifiers {
    pub return_bool: bool,
    /// `on (…)` when true, `ignoring (…)` otherwise (an empty `ignoring` is the default matching).
    pub on: bool,
    pub matching_labels: Vec<String>,
    pub cardinality: Cardinality,
    /// Labels of `group_left (…)`/`group_right (…)` copied from the "one" side.
    pub include: Vec<String>,
}

/// `lhs op [modifiers] rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryExpr {
    pub op: BinaryOp,
    pub modifiers: BinaryModifiers,
    pub lhs: Box<SampleExpr>,
    pub rhs: Box<SampleExpr>,
}

/// `label_replace(expr, "dst", "replacement", "src", "regex")`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelReplace {
    pub expr: Box<SampleExpr>,
    pub dst: String,
    pub replacement: String,
    pub src: String,
    pub regex: String,
}

impl SampleExpr {
    /// Every log range the expression reads, in evaluation order.
    pub fn log_ranges(&self) -> Vec<&LogRange> {
        let mut out = Vec::new();
        self.collect_log_ranges(&mut out);
        out
    }

    fn collect_log_ranges<'a>(&'a self, out: &mut Vec<&'a LogRange>) {
        match self {
            SampleExpr::RangeAggregation(aggregation) => out.push(&aggregation.range),
            SampleExpr::VectorAggregation(aggregation) => aggregation.expr.collect_log_ranges(out),
            SampleExpr::Binary(binary) => {
                binary.lhs.collect_log_ranges(out);
                binary.rhs.collect_log_ranges(out);
            }
            SampleExpr::LabelReplace(replace) => replace.expr.collect_log_ranges(out),
            SampleExpr::Literal(_) | SampleExpr::Vector(_) => {}
        }
    }
}
