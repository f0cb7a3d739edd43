//! Template text to nodes. Errors are `line:N: message`, Go's position prefix.

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    With { pipeline: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pipeline {
    /// `$x :=` or `$x =` before the commands.
    pub declare: Option<String>,
    pub commands: Vec<Command>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Command {
    pub args: Vec<Arg>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    /// `.`
    Dot,
    /// `.a.b` (the first name is a label).
    Field(Vec<String>),
    /// `$` or `$x`, with optional field access.
    Variable(String, Vec<String>),
    Function(String),
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Pipeline(Box<Pipeline>),
}

impl Pipeline {
    /// `{{.name}}`: a single field with no declaration and no function.
    pub(crate) fn as_single_field(&self) -> Option<&str> {
        match (&self.declare, self.commands.as_slice()) {
            (None, [Command { args }]) => match args.as_slice() {
                [Arg::Field(path)] if path.len() == 1 => Some(&path[0]),
                _ => None,
            },
            _ => None,
        }
    }

    fn referenced_fields(&self, out: &mut Vec<String>) {
        for command in &self.commands {
            for arg in &command.args {
                match arg {
                    Arg::Field(path) => out.push(path[0].clone()),
                    Arg::Pipeline(inner) => inner.referenced_fields(out),
                    _ => {}
                }
            }
        }
    }
}

impl Node {
    pub(crate) fn referenced_fields(&self, out: &mut Vec<String>) {
        match self {
            Node::Text(_) => {}
            Node::Action(pipeline) => pipeline.referenced_fields(out),
            Node::If { branches, otherwise } => {
                for (condition, body) in branches {
                    condition.referenced_fields(out);
                    body.iter().for_each(|node| node.referenced_fields(out));
                }
                otherwise.iter().for_each(|node| node.referenced_fields(out));
            }
            Node::With { pipeline, body, otherwise } => {
                pipeline.referenced_fields(out);
                body.iter().chain(otherwise).for_each(|node| node.referenced_fields(out));
            }
        }
    }
}

/// Template lexemes inside an action.
#[derive(Clone, Debug, PartialEq)]
enum Lexeme {
    Word(String),
    Field(Vec<String>),
    Variable(String, Vec<String>),
    Dot,
    String(String),
    Int(i64),
    Float(f64),
    Pipe,
    Open,
    Close,
    Declare,
    Assign,
}

/// One `{{ … }}` action's content, or text between actions.
enum Piece {
    Text(String),
    Action { line: usize, lexemes: Vec<Lexeme> },
}

pub(crate) fn parse(source: &str) -> Result<Vec<Node>, String> {
    let pieces = split(source)?;
    let mut parser = NodeParser { pieces, position: 0 };
    let (nodes, end) = parser.parse_list()?;
    match end {
        None => Ok(nodes),
        Some((line, keyword)) => {
            let keyword = keyword.split('\u{0}').next().unwrap_or_default();
            Err(format!("{line}: unexpected {{{{{keyword}}}}}"))
        }
    }
}

fn split(source: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = source;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let mut inside = &rest[start + 2..];
        let action_line = line + text.matches('\n').count();
        if inside.starts_with("- ") || inside.starts_with("-\t") || inside.starts_with("-\n") || inside == "-" {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            inside = &inside[1..];
        }
        line += rest[..start].matches('\n').count();
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let trimmed_start = inside.trim_start();
        if let Some(comment) = trimmed_start.strip_prefix("/*") {
            let Some(end) = comment.find("*/") else {
                return Err(format!("{action_line}: unclosed comment"));
            };
            let after = comment[end + 2..].trim_start();
            let (after, trim_right) = match after.strip_prefix("-}}") {
                Some(after) => (after, true),
                None => match after.strip_prefix("}}") {
                    Some(after) => (after, false),
                    None => return Err(format!("{action_line}: comment ends before closing delimiter")),
                },
            };
            line += inside[..inside.len() - after.len()].matches('\n').count();
            rest = if trim_right { after.trim_start_matches([' ', '\t', '\r', '\n']) } else { after };
            continue;
        }
        let (lexemes, consumed, trim_right) = lex_action(inside, action_line)?;
        line += inside[..consumed].matches('\n').count();
        pieces.push(Piece::Action { line: action_line, lexemes });
        rest = &inside[consumed..];
        if trim_right {
            rest = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// Lexes an action up to and including `}}`; returns the lexemes, the bytes consumed and whether `-}}` trims.
fn lex_action(input: &str, line: usize) -> Result<(Vec<Lexeme>, usize, bool), String> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut lexemes = Vec::new();
    let mut index = 0;
    let at = |index: usize| chars.get(index).map(|(_, c)| *c);
    let offset = |index: usize| chars.get(index).map_or(input.len(), |(offset, _)| *offset);
    loop {
        let Some(character) = at(index) else {
            return Err(format!("{line}: unclosed action"));
        };
        if character.is_whitespace() {
            if at(index + 1) == Some('-') && at(index + 2) == Some('}') && at(index + 3) == Some('}') {
                return Ok((lexemes, offset(index + 4), true));
            }
            index += 1;
            continue;
        }
        if character == '}' && at(index + 1) == Some('}') {
            return Ok((lexemes, offset(index + 2), false));
        }
        match character {
            '|' => {
                lexemes.push(Lexeme::Pipe);
                index += 1;
            }
            '(' => {
                lexemes.push(Lexeme::Open);
                index += 1;
            }
            ')' => {
                lexemes.push(Lexeme::Close);
                index += 1;
            }
            ':' if at(index + 1) == Some('=') => {
                lexemes.push(Lexeme::Declare);
                index += 2;
            }
            '=' => {
                lexemes.push(Lexeme::Assign);
                index += 1;
            }
            '"' | '`' => {
                let (text, next) = lex_string(&chars, index, line)?;
                lexemes.push(Lexeme::String(text));
                index = next;
            }
            '\'' => {
                let (text, next) = lex_string(&chars, index, line)?;
                let mut decoded = text.chars();
                match (decoded.next(), decoded.next()) {
                    (Some(single), None) => lexemes.push(Lexeme::Int(i64::from(u32::from(single)))),
                    _ => return Err(format!("{line}: malformed character constant")),
                }
                index = next;
            }
            '.' | '$' => {
                let start = index;
                index += 1;
                let mut head = String::new();
                if character == '$' {
                    while let Some(c) = at(index).filter(|c| c.is_alphanumeric() || *c == '_') {
                        head.push(c);
                        index += 1;
                    }
                }
                let mut path = Vec::new();
                let mut first = character == '.';
                while first || at(index) == Some('.') {
                    if !first {
                        index += 1;
                    }
                    first = false;
                    let mut part = String::new();
                    while let Some(c) = at(index).filter(|c| c.is_alphanumeric() || *c == '_') {
                        part.push(c);
                        index += 1;
                    }
                    if part.is_empty() {
                        break;
                    }
                    path.push(part);
                }
                if character == '$' {
                    lexemes.push(Lexeme::Variable(head, path));
                } else if path.is_empty() {
                    if at(start + 1).is_some_and(|c| c.is_ascii_digit()) {
                        let (lexeme, next) = lex_number(&chars, start, line)?;
                        lexemes.push(lexeme);
                        index = next;
                    } else {
                        lexemes.push(Lexeme::Dot);
                    }
                } else {
                    lexemes.push(Lexeme::Field(path));
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+') && at(index + 1).is_some_and(|n| n.is_ascii_digit())) =>
            {
                let (lexeme, next) = lex_number(&chars, index, line)?;
                lexemes.push(lexeme);
                index = next;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::new();
                while let Some(c) = at(index).filter(|c| c.is_alphanumeric() || *c == '_') {
                    word.push(c);
                    index += 1;
                }
                lexemes.push(Lexeme::Word(word));
            }
            other => return Err(format!("{line}: unexpected {other:?} in command")),
        }
    }
}

fn lex_string(chars: &[(usize, char)], start: usize, line: usize) -> Result<(String, usize), String> {
    let quote = chars[start].1;
    let mut index = start + 1;
    let mut out = String::new();
    loop {
        let Some(&(_, character)) = chars.get(index) else {
            return Err(format!("{line}: unterminated quoted string"));
        };
        index += 1;
        if character == quote {
            return Ok((out, index));
        }
        if quote == '`' || character != '\\' {
            if character == '\n' && quote != '`' {
                return Err(format!("{line}: unterminated quoted string"));
            }
            out.push(character);
            continue;
        }
        let Some(&(_, escape)) = chars.get(index) else {
            return Err(format!("{line}: unterminated quoted string"));
        };
        index += 1;
        let decoded = match escape {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{07}',
            'b' => '\u{08}',
            'f' => '\u{0c}',
            'v' => '\u{0b}',
            '\\' | '"' | '\'' => escape,
            'x' | 'u' | 'U' => {
                let digits = match escape {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.iter().skip(index).take(digits).map(|(_, c)| *c).collect();
                index += digits;
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("{line}: invalid syntax"))?
            }
            _ => return Err(format!("{line}: invalid syntax")),
        };
        out.push(decoded);
    }
}

fn lex_number(chars: &[(usize, char)], start: usize, line: usize) -> Result<(Lexeme, usize), String> {
    let mut index = start;
    let mut text = String::new();
    while let Some(&(_, c)) = chars.get(index) {
        let sign_after_exponent = (c == '+' || c == '-') && text.ends_with(['e', 'E']) && !text.starts_with("0x");
        let sign_first = (c == '+' || c == '-') && text.is_empty();
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || sign_after_exponent || sign_first {
            text.push(c);
            index += 1;
        } else {
            break;
        }
    }
    let cleaned = text.replace('_', "");
    let (negative, digits) = match cleaned.strip_prefix('-') {
        Some(digits) => (true, digits.to_string()),
        None => (false, cleaned.trim_start_matches('+').to_string()),
    };
    let integer = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    if let Some(value) = integer {
        return Ok((Lexeme::Int(if negative { -value } else { value }), index));
    }
    match digits.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok((Lexeme::Float(if negative { -value } else { value }), index)),
        _ => Err(format!("{line}: bad number syntax: {text:?}")),
    }
}

struct NodeParser {
    pieces: Vec<Piece>,
    position: usize,
}

impl NodeParser {
    /// Nodes up to the end of input or a control keyword (`end`, `else`); returns that keyword's action.
    #[allow(clippy::type_complexity)]
    fn parse_list(&mut self) -> Result<(Vec<Node>, Option<(usize, String)>), String> {
        let mut nodes = Vec::new();
        while self.position < self.pieces.len() {
            let index = self.position;
            self.position += 1;
            let (line, lexemes) = match &self.pieces[index] {
                Piece::Text(text) => {
                    nodes.push(Node::Text(text.clone()));
                    continue;
                }
                Piece::Action { line, lexemes } => (*line, lexemes.clone()),
            };
            match lexemes.first() {
                Some(Lexeme::Word(word)) if word == "end" => return Ok((nodes, Some((line, "end".into())))),
                Some(Lexeme::Word(word)) if word == "else" => {
                    let rest: Vec<Lexeme> = lexemes[1..].to_vec();
                    let marker = if rest.is_empty() { "else".to_string() } else { format!("else\u{0}{index}") };
                    return Ok((nodes, Some((line, marker))));
                }
                Some(Lexeme::Word(word)) if word == "if" || word == "with" => {
                    nodes.push(self.parse_branch(word == "if", line, &lexemes[1..])?);
                }
                Some(Lexeme::Word(word))
                    if matches!(word.as_str(), "range" | "template" | "define" | "block" | "break" | "continue") =>
                {
                    return Err(format!("{line}: {word:?} is not supported"));
                }
                None => return Err(format!("{line}: missing value for command")),
                _ => nodes.push(Node::Action(parse_pipeline(&lexemes, line)?)),
            }
        }
        Ok((nodes, None))
    }

    fn parse_branch(&mut self, is_if: bool, line: usize, condition: &[Lexeme]) -> Result<Node, String> {
        let mut branches = vec![(parse_pipeline(condition, line)?, Vec::new())];
        let mut otherwise = Vec::new();
        loop {
            let (body, end) = self.parse_list()?;
            if let Some(last) = branches.last_mut() {
                last.1 = body;
            }
            let Some((end_line, marker)) = end else {
                return Err(format!("{line}: unexpected EOF"));
            };
            if marker == "end" {
                break;
            }
            if marker == "else" {
                let (else_body, else_end) = self.parse_list()?;
                match else_end {
                    Some((_, end)) if end == "end" => {
                        otherwise = else_body;
                        break;
                    }
                    Some((else_line, _)) => return Err(format!("{else_line}: expected end; found {{{{else}}}}")),
                    None => return Err(format!("{line}: unexpected EOF")),
                }
            }
            // `else if …` / `else with …`: the marker carries the index of the `else` action.
            let index: usize = marker.split('\u{0}').nth(1).and_then(|index| index.parse().ok()).unwrap_or(0);
            let Piece::Action { lexemes, .. } = &self.pieces[index] else {
                unreachable!("BUG: else marker points at an action")
            };
            let rest = lexemes[1..].to_vec();
            match rest.first() {
                Some(Lexeme::Word(word)) if word == "if" && is_if => {
                    branches.push((parse_pipeline(&rest[1..], end_line)?, Vec::new()));
                }
                Some(Lexeme::Word(word)) if word == "if" || word == "with" => {
                    // A nested branch in the else part that shares our `end`.
                    otherwise = vec![self.parse_branch(word == "if", end_line, &rest[1..])?];
                    break;
                }
                _ => return Err(format!("{end_line}: unexpected {{{{else}}}}")),
            }
        }
        Ok(if is_if {
            Node::If { branches, otherwise }
        } else {
            let (pipeline, body) = branches.remove(0);
            Node::With { pipeline, body, otherwise }
        })
    }
}

fn parse_pipeline(lexemes: &[Lexeme], line: usize) -> Result<Pipeline, String> {
    let mut position = 0;
    let pipeline = parse_pipeline_at(lexemes, &mut position, line)?;
    if position != lexemes.len() {
        return Err(format!("{line}: unexpected {:?} in operand", lexemes[position]));
    }
    Ok(pipeline)
}

fn parse_pipeline_at(lexemes: &[Lexeme], position: &mut usize, line: usize) -> Result<Pipeline, String> {
    let mut declare = None;
    if let (Some(Lexeme::Variable(name, path)), Some(Lexeme::Declare | Lexeme::Assign)) =
        (lexemes.get(*position), lexemes.get(*position + 1))
        && path.is_empty()
    {
        declare = Some(name.clone());
        *position += 2;
    }
    let mut commands = Vec::new();
    loop {
        let mut args = Vec::new();
        while let Some(lexeme) = lexemes.get(*position) {
            let arg = match lexeme {
                Lexeme::Pipe | Lexeme::Close => break,
                Lexeme::Open => {
                    *position += 1;
                    let inner = parse_pipeline_at(lexemes, position, line)?;
                    if lexemes.get(*position) != Some(&Lexeme::Close) {
                        return Err(format!("{line}: unclosed left paren"));
                    }
                    Arg::Pipeline(Box::new(inner))
                }
                Lexeme::Dot => Arg::Dot,
                Lexeme::Field(path) => Arg::Field(path.clone()),
                Lexeme::Variable(name, path) => Arg::Variable(name.clone(), path.clone()),
                Lexeme::String(text) => Arg::String(text.clone()),
                Lexeme::Int(value) => Arg::Int(*value),
                Lexeme::Float(value) => Arg::Float(*value),
                Lexeme::Word(word) => match word.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    _ if super::funcs::exists(word) => Arg::Function(word.clone()),
                    _ => return Err(format!("{line}: function {word:?} not defined")),
                },
                Lexeme::Declare | Lexeme::Assign => return Err(format!("{line}: unexpected \"=\" in operand")),
            };
            args.push(arg);
            *position += 1;
        }
        if args.is_empty() {
            return Err(format!("{line}: missing value for command"));
        }
        commands.push(Command { args });
        if lexemes.get(*position) == Some(&Lexeme::Pipe) {
            *position += 1;
            continue;
        }
        return Ok(Pipeline { declare, commands });
    }
}
