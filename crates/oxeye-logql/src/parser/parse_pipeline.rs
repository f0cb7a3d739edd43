//! Parsing of pipeline stages and label filter expressions.
//!
//! Label filters follow the precedence Loki's yacc grammar ends up with: `and` binds tighter than `or` (both left
//! associative), while `,` and juxtaposition (`a="1" b="2"`) take everything to their right as one operand, because
//! the grammar gives them no precedence and yacc then prefers to shift: `a, b or c` is `a and (b or c)`.

use crate::error::ParseError;
use crate::parser::ast::*;
use crate::parser::lexer::{Function, Keyword, Token};
use crate::parser::parse::Parser;
use crate::units::parse_go_float;

impl Parser {
    /// Pipeline stages up to (not including) a `| unwrap`, a range, or anything that does not start a stage.
    pub(crate) fn parse_stages(&mut self) -> Result<Vec<Stage>, ParseError> {
        let mut stages = Vec::new();
        loop {
            let line_filter_op = match self.peek() {
                Token::PipeExact => Some(LineFilterOp::Contains),
                Token::Neq => Some(LineFilterOp::NotContains),
                Token::PipeMatch => Some(LineFilterOp::Regex),
                Token::Nre => Some(LineFilterOp::NotRegex),
                Token::PipePattern => Some(LineFilterOp::Pattern),
                Token::Npa => Some(LineFilterOp::NotPattern),
                _ => None,
            };
            if let Some(op) = line_filter_op {
                self.advance();
                stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
                continue;
            }
            if self.peek() != &Token::Pipe || self.peek_at(1) == &Token::Keyword(Keyword::Unwrap) {
                return Ok(stages);
            }
            self.advance();
            stages.push(self.parse_stage()?);
        }
    }

    fn parse_line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, ParseError> {
        let mut values = vec![self.line_filter_value(&["STRING", "ip"])?];
        while self.peek() == &Token::Keyword(Keyword::Or) {
            self.advance();
            values.push(self.line_filter_value(&["STRING", "ip"])?);
        }
        Ok(LineFilter { op, values })
    }

    fn line_filter_value(&mut self, expecting: &[&str]) -> Result<LineFilterValue, ParseError> {
        match self.peek() {
            Token::String(text) => {
                let text = text.clone();
                self.advance();
                Ok(LineFilterValue::Text(text))
            }
            Token::Function(Function::Ip) => Ok(LineFilterValue::Ip(self.parse_ip_call()?)),
            _ => Err(self.unexpected(expecting)),
        }
    }

    /// `ip("pattern")`, at the `ip`: the pattern (checked when the query is compiled, as Loki does).
    fn parse_ip_call(&mut self) -> Result<String, ParseError> {
        self.advance();
        self.expect(&Token::OpenParen, &[])?;
        let pattern = self.expect_string()?;
        self.expect(&Token::CloseParen, &[])?;
        Ok(pattern)
    }

    /// The stage after a `|`.
    fn parse_stage(&mut self) -> Result<Stage, ParseError> {
        let stage = match self.peek().clone() {
            Token::Keyword(Keyword::Json) => {
                self.advance();
                Stage::Json(self.parse_extractions()?)
            }
            Token::Keyword(Keyword::Logfmt) => {
                self.advance();
                let (mut strict, mut keep_empty) = (false, false);
                while let Token::Flag(flag) = self.peek().clone() {
                    self.advance();
                    match flag.as_str() {
                        "--strict" => strict = true,
                        _ => keep_empty = true,
                    }
                }
                Stage::Logfmt { strict, keep_empty, extractions: self.parse_extractions()? }
            }
            Token::Keyword(Keyword::Regexp) => {
                self.advance();
                Stage::Regexp(self.expect_string()?)
            }
            Token::Keyword(Keyword::Pattern) => {
                self.advance();
                Stage::Pattern(self.expect_string()?)
            }
            Token::Keyword(Keyword::Unpack) => {
                self.advance();
                Stage::Unpack
            }
            Token::Keyword(Keyword::LineFormat) => {
                self.advance();
                Stage::LineFormat(self.expect_string()?)
            }
            Token::Keyword(Keyword::Decolorize) => {
                self.advance();
                Stage::Decolorize
            }
            Token::Keyword(Keyword::LabelFormat) => {
                self.advance();
                let mut operations = vec![self.parse_label_format_op()?];
                while self.peek() == &Token::Comma {
                    self.advance();
                    operations.push(self.parse_label_format_op()?);
                }
                Stage::LabelFormat(operations)
            }
            Token::Keyword(Keyword::Drop) => {
                self.advance();
                Stage::Drop(self.parse_named_matchers()?)
            }
            Token::Keyword(Keyword::Keep) => {
                self.advance();
                Stage::Keep(self.parse_named_matchers()?)
            }
            Token::Identifier(_) | Token::OpenParen => Stage::LabelFilter(self.parse_label_filter()?),
            _ => return Err(self.unexpected(&[])),
        };
        Ok(stage)
    }

    /// `[IDENTIFIER [= STRING] {, IDENTIFIER [= STRING]}]` after `json` / `logfmt`.
    fn parse_extractions(&mut self) -> Result<Vec<LabelExtraction>, ParseError> {
        let mut extractions = Vec::new();
        if !matches!(self.peek(), Token::Identifier(_)) {
            return Ok(extractions);
        }
        loop {
            let label = self.expect_identifier(&["IDENTIFIER"])?;
            let expression = if self.peek() == &Token::Eq {
                self.advance();
                self.expect_string()?
            } else {
                label.clone()
            };
            extractions.push(LabelExtraction { label, expression });
            if self.peek() != &Token::Comma {
                return Ok(extractions);
            }
            self.advance();
        }
    }

    fn parse_label_format_op(&mut self) -> Result<LabelFormatOp, ParseError> {
        let dst = self.expect_identifier(&["IDENTIFIER"])?;
        self.expect(&Token::Eq, &["="])?;
        match self.peek().clone() {
            Token::Identifier(src) => {
                self.advance();
                Ok(LabelFormatOp::Rename { dst, src })
            }
            Token::String(template) => {
                self.advance();
                Ok(LabelFormatOp::Template { dst, template })
            }
            _ => Err(self.unexpected(&["IDENTIFIER", "STRING"])),
        }
    }

    fn parse_named_matchers(&mut self) -> Result<Vec<NamedMatcher>, ParseError> {
        let mut matchers = Vec::new();
        loop {
            let is_matcher = matches!(self.peek_at(1), Token::Eq | Token::Neq | Token::Re | Token::Nre);
            if is_matcher {
                matchers.push(NamedMatcher::Matcher(self.parse_matcher()?));
            } else {
                matchers.push(NamedMatcher::Name(self.expect_identifier(&["IDENTIFIER"])?));
            }
            if self.peek() != &Token::Comma {
                return Ok(matchers);
            }
            self.advance();
        }
    }

    /// A label filter expression (see the module documentation for precedence).
    pub(crate) fn parse_label_filter(&mut self) -> Result<LabelFilter, ParseError> {
        let mut left = self.parse_label_filter_and()?;
        while self.peek() == &Token::Keyword(Keyword::Or) {
            self.advance();
            let right = self.parse_label_filter_and()?;
            left = LabelFilter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut left = self.parse_label_filter_unit()?;
        while self.peek() == &Token::Keyword(Keyword::And) {
            self.advance();
            let right = self.parse_label_filter_unit()?;
            left = LabelFilter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_label_filter_unit(&mut self) -> Result<LabelFilter, ParseError> {
        let primary = self.parse_label_filter_primary()?;
        let juxtaposed = matches!(self.peek(), Token::Identifier(_) | Token::OpenParen);
        if self.peek() == &Token::Comma || juxtaposed {
            if self.peek() == &Token::Comma {
                self.advance();
            }
            let rest = self.parse_label_filter()?;
            return Ok(LabelFilter::And(Box::new(primary), Box::new(rest)));
        }
        Ok(primary)
    }

    fn parse_label_filter_primary(&mut self) -> Result<LabelFilter, ParseError> {
        if self.peek() == &Token::OpenParen {
            self.advance();
            let inner = self.parse_label_filter()?;
            self.expect(&Token::CloseParen, &[])?;
            return Ok(inner);
        }
        let name = self.expect_identifier(&[])?;
        let operator = self.peek().clone();
        let compare = match operator {
            Token::Eq => CompareOp::Equal,
            Token::Neq => CompareOp::NotEqual,
            Token::CmpEq => CompareOp::Equal,
            Token::Gt => CompareOp::Greater,
            Token::Gte => CompareOp::GreaterOrEqual,
            Token::Lt => CompareOp::Less,
            Token::Lte => CompareOp::LessOrEqual,
            Token::Re | Token::Nre => {
                self.advance();
                let value = self.expect_string()?;
                let op = if operator == Token::Re { MatchType::Regex } else { MatchType::NotRegex };
                let matcher = LabelMatcher { name, op, value };
                crate::parser::parse::to_storage_matcher(&matcher)?;
                return Ok(LabelFilter::Matcher(matcher));
            }
            _ => return Err(self.unexpected(&[])),
        };
        self.advance();
        match self.peek().clone() {
            Token::String(value) if matches!(operator, Token::Eq | Token::Neq) => {
                self.advance();
                let op = if operator == Token::Eq { MatchType::Equal } else { MatchType::NotEqual };
                Ok(LabelFilter::Matcher(LabelMatcher { name, op, value }))
            }
            Token::Duration(value_ns) => {
                self.advance();
                Ok(LabelFilter::Duration { name, op: compare, value_ns })
            }
            Token::Bytes(value) => {
                self.advance();
                Ok(LabelFilter::Bytes { name, op: compare, value })
            }
            Token::Number(text) => {
                self.advance();
                Ok(LabelFilter::Number { name, op: compare, value: number_filter_value(&text, false)? })
            }
            Token::Add | Token::Sub if matches!(self.peek_at(1), Token::Number(_)) => {
                let negative = self.advance() == Token::Sub;
                let Token::Number(text) = self.advance() else {
                    unreachable!("BUG: checked that a number follows the sign");
                };
                Ok(LabelFilter::Number { name, op: compare, value: number_filter_value(&text, negative)? })
            }
            Token::Function(Function::Ip) if matches!(operator, Token::Eq | Token::Neq) => {
                let pattern = self.parse_ip_call()?;
                Ok(LabelFilter::Ip { name, negated: operator == Token::Neq, pattern })
            }
            _ => Err(self.unexpected(&[])),
        }
    }
}

fn number_filter_value(text: &str, negative: bool) -> Result<f64, ParseError> {
    match parse_go_float(text) {
        Ok(value) => Ok(if negative { -value } else { value }),
        Err(error) => Err(ParseError::unpositioned(format!("unable to parse literal as a float: {error}"))),
    }
}
