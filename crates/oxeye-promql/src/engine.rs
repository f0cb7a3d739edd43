//! The evaluator: Prometheus's evaluation model, step by step over a query range.
//!
//! Every instant-vector or scalar expression evaluates to a *matrix*: one [`Series`] per output label set, with a
//! point at each step where it has a value (a scalar is one series with empty labels and a point at every step).
//! Operators and functions that combine series work step by step ([`Ev::range_eval`]), exactly as Prometheus's
//! `rangeEval` does; selectors and range-vector functions work series by series over all steps, reading each
//! series' samples once for the whole query.
//!
//! Metric names are removed late ("delayed name removal", Prometheus 3): operations that change a series' meaning
//! mark it `drop_name`, and the name is removed when the result is returned. `label_replace`/`label_join` onto
//! `__name__` clear the mark.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use oxeye_model::{Labels, is_stale_nan};
use oxeye_storage_api::{MetricsReader, SelectRequest};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{self as ast, Expr, value::ValueType};

use crate::aggregate;
use crate::annotations::Annotations;
use crate::binary;
use crate::functions;
use crate::value::{InstantSample, QueryValue, RangeSeries};
use crate::{EngineOptions, QueryError, QueryResult, QueryStats};

/// One sample of a per-step vector.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub labels: Arc<Labels>,
    /// The sample's own timestamp where it matters (`timestamp()`); otherwise the step time.
    pub t: i64,
    pub f: f64,
    pub drop_name: bool,
}

/// One series of an evaluated expression: points at step timestamps (or raw sample timestamps for range vectors).
#[derive(Clone, Debug)]
pub(crate) struct Series {
    pub labels: Arc<Labels>,
    pub points: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// An evaluated expression.
pub(crate) enum Val {
    Matrix(Vec<Series>),
    String(String),
}

impl Val {
    pub(crate) fn into_matrix(self) -> Vec<Series> {
        match self {
            Val::Matrix(m) => m,
            Val::String(_) => Vec::new(),
        }
    }
}

/// State shared by an evaluator and the sub-evaluators of its subqueries.
pub(crate) struct Ctx<'a> {
    pub reader: &'a dyn MetricsReader,
    pub opts: &'a EngineOptions,
    pub deadline: Instant,
    pub annos: Annotations,
    pub stats: QueryStats,
    /// The top-level query's start and end, for `@ start()` / `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    /// The top-level query's step (0 for an instant query), for `step()`.
    pub query_step: i64,
    /// Samples currently held by selectors (checked against `max_samples`).
    pub current_samples: usize,
}

/// One evaluation range: `[start, end]` every `interval` ms.
pub(crate) struct Ev<'a, 'c> {
    pub ctx: &'c mut Ctx<'a>,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
}

pub(crate) struct Evaluator;

impl Evaluator {
    pub(crate) fn run(
        opts: &EngineOptions,
        reader: &dyn MetricsReader,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        let instant = step == 0;
        let mut ctx = Ctx {
            reader,
            opts,
            deadline: Instant::now() + opts.timeout,
            annos: Annotations::default(),
            stats: QueryStats::default(),
            query_start: start,
            query_end: end,
            query_step: step,
            current_samples: 0,
        };
        let interval = if instant { 1 } else { step };
        let value = {
            let mut ev = Ev { ctx: &mut ctx, start, end, interval };
            let val = ev.eval(expr)?;
            match val {
                Val::String(s) => QueryValue::String { timestamp_ms: start, value: s },
                Val::Matrix(mat) => {
                    let mat = cleanup_names(mat, instant && expr.value_type() == ValueType::Vector)?;
                    if instant {
                        match expr.value_type() {
                            ValueType::Vector => QueryValue::Vector(
                                mat.into_iter()
                                    .map(|s| InstantSample {
                                        labels: Arc::unwrap_or_clone(s.labels),
                                        timestamp_ms: start,
                                        value: s.points.first().map(|p| p.1).unwrap_or(f64::NAN),
                                    })
                                    .collect(),
                            ),
                            ValueType::Scalar => QueryValue::Scalar {
                                timestamp_ms: start,
                                value: mat.first().and_then(|s| s.points.first()).map(|p| p.1).unwrap_or(f64::NAN),
                            },
                            _ => QueryValue::Matrix(sorted_matrix(mat)),
                        }
                    } else {
                        QueryValue::Matrix(sorted_matrix(mat))
                    }
                }
            }
        };
        Ok(QueryResult { value, annotations: ctx.annos, stats: ctx.stats })
    }
}

fn sorted_matrix(mut mat: Vec<Series>) -> Vec<RangeSeries> {
    mat.sort_by(|a, b| a.labels.cmp(&b.labels));
    mat.into_iter().map(|s| RangeSeries { labels: Arc::unwrap_or_clone(s.labels), points: s.points }).collect()
}

/// Removes `__name__` from series marked `drop_name` and merges series that collide afterwards (Prometheus's
/// `cleanupMetricLabels`). For an instant vector a collision is an error.
pub(crate) fn cleanup_names(mut mat: Vec<Series>, instant_vector: bool) -> Result<Vec<Series>, QueryError> {
    let mut changed = false;
    for s in &mut mat {
        if s.drop_name {
            if s.labels.get(oxeye_model::METRIC_NAME_LABEL).is_some() {
                s.labels = Arc::new(drop_reserved(&s.labels));
                changed = true;
            }
            s.drop_name = false;
        }
    }
    if !changed && mat.len() < 2 {
        return Ok(mat);
    }
    if instant_vector {
        let mut seen = std::collections::HashSet::with_capacity(mat.len());
        for s in &mat {
            if !seen.insert(s.labels.clone()) {
                return Err(dup_labelset());
            }
        }
        return Ok(mat);
    }
    merge_same_labelset(mat)
}

pub(crate) fn dup_labelset() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Merges series with equal labels whose points do not overlap; overlapping points are an error.
pub(crate) fn merge_same_labelset(mat: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    if mat.len() < 2 {
        return Ok(mat);
    }
    let mut index: HashMap<Arc<Labels>, usize> = HashMap::with_capacity(mat.len());
    let mut out: Vec<Series> = Vec::with_capacity(mat.len());
    let mut merged_any = false;
    for s in mat {
        match index.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged_any = true;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged_any {
        for s in &mut out {
            s.points.sort_by_key(|p| p.0);
            if s.points.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(dup_labelset());
            }
        }
    }
    Ok(out)
}

/// Removes the metric name and the other reserved metadata labels (`__type__`, `__unit__`).
pub(crate) fn drop_reserved(labels: &Labels) -> Labels {
    Labels::from_sorted_unchecked(
        labels.iter().filter(|l| !matches!(l.name.as_str(), "__name__" | "__type__" | "__unit__")).cloned().collect(),
    )
}

/// Checks that a range query's expression has a type a range query can return.
pub(crate) fn check_range_query_type(expr: &Expr) -> Result<(), QueryError> {
    match expr.value_type() {
        ValueType::Vector | ValueType::Scalar => Ok(()),
        other => Err(QueryError::BadData(format!(
            "invalid parameter \"query\": invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            match other {
                ValueType::Matrix => "range vector",
                ValueType::String => "string",
                _ => "unknown",
            }
        ))),
    }
}

/// Millisecond value of an optional offset (negative offsets look into the future).
pub(crate) fn offset_ms(offset: &Option<ast::Offset>) -> i64 {
    match offset {
        None => 0,
        Some(ast::Offset::Pos(d)) => d.as_millis() as i64,
        Some(ast::Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// Unwraps parentheses.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Converts a selector's matchers (including the name) into storage matchers.
pub(crate) fn storage_matchers(vs: &ast::VectorSelector) -> Result<Vec<oxeye_storage_api::Matcher>, QueryError> {
    use oxeye_storage_api::Matcher;
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::BadData("\"or\" inside a label selector is not supported".into()));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    let has_name_matcher = vs.matchers.matchers.iter().any(|m| m.name == "__name__");
    if let Some(name) = &vs.name
        && !has_name_matcher
    {
        out.push(Matcher::equal("__name__", name.clone()));
    }
    for m in &vs.matchers.matchers {
        let matcher = match &m.op {
            PMatchOp::Equal => Matcher::equal(m.name.clone(), m.value.clone()),
            PMatchOp::NotEqual => Matcher::not_equal(m.name.clone(), m.value.clone()),
            PMatchOp::Re(_) => Matcher::regex(m.name.clone(), m.value.clone())
                .map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))?,
            PMatchOp::NotRe(_) => Matcher::not_regex(m.name.clone(), m.value.clone())
                .map_err(|e| QueryError::BadData(format!("invalid parameter \"query\": {e}")))?,
        };
        out.push(matcher);
    }
    Ok(out)
}

/// Input of a range-vector function: one series' samples (stale markers removed) and how windows are placed.
pub(crate) struct RangeInput {
    pub series: Vec<Series>,
    pub range_ms: i64,
    pub offset_ms: i64,
    pub at: Option<i64>,
}

impl<'a, 'c> Ev<'a, 'c> {
    pub(crate) fn num_steps(&self) -> usize {
        ((self.end - self.start) / self.interval + 1) as usize
    }

    pub(crate) fn step_times(&self) -> impl Iterator<Item = i64> + use<> {
        let (start, end, interval) = (self.start, self.end, self.interval);
        (0..).map(move |i| start + i * interval).take_while(move |t| *t <= end)
    }

    pub(crate) fn check_deadline(&self) -> Result<(), QueryError> {
        check_limits(self.ctx.deadline, &self.ctx.opts.cancel)
    }

    fn sub<'s>(&'s mut self, start: i64, end: i64, interval: i64) -> Ev<'a, 's> {
        Ev { ctx: self.ctx, start, end, interval }
    }

    pub(crate) fn at_time(&self, at: &Option<ast::AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(ast::AtModifier::Start) => Some(self.ctx.query_start),
            Some(ast::AtModifier::End) => Some(self.ctx.query_end),
            Some(ast::AtModifier::At(t)) => Some(match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            }),
        }
    }

    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<Val, QueryError> {
        self.check_deadline()?;
        match expr {
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::NumberLiteral(n) => Ok(Val::Matrix(self.scalar_series(|_| n.val))),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::VectorSelector(vs) => Ok(Val::Matrix(self.eval_vector_selector(vs)?)),
            Expr::MatrixSelector(ms) => {
                let input = self.load_range_input(&Expr::MatrixSelector(ms.clone()))?;
                Ok(Val::Matrix(self.instant_range_vector(input)))
            }
            Expr::Subquery(sq) => {
                let input = self.load_range_input(&Expr::Subquery(sq.clone()))?;
                Ok(Val::Matrix(self.instant_range_vector(input)))
            }
            Expr::Unary(u) => {
                let mut mat = self.eval(&u.expr)?.into_matrix();
                let is_scalar = u.expr.value_type() == ValueType::Scalar;
                for s in &mut mat {
                    if !is_scalar {
                        s.drop_name = true;
                    }
                    for p in &mut s.points {
                        p.1 = -p.1;
                    }
                }
                Ok(Val::Matrix(mat))
            }
            Expr::Binary(b) => binary::eval_binary(self, b).map(Val::Matrix),
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a).map(Val::Matrix),
            Expr::Call(c) => functions::eval_call(self, c).map(Val::Matrix),
            Expr::Extension(_) => Err(QueryError::BadData("unsupported expression".into())),
        }
    }

    /// A scalar operand's value at every step (NaN where it has none).
    pub(crate) fn per_step(&self, scalar: Option<&Series>) -> Vec<f64> {
        let mut out = vec![f64::NAN; self.num_steps()];
        if let Some(s) = scalar {
            for (t, v) in &s.points {
                out[((t - self.start) / self.interval) as usize] = *v;
            }
        }
        out
    }

    /// A scalar as a one-series matrix with a point at every step.
    pub(crate) fn scalar_series(&self, f: impl Fn(i64) -> f64) -> Vec<Series> {
        let points = self.step_times().map(|t| (t, f(t))).collect();
        vec![Series { labels: Arc::new(Labels::empty()), points, drop_name: false }]
    }

    /// Loads series for a selector over `[mint, maxt]`, counting samples against the limits.
    pub(crate) fn select(
        &mut self,
        vs: &ast::VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<oxeye_storage_api::SeriesSamples>, QueryError> {
        let matchers = storage_matchers(vs)?;
        let req = SelectRequest::new(matchers, mint, maxt);
        let series = self.ctx.reader.select_series(&req).map_err(|e| match e {
            oxeye_storage_api::ReadError::TooManySamples { .. } => too_many_samples(),
            other => QueryError::Internal(other.to_string()),
        })?;
        let max_series = self.ctx.opts.max_series;
        if max_series > 0 && series.len() > max_series {
            return Err(QueryError::Execution(format!(
                "query processing would load too many series into memory ({} > limit of {max_series})",
                series.len()
            )));
        }
        let n: usize = series.iter().map(|s| s.samples.len()).sum();
        self.ctx.stats.samples_loaded += n as u64;
        self.ctx.stats.series_loaded += series.len() as u64;
        self.add_samples(n)?;
        Ok(series)
    }

    pub(crate) fn add_samples(&mut self, n: usize) -> Result<(), QueryError> {
        self.ctx.current_samples += n;
        self.ctx.stats.peak_samples = self.ctx.stats.peak_samples.max(self.ctx.current_samples as u64);
        if self.ctx.current_samples > self.ctx.opts.max_samples {
            return Err(too_many_samples());
        }
        Ok(())
    }

    pub(crate) fn release_samples(&mut self, n: usize) {
        self.ctx.current_samples = self.ctx.current_samples.saturating_sub(n);
    }

    /// An instant vector selector evaluated at every step: the latest sample within the lookback window, unless
    /// it is a stale marker.
    fn eval_vector_selector(&mut self, vs: &ast::VectorSelector) -> Result<Vec<Series>, QueryError> {
        self.vector_selector_points(vs, false)
    }

    /// Evaluates a vector selector; with `keep_ts` the point value is the sample's timestamp in seconds (for
    /// `timestamp()`).
    pub(crate) fn vector_selector_points(
        &mut self,
        vs: &ast::VectorSelector,
        keep_ts: bool,
    ) -> Result<Vec<Series>, QueryError> {
        let offset = offset_ms(&vs.offset);
        let at = self.at_time(&vs.at);
        let lookback = self.ctx.opts.lookback_delta_ms;
        let (first_ref, last_ref) = match at {
            Some(t) => (t - offset, t - offset),
            None => (self.start - offset, self.end - offset),
        };
        let loaded = self.select(vs, first_ref - lookback + 1, last_ref)?;
        let loaded_count: usize = loaded.iter().map(|s| s.samples.len()).sum();
        let steps = self.num_steps();
        let mut out = Vec::with_capacity(loaded.len());
        let mut produced = 0usize;
        for s in loaded {
            self.check_deadline()?;
            let samples = &s.samples;
            let mut points = Vec::with_capacity(if at.is_some() { steps } else { steps.min(samples.len() + 1) });
            let mut idx = 0usize; // first sample with t > ref
            for ts in self.step_times() {
                let r = at.unwrap_or(ts) - offset;
                if at.is_some() {
                    idx = samples.partition_point(|x| x.timestamp_ms <= r);
                } else {
                    while idx < samples.len() && samples[idx].timestamp_ms <= r {
                        idx += 1;
                    }
                }
                if idx == 0 {
                    continue;
                }
                let smp = &samples[idx - 1];
                if smp.timestamp_ms <= r - lookback || is_stale_nan(smp.value) {
                    continue;
                }
                let v = if keep_ts { smp.timestamp_ms as f64 / 1000.0 } else { smp.value };
                points.push((ts, v));
            }
            if !points.is_empty() {
                produced += points.len();
                out.push(Series { labels: Arc::new(s.labels), points, drop_name: false });
            }
        }
        self.release_samples(loaded_count);
        self.add_samples(produced)?;
        Ok(out)
    }

    /// Loads the samples behind a range-vector expression (a matrix selector or a subquery), covering every window
    /// the current evaluation range needs.
    pub(crate) fn load_range_input(&mut self, expr: &Expr) -> Result<RangeInput, QueryError> {
        match unparen(expr) {
            Expr::MatrixSelector(ms) => {
                let vs = &ms.vs;
                let range_ms = ms.range.as_millis() as i64;
                let offset = offset_ms(&vs.offset);
                let at = self.at_time(&vs.at);
                let (first_ref, last_ref) = match at {
                    Some(t) => (t - offset, t - offset),
                    None => (self.start - offset, self.end - offset),
                };
                let loaded = self.select(vs, first_ref - range_ms + 1, last_ref)?;
                let series = loaded
                    .into_iter()
                    .map(|s| {
                        // Consuming the samples lets the collect reuse their allocation (same size and alignment).
                        let points: Vec<(i64, f64)> = s
                            .samples
                            .into_iter()
                            .filter(|x| !is_stale_nan(x.value))
                            .map(|x| (x.timestamp_ms, x.value))
                            .collect();
                        Series { labels: Arc::new(s.labels), points, drop_name: false }
                    })
                    .collect();
                Ok(RangeInput { series, range_ms, offset_ms: offset, at })
            }
            Expr::Subquery(sq) => {
                let range_ms = sq.range.as_millis() as i64;
                let offset = offset_ms(&sq.offset);
                let at = self.at_time(&sq.at);
                let step = match sq.step {
                    Some(d) if !d.is_zero() => d.as_millis() as i64,
                    _ => self.ctx.opts.no_step_subquery_interval_ms,
                };
                let parent_end = self.start + ((self.end - self.start) / self.interval) * self.interval;
                let (first_ref, last_ref) = match at {
                    Some(t) => (t - offset, t - offset),
                    None => (self.start - offset, parent_end - offset),
                };
                let lower = first_ref - range_ms;
                let mut sub_start = step * lower.div_euclid(step);
                if sub_start <= lower {
                    sub_start += step;
                }
                let mut sub = self.sub(sub_start, last_ref, step);
                let series = if sub_start > last_ref { Vec::new() } else { sub.eval(&sq.expr)?.into_matrix() };
                Ok(RangeInput { series, range_ms, offset_ms: offset, at })
            }
            other => Err(QueryError::BadData(format!(
                "expected type range vector in call to function, got {}",
                other.value_type()
            ))),
        }
    }

    /// A range vector returned directly by an instant query: the raw samples in each series' window.
    fn instant_range_vector(&mut self, input: RangeInput) -> Vec<Series> {
        let r = input.at.unwrap_or(self.start) - input.offset_ms;
        let lo = r - input.range_ms;
        input
            .series
            .into_iter()
            .filter_map(|mut s| {
                s.points.retain(|p| p.0 > lo && p.0 <= r);
                (!s.points.is_empty()).then_some(s)
            })
            .collect()
    }

    /// Prometheus's `rangeEval`: evaluates `args`, then calls `f` once per step with each argument's vector at that
    /// step, and collects the returned samples into output series. `sigs` are the join signatures of each
    /// argument's series (for binary operators), passed through per step.
    pub(crate) fn range_eval(
        &mut self,
        inputs: Vec<Vec<Series>>,
        sig_fn: Option<&SigFn>,
        mut f: impl FnMut(&[Vec<Sample>], &[Vec<usize>], i64, &mut Annotations) -> Result<Vec<Sample>, QueryError>,
    ) -> Result<Vec<Series>, QueryError> {
        let steps = self.num_steps();
        // Signature ordinals per input series.
        let mut sig_ords: Vec<Vec<usize>> = Vec::with_capacity(inputs.len());
        if let Some(sig_fn) = sig_fn {
            let mut map: HashMap<Vec<u8>, usize> = HashMap::new();
            for input in &inputs {
                let mut ords = Vec::with_capacity(input.len());
                for s in input {
                    let sig = sig_fn(&s.labels);
                    let next = map.len();
                    ords.push(*map.entry(sig).or_insert(next));
                }
                sig_ords.push(ords);
            }
        }
        let mut cursors: Vec<Vec<usize>> = inputs.iter().map(|m| vec![0; m.len()]).collect();
        let mut vectors: Vec<Vec<Sample>> = vec![Vec::new(); inputs.len()];
        let mut step_sigs: Vec<Vec<usize>> = vec![Vec::new(); inputs.len()];
        let instant = self.start == self.end;
        let mut out: Vec<Series> = Vec::new();
        // Output series by label set, and (the fast path) by the address of a label set already seen; the map
        // holds a clone of each Arc so an address cannot be reused for other labels while it is a key.
        let mut index: HashMap<Arc<Labels>, usize> = HashMap::new();
        let mut by_ptr: HashMap<*const Labels, (usize, Arc<Labels>)> = HashMap::new();
        let mut last_ts: Vec<i64> = Vec::new();
        let mut annos = Annotations::default();
        for (step_no, ts) in self.step_times().enumerate() {
            if step_no % 256 == 0 {
                self.check_deadline()?;
            }
            for (i, input) in inputs.iter().enumerate() {
                let v = &mut vectors[i];
                v.clear();
                step_sigs[i].clear();
                for (si, s) in input.iter().enumerate() {
                    let c = &mut cursors[i][si];
                    if *c < s.points.len() && s.points[*c].0 == ts {
                        v.push(Sample { labels: s.labels.clone(), t: ts, f: s.points[*c].1, drop_name: s.drop_name });
                        if sig_fn.is_some() {
                            step_sigs[i].push(sig_ords[i][si]);
                        }
                        *c += 1;
                    }
                }
            }
            let result = f(&vectors, &step_sigs, ts, &mut annos)?;
            if instant {
                self.ctx.annos.merge(annos);
                let mut mat: Vec<Series> = Vec::with_capacity(result.len());
                for s in result {
                    mat.push(Series { labels: s.labels, points: vec![(ts, s.f)], drop_name: s.drop_name });
                }
                return Ok(mat);
            }
            for s in result {
                let ptr = Arc::as_ptr(&s.labels);
                let i = match by_ptr.get(&ptr) {
                    Some((i, _)) => *i,
                    None => {
                        let i = match index.get(&s.labels) {
                            Some(&i) => i,
                            None => {
                                index.insert(s.labels.clone(), out.len());
                                out.push(Series {
                                    labels: s.labels.clone(),
                                    points: Vec::with_capacity(steps.min(64)),
                                    drop_name: s.drop_name,
                                });
                                last_ts.push(i64::MIN);
                                out.len() - 1
                            }
                        };
                        by_ptr.insert(ptr, (i, s.labels.clone()));
                        i
                    }
                };
                if last_ts[i] == ts {
                    return Err(dup_labelset());
                }
                last_ts[i] = ts;
                out[i].points.push((ts, s.f));
            }
        }
        self.ctx.annos.merge(annos);
        Ok(out)
    }
}

/// Computes a series' join signature for vector matching.
pub(crate) type SigFn = dyn Fn(&Labels) -> Vec<u8>;

/// Fails once the deadline has passed or the caller has canceled the query.
pub(crate) fn check_limits(
    deadline: Instant,
    cancel: &Option<Arc<std::sync::atomic::AtomicBool>>,
) -> Result<(), QueryError> {
    if cancel.as_ref().is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
        return Err(QueryError::Canceled("expression evaluation"));
    }
    if Instant::now() > deadline {
        return Err(QueryError::Timeout("expression evaluation"));
    }
    Ok(())
}

pub(crate) fn too_many_samples() -> QueryError {
    QueryError::Execution("query processing would load too many samples into memory in query execution".into())
}
