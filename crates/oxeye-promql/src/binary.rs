//! Binary operators: arithmetic, comparison (with and without `bool`), `atan2`, and the set operators, with
//! Prometheus's vector matching (`on`/`ignoring`, `group_left`/`group_right`, `fill*`).

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_model::{Label, Labels};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality, value::ValueType};

use crate::QueryError;
use crate::engine::{Ev, Sample, Series};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    pub(crate) fn from_token(token: &str) -> Result<Op, QueryError> {
        Ok(match token {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => return Err(QueryError::BadData(format!("unknown binary operator {other:?}"))),
        })
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    /// Arithmetic changes what a series means, so its name goes (Prometheus's `changesMetricSchema`).
    fn changes_schema(self) -> bool {
        matches!(self, Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2)
    }
}

/// Scalar-scalar operation (comparisons return 0/1).
pub(crate) fn scalar_binop(op: Op, l: f64, r: f64) -> f64 {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    match op {
        Op::Add => l + r,
        Op::Sub => l - r,
        Op::Mul => l * r,
        Op::Div => l / r,
        Op::Pow => l.powf(r),
        Op::Mod => l % r, // Go's math.Mod: the sign of the dividend, as Rust's % on f64
        Op::Atan2 => l.atan2(r),
        Op::Eq => b(l == r),
        Op::Ne => b(l != r),
        Op::Gt => b(l > r),
        Op::Lt => b(l < r),
        Op::Ge => b(l >= r),
        Op::Le => b(l <= r),
        Op::And | Op::Or | Op::Unless => f64::NAN,
    }
}

/// Element operation: the value and whether the element is kept (comparisons filter).
fn elem_binop(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        _ => (scalar_binop(op, l, r), true),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

struct Matching {
    card: Card,
    on: bool,
    /// Matching labels, sorted.
    labels: Vec<String>,
    /// `group_left`/`group_right` extra labels.
    include: Vec<String>,
    fill_lhs: Option<f64>,
    fill_rhs: Option<f64>,
}

fn matching_of(b: &BinaryExpr, op: Op) -> Matching {
    let mut m = Matching {
        card: if op.is_set() { Card::ManyToMany } else { Card::OneToOne },
        on: false,
        labels: Vec::new(),
        include: Vec::new(),
        fill_lhs: None,
        fill_rhs: None,
    };
    if let Some(modifier) = &b.modifier {
        match &modifier.matching {
            Some(LabelModifier::Include(l)) => {
                m.on = true;
                m.labels = l.labels.clone();
            }
            Some(LabelModifier::Exclude(l)) => m.labels = l.labels.clone(),
            None => {}
        }
        if !op.is_set() {
            match &modifier.card {
                VectorMatchCardinality::ManyToOne(l) => {
                    m.card = Card::ManyToOne;
                    m.include = l.labels.clone();
                }
                VectorMatchCardinality::OneToMany(l) => {
                    m.card = Card::OneToMany;
                    m.include = l.labels.clone();
                }
                _ => {}
            }
        }
        m.fill_lhs = modifier.fill_values.lhs;
        m.fill_rhs = modifier.fill_values.rhs;
    }
    m.labels.sort();
    m
}

fn return_bool(b: &BinaryExpr) -> bool {
    b.modifier.as_ref().map(|m| m.return_bool).unwrap_or(false)
}

/// The join signature of a label set: the `on` labels, or every label except the `ignoring` ones and the name.
fn signature(labels: &Labels, on: bool, names: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for l in labels.iter() {
        let listed = names.contains(&l.name);
        let include = if on { listed } else { !listed && l.name != "__name__" };
        if include {
            out.extend_from_slice(l.name.as_bytes());
            out.push(0xff);
            out.extend_from_slice(l.value.as_bytes());
            out.push(0xff);
        }
    }
    out
}

/// Prometheus's `Labels.MatchLabels`: with `on`, only the listed labels; otherwise all but the listed ones and the
/// name.
fn match_labels(labels: &Labels, on: bool, names: &[String]) -> Labels {
    Labels::from_sorted_unchecked(
        labels
            .iter()
            .filter(|l| {
                let listed = names.contains(&l.name);
                if on { listed } else { !listed && l.name != "__name__" }
            })
            .cloned()
            .collect(),
    )
}

/// Renders labels like Prometheus's `Labels.String()`: `{a="b", c="d"}`.
pub(crate) fn labels_string(labels: &Labels) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&l.name);
        s.push('=');
        s.push_str(&go_quote(&l.value));
    }
    s.push('}');
    s
}

/// Go's `strconv.Quote` for the common cases.
pub(crate) fn go_quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => s.push_str(&format!("\\x{:02x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Sets a label in a sorted label list; an empty or missing value removes it (Prometheus's label builder).
pub(crate) fn set_label(labels: &mut Vec<Label>, name: &str, value: Option<&str>) {
    match labels.binary_search_by(|l| l.name.as_str().cmp(name)) {
        Ok(i) => match value {
            Some(v) if !v.is_empty() => labels[i].value = v.to_string(),
            _ => {
                labels.remove(i);
            }
        },
        Err(i) => {
            if let Some(v) = value
                && !v.is_empty()
            {
                labels.insert(i, Label::new(name, v));
            }
        }
    }
}

/// The labels of a vector-vector result element (Prometheus's `resultMetric`).
fn result_metric(lhs: &Labels, rhs: &Labels, op: Op, m: &Matching) -> Labels {
    let mut out: Vec<Label> = lhs.iter().cloned().collect();
    if op.changes_schema() {
        out.retain(|l| !matches!(l.name.as_str(), "__name__" | "__type__" | "__unit__"));
    }
    if m.card == Card::OneToOne {
        if m.on {
            out.retain(|l| m.labels.contains(&l.name));
        } else {
            out.retain(|l| !m.labels.contains(&l.name));
        }
    }
    for name in &m.include {
        set_label(&mut out, name, rhs.get(name));
    }
    Labels::from_sorted_unchecked(out)
}

pub(crate) fn eval_binary(ev: &mut Ev, b: &BinaryExpr) -> Result<Vec<Series>, QueryError> {
    let op = Op::from_token(&b.op.to_string())?;
    let lt = b.lhs.value_type();
    let rt = b.rhs.value_type();
    let rb = return_bool(b);
    match (lt, rt) {
        (ValueType::Scalar, ValueType::Scalar) => {
            let l = ev.eval(&b.lhs)?.into_matrix();
            let r = ev.eval(&b.rhs)?.into_matrix();
            ev.range_eval(vec![l, r], None, |v, _, _, _| {
                let (Some(a), Some(c)) = (v[0].first(), v[1].first()) else { return Ok(Vec::new()) };
                Ok(vec![Sample {
                    labels: Arc::new(Labels::empty()),
                    t: 0,
                    f: scalar_binop(op, a.f, c.f),
                    drop_name: false,
                }])
            })
        }
        (ValueType::Vector, ValueType::Vector) => {
            let m = matching_of(b, op);
            let l = ev.eval(&b.lhs)?.into_matrix();
            let r = ev.eval(&b.rhs)?.into_matrix();
            let (on, names) = (m.on, m.labels.clone());
            let sig = move |labels: &Labels| signature(labels, on, &names);
            let mut cache: ResultCache = HashMap::new();
            ev.range_eval(vec![l, r], Some(&sig), |v, sigs, _ts, _annos| match op {
                Op::And => Ok(vector_and(&v[0], &v[1], &sigs[0], &sigs[1])),
                Op::Or => Ok(vector_or(&v[0], &v[1], &sigs[0], &sigs[1])),
                Op::Unless => Ok(vector_unless(&v[0], &v[1], &sigs[0], &sigs[1])),
                _ => vector_binop(op, &v[0], &v[1], &sigs[0], &sigs[1], &m, rb, &mut cache),
            })
        }
        (ValueType::Vector, ValueType::Scalar) | (ValueType::Scalar, ValueType::Vector) => {
            let swap = lt == ValueType::Scalar;
            let l = ev.eval(&b.lhs)?.into_matrix();
            let r = ev.eval(&b.rhs)?.into_matrix();
            let (vector, scalar) = if swap { (r, l) } else { (l, r) };
            // Series by series: each output series is its input series, so no per-step matching is needed.
            let scalar_at = ev.per_step(scalar.first());
            let (start, interval) = (ev.start, ev.interval);
            let mut out = Vec::with_capacity(vector.len());
            for mut s in vector {
                s.points.retain_mut(|p| {
                    let sc = scalar_at[((p.0 - start) / interval) as usize];
                    let (l, r) = if swap { (sc, p.1) } else { (p.1, sc) };
                    let (mut value, mut keep) = elem_binop(op, l, r);
                    if op.is_comparison() && swap {
                        value = r;
                    }
                    if rb {
                        value = if keep { 1.0 } else { 0.0 };
                        keep = true;
                    }
                    p.1 = value;
                    keep
                });
                if s.points.is_empty() {
                    continue;
                }
                if op.changes_schema() || rb {
                    s.drop_name = true;
                }
                out.push(s);
            }
            Ok(out)
        }
        _ => Err(QueryError::BadData(format!(
            "binary expression must contain only scalar and instant vector types, got {lt} {} {rt}",
            b.op
        ))),
    }
}

/// Result labels by the addresses of the two operands' label sets (stable for a series across steps). The value
/// keeps both operands alive so their addresses cannot be reused while they are keys.
type ResultCache = HashMap<(*const Labels, *const Labels), (Arc<Labels>, [Arc<Labels>; 2])>;

fn vector_and(lhs: &[Sample], rhs: &[Sample], ls: &[usize], rs: &[usize]) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let present: std::collections::HashSet<usize> = rs.iter().copied().collect();
    lhs.iter().zip(ls).filter(|(_, s)| present.contains(s)).map(|(x, _)| x.clone()).collect()
}

fn vector_or(lhs: &[Sample], rhs: &[Sample], ls: &[usize], rs: &[usize]) -> Vec<Sample> {
    if lhs.is_empty() {
        return rhs.to_vec();
    }
    if rhs.is_empty() {
        return lhs.to_vec();
    }
    let present: std::collections::HashSet<usize> = ls.iter().copied().collect();
    let mut out = lhs.to_vec();
    out.extend(rhs.iter().zip(rs).filter(|(_, s)| !present.contains(s)).map(|(x, _)| x.clone()));
    out
}

fn vector_unless(lhs: &[Sample], rhs: &[Sample], ls: &[usize], rs: &[usize]) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs.to_vec();
    }
    let present: std::collections::HashSet<usize> = rs.iter().copied().collect();
    lhs.iter().zip(ls).filter(|(_, s)| !present.contains(s)).map(|(x, _)| x.clone()).collect()
}

#[allow(clippy::too_many_arguments)]
fn vector_binop(
    op: Op,
    lhs: &[Sample],
    rhs: &[Sample],
    lsigs: &[usize],
    rsigs: &[usize],
    m: &Matching,
    return_bool: bool,
    cache: &mut ResultCache,
) -> Result<Vec<Sample>, QueryError> {
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && m.fill_lhs.is_none() && m.fill_rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let swapped = m.card == Card::OneToMany;
    let (lhs, rhs, lsigs, rsigs) = if swapped { (rhs, lhs, rsigs, lsigs) } else { (lhs, rhs, lsigs, rsigs) };
    // The "one" side, by signature.
    let mut right: HashMap<usize, &Sample> = HashMap::with_capacity(rhs.len());
    for (rs, sig) in rhs.iter().zip(rsigs) {
        if let Some(dup) = right.get(sig) {
            let one_side = if swapped { "left" } else { "right" };
            let matched = match_labels(&rs.labels, m.on, &m.labels);
            let (mut d1, mut d2) = (labels_string(&rs.labels), labels_string(&dup.labels));
            if d1 > d2 {
                std::mem::swap(&mut d1, &mut d2);
            }
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the {one_side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                labels_string(&matched)
            )));
        }
        right.insert(*sig, rs);
    }
    let matched_one: std::collections::HashSet<usize> = std::collections::HashSet::new();
    let matched_many: HashMap<usize, std::collections::HashSet<Arc<Labels>>> = HashMap::new();
    let mut out = Vec::new();

    type Sets = (std::collections::HashSet<usize>, HashMap<usize, std::collections::HashSet<Arc<Labels>>>);
    let mut sets: Sets = (matched_one, matched_many);
    let mut do_op =
        |ls: &Sample, rs: &Sample, sig: usize, out: &mut Vec<Sample>, sets: &mut Sets| -> Result<(), QueryError> {
            let (matched_one, matched_many) = sets;
            let (fl, fr) = if swapped { (rs.f, ls.f) } else { (ls.f, rs.f) };
            let (mut value, keep) = elem_binop(op, fl, fr);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            }
            let key = (Arc::as_ptr(&ls.labels), Arc::as_ptr(&rs.labels));
            let metric = match cache.get(&key) {
                Some((l, _)) => l.clone(),
                None => {
                    let l = Arc::new(result_metric(&ls.labels, &rs.labels, op, m));
                    cache.insert(key, (l.clone(), [ls.labels.clone(), rs.labels.clone()]));
                    l
                }
            };
            if m.card == Card::OneToOne {
                if !matched_one.insert(sig) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                            .into(),
                    ));
                }
            } else if !matched_many.entry(sig).or_default().insert(metric.clone()) {
                return Err(QueryError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches".into(),
                ));
            }
            if !keep && !return_bool {
                return Ok(());
            }
            // Prometheus (delayed name removal) sets only `return_bool` here and so forgets that the left side's name was
            // due to be dropped; we keep that mark, which gives the same answer as Prometheus's default mode.
            out.push(Sample { labels: metric, t: ls.t, f: value, drop_name: return_bool || ls.drop_name });
            Ok(())
        };

    for (ls, sig) in lhs.iter().zip(lsigs) {
        match right.get(sig) {
            Some(rs) => do_op(ls, rs, *sig, &mut out, &mut sets)?,
            None => {
                let Some(fill) = m.fill_rhs else { continue };
                let rs = Sample {
                    labels: Arc::new(match_labels(&ls.labels, m.on, &m.labels)),
                    t: ls.t,
                    f: fill,
                    drop_name: false,
                };
                do_op(ls, &rs, *sig, &mut out, &mut sets)?;
            }
        }
    }
    if let Some(fill) = m.fill_lhs {
        for (rs, sig) in rhs.iter().zip(rsigs) {
            let already = if m.card == Card::OneToOne {
                sets.0.contains(sig)
            } else {
                sets.1.get(sig).is_some_and(|s| !s.is_empty())
            };
            if already {
                continue;
            }
            let ls = Sample {
                labels: Arc::new(match_labels(&rs.labels, m.on, &m.labels)),
                t: rs.t,
                f: fill,
                drop_name: false,
            };
            do_op(&ls, rs, *sig, &mut out, &mut sets)?;
        }
    }
    Ok(out)
}
