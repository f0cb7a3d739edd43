//! The recursive-descent parser: tokens to [`Expr`], then Loki's validation.
//!
//! The grammar is Loki's `syntax.y`; binary operators use precedence climbing with Loki's precedences. Errors follow
//! Loki's two phases: syntax errors (`syntax error: unexpected X`) carry the offending token's position, while the
//! checks Loki's yacc actions record for later (`invalid aggregation sum_over_time without unwrap`, literal legs of
//! set operators, selectors without a non-empty matcher) are reported without a position after a successful parse.
//! Pipeline stages are parsed in `parse_pipeline.rs`.

use crate::error::ParseError;
use crate::parser::ast::*;
use crate::parser::lexer::{Function, Keyword, Spanned, Token, tokenize};
use crate::units::parse_go_float;

/// Loki refuses queries of 128 KiB and more.
const MAX_INPUT_SIZE: usize = 131_072;

const AT_LEAST_ONE_MATCHER: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";

/// Parses and validates a LogQL query.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let expr = parse_unvalidated(input)?;
    validate(&expr)?;
    Ok(expr)
}

/// Parses without Loki's validation (selectors may lack a non-empty matcher).
pub fn parse_unvalidated(input: &str) -> Result<Expr, ParseError> {
    if input.len() >= MAX_INPUT_SIZE {
        return Err(ParseError::unpositioned(format!("input size too long ({} > {MAX_INPUT_SIZE})", input.len())));
    }
    let (tokens, lex_error) = tokenize(input);
    let mut parser = Parser { tokens, position: 0, lex_error, deferred: None };
    let node = parser.parse_expr(0)?;
    if parser.peek() != &Token::Eof {
        return Err(parser.unexpected(&[]));
    }
    if let Some(error) = parser.lex_error.take() {
        return Err(error);
    }
    if let Some(error) = parser.deferred.take() {
        return Err(error);
    }
    Ok(match node {
        Node::Log(log) => Expr::Log(log),
        Node::Sample(sample) => Expr::Sample(sample),
    })
}

/// Parses a stream selector (`{app="api", env=~"prod|dev"}`) for the series, labels and index APIs; anything
/// beyond matchers is refused with Loki's `only label matchers are supported`.
pub fn parse_selector(input: &str) -> Result<Vec<oxeye_storage_api::Matcher>, ParseError> {
    let expr = parse(input)?;
    selector_matchers(expr)
}

/// [`parse_selector`] without the non-empty-matcher requirement (`{}` is accepted and selects everything).
pub fn parse_selector_unvalidated(input: &str) -> Result<Vec<oxeye_storage_api::Matcher>, ParseError> {
    selector_matchers(parse_unvalidated(input)?)
}

fn selector_matchers(expr: Expr) -> Result<Vec<oxeye_storage_api::Matcher>, ParseError> {
    match expr {
        Expr::Log(log) if log.stages.is_empty() => log.matchers.iter().map(to_storage_matcher).collect(),
        _ => Err(ParseError::bare("only label matchers are supported")),
    }
}

/// Converts a parsed matcher into the storage API's (anchored regex, Prometheus semantics).
pub(crate) fn to_storage_matcher(matcher: &LabelMatcher) -> Result<oxeye_storage_api::Matcher, ParseError> {
    use oxeye_storage_api::Matcher;
    let built = match matcher.op {
        MatchType::Equal => Ok(Matcher::equal(&matcher.name, &matcher.value)),
        MatchType::NotEqual => Ok(Matcher::not_equal(&matcher.name, &matcher.value)),
        MatchType::Regex => Matcher::regex(&matcher.name, &matcher.value),
        MatchType::NotRegex => Matcher::not_regex(&matcher.name, &matcher.value),
    };
    built.map_err(|_| regex_error(&matcher.value))
}

pub(crate) fn regex_error(pattern: &str) -> ParseError {
    let reason = match regex::Regex::new(pattern) {
        Err(error) => error.to_string().lines().last().unwrap_or_default().trim().to_string(),
        Ok(_) => "invalid regular expression".to_string(),
    };
    ParseError::unpositioned(format!("error parsing regexp: {reason}: `{pattern}`"))
}

/// Loki's post-parse validation (`validateExpr`), in its order: the tree is walked from the root, a node's own
/// problems before its children's.
fn validate(expr: &Expr) -> Result<(), ParseError> {
    match expr {
        Expr::Log(log) => validate_matchers(&log.matchers),
        Expr::Sample(sample) => validate_sample(sample),
    }
}

fn validate_sample(expr: &SampleExpr) -> Result<(), ParseError> {
    match expr {
        SampleExpr::Binary(binary) => {
            if binary.op.is_set_operator() {
                if let Some(value) = constant_value(&binary.lhs) {
                    return Err(ParseError::unpositioned(format!(
                        "unexpected literal for left leg of logical/set binary operation ({}): {value:.6}",
                        binary.op.as_str()
                    )));
                }
                if let Some(value) = constant_value(&binary.rhs) {
                    return Err(ParseError::unpositioned(format!(
                        "unexpected literal for right leg of logical/set binary operation ({}): {value:.6}",
                        binary.op.as_str()
                    )));
                }
            }
            validate_sample(&binary.lhs)?;
            validate_sample(&binary.rhs)
        }
        SampleExpr::VectorAggregation(aggregation) => {
            if matches!(aggregation.op, VectorOp::Sort | VectorOp::SortDesc) && !aggregation.grouping.labels.is_empty()
            {
                return Err(ParseError::unpositioned("sort and sort_desc doesn't allow grouping by "));
            }
            validate_sample(&aggregation.expr)
        }
        SampleExpr::LabelReplace(replace) => validate_sample(&replace.expr),
        SampleExpr::RangeAggregation(aggregation) => validate_matchers(&aggregation.range.log.matchers),
        SampleExpr::Literal(_) | SampleExpr::Vector(_) => Ok(()),
    }
}

fn validate_matchers(matchers: &[LabelMatcher]) -> Result<(), ParseError> {
    let selects_something = matchers.iter().any(|matcher| match to_storage_matcher(matcher) {
        Ok(built) => !built.matches_empty(),
        Err(_) => false,
    });
    if selects_something { Ok(()) } else { Err(ParseError::unpositioned(AT_LEAST_ONE_MATCHER)) }
}

/// The value of an expression made of literals only (Loki folds those into one literal while parsing).
pub(crate) fn constant_value(expr: &SampleExpr) -> Option<f64> {
    match expr {
        SampleExpr::Literal(value) => Some(*value),
        SampleExpr::Binary(binary) => {
            let lhs = constant_value(&binary.lhs)?;
            let rhs = constant_value(&binary.rhs)?;
            Some(crate::eval::binary::scalar_binary(binary.op, lhs, rhs))
        }
        _ => None,
    }
}

/// A parsed (sub)expression: log queries may appear where the grammar allows them and are refused later.
pub(crate) enum Node {
    Log(LogExpr),
    Sample(SampleExpr),
}

pub(crate) struct Parser {
    tokens: Vec<Spanned>,
    position: usize,
    lex_error: Option<ParseError>,
    /// The first error a yacc action of Loki's would have recorded for validation.
    deferred: Option<ParseError>,
}

impl Parser {
    pub(crate) fn peek(&self) -> &Token {
        &self.tokens[self.position.min(self.tokens.len() - 1)].token
    }

    pub(crate) fn peek_at(&self, offset: usize) -> &Token {
        &self.tokens[(self.position + offset).min(self.tokens.len() - 1)].token
    }

    pub(crate) fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        token
    }

    /// A syntax error at the current token; a pending lexical error takes its place, as in Loki.
    pub(crate) fn unexpected(&mut self, expecting: &[&str]) -> ParseError {
        if let Some(error) = self.lex_error.take() {
            return error;
        }
        let spanned = &self.tokens[self.position.min(self.tokens.len() - 1)];
        let mut message = format!("syntax error: unexpected {}", spanned.token.describe());
        if !expecting.is_empty() {
            message.push_str(", expecting ");
            message.push_str(&expecting.join(" or "));
        }
        ParseError::at(message, spanned.line, spanned.column)
    }

    pub(crate) fn expect(&mut self, token: &Token, expecting: &[&str]) -> Result<(), ParseError> {
        if self.peek() == token {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(expecting))
        }
    }

    pub(crate) fn defer(&mut self, error: ParseError) {
        if self.deferred.is_none() {
            self.deferred = Some(error);
        }
    }

    pub(crate) fn expect_string(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Token::String(text) => {
                let text = text.clone();
                self.advance();
                Ok(text)
            }
            _ => Err(self.unexpected(&["STRING"])),
        }
    }

    pub(crate) fn expect_identifier(&mut self, expecting: &[&str]) -> Result<String, ParseError> {
        match self.peek() {
            Token::Identifier(name) => {
                let name = name.clone();
                self.advance();
                Ok(name)
            }
            _ => Err(self.unexpected(expecting)),
        }
    }

    fn parse_expr(&mut self, min_precedence: u8) -> Result<Node, ParseError> {
        let mut lhs = self.parse_primary()?;
        while let Some(op) = binary_operator(self.peek()) {
            let precedence = op.precedence();
            if precedence < min_precedence {
                break;
            }
            self.advance();
            let modifiers = self.parse_binary_modifiers()?;
            let next_min = if op == BinaryOp::Pow { precedence } else { precedence + 1 };
            let rhs = self.parse_expr(next_min)?;
            lhs = Node::Sample(self.binary(op, modifiers, lhs, rhs));
        }
        Ok(lhs)
    }

    fn binary(&mut self, op: BinaryOp, modifiers: BinaryModifiers, lhs: Node, rhs: Node) -> SampleExpr {
        let leg = |parser: &mut Parser, node: Node, side: &str| match node {
            Node::Sample(sample) => sample,
            Node::Log(log) => {
                let go_type = if log.stages.is_empty() { "*syntax.MatchersExpr" } else { "*syntax.PipelineExpr" };
                parser.defer(ParseError::unpositioned(format!(
                    "unexpected type for {side} leg of binary operation ({}): {go_type}",
                    op.as_str()
                )));
                SampleExpr::Literal(0.0)
            }
        };
        let lhs = leg(self, lhs, "left");
        let rhs = leg(self, rhs, "right");
        SampleExpr::Binary(BinaryExpr { op, modifiers, lhs: Box::new(lhs), rhs: Box::new(rhs) })
    }

    fn parse_binary_modifiers(&mut self) -> Result<BinaryModifiers, ParseError> {
        let mut modifiers = BinaryModifiers::default();
        if self.peek() == &Token::Keyword(Keyword::Bool) {
            self.advance();
            modifiers.return_bool = true;
        }
        let on = match self.peek() {
            Token::Keyword(Keyword::On) => true,
            Token::Keyword(Keyword::Ignoring) => false,
            _ => return Ok(modifiers),
        };
        self.advance();
        modifiers.on = on;
        modifiers.matching_labels = self.parse_label_list()?;
        let cardinality = match self.peek() {
            Token::Keyword(Keyword::GroupLeft) => Cardinality::ManyToOne,
            Token::Keyword(Keyword::GroupRight) => Cardinality::OneToMany,
            _ => return Ok(modifiers),
        };
        self.advance();
        modifiers.cardinality = cardinality;
        if self.peek() == &Token::OpenParen {
            modifiers.include = self.parse_label_list()?;
        }
        Ok(modifiers)
    }

    /// `( [IDENTIFIER {, IDENTIFIER}] )`
    fn parse_label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(&Token::OpenParen, &["("])?;
        let mut labels = Vec::new();
        if self.peek() == &Token::CloseParen {
            self.advance();
            return Ok(labels);
        }
        labels.push(self.expect_identifier(&["IDENTIFIER", ")"])?);
        loop {
            match self.peek() {
                Token::Comma => {
                    self.advance();
                    labels.push(self.expect_identifier(&["IDENTIFIER"])?);
                }
                Token::CloseParen => {
                    self.advance();
                    return Ok(labels);
                }
                _ => return Err(self.unexpected(&[",", ")"])),
            }
        }
    }

    fn parse_grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = match self.peek() {
            Token::Keyword(Keyword::By) => false,
            Token::Keyword(Keyword::Without) => true,
            _ => return Ok(None),
        };
        self.advance();
        let labels = self.parse_label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    fn parse_primary(&mut self) -> Result<Node, ParseError> {
        match self.peek().clone() {
            Token::OpenBrace => {
                let log = self.parse_log_expr()?;
                if self.peek() == &Token::Pipe && self.peek_at(1) == &Token::Keyword(Keyword::Unwrap) {
                    // Only a range aggregation may unwrap; Loki fails on whatever follows the unwrap expression.
                    self.parse_unwrap()?;
                    return Err(self.unexpected(&[]));
                }
                Ok(Node::Log(log))
            }
            Token::OpenParen => {
                self.advance();
                let inner = self.parse_expr(0)?;
                self.expect(&Token::CloseParen, &[])?;
                Ok(inner)
            }
            Token::Number(text) => {
                self.advance();
                Ok(Node::Sample(SampleExpr::Literal(self.literal(&text, false)?)))
            }
            Token::Add | Token::Sub => {
                let negative = self.peek() == &Token::Sub;
                if let Token::Number(text) = self.peek_at(1).clone() {
                    self.advance();
                    self.advance();
                    return Ok(Node::Sample(SampleExpr::Literal(self.literal(&text, negative)?)));
                }
                Err(self.unexpected(&[]))
            }
            Token::Function(Function::Range(op)) => self.parse_range_aggregation(op).map(Node::Sample),
            Token::Function(Function::Vector(op)) => self.parse_vector_aggregation(op).map(Node::Sample),
            Token::Function(Function::LabelReplace) => self.parse_label_replace().map(Node::Sample),
            Token::Function(Function::VectorLiteral) => {
                self.advance();
                self.expect(&Token::OpenParen, &[])?;
                let Token::Number(text) = self.peek().clone() else {
                    return Err(self.unexpected(&["NUMBER"]));
                };
                self.advance();
                self.expect(&Token::CloseParen, &[")"])?;
                Ok(Node::Sample(SampleExpr::Vector(self.literal(&text, false)?)))
            }
            Token::Function(Function::ApproxTopk) => {
                Err(ParseError::unpositioned("approx_topk is not supported by oxeye's LogQL engine"))
            }
            _ => Err(self.unexpected(&[])),
        }
    }

    fn literal(&mut self, text: &str, negative: bool) -> Result<f64, ParseError> {
        match parse_go_float(text) {
            Ok(value) => Ok(if negative { -value } else { value }),
            Err(error) => Err(ParseError::unpositioned(format!("unable to parse literal as a float: {error}"))),
        }
    }

    /// `{matchers} [pipeline]`
    pub(crate) fn parse_log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let matchers = self.parse_selector()?;
        let stages = self.parse_stages()?;
        Ok(LogExpr { matchers, stages })
    }

    fn parse_selector(&mut self) -> Result<Vec<LabelMatcher>, ParseError> {
        self.expect(&Token::OpenBrace, &["{"])?;
        let mut matchers = Vec::new();
        if self.peek() == &Token::CloseBrace {
            self.advance();
            return Ok(matchers);
        }
        loop {
            matchers.push(self.parse_matcher()?);
            match self.peek() {
                Token::Comma => {
                    self.advance();
                }
                Token::CloseBrace => {
                    self.advance();
                    return Ok(matchers);
                }
                _ => return Err(self.unexpected(&["}", ","])),
            }
        }
    }

    /// `IDENTIFIER (=|!=|=~|!~) STRING`; a bad regex fails at once, as Loki's `mustNewMatcher` panics.
    pub(crate) fn parse_matcher(&mut self) -> Result<LabelMatcher, ParseError> {
        let name = self.expect_identifier(&[])?;
        let op = match self.peek() {
            Token::Eq => MatchType::Equal,
            Token::Neq => MatchType::NotEqual,
            Token::Re => MatchType::Regex,
            Token::Nre => MatchType::NotRegex,
            _ => return Err(self.unexpected(&[])),
        };
        self.advance();
        let value = self.expect_string()?;
        let matcher = LabelMatcher { name, op, value };
        to_storage_matcher(&matcher)?;
        Ok(matcher)
    }

    fn parse_range_aggregation(&mut self, op: RangeOp) -> Result<SampleExpr, ParseError> {
        self.advance();
        self.expect(&Token::OpenParen, &["("])?;
        let mut param_text = None;
        if let Token::Number(text) = self.peek().clone() {
            self.advance();
            self.expect(&Token::Comma, &[","])?;
            param_text = Some(text);
        } else if !matches!(self.peek(), Token::OpenBrace | Token::OpenParen) {
            return Err(self.unexpected(&["NUMBER", "{", "("]));
        }
        let range = self.parse_log_range()?;
        self.expect(&Token::CloseParen, &[])?;
        let grouping = self.parse_grouping()?;
        let param = match (param_text, op) {
            (Some(text), RangeOp::QuantileOverTime) => match parse_go_float(&text) {
                Ok(value) => Some(value),
                Err(error) => {
                    self.defer(ParseError::unpositioned(format!(
                        "invalid parameter for operation {}: {error}",
                        op.as_str()
                    )));
                    None
                }
            },
            (Some(text), _) => {
                self.defer(ParseError::unpositioned(format!(
                    "parameter {text} not supported for operation {}",
                    op.as_str()
                )));
                None
            }
            (None, RangeOp::QuantileOverTime) => {
                self.defer(ParseError::unpositioned(format!("parameter required for operation {}", op.as_str())));
                None
            }
            (None, _) => None,
        };
        if let Err(message) = check_range_aggregation(op, grouping.is_some(), range.unwrap.is_some()) {
            self.defer(ParseError::unpositioned(message));
        }
        Ok(SampleExpr::RangeAggregation(RangeAggregation { op, param, range, grouping }))
    }

    /// A log range inside a range aggregation, in any of the orders Loki's grammar accepts:
    /// `{…} | p | unwrap x [5m] offset 1h`, `{…}[5m] | p`, `({…} | p)[5m]`, `({…}[5m])`.
    fn parse_log_range(&mut self) -> Result<LogRange, ParseError> {
        if self.peek() != &Token::OpenParen {
            return self.parse_log_range_body(false);
        }
        self.advance();
        if self.peek() == &Token::OpenParen {
            let inner = self.parse_log_range()?;
            self.expect(&Token::CloseParen, &[])?;
            return Ok(inner);
        }
        let mut body = self.parse_log_range_body(true)?;
        self.expect(&Token::CloseParen, &[])?;
        if body.range_ns != NO_RANGE {
            return Ok(body);
        }
        let Token::Range(range_ns) = *self.peek() else {
            return Err(self.unexpected(&[]));
        };
        self.advance();
        body.range_ns = range_ns;
        body.offset_ns = self.parse_offset()?;
        if body.unwrap.is_none() && self.peek() == &Token::Pipe && self.peek_at(1) == &Token::Keyword(Keyword::Unwrap) {
            body.unwrap = Some(self.parse_unwrap()?);
        }
        Ok(body)
    }

    fn parse_log_range_body(&mut self, range_optional: bool) -> Result<LogRange, ParseError> {
        let matchers = self.parse_selector()?;
        let mut stages = self.parse_stages()?;
        let mut unwrap = None;
        if self.peek() == &Token::Pipe && self.peek_at(1) == &Token::Keyword(Keyword::Unwrap) {
            unwrap = Some(self.parse_unwrap()?);
        }
        let mut range_ns = NO_RANGE;
        let mut offset_ns = 0;
        if let Token::Range(range) = *self.peek() {
            self.advance();
            range_ns = range;
            offset_ns = self.parse_offset()?;
            if stages.is_empty() && unwrap.is_none() {
                stages = self.parse_stages()?;
                if self.peek() == &Token::Pipe && self.peek_at(1) == &Token::Keyword(Keyword::Unwrap) {
                    unwrap = Some(self.parse_unwrap()?);
                }
            }
        } else if !range_optional {
            return Err(self.unexpected(&[]));
        }
        Ok(LogRange { log: LogExpr { matchers, stages }, range_ns, offset_ns, unwrap })
    }

    fn parse_offset(&mut self) -> Result<i64, ParseError> {
        if self.peek() != &Token::Keyword(Keyword::Offset) {
            return Ok(0);
        }
        self.advance();
        match *self.peek() {
            Token::Duration(nanos) => {
                self.advance();
                Ok(nanos)
            }
            _ => Err(self.unexpected(&["DURATION"])),
        }
    }

    /// `| unwrap [bytes|duration|duration_seconds(]label[)] {| label_filter}`
    fn parse_unwrap(&mut self) -> Result<Unwrap, ParseError> {
        self.advance();
        self.advance();
        let conversion = match self.peek() {
            Token::Function(Function::Bytes) => Some(UnwrapConversion::Bytes),
            Token::Function(Function::Duration) => Some(UnwrapConversion::Duration),
            Token::Function(Function::DurationSeconds) => Some(UnwrapConversion::DurationSeconds),
            _ => None,
        };
        let (label, conversion) = match conversion {
            Some(conversion) => {
                self.advance();
                self.expect(&Token::OpenParen, &["("])?;
                let label = self.expect_identifier(&["IDENTIFIER"])?;
                self.expect(&Token::CloseParen, &[")"])?;
                (label, conversion)
            }
            None => (self.expect_identifier(&[])?, UnwrapConversion::Float),
        };
        let mut post_filters = Vec::new();
        while self.peek() == &Token::Pipe {
            self.advance();
            post_filters.push(self.parse_label_filter()?);
        }
        Ok(Unwrap { label, conversion, post_filters })
    }

    fn parse_vector_aggregation(&mut self, op: VectorOp) -> Result<SampleExpr, ParseError> {
        self.advance();
        let grouping_before = self.parse_grouping()?;
        self.expect(&Token::OpenParen, &[])?;
        let mut param_text = None;
        if let Token::Number(text) = self.peek().clone()
            && self.peek_at(1) == &Token::Comma
        {
            self.advance();
            self.advance();
            param_text = Some(text);
        }
        let inner = match self.parse_expr(0)? {
            Node::Sample(sample) => sample,
            Node::Log(_) => return Err(self.unexpected(&[])),
        };
        self.expect(&Token::CloseParen, &[])?;
        let grouping = match grouping_before {
            Some(grouping) => grouping,
            None => self.parse_grouping()?.unwrap_or_default(),
        };
        let param = match (op, param_text) {
            (VectorOp::Topk | VectorOp::Bottomk, None) => {
                self.defer(ParseError::unpositioned(format!("parameter required for operation {}", op.as_str())));
                None
            }
            (VectorOp::Topk | VectorOp::Bottomk, Some(text)) => match text.parse::<i64>() {
                Ok(value) if value > 0 => Some(value),
                Ok(_) => {
                    self.defer(ParseError::unpositioned(format!(
                        "invalid parameter (must be greater than 0) {}({text}",
                        op.as_str()
                    )));
                    None
                }
                Err(_) => {
                    self.defer(ParseError::unpositioned(format!("invalid parameter {}({text},", op.as_str())));
                    None
                }
            },
            (_, Some(text)) => {
                self.defer(ParseError::unpositioned(format!(
                    "unsupported parameter for operation {}({text},",
                    op.as_str()
                )));
                None
            }
            (_, None) => None,
        };
        Ok(SampleExpr::VectorAggregation(VectorAggregation { op, param, grouping, expr: Box::new(inner) }))
    }

    fn parse_label_replace(&mut self) -> Result<SampleExpr, ParseError> {
        self.advance();
        self.expect(&Token::OpenParen, &[])?;
        let inner = match self.parse_expr(0)? {
            Node::Sample(sample) => sample,
            Node::Log(_) => return Err(self.unexpected(&[])),
        };
        let mut strings = Vec::with_capacity(4);
        for _ in 0..4 {
            self.expect(&Token::Comma, &[","])?;
            strings.push(self.expect_string()?);
        }
        self.expect(&Token::CloseParen, &[")"])?;
        let regex = strings.pop().unwrap_or_default();
        let src = strings.pop().unwrap_or_default();
        let replacement = strings.pop().unwrap_or_default();
        let dst = strings.pop().unwrap_or_default();
        if regex::Regex::new(&format!("^(?:{regex})$")).is_err() {
            let inner_error = regex_error(&regex).message;
            self.defer(ParseError::unpositioned(format!("invalid regex in label_replace: {inner_error}")));
        }
        Ok(SampleExpr::LabelReplace(LabelReplace { expr: Box::new(inner), dst, replacement, src, regex }))
    }
}

/// Marks a log range whose `[range]` has not been read yet.
const NO_RANGE: i64 = i64::MIN;

/// Loki's `RangeAggregationExpr.validate`.
pub(crate) fn check_range_aggregation(op: RangeOp, grouped: bool, unwrapped: bool) -> Result<(), String> {
    use RangeOp::*;
    if grouped
        && !matches!(
            op,
            AvgOverTime
                | StddevOverTime
                | StdvarOverTime
                | QuantileOverTime
                | MaxOverTime
                | MinOverTime
                | FirstOverTime
                | LastOverTime
        )
    {
        return Err(format!("grouping not allowed for {} aggregation", op.as_str()));
    }
    if unwrapped {
        return match op {
            AvgOverTime | SumOverTime | MaxOverTime | MinOverTime | StddevOverTime | StdvarOverTime
            | QuantileOverTime | Rate | RateCounter | AbsentOverTime | FirstOverTime | LastOverTime => Ok(()),
            _ => Err(format!("invalid aggregation {} with unwrap", op.as_str())),
        };
    }
    match op {
        BytesOverTime | BytesRate | CountOverTime | Rate | AbsentOverTime => Ok(()),
        _ => Err(format!("invalid aggregation {} without unwrap", op.as_str())),
    }
}

fn binary_operator(token: &Token) -> Option<BinaryOp> {
    Some(match token {
        Token::Keyword(Keyword::Or) => BinaryOp::Or,
        Token::Keyword(Keyword::And) => BinaryOp::And,
        Token::Keyword(Keyword::Unless) => BinaryOp::Unless,
        Token::Add => BinaryOp::Add,
        Token::Sub => BinaryOp::Sub,
        Token::Mul => BinaryOp::Mul,
        Token::Div => BinaryOp::Div,
        Token::Mod => BinaryOp::Mod,
        Token::Pow => BinaryOp::Pow,
        Token::CmpEq => BinaryOp::CmpEq,
        Token::Neq => BinaryOp::Neq,
        Token::Gt => BinaryOp::Gt,
        Token::Gte => BinaryOp::Gte,
        Token::Lt => BinaryOp::Lt,
        Token::Lte => BinaryOp::Lte,
        _ => return None,
    })
}
