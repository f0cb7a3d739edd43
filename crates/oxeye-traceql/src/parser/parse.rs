//! Recursive-descent parser over the token stream, with Tempo's operator precedence (`expr.y`):
//!
//! - spanset expressions: `&&` and `||` bind loosest (same level, left-associative), the structural operators
//!   (`>`, `<`, `>>`, `<<`, `~` and their `!`/`&` forms) tighter;
//! - field expressions, loosest first: `&&` `||` (one level); comparisons and `=~` `!~`; `+` `-`; `*` `/` `%`;
//!   `^` (right-associative); a unary `!` or `-` applies to a `*`-level operand (`-a * b` is `-(a * b)`), and `-`
//!   before a numeric literal folds into a negative literal.
//!
//! Each construct is validated as soon as it is complete, with Tempo's messages ("binary operations must operate on
//! the same type: …"), so errors carry the position where the construct starts.

use crate::error::ParseError;
use crate::parser::ast::*;
use crate::parser::lexer::{Keyword, Punct, Token, TokenKind, line_column, tokenize};

/// Parses and validates a query.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(input)?;
    let mut parser = Parser { input, tokens, position: 0 };
    parser.query()
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    position: usize,
}

type Parsed<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &TokenKind {
        let index = (self.position + ahead).min(self.tokens.len() - 1);
        &self.tokens[index].kind
    }

    fn offset(&self) -> usize {
        self.tokens[self.position.min(self.tokens.len() - 1)].offset
    }

    fn advance(&mut self) -> TokenKind {
        let kind = self.peek().clone();
        if self.position < self.tokens.len() - 1 {
            self.position += 1;
        }
        kind
    }

    fn is_punct(&self, punct: Punct) -> bool {
        *self.peek() == TokenKind::Punct(punct)
    }

    fn is_keyword(&self, keyword: Keyword) -> bool {
        *self.peek() == TokenKind::Keyword(keyword)
    }

    fn error_at(&self, message: impl Into<String>, offset: usize) -> ParseError {
        let (line, column) = line_column(self.input, offset);
        ParseError::at(message, line, column)
    }

    /// `syntax error: unexpected <token>[, expecting <what>]` at the current token.
    fn unexpected(&self, expecting: Option<&str>) -> ParseError {
        let mut message = format!("syntax error: unexpected {}", self.peek().describe());
        if let Some(expecting) = expecting {
            message.push_str(", expecting ");
            message.push_str(expecting);
        }
        self.error_at(message, self.offset())
    }

    fn expect_punct(&mut self, punct: Punct) -> Parsed<()> {
        if self.is_punct(punct) {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(Some(punct.text())))
        }
    }

    fn query(&mut self) -> Parsed<Query> {
        let expr = self.root()?;
        let hints = if self.is_keyword(Keyword::With) { self.hints()? } else { Vec::new() };
        if *self.peek() != TokenKind::Eof {
            let expecting = if hints.is_empty() { Some("with") } else { None };
            return Err(self.unexpected(expecting));
        }
        Ok(Query { expr, hints })
    }

    fn root(&mut self) -> Parsed<RootExpr> {
        if *self.peek() == TokenKind::Eof {
            return Err(self.unexpected(None));
        }
        let pipeline = self.pipeline()?;
        if !self.is_punct(Punct::Pipe) {
            return Ok(RootExpr::Search(pipeline));
        }
        // A `|` the pipeline did not take leads to a metrics function.
        self.advance();
        let aggregation = self.metrics_aggregation()?;
        let second_stage = self.second_stages()?;
        Ok(RootExpr::Metrics(MetricsQuery { pipeline, aggregation, second_stage }))
    }

    /// Stages separated by `|`, stopping before a `|` that leads to a metrics function.
    fn pipeline(&mut self) -> Parsed<Pipeline> {
        let mut stages = vec![self.stage(true)?];
        while self.is_punct(Punct::Pipe) {
            if let TokenKind::Keyword(keyword) = self.peek_at(1)
                && (keyword.is_metrics_function() || matches!(keyword, Keyword::TopK | Keyword::BottomK))
            {
                break;
            }
            self.advance();
            stages.push(self.stage(false)?);
        }
        Ok(Pipeline { stages })
    }

    fn stage(&mut self, first: bool) -> Parsed<Stage> {
        let start = self.offset();
        match self.peek().clone() {
            TokenKind::Keyword(Keyword::By) => {
                self.advance();
                self.expect_punct(Punct::OpenParen)?;
                let expr = self.field_expr()?;
                self.expect_punct(Punct::CloseParen)?;
                if !expr.references_span() {
                    return Err(
                        self.error_at(format!("grouping field expressions must reference the span: by({expr})"), start)
                    );
                }
                Ok(Stage::By(expr))
            }
            TokenKind::Keyword(Keyword::Select) => {
                self.advance();
                self.expect_punct(Punct::OpenParen)?;
                let attributes = self.attribute_list()?;
                self.expect_punct(Punct::CloseParen)?;
                Ok(Stage::Select(attributes))
            }
            TokenKind::Keyword(Keyword::Coalesce) if !first => {
                self.advance();
                self.expect_punct(Punct::OpenParen)?;
                self.expect_punct(Punct::CloseParen)?;
                Ok(Stage::Coalesce)
            }
            TokenKind::Keyword(keyword) if keyword.is_aggregate() => Ok(Stage::ScalarFilter(self.scalar_filter()?)),
            TokenKind::Punct(Punct::OpenBrace | Punct::OpenParen) => Ok(Stage::Spanset(self.spanset_expr()?)),
            _ => Err(self.unexpected(None)),
        }
    }

    /// `attr, attr, …` for `select()` and `by()` of metrics.
    fn attribute_list(&mut self) -> Parsed<Vec<Attribute>> {
        let mut attributes = vec![self.attribute()?];
        while self.is_punct(Punct::Comma) {
            self.advance();
            attributes.push(self.attribute()?);
        }
        Ok(attributes)
    }

    fn attribute(&mut self) -> Parsed<Attribute> {
        match self.peek().clone() {
            TokenKind::Attribute { scope, name } => {
                self.advance();
                Ok(Attribute::Scoped { scope, name })
            }
            TokenKind::Intrinsic(intrinsic) => {
                self.advance();
                Ok(Attribute::Intrinsic(intrinsic))
            }
            _ => Err(self.unexpected(None)),
        }
    }

    // ---- spanset expressions ----

    fn spanset_expr(&mut self) -> Parsed<SpansetExpr> {
        let mut lhs = self.spanset_structural()?;
        loop {
            let op = match self.peek() {
                TokenKind::Punct(Punct::And) => SpansetOp::And,
                TokenKind::Punct(Punct::Or) => SpansetOp::Or,
                _ => return Ok(lhs),
            };
            self.advance();
            let rhs = self.spanset_structural()?;
            lhs = SpansetExpr::Op { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
    }

    fn spanset_structural(&mut self) -> Parsed<SpansetExpr> {
        let mut lhs = self.spanset_primary()?;
        loop {
            let op = match self.peek() {
                TokenKind::Punct(Punct::Gt) => SpansetOp::Child,
                TokenKind::Punct(Punct::Lt) => SpansetOp::Parent,
                TokenKind::Punct(Punct::Desc) => SpansetOp::Descendant,
                TokenKind::Punct(Punct::Ance) => SpansetOp::Ancestor,
                TokenKind::Punct(Punct::Sibling) => SpansetOp::Sibling,
                TokenKind::Punct(Punct::NotChild) => SpansetOp::NotChild,
                TokenKind::Punct(Punct::NotParent) => SpansetOp::NotParent,
                TokenKind::Punct(Punct::NotDesc) => SpansetOp::NotDescendant,
                TokenKind::Punct(Punct::NotAnce) => SpansetOp::NotAncestor,
                TokenKind::Punct(Punct::Nre) => SpansetOp::NotSibling,
                TokenKind::Punct(Punct::UnionChild) => SpansetOp::UnionChild,
                TokenKind::Punct(Punct::UnionParent) => SpansetOp::UnionParent,
                TokenKind::Punct(Punct::UnionDesc) => SpansetOp::UnionDescendant,
                TokenKind::Punct(Punct::UnionAnce) => SpansetOp::UnionAncestor,
                TokenKind::Punct(Punct::UnionSibling) => SpansetOp::UnionSibling,
                _ => return Ok(lhs),
            };
            self.advance();
            let rhs = self.spanset_primary()?;
            lhs = SpansetExpr::Op { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
    }

    fn spanset_primary(&mut self) -> Parsed<SpansetExpr> {
        let start = self.offset();
        match self.peek() {
            TokenKind::Punct(Punct::OpenBrace) => {
                self.advance();
                if self.is_punct(Punct::CloseBrace) {
                    self.advance();
                    return Ok(SpansetExpr::Filter(SpansetFilter::new(FieldExpr::Static(Static::Bool(true)))));
                }
                let expr = self.field_expr()?;
                self.expect_punct(Punct::CloseBrace)?;
                let value_type = expr.value_type();
                if value_type != ValueType::Attribute && value_type != ValueType::Bool {
                    return Err(self.error_at(
                        format!("span filter field expressions must resolve to a boolean: {{ {expr} }}"),
                        start,
                    ));
                }
                Ok(SpansetExpr::Filter(SpansetFilter::new(expr)))
            }
            TokenKind::Punct(Punct::OpenParen) => {
                self.advance();
                let mut pipeline = self.pipeline()?;
                if self.is_punct(Punct::Pipe) {
                    return Err(self.error_at("metrics queries inside parentheses are not supported", self.offset()));
                }
                self.expect_punct(Punct::CloseParen)?;
                if pipeline.stages.len() == 1
                    && let Some(Stage::Spanset(_)) = pipeline.stages.first()
                    && let Some(Stage::Spanset(expr)) = pipeline.stages.pop()
                {
                    return Ok(expr);
                }
                Ok(SpansetExpr::Pipeline(Box::new(pipeline)))
            }
            _ => Err(self.unexpected(Some("{ or ("))),
        }
    }

    // ---- scalar filters ----

    fn scalar_filter(&mut self) -> Parsed<ScalarFilter> {
        let start = self.offset();
        let aggregate = self.aggregate()?;
        let op = self.comparison_op().ok_or_else(|| self.unexpected(Some("comparison operator")))?;
        self.advance();
        let value = self.constant()?;
        let aggregate_type = match &aggregate.expr {
            None => ValueType::Int,
            Some(expr) => expr.value_type(),
        };
        let value_type = value.value_type();
        let text = format!("{} {} {}", DisplayAggregate(&aggregate), op.symbol(), DisplayStatic(&value));
        if !aggregate_type.matches(value_type) {
            return Err(self.error_at(format!("binary operations must operate on the same type: {text}"), start));
        }
        if !aggregate_type.supports(op.as_binary()) || !value_type.supports(op.as_binary()) {
            return Err(self.error_at(format!("illegal operation for the given types: {text}"), start));
        }
        Ok(ScalarFilter { aggregate, op, value })
    }

    fn comparison_op(&self) -> Option<ComparisonOp> {
        Some(match self.peek() {
            TokenKind::Punct(Punct::Eq) => ComparisonOp::Eq,
            TokenKind::Punct(Punct::Neq) => ComparisonOp::Neq,
            TokenKind::Punct(Punct::Gt) => ComparisonOp::Gt,
            TokenKind::Punct(Punct::Gte) => ComparisonOp::Gte,
            TokenKind::Punct(Punct::Lt) => ComparisonOp::Lt,
            TokenKind::Punct(Punct::Lte) => ComparisonOp::Lte,
            _ => return None,
        })
    }

    fn aggregate(&mut self) -> Parsed<Aggregate> {
        let start = self.offset();
        let function = match self.advance() {
            TokenKind::Keyword(Keyword::Count) => AggregateFunction::Count,
            TokenKind::Keyword(Keyword::Avg) => AggregateFunction::Avg,
            TokenKind::Keyword(Keyword::Min) => AggregateFunction::Min,
            TokenKind::Keyword(Keyword::Max) => AggregateFunction::Max,
            TokenKind::Keyword(Keyword::Sum) => AggregateFunction::Sum,
            _ => unreachable!("BUG: aggregate() called on a non-aggregate token"),
        };
        self.expect_punct(Punct::OpenParen)?;
        if function == AggregateFunction::Count {
            self.expect_punct(Punct::CloseParen)?;
            return Ok(Aggregate { function, expr: None });
        }
        let expr = self.field_expr()?;
        self.expect_punct(Punct::CloseParen)?;
        let aggregate = Aggregate { function, expr: Some(expr) };
        let Some(expr) = &aggregate.expr else { unreachable!("BUG: aggregate built with an expression") };
        let value_type = expr.value_type();
        if value_type != ValueType::Attribute && !value_type.is_numeric() {
            return Err(self.error_at(
                format!("aggregate field expressions must resolve to a number type: {}", DisplayAggregate(&aggregate)),
                start,
            ));
        }
        if !expr.references_span() {
            return Err(self.error_at(
                format!("aggregate field expressions must reference the span: {}", DisplayAggregate(&aggregate)),
                start,
            ));
        }
        Ok(aggregate)
    }

    /// A numeric constant with constant arithmetic folded (Tempo's `scalar` rule): `+ -` over `* /` over unary
    /// `-` and parentheses.
    fn constant(&mut self) -> Parsed<Static> {
        let mut lhs = self.constant_term()?;
        loop {
            let op = match self.peek() {
                TokenKind::Punct(Punct::Add) => BinaryOp::Add,
                TokenKind::Punct(Punct::Sub) => BinaryOp::Sub,
                _ => return Ok(lhs),
            };
            let offset = self.offset();
            self.advance();
            let rhs = self.constant_term()?;
            lhs = self.fold(op, lhs, rhs, offset)?;
        }
    }

    fn constant_term(&mut self) -> Parsed<Static> {
        let mut lhs = self.constant_factor()?;
        loop {
            let op = match self.peek() {
                TokenKind::Punct(Punct::Mul) => BinaryOp::Mul,
                TokenKind::Punct(Punct::Div) => BinaryOp::Div,
                _ => return Ok(lhs),
            };
            let offset = self.offset();
            self.advance();
            let rhs = self.constant_factor()?;
            lhs = self.fold(op, lhs, rhs, offset)?;
        }
    }

    fn constant_factor(&mut self) -> Parsed<Static> {
        match self.peek().clone() {
            TokenKind::Int(value) => {
                self.advance();
                Ok(Static::Int(value))
            }
            TokenKind::Float(value) => {
                self.advance();
                Ok(Static::Float(value))
            }
            TokenKind::Duration(value) => {
                self.advance();
                Ok(Static::Duration(value))
            }
            TokenKind::Punct(Punct::Sub) => {
                self.advance();
                let operand = self.constant_factor()?;
                Ok(negate_static(operand).unwrap_or(Static::Nil))
            }
            TokenKind::Punct(Punct::OpenParen) => {
                self.advance();
                let value = self.constant()?;
                self.expect_punct(Punct::CloseParen)?;
                Ok(value)
            }
            _ => Err(self.unexpected(None)),
        }
    }

    /// Folds constant arithmetic as Tempo's `BinaryOperation.execute` does: integer operands stay integers
    /// (division truncates), anything mixed becomes a float.
    fn fold(&self, op: BinaryOp, lhs: Static, rhs: Static, offset: usize) -> Parsed<Static> {
        if let (Static::Int(left), Static::Int(right)) = (&lhs, &rhs) {
            let folded = match op {
                BinaryOp::Add => left.checked_add(*right),
                BinaryOp::Sub => left.checked_sub(*right),
                BinaryOp::Mul => left.checked_mul(*right),
                BinaryOp::Div if *right == 0 => return Err(self.error_at("division by zero", offset)),
                BinaryOp::Div => left.checked_div(*right),
                _ => None,
            };
            return folded.map(Static::Int).ok_or_else(|| self.error_at("integer overflow in constant", offset));
        }
        let (Some(left), Some(right)) = (lhs.as_f64(), rhs.as_f64()) else {
            return Err(self.error_at("constant arithmetic needs numbers", offset));
        };
        let folded = match op {
            BinaryOp::Add => left + right,
            BinaryOp::Sub => left - right,
            BinaryOp::Mul => left * right,
            _ => left / right,
        };
        if !folded.is_finite() {
            return Err(self.error_at("constant out of range", offset));
        }
        Ok(Static::Float(folded))
    }

    // ---- field expressions ----

    fn field_expr(&mut self) -> Parsed<FieldExpr> {
        self.binary(1)
    }

    /// Precedence climbing over Tempo's binary operator levels (1 loosest … 5 tightest).
    fn binary(&mut self, min_level: u8) -> Parsed<FieldExpr> {
        let mut lhs = self.unary()?;
        loop {
            let Some((level, op)) = self.binary_op() else { return Ok(lhs) };
            if level < min_level {
                return Ok(lhs);
            }
            let offset = self.offset();
            self.advance();
            // `^` is right-associative; everything else is left-associative.
            let next_level = if op == BinaryToken::Op(BinaryOp::Pow) { level } else { level + 1 };
            let rhs = self.binary(next_level)?;
            lhs = self.combine(op, lhs, rhs, offset)?;
        }
    }

    fn binary_op(&self) -> Option<(u8, BinaryToken)> {
        let TokenKind::Punct(punct) = self.peek() else { return None };
        Some(match punct {
            Punct::And => (1, BinaryToken::Op(BinaryOp::And)),
            Punct::Or => (1, BinaryToken::Op(BinaryOp::Or)),
            Punct::Eq => (2, BinaryToken::Op(BinaryOp::Eq)),
            Punct::Neq => (2, BinaryToken::Op(BinaryOp::Neq)),
            Punct::Gt => (2, BinaryToken::Op(BinaryOp::Gt)),
            Punct::Gte => (2, BinaryToken::Op(BinaryOp::Gte)),
            Punct::Lt => (2, BinaryToken::Op(BinaryOp::Lt)),
            Punct::Lte => (2, BinaryToken::Op(BinaryOp::Lte)),
            Punct::Re => (2, BinaryToken::Regex { negated: false }),
            Punct::Nre => (2, BinaryToken::Regex { negated: true }),
            Punct::Add => (3, BinaryToken::Op(BinaryOp::Add)),
            Punct::Sub => (3, BinaryToken::Op(BinaryOp::Sub)),
            Punct::Mul => (4, BinaryToken::Op(BinaryOp::Mul)),
            Punct::Div => (4, BinaryToken::Op(BinaryOp::Div)),
            Punct::Mod => (4, BinaryToken::Op(BinaryOp::Mod)),
            Punct::Pow => (5, BinaryToken::Op(BinaryOp::Pow)),
            _ => return None,
        })
    }

    /// Builds and validates one binary node; `= nil` and `!= nil` become existence tests.
    fn combine(&self, token: BinaryToken, lhs: FieldExpr, rhs: FieldExpr, offset: usize) -> Parsed<FieldExpr> {
        let lhs_nil = lhs == FieldExpr::Static(Static::Nil);
        let rhs_nil = rhs == FieldExpr::Static(Static::Nil);
        if let BinaryToken::Op(op @ (BinaryOp::Eq | BinaryOp::Neq)) = token
            && (lhs_nil || rhs_nil)
        {
            if lhs_nil && rhs_nil {
                return Ok(FieldExpr::Static(Static::Bool(false)));
            }
            let operand = if lhs_nil { rhs } else { lhs };
            let unary_op = if op == BinaryOp::Neq { UnaryOp::Exists } else { UnaryOp::NotExists };
            if unary_op == UnaryOp::NotExists {
                self.check_may_be_nil(&operand, offset)?;
            }
            return Ok(FieldExpr::Unary { op: unary_op, expr: Box::new(operand) });
        }
        if lhs_nil || rhs_nil {
            return Err(self.error_at("syntax error: nil can only be compared with = or !=", offset));
        }

        let op = match token {
            BinaryToken::Regex { negated } => {
                let FieldExpr::Static(Static::Str(pattern)) = &rhs else {
                    let symbol = if negated { "!~" } else { "=~" };
                    let lhs_type = lhs.value_type();
                    let rhs_type = rhs.value_type();
                    let message = if !lhs_type.matches(rhs_type) {
                        format!("binary operations must operate on the same type: {lhs} {symbol} {rhs}")
                    } else {
                        format!("invalid type for =~ or !~: {rhs}")
                    };
                    return Err(self.error_at(message, offset));
                };
                let lhs_type = lhs.value_type();
                if lhs_type != ValueType::Attribute && lhs_type != ValueType::Str {
                    let message = format!("illegal operation for the given types: {lhs} =~ {rhs}");
                    return Err(self.error_at(message, offset));
                }
                let regex =
                    RegexLiteral::new(pattern).map_err(|_| self.error_at(format!("invalid regex: {rhs}"), offset))?;
                return Ok(FieldExpr::Regex { lhs: Box::new(lhs), regex, negated });
            }
            BinaryToken::Op(op) => op,
        };
        let node = FieldExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        let FieldExpr::Binary { lhs, rhs, .. } = &node else { unreachable!("BUG: just built a binary node") };
        let lhs_type = lhs.value_type();
        let rhs_type = rhs.value_type();
        if !lhs_type.matches(rhs_type) {
            return Err(self.error_at(format!("binary operations must operate on the same type: {node}"), offset));
        }
        if !lhs_type.supports(op) || !rhs_type.supports(op) {
            return Err(self.error_at(format!("illegal operation for the given types: {node}"), offset));
        }
        Ok(node)
    }

    /// Tempo refuses `= nil` on intrinsics and on `resource.service.name`, which always exist.
    fn check_may_be_nil(&self, operand: &FieldExpr, offset: usize) -> Parsed<()> {
        match operand {
            FieldExpr::Attribute(attribute @ Attribute::Intrinsic(_)) => {
                Err(self.error_at(format!("{attribute}=nil is not valid because intrinsics cannot be nil"), offset))
            }
            FieldExpr::Attribute(attribute @ Attribute::Scoped { scope: AttributeScope::Resource, name })
                if name == "service.name" =>
            {
                Err(self.error_at(
                    format!("{attribute}=nil is not valid because resource.service.name cannot be nil"),
                    offset,
                ))
            }
            _ => Ok(()),
        }
    }

    fn unary(&mut self) -> Parsed<FieldExpr> {
        let offset = self.offset();
        let op = match self.peek() {
            TokenKind::Punct(Punct::Not) => UnaryOp::Not,
            TokenKind::Punct(Punct::Sub) => UnaryOp::Neg,
            _ => return self.primary(),
        };
        self.advance();
        // Tempo gives prefix operators a precedence below `*`: the operand takes `*`, `/`, `%` and `^`.
        let operand = self.binary(4)?;
        if op == UnaryOp::Neg
            && let FieldExpr::Static(value) = &operand
            && let Some(negated) = negate_static(value.clone())
        {
            return Ok(FieldExpr::Static(negated));
        }
        let operand_type = operand.value_type();
        let valid = match op {
            UnaryOp::Neg => operand_type == ValueType::Attribute || operand_type.is_numeric(),
            _ => operand_type == ValueType::Attribute || operand_type == ValueType::Bool,
        };
        let node = FieldExpr::Unary { op, expr: Box::new(operand) };
        if !valid {
            return Err(self.error_at(format!("illegal operation for the given type: {node}"), offset));
        }
        Ok(node)
    }

    fn primary(&mut self) -> Parsed<FieldExpr> {
        let offset = self.offset();
        let token = self.peek().clone();
        let expr = match token {
            TokenKind::Punct(Punct::OpenParen) => {
                self.advance();
                let expr = self.field_expr()?;
                self.expect_punct(Punct::CloseParen)?;
                return Ok(expr);
            }
            TokenKind::Str(text) => FieldExpr::Static(Static::Str(text)),
            TokenKind::Int(value) => FieldExpr::Static(Static::Int(value)),
            TokenKind::Float(value) => FieldExpr::Static(Static::Float(value)),
            TokenKind::Duration(value) => FieldExpr::Static(Static::Duration(value)),
            TokenKind::True => FieldExpr::Static(Static::Bool(true)),
            TokenKind::False => FieldExpr::Static(Static::Bool(false)),
            TokenKind::Nil => FieldExpr::Static(Static::Nil),
            TokenKind::Status(status) => FieldExpr::Static(Static::Status(status)),
            TokenKind::Kind(kind) => FieldExpr::Static(Static::Kind(kind)),
            TokenKind::Attribute { scope, name } => FieldExpr::Attribute(Attribute::Scoped { scope, name }),
            TokenKind::Intrinsic(intrinsic) => FieldExpr::Attribute(Attribute::Intrinsic(intrinsic)),
            TokenKind::Ident(word) => return Err(self.error_at(format!("unknown identifier: {word}"), offset)),
            _ => return Err(self.unexpected(None)),
        };
        self.advance();
        Ok(expr)
    }

    // ---- metrics ----

    fn metrics_aggregation(&mut self) -> Parsed<MetricsAggregation> {
        let keyword = match self.peek() {
            TokenKind::Keyword(keyword) if keyword.is_metrics_function() => *keyword,
            _ => return Err(self.unexpected(None)),
        };
        let start = self.offset();
        self.advance();
        self.expect_punct(Punct::OpenParen)?;
        let function = match keyword {
            Keyword::Rate => MetricsFunction::Rate,
            Keyword::CountOverTime => MetricsFunction::CountOverTime,
            Keyword::MinOverTime => MetricsFunction::MinOverTime(self.attribute()?),
            Keyword::MaxOverTime => MetricsFunction::MaxOverTime(self.attribute()?),
            Keyword::AvgOverTime => MetricsFunction::AvgOverTime(self.attribute()?),
            Keyword::SumOverTime => MetricsFunction::SumOverTime(self.attribute()?),
            Keyword::HistogramOverTime => MetricsFunction::HistogramOverTime(self.attribute()?),
            Keyword::QuantileOverTime => {
                let attribute = self.attribute()?;
                let mut quantiles = Vec::new();
                while self.is_punct(Punct::Comma) {
                    self.advance();
                    let value = match self.advance() {
                        TokenKind::Int(value) => value as f64,
                        TokenKind::Float(value) => value,
                        _ => {
                            self.position -= 1;
                            return Err(self.unexpected(Some("FLOAT or INTEGER")));
                        }
                    };
                    quantiles.push(value);
                }
                if quantiles.is_empty() {
                    return Err(self.unexpected(Some(",")));
                }
                MetricsFunction::QuantileOverTime(attribute, quantiles)
            }
            _ => return Err(self.error_at(format!("{}() not supported", keyword.text()), start)),
        };
        self.expect_punct(Punct::CloseParen)?;
        let mut by = Vec::new();
        if self.is_keyword(Keyword::By) {
            self.advance();
            self.expect_punct(Punct::OpenParen)?;
            by = self.attribute_list()?;
            self.expect_punct(Punct::CloseParen)?;
        }
        Ok(MetricsAggregation { function, by })
    }

    fn second_stages(&mut self) -> Parsed<Vec<SecondStage>> {
        let mut stages = Vec::new();
        loop {
            if self.is_punct(Punct::Pipe) {
                self.advance();
                let start = self.offset();
                let top = match self.advance() {
                    TokenKind::Keyword(Keyword::TopK) => true,
                    TokenKind::Keyword(Keyword::BottomK) => false,
                    _ => {
                        self.position -= 1;
                        return Err(self.unexpected(Some("topk or bottomk")));
                    }
                };
                self.expect_punct(Punct::OpenParen)?;
                let TokenKind::Int(limit) = self.peek().clone() else {
                    return Err(self.unexpected(Some("INTEGER")));
                };
                self.advance();
                self.expect_punct(Punct::CloseParen)?;
                let name = if top { "topk" } else { "bottomk" };
                let limit = u32::try_from(limit)
                    .ok()
                    .filter(|limit| *limit > 0)
                    .ok_or_else(|| self.error_at(format!("{name} limit must be greater than 0"), start))?;
                stages.push(if top { SecondStage::TopK(limit) } else { SecondStage::BottomK(limit) });
                continue;
            }
            if let Some(op) = self.comparison_op() {
                self.advance();
                let value = self.constant()?;
                // Metrics values of durations are seconds, so a duration threshold is too (as in Tempo).
                let threshold = match value {
                    Static::Duration(nanos) => nanos as f64 / 1e9,
                    other => other.as_f64().ok_or_else(|| self.unexpected(None))?,
                };
                stages.push(SecondStage::Filter(op, threshold));
                continue;
            }
            return Ok(stages);
        }
    }

    fn hints(&mut self) -> Parsed<Vec<QueryHint>> {
        self.advance();
        self.expect_punct(Punct::OpenParen)?;
        let mut hints = Vec::new();
        loop {
            let TokenKind::Ident(name) = self.peek().clone() else {
                return Err(self.unexpected(Some("IDENTIFIER")));
            };
            self.advance();
            self.expect_punct(Punct::Eq)?;
            let value = match self.advance() {
                TokenKind::Str(text) => Static::Str(text),
                TokenKind::Int(value) => Static::Int(value),
                TokenKind::Float(value) => Static::Float(value),
                TokenKind::Duration(value) => Static::Duration(value),
                TokenKind::True => Static::Bool(true),
                TokenKind::False => Static::Bool(false),
                _ => {
                    self.position -= 1;
                    return Err(self.unexpected(None));
                }
            };
            hints.push(QueryHint { name, value });
            if self.is_punct(Punct::Comma) {
                self.advance();
                continue;
            }
            self.expect_punct(Punct::CloseParen)?;
            return Ok(hints);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinaryToken {
    Op(BinaryOp),
    Regex { negated: bool },
}

/// `-x` for a numeric literal (durations stay durations, as in Tempo).
fn negate_static(value: Static) -> Option<Static> {
    match value {
        Static::Int(value) => value.checked_neg().map(Static::Int),
        Static::Float(value) => Some(Static::Float(-value)),
        Static::Duration(value) => value.checked_neg().map(Static::Duration),
        _ => None,
    }
}

struct DisplayAggregate<'a>(&'a Aggregate);

impl std::fmt::Display for DisplayAggregate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::parser::printer::write_aggregate(f, self.0)
    }
}

struct DisplayStatic<'a>(&'a Static);

impl std::fmt::Display for DisplayStatic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::parser::printer::write_static(f, self.0)
    }
}
