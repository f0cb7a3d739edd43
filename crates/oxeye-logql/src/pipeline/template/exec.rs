//! Template execution: values, truth, printing and the walk over nodes.

use std::fmt::Write;

use super::TemplateData;
use super::funcs;
use super::parse::{Arg, Command, Node, Pipeline};
use super::timefmt;
use crate::units::go_format_float;

/// A template value. Label values are strings; functions may produce the other kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nanoseconds since the epoch, UTC.
    Time(i64),
    /// All labels (`.`), printed like Go's `map[a:b c:d]`.
    Map(Vec<(String, String)>),
    Nil,
}

impl Value {
    /// Go's notion of truth for `if`, `with`, `and`, `or`, `not`.
    pub(crate) fn is_true(&self) -> bool {
        match self {
            Value::Str(text) => !text.is_empty(),
            Value::Int(value) => *value != 0,
            Value::Float(value) => *value != 0.0,
            Value::Bool(value) => *value,
            Value::Time(_) => true,
            Value::Map(entries) => !entries.is_empty(),
            Value::Nil => false,
        }
    }

    /// Go's type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time.Time",
            Value::Map(_) => "map[string]string",
            Value::Nil => "nil",
        }
    }

    /// `fmt.Fprint` of the value.
    pub(crate) fn write_to(&self, out: &mut String) {
        match self {
            Value::Str(text) => out.push_str(text),
            Value::Int(value) => {
                let _ = write!(out, "{value}");
            }
            Value::Float(value) => out.push_str(&go_format_float(*value)),
            Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Value::Time(nanos) => out.push_str(&timefmt::go_time_string(*nanos)),
            Value::Map(entries) => {
                out.push_str("map[");
                for (index, (name, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{name}:{value}");
                }
                out.push(']');
            }
            Value::Nil => out.push_str("<nil>"),
        }
    }

    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

/// Execution state: the data and the variables in scope.
pub(crate) struct Context<'a> {
    pub data: &'a dyn TemplateData,
    variables: Vec<(String, Value)>,
    dot: Option<Value>,
}

pub(crate) fn execute(nodes: &[Node], data: &dyn TemplateData, out: &mut String) -> Result<(), String> {
    let mut context = Context { data, variables: Vec::new(), dot: None };
    run_nodes(nodes, &mut context, out)
}

fn run_nodes(nodes: &[Node], context: &mut Context<'_>, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipeline) => {
                let value = eval_pipeline(pipeline, context)?;
                if pipeline.declare.is_none() {
                    value.write_to(out);
                }
            }
            Node::If { branches, otherwise } => {
                let scope = context.variables.len();
                let mut taken = false;
                for (condition, body) in branches {
                    if eval_pipeline(condition, context)?.is_true() {
                        run_nodes(body, context, out)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    run_nodes(otherwise, context, out)?;
                }
                context.variables.truncate(scope);
            }
            Node::With { pipeline, body, otherwise } => {
                let scope = context.variables.len();
                let value = eval_pipeline(pipeline, context)?;
                if value.is_true() {
                    let saved = context.dot.replace(value);
                    let result = run_nodes(body, context, out);
                    context.dot = saved;
                    result?;
                } else {
                    run_nodes(otherwise, context, out)?;
                }
                context.variables.truncate(scope);
            }
        }
    }
    Ok(())
}

fn eval_pipeline(pipeline: &Pipeline, context: &mut Context<'_>) -> Result<Value, String> {
    let mut piped: Option<Value> = None;
    for command in &pipeline.commands {
        piped = Some(eval_command(command, piped, context)?);
    }
    let value = piped.unwrap_or(Value::Nil);
    if let Some(name) = &pipeline.declare {
        match context.variables.iter_mut().rev().find(|(existing, _)| existing == name) {
            Some((_, slot)) => *slot = value.clone(),
            None => context.variables.push((name.clone(), value.clone())),
        }
    }
    Ok(value)
}

fn eval_command(command: &Command, piped: Option<Value>, context: &mut Context<'_>) -> Result<Value, String> {
    let (first, rest) = command.args.split_first().ok_or("empty command")?;
    if let Arg::Function(name) = first {
        let mut args = Vec::with_capacity(rest.len() + 1);
        for arg in rest {
            args.push(eval_arg(arg, context)?);
        }
        if let Some(piped) = piped {
            args.push(piped);
        }
        return funcs::call(name, args, context).map_err(|error| format!("error calling {name}: {error}"));
    }
    if !rest.is_empty() || piped.is_some() {
        return Err(format!("can't give argument to non-function {}", describe(first)));
    }
    eval_arg(first, context)
}

fn describe(arg: &Arg) -> String {
    match arg {
        Arg::Field(path) => format!(".{}", path.join(".")),
        Arg::Dot => ".".into(),
        Arg::Variable(name, _) => format!("${name}"),
        Arg::String(text) => format!("{text:?}"),
        other => format!("{other:?}"),
    }
}

fn eval_arg(arg: &Arg, context: &mut Context<'_>) -> Result<Value, String> {
    Ok(match arg {
        Arg::Dot => context.dot.clone().unwrap_or_else(|| Value::Map(context.data.all_labels())),
        Arg::Field(path) => {
            let base = match &context.dot {
                Some(Value::Map(entries)) => {
                    entries.iter().find(|(name, _)| *name == path[0]).map(|(_, value)| value.clone())
                }
                Some(other) => {
                    return Err(format!("can't evaluate field {} in type {}", path[0], other.type_name()));
                }
                None => context.data.label(&path[0]).map(str::to_string),
            };
            if path.len() > 1 {
                return Err(format!("can't evaluate field {} in type string", path[1]));
            }
            Value::Str(base.unwrap_or_default())
        }
        Arg::Variable(name, path) => {
            let value = if name.is_empty() {
                Value::Map(context.data.all_labels())
            } else {
                context
                    .variables
                    .iter()
                    .rev()
                    .find(|(existing, _)| existing == name)
                    .map(|(_, value)| value.clone())
                    .ok_or_else(|| format!("undefined variable \"${name}\""))?
            };
            match (path.first(), value) {
                (None, value) => value,
                (Some(field), Value::Map(entries)) => Value::Str(
                    entries.iter().find(|(name, _)| name == field).map(|(_, value)| value.clone()).unwrap_or_default(),
                ),
                (Some(field), other) => {
                    return Err(format!("can't evaluate field {field} in type {}", other.type_name()));
                }
            }
        }
        Arg::Function(name) => funcs::call(name, Vec::new(), context)?,
        Arg::String(text) => Value::Str(text.clone()),
        Arg::Int(value) => Value::Int(*value),
        Arg::Float(value) => Value::Float(*value),
        Arg::Bool(value) => Value::Bool(*value),
        Arg::Nil => Value::Nil,
        Arg::Pipeline(pipeline) => eval_pipeline(pipeline, context)?,
    })
}
