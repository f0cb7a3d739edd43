//! PromQL functions, with Prometheus's exact arithmetic (extrapolation in `rate`/`increase`/`delta`, Kahan sums,
//! overflow-safe means, classic-histogram quantiles and fractions, label functions, date functions).
//!
//! Native histograms are not stored by oxeye, so only the float paths exist; functions that only act on native
//! histograms (`histogram_count`, `histogram_sum`, …) return nothing for float input, as in Prometheus.

use std::collections::HashMap;
use std::sync::Arc;

use oxeye_model::{Label, Labels};
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Call, Expr, value::ValueType};

use crate::QueryError;
use crate::aggregate::nan_last;
use crate::annotations::Annotations;
use crate::binary::{go_quote, set_label};
use crate::engine::{Ev, RangeInput, Sample, Series, merge_same_labelset, unparen};

/// Neumaier-compensated addition (Prometheus's `kahansum.Inc`).
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Prometheus's `quantile` over float values (sorts `values`).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `%g` for the values that appear in messages.
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        let exp = if v == 0.0 { 0 } else { v.abs().log10().floor() as i32 };
        if !(-4..21).contains(&exp) {
            let s = format!("{v:e}");
            // Go writes e+21 / e-05.
            match s.split_once('e') {
                Some((m, e)) => {
                    let (sign, digits) = if let Some(d) = e.strip_prefix('-') { ('-', d) } else { ('+', e) };
                    format!("{m}e{sign}{digits:0>2}")
                }
                None => s,
            }
        } else {
            format!("{v}")
        }
    }
}

/// Prometheus's `labels.FormatOpenMetricsFloat`: shortest form, with `.0` on integral values.
pub(crate) fn format_openmetrics_float(v: f64) -> String {
    let s = go_g(v);
    if v.is_finite() && !s.contains(['.', 'e']) { format!("{s}.0") } else { s }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)` (used for label values and API output).
pub(crate) fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn metric_name(labels: &Labels) -> &str {
    labels.get("__name__").unwrap_or("")
}

fn string_arg(e: &Expr) -> Result<String, QueryError> {
    match unparen(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        other => Err(QueryError::BadData(format!("expected string literal, got {}", other.value_type()))),
    }
}

fn is_range_arg(e: &Expr) -> bool {
    matches!(unparen(e), Expr::MatrixSelector(_) | Expr::Subquery(_))
}

/// Labels `absent()`/`absent_over_time()` return: the equality matchers of the selector (other than the name) that
/// name a label only once.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unparen(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut out: Vec<Label> = Vec::new();
    let mut has: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, PMatchOp::Equal) && !has.contains(m.name.as_str()) {
            out.retain(|l| l.name != m.name);
            if !m.value.is_empty() {
                out.push(Label::new(m.name.clone(), m.value.clone()));
            }
            has.insert(&m.name);
        } else {
            out.retain(|l| l.name != m.name);
        }
    }
    out.sort();
    Labels::from_sorted_unchecked(out)
}

pub(crate) fn eval_call(ev: &mut Ev, call: &Call) -> Result<Vec<Series>, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|b| b.as_ref()).collect();

    match name {
        "timestamp" => {
            if let Expr::VectorSelector(vs) = unparen(args[0]) {
                let mut mat = ev.vector_selector_points(vs, true)?;
                for s in &mut mat {
                    s.drop_name = true;
                }
                return Ok(mat);
            }
        }
        "start" | "end" | "range" | "step" => {
            let c = &ev.ctx;
            let v = match name {
                "start" => c.query_start as f64 / 1000.0,
                "end" => c.query_end as f64 / 1000.0,
                "range" => (c.query_end - c.query_start) as f64 / 1000.0,
                _ if c.query_start != c.query_end => c.query_step as f64 / 1000.0,
                _ => 0.0,
            };
            return Ok(ev.scalar_series(|_| v));
        }
        "label_replace" => return label_replace(ev, &args),
        "label_join" => return label_join(ev, &args),
        "info" => {
            return Err(QueryError::BadData("function \"info\" is experimental and not supported by oxeye".into()));
        }
        _ => {}
    }
    if matches!(name, "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc") && ev.start != ev.end {
        ev.ctx.annos.warn("sort is ineffective for range queries since results are always ordered by labels");
    }

    if let Some(f) = elementwise(name)
        && !(matches!(
            name,
            "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute" | "days_in_month"
        ) && args.is_empty())
    {
        // One output point per input point with the same labels: transform series by series.
        let input = ev.eval(args[0])?.into_matrix();
        let scalars: Vec<Vec<f64>> = args[1..]
            .iter()
            .map(|a| ev.eval(a).map(|v| ev.per_step(v.into_matrix().first())))
            .collect::<Result<_, _>>()?;
        let (start, interval) = (ev.start, ev.interval);
        let mut out = Vec::with_capacity(input.len());
        let mut sc = vec![0.0; scalars.len()];
        for mut s in input {
            s.points.retain_mut(|p| {
                let step = ((p.0 - start) / interval) as usize;
                for (j, a) in scalars.iter().enumerate() {
                    sc[j] = a[step];
                }
                match f(p.1, p.0, &sc) {
                    Some(v) => {
                        p.1 = v;
                        true
                    }
                    None => false,
                }
            });
            if !s.points.is_empty() {
                s.drop_name = true;
                out.push(s);
            }
        }
        return Ok(out);
    }

    match args.iter().position(|a| is_range_arg(a)) {
        None => {
            let mut inputs = Vec::with_capacity(args.len());
            for a in &args {
                if a.value_type() == ValueType::String {
                    inputs.push(Vec::new());
                } else {
                    inputs.push(ev.eval(a)?.into_matrix());
                }
            }
            let args_owned: Vec<Expr> = args.iter().map(|a| (*a).clone()).collect();
            let mut buckets = BucketCache::default();
            ev.range_eval(inputs, None, |v, _, ts, annos| vector_fn(name, v, &args_owned, ts, annos, &mut buckets))
        }
        Some(idx) => range_call(ev, name, &args, idx),
    }
}

/// A function over a range vector, evaluated series by series over every step.
fn range_call(ev: &mut Ev, name: &str, args: &[&Expr], idx: usize) -> Result<Vec<Series>, QueryError> {
    // Scalar arguments at every step.
    let steps = ev.num_steps();
    let mut scalar_args: Vec<Vec<f64>> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i == idx {
            continue;
        }
        let m = ev.eval(a)?.into_matrix();
        let mut per_step = vec![f64::NAN; steps];
        if let Some(s) = m.first() {
            for (t, v) in &s.points {
                per_step[((t - ev.start) / ev.interval) as usize] = *v;
            }
        }
        scalar_args.push(per_step);
    }
    let input: RangeInput = ev.load_range_input(args[idx])?;
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let step_times: Vec<i64> = ev.step_times().collect();
    let deadline = ev.ctx.deadline;
    let cancel = &ev.ctx.opts.cancel;
    let job = RangeJob {
        name,
        input: &input,
        step_times: &step_times,
        scalar_args: &scalar_args,
        keeps_name,
        deadline,
        cancel,
    };
    // Work is series × steps; split it across cores when there is enough of it to pay for the threads.
    let work: usize = input.series.iter().map(|s| s.points.len() + step_times.len()).sum();
    let threads = ev.ctx.opts.parallelism.max(1).min(input.series.len().max(1));
    let (out, annos) = if threads > 1 && work > 200_000 {
        let chunk = input.series.len().div_ceil(threads);
        let results: Vec<Result<(Vec<Series>, Annotations), QueryError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = input
                .series
                .chunks(chunk)
                .map(|part| {
                    let job = &job;
                    scope.spawn(move || job.run(part))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("range function worker panicked")).collect()
        });
        let mut out = Vec::with_capacity(input.series.len());
        let mut annos = Annotations::default();
        for r in results {
            let (o, a) = r?;
            out.extend(o);
            annos.merge(a);
        }
        (out, annos)
    } else {
        job.run(&input.series)?
    };
    let produced: usize = out.iter().map(|s| s.points.len()).sum();
    ev.ctx.annos.merge(annos);
    let loaded: usize = input.series.iter().map(|s| s.points.len()).sum();
    ev.release_samples(loaded);
    ev.add_samples(produced)?;

    if name == "absent_over_time" {
        let mut found = std::collections::HashSet::new();
        for s in &out {
            if s.points.len() == steps {
                return Ok(Vec::new());
            }
            for p in &s.points {
                found.insert(p.0);
            }
        }
        let points: Vec<(i64, f64)> = step_times.iter().filter(|t| !found.contains(*t)).map(|t| (*t, 1.0)).collect();
        if points.is_empty() {
            return Ok(Vec::new());
        }
        return Ok(vec![Series { labels: Arc::new(absent_labels(args[idx])), points, drop_name: true }]);
    }
    Ok(out)
}

/// A range-vector function applied to a set of series; `run` may be called on disjoint parts from several threads.
struct RangeJob<'j> {
    name: &'j str,
    input: &'j RangeInput,
    step_times: &'j [i64],
    scalar_args: &'j [Vec<f64>],
    keeps_name: bool,
    deadline: std::time::Instant,
    cancel: &'j Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl RangeJob<'_> {
    fn run(&self, series: &[Series]) -> Result<(Vec<Series>, Annotations), QueryError> {
        let input = self.input;
        let mut out: Vec<Series> = Vec::with_capacity(series.len());
        let mut annos = Annotations::default();
        let mut scalars = vec![0.0; self.scalar_args.len()];
        let counter_fn = matches!(self.name, "rate" | "increase");
        let is_rate = self.name == "rate";
        // Reused across series: resets_before[i] = number of counter drops among samples 0..=i.
        let mut resets_before: Vec<u32> = Vec::new();
        for (series_no, s) in series.iter().enumerate() {
            if series_no % 64 == 0 {
                crate::engine::check_limits(self.deadline, self.cancel)?;
            }
            let pts = &s.points;
            // At most one point per step whose window can hold a sample of this series.
            let mut points: Vec<(i64, f64)> = match (pts.first(), pts.last(), input.at) {
                (Some(first), Some(last), None) => {
                    let from = self.step_times.partition_point(|t| t - input.offset_ms < first.0);
                    let to = self.step_times.partition_point(|t| t - input.offset_ms - input.range_ms < last.0);
                    Vec::with_capacity(to.saturating_sub(from))
                }
                _ => Vec::with_capacity(self.step_times.len().min(64)),
            };
            let (mut lo, mut hi) = (0usize, 0usize);
            // For counter functions the prefix count of drops lets a window tell in O(1) whether it needs
            // Prometheus's (sequential) reset correction at all.
            if counter_fn {
                resets_before.clear();
                resets_before.reserve(pts.len());
                let mut acc = 0u32;
                let mut previous = pts.first().map_or(0.0, |p| p.1);
                for point in pts {
                    acc += u32::from(point.1 < previous);
                    previous = point.1;
                    resets_before.push(acc);
                }
            }
            for (step, &ts) in self.step_times.iter().enumerate() {
                let range_end = input.at.unwrap_or(ts) - input.offset_ms;
                let range_start = range_end - input.range_ms;
                if input.at.is_some() {
                    lo = pts.partition_point(|p| p.0 <= range_start);
                    hi = pts.partition_point(|p| p.0 <= range_end);
                } else {
                    while lo < pts.len() && pts[lo].0 <= range_start {
                        lo += 1;
                    }
                    hi = hi.max(lo);
                    while hi < pts.len() && pts[hi].0 <= range_end {
                        hi += 1;
                    }
                }
                if hi <= lo {
                    continue;
                }
                for (j, a) in self.scalar_args.iter().enumerate() {
                    scalars[j] = a[step];
                }
                let has_reset = counter_fn.then(|| resets_before[hi - 1] != resets_before[lo]);
                let w =
                    Window { points: &pts[lo..hi], has_reset, ts, range_start, range_end, range_ms: input.range_ms };
                let value = if counter_fn {
                    // The hot case of dashboards, called directly rather than through the by-name dispatch.
                    extrapolated_rate(&w, true, is_rate)
                } else {
                    range_fn(self.name, &w, &scalars, &s.labels, &mut annos)?
                };
                if let Some(v) = value {
                    points.push((ts, v));
                }
            }
            if points.is_empty() {
                continue;
            }
            if matches!(self.name, "rate" | "increase") {
                let mn = metric_name(&s.labels);
                if !mn.is_empty()
                    && !mn.ends_with("_total")
                    && !mn.ends_with("_sum")
                    && !mn.ends_with("_count")
                    && !mn.ends_with("_bucket")
                {
                    annos.info(format!(
                        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}",
                        go_quote(mn)
                    ));
                }
            }
            out.push(Series { labels: s.labels.clone(), points, drop_name: !self.keeps_name || s.drop_name });
        }
        Ok((out, annos))
    }
}

/// One evaluation window of a range-vector function.
struct Window<'p> {
    points: &'p [(i64, f64)],
    /// Whether some sample in the window is lower than the one before it (a counter reset); `None` if unknown.
    has_reset: Option<bool>,
    ts: i64,
    range_start: i64,
    range_end: i64,
    range_ms: i64,
}

fn range_fn(
    name: &str,
    w: &Window,
    scalars: &[f64],
    labels: &Labels,
    annos: &mut Annotations,
) -> Result<Option<f64>, QueryError> {
    let p = w.points;
    let v = |i: usize| p[i].1;
    Ok(match name {
        "rate" => extrapolated_rate(w, true, true),
        "increase" => extrapolated_rate(w, true, false),
        "delta" => extrapolated_rate(w, false, false),
        "irate" => instant_value(p, true),
        "idelta" => instant_value(p, false),
        "avg_over_time" => Some(avg_over_time(p)),
        "count_over_time" => Some(p.len() as f64),
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for x in p {
                (sum, c) = kahan_inc(x.1, sum, c);
            }
            Some(if sum.is_infinite() { sum } else { sum + c })
        }
        "min_over_time" => Some(compare_over_time(p, |cur, m| cur < m || m.is_nan(), false)),
        "max_over_time" => Some(compare_over_time(p, |cur, m| cur > m || m.is_nan(), false)),
        "ts_of_min_over_time" => Some(compare_over_time(p, |cur, m| cur <= m || m.is_nan(), true)),
        "ts_of_max_over_time" => Some(compare_over_time(p, |cur, m| cur >= m || m.is_nan(), true)),
        "ts_of_first_over_time" => Some(p[0].0 as f64 / 1000.0),
        "ts_of_last_over_time" => Some(p[p.len() - 1].0 as f64 / 1000.0),
        "first_over_time" => Some(v(0)),
        "last_over_time" => Some(v(p.len() - 1)),
        "present_over_time" | "absent_over_time" => Some(1.0),
        "stddev_over_time" => Some(variance_over_time(p).sqrt()),
        "stdvar_over_time" => Some(variance_over_time(p)),
        "quantile_over_time" => {
            let q = scalars[0];
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                annos.warn(format!("quantile value should be between 0 and 1, got {}", go_g(q)));
            }
            let mut values: Vec<f64> = p.iter().map(|x| x.1).collect();
            Some(quantile(q, &mut values))
        }
        "mad_over_time" => {
            if p.iter().any(|x| x.1.is_nan()) {
                Some(f64::NAN)
            } else {
                let mut values: Vec<f64> = p.iter().map(|x| x.1).collect();
                let median = quantile(0.5, &mut values);
                for x in values.iter_mut() {
                    *x = (*x - median).abs();
                }
                Some(quantile(0.5, &mut values))
            }
        }
        "changes" => {
            let mut changes = 0;
            for i in 1..p.len() {
                let (prev, cur) = (p[i - 1].1, p[i].1);
                if cur != prev && !(cur.is_nan() && prev.is_nan()) {
                    changes += 1;
                }
            }
            Some(changes as f64)
        }
        "resets" => {
            let mut resets = 0;
            for i in 1..p.len() {
                if p[i].1 < p[i - 1].1 {
                    resets += 1;
                }
            }
            Some(resets as f64)
        }
        "deriv" => {
            if p.len() < 2 {
                None
            } else {
                Some(linear_regression(p, p[0].0).0)
            }
        }
        "predict_linear" => {
            if p.len() < 2 {
                None
            } else {
                let (slope, intercept) = linear_regression(p, w.ts);
                Some(slope * scalars[0] + intercept)
            }
        }
        "double_exponential_smoothing" => {
            let (sf, tf) = (scalars[0], scalars[1]);
            if sf <= 0.0 || sf >= 1.0 || sf.is_nan() {
                return Err(QueryError::Execution(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                )));
            }
            if tf <= 0.0 || tf >= 1.0 || tf.is_nan() {
                return Err(QueryError::Execution(format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}")));
            }
            if p.len() < 2 {
                None
            } else {
                let (mut s0, mut s1) = (0.0, v(0));
                let mut b = v(1) - v(0);
                for (i, x) in p.iter().enumerate().skip(1) {
                    let xs = sf * x.1;
                    b = if i - 1 == 0 { b } else { tf * (s1 - s0) + (1.0 - tf) * b };
                    let y = (1.0 - sf) * (s1 + b);
                    s0 = s1;
                    s1 = xs + y;
                }
                Some(s1)
            }
        }
        other => {
            let _ = labels;
            return Err(QueryError::BadData(format!("function {other:?} is not supported over a range vector")));
        }
    })
}

/// `rate`, `increase` and `delta` with Prometheus's extrapolation to the window edges.
fn extrapolated_rate(w: &Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    let p = w.points;
    if p.len() < 2 {
        return None;
    }
    let n_minus_one = p.len() - 1;
    let (first_t, last_t) = (p[0].0, p[n_minus_one].0);
    let mut result = p[n_minus_one].1 - p[0].1;
    if is_counter && w.has_reset != Some(false) {
        for i in 1..p.len() {
            if p[i].1 < p[i - 1].1 {
                result += p[i - 1].1;
            }
        }
    }
    let mut duration_to_start = (first_t - w.range_start) as f64 / 1000.0;
    let mut duration_to_end = (w.range_end - last_t) as f64 / 1000.0;
    let sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let avg_between = sampled_interval / n_minus_one as f64;
    let threshold = avg_between * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = avg_between / 2.0;
    }
    if is_counter {
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && p[0].1 >= 0.0 {
            duration_to_zero = sampled_interval * (p[0].1 / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = avg_between / 2.0;
    }
    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if is_rate {
        factor /= w.range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` / `idelta`: the last two samples.
fn instant_value(p: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (a, b) = (p[p.len() - 2], p[p.len() - 1]);
    let interval = b.0 - a.0;
    if interval == 0 {
        return None;
    }
    let mut result = b.1;
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must take this branch, as in Prometheus.
    if !is_rate || !(b.1 < a.1) {
        result = b.1 - a.1;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

fn avg_over_time(p: &[(i64, f64)]) -> f64 {
    let (mut sum, mut count) = (p[0].1, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, x) in p.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(x.1, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(x.1 / count, q * mean, q * c);
    }
    if incremental { mean + c } else { sum / count + c / count }
}

fn compare_over_time(p: &[(i64, f64)], better: impl Fn(f64, f64) -> bool, return_ts: bool) -> f64 {
    let (mut best, mut best_t) = (p[0].1, p[0].0);
    for x in p {
        if better(x.1, best) {
            best = x.1;
            best_t = x.0;
        }
    }
    if return_ts { best_t as f64 / 1000.0 } else { best }
}

fn variance_over_time(p: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for x in p {
        count += 1.0;
        let delta = x.1 - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (x.1 - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Least-squares slope and intercept (at `intercept_time`), Prometheus's `linearRegression`.
fn linear_regression(p: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = p[0].1;
    let mut const_y = true;
    for (i, s) in p.iter().enumerate() {
        if const_y && i > 0 && s.1 != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.0 - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(s.1, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * s.1, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn simple(v: &[Sample], f: impl Fn(f64) -> f64) -> Vec<Sample> {
    v.iter().map(|s| Sample { labels: s.labels.clone(), t: s.t, f: f(s.f), drop_name: true }).collect()
}

fn scalar_at(v: &[Vec<Sample>], i: usize) -> f64 {
    v.get(i).and_then(|x| x.first()).map(|s| s.f).unwrap_or(f64::NAN)
}

fn empty_labels() -> Arc<Labels> {
    Arc::new(Labels::empty())
}

fn date_parts(secs: f64) -> Option<(i64, u32, u32, u32, u32, u32, i64)> {
    // (year, month, day, hour, minute, weekday, day_of_year)
    if !secs.is_finite() {
        return None;
    }
    let s = secs as i64;
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    let (y, m, d) = oxeye_model::time::civil_from_days(days);
    let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday.
    let doy = days - oxeye_model::time::days_from_civil(y, 1, 1) + 1;
    Some((y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32, weekday, doy))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

fn date_fn(name: &str, secs: f64) -> f64 {
    let Some((y, m, d, h, min, wd, doy)) = date_parts(secs.trunc()) else {
        return f64::NAN;
    };
    match name {
        "year" => y as f64,
        "month" => m as f64,
        "day_of_month" => d as f64,
        "day_of_week" => wd as f64,
        "day_of_year" => doy as f64,
        "hour" => h as f64,
        "minute" => min as f64,
        "days_in_month" => days_in_month(y, m) as f64,
        _ => f64::NAN,
    }
}

/// Natural-order comparison of label values (the `natsort` package Prometheus uses): `a < b`.
fn natsort_less(a: &str, b: &str) -> bool {
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                if start < i {
                    out.push(&s[start..i]);
                }
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        if i >= cb.len() {
            return false;
        }
        let y = cb[i];
        if let (Ok(xi), Ok(yi)) = (x.parse::<i64>(), y.parse::<i64>()) {
            if xi == yi {
                if i == ca.len() - 1 {
                    return true;
                } else if i == cb.len() - 1 {
                    return false;
                }
                continue;
            }
            return xi < yi;
        }
        if *x == y {
            if i == ca.len() - 1 {
                return true;
            } else if i == cb.len() - 1 {
                return false;
            }
            continue;
        }
        return *x < y;
    }
    false
}

/// An element-wise function: value, the point's time (the step) and the scalar arguments at that step → the new
/// value, or `None` to drop the point.
type Elementwise = fn(f64, i64, &[f64]) -> Option<f64>;

/// Functions that map each input sample to one output sample with the same labels (and mark the name for
/// removal), which can run series by series instead of step by step.
fn elementwise(name: &str) -> Option<Elementwise> {
    Some(match name {
        "abs" => |x, _, _| Some(x.abs()),
        "ceil" => |x, _, _| Some(x.ceil()),
        "floor" => |x, _, _| Some(x.floor()),
        "exp" => |x, _, _| Some(x.exp()),
        "sqrt" => |x, _, _| Some(x.sqrt()),
        "ln" => |x, _, _| Some(x.ln()),
        "log2" => |x, _, _| Some(x.log2()),
        "log10" => |x, _, _| Some(x.log10()),
        "sin" => |x, _, _| Some(x.sin()),
        "cos" => |x, _, _| Some(x.cos()),
        "tan" => |x, _, _| Some(x.tan()),
        "asin" => |x, _, _| Some(x.asin()),
        "acos" => |x, _, _| Some(x.acos()),
        "atan" => |x, _, _| Some(x.atan()),
        "sinh" => |x, _, _| Some(x.sinh()),
        "cosh" => |x, _, _| Some(x.cosh()),
        "tanh" => |x, _, _| Some(x.tanh()),
        "asinh" => |x, _, _| Some(x.asinh()),
        "acosh" => |x, _, _| Some(x.acosh()),
        "atanh" => |x, _, _| Some(x.atanh()),
        "deg" => |x, _, _| Some(x * 180.0 / std::f64::consts::PI),
        "rad" => |x, _, _| Some(x * std::f64::consts::PI / 180.0),
        "sgn" => |x, _, _| {
            Some(if x < 0.0 {
                -1.0
            } else if x > 0.0 {
                1.0
            } else {
                x
            })
        },
        "round" => |x, _, a| {
            let to_nearest = a.first().copied().unwrap_or(1.0);
            let inv = 1.0 / to_nearest;
            Some((x * inv + 0.5).floor() / inv)
        },
        "clamp" => |x, _, a| (a[1] >= a[0]).then(|| a[0].max(a[1].min(x))),
        "clamp_min" => |x, _, a| Some(a[0].max(f64::INFINITY.min(x))),
        "clamp_max" => |x, _, a| Some(f64::NEG_INFINITY.max(a[0].min(x))),
        "timestamp" => |_, t, _| Some(t as f64 / 1000.0),
        "year" => |x, _, _| Some(date_fn("year", x)),
        "month" => |x, _, _| Some(date_fn("month", x)),
        "day_of_month" => |x, _, _| Some(date_fn("day_of_month", x)),
        "day_of_week" => |x, _, _| Some(date_fn("day_of_week", x)),
        "day_of_year" => |x, _, _| Some(date_fn("day_of_year", x)),
        "hour" => |x, _, _| Some(date_fn("hour", x)),
        "minute" => |x, _, _| Some(date_fn("minute", x)),
        "days_in_month" => |x, _, _| Some(date_fn("days_in_month", x)),
        _ => return None,
    })
}

/// Functions over instant vectors and scalars, one step at a time.
fn vector_fn(
    name: &str,
    v: &[Vec<Sample>],
    args: &[Expr],
    ts: i64,
    annos: &mut Annotations,
    buckets: &mut BucketCache,
) -> Result<Vec<Sample>, QueryError> {
    let one = |f: f64| vec![Sample { labels: empty_labels(), t: ts, f, drop_name: false }];
    Ok(match name {
        "abs" => simple(&v[0], f64::abs),
        "ceil" => simple(&v[0], f64::ceil),
        "floor" => simple(&v[0], f64::floor),
        "exp" => simple(&v[0], f64::exp),
        "sqrt" => simple(&v[0], f64::sqrt),
        "ln" => simple(&v[0], f64::ln),
        "log2" => simple(&v[0], f64::log2),
        "log10" => simple(&v[0], f64::log10),
        "sin" => simple(&v[0], f64::sin),
        "cos" => simple(&v[0], f64::cos),
        "tan" => simple(&v[0], f64::tan),
        "asin" => simple(&v[0], f64::asin),
        "acos" => simple(&v[0], f64::acos),
        "atan" => simple(&v[0], f64::atan),
        "sinh" => simple(&v[0], f64::sinh),
        "cosh" => simple(&v[0], f64::cosh),
        "tanh" => simple(&v[0], f64::tanh),
        "asinh" => simple(&v[0], f64::asinh),
        "acosh" => simple(&v[0], f64::acosh),
        "atanh" => simple(&v[0], f64::atanh),
        "deg" => simple(&v[0], |x| x * 180.0 / std::f64::consts::PI),
        "rad" => simple(&v[0], |x| x * std::f64::consts::PI / 180.0),
        "sgn" => simple(&v[0], |x| {
            if x < 0.0 {
                -1.0
            } else if x > 0.0 {
                1.0
            } else {
                x
            }
        }),
        "round" => {
            let to_nearest = if args.len() >= 2 { scalar_at(v, 1) } else { 1.0 };
            let inv = 1.0 / to_nearest;
            simple(&v[0], |x| (x * inv + 0.5).floor() / inv)
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let (lo, hi) = match name {
                "clamp" => (scalar_at(v, 1), scalar_at(v, 2)),
                "clamp_min" => (scalar_at(v, 1), f64::INFINITY),
                _ => (f64::NEG_INFINITY, scalar_at(v, 1)),
            };
            if hi < lo { Vec::new() } else { simple(&v[0], |x| lo.max(hi.min(x))) }
        }
        "timestamp" => v[0]
            .iter()
            .map(|s| Sample { labels: s.labels.clone(), t: s.t, f: s.t as f64 / 1000.0, drop_name: true })
            .collect(),
        "time" => one(ts as f64 / 1000.0),
        "max_of" | "min_of" => {
            let (a, b) = (scalar_at(v, 0), scalar_at(v, 1));
            let r = if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if name == "max_of" {
                a.max(b)
            } else {
                a.min(b)
            };
            one(r)
        }
        "pi" => one(std::f64::consts::PI),
        "vector" => one(scalar_at(v, 0)),
        "scalar" => {
            let value = if v[0].len() == 1 { v[0][0].f } else { f64::NAN };
            one(value)
        }
        "absent" => {
            if v[0].is_empty() {
                vec![Sample { labels: Arc::new(absent_labels(&args[0])), t: ts, f: 1.0, drop_name: false }]
            } else {
                Vec::new()
            }
        }
        "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute" | "days_in_month" => {
            if args.is_empty() {
                one(date_fn(name, (ts / 1000) as f64))
            } else {
                v[0].iter()
                    .map(|s| Sample { labels: s.labels.clone(), t: s.t, f: date_fn(name, s.f), drop_name: true })
                    .collect()
            }
        }
        "sort" => {
            let mut out = v[0].clone();
            out.sort_by(|a, b| nan_last(a.f, b.f, false));
            out
        }
        "sort_desc" => {
            let mut out = v[0].clone();
            out.sort_by(|a, b| nan_last(a.f, b.f, true));
            out
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let names: Vec<String> = args[1..].iter().map(string_arg).collect::<Result<_, _>>()?;
            let desc = name == "sort_by_label_desc";
            let mut out = v[0].clone();
            out.sort_by(|a, b| {
                for n in &names {
                    let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                    if x == y {
                        continue;
                    }
                    let less = natsort_less(x, y);
                    let ord = if less { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
                    return if desc { ord.reverse() } else { ord };
                }
                let ord = a.labels.cmp(&b.labels);
                if desc { ord.reverse() } else { ord }
            });
            out
        }
        "histogram_quantile" => {
            let q = scalar_at(v, 0);
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                annos.warn(format!("quantile value should be between 0 and 1, got {}", go_g(q)));
            }
            classic_histograms(&v[1], annos, buckets)
                .into_iter()
                .map(|(labels, mut buckets)| {
                    let (value, forced) = bucket_quantile(q, &mut buckets);
                    if forced {
                        annos.info(format!(
                            "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {}",
                            go_quote(metric_name(&labels))
                        ));
                    }
                    Sample { labels, t: ts, f: value, drop_name: true }
                })
                .collect()
        }
        "histogram_fraction" => {
            let (lower, upper) = (scalar_at(v, 0), scalar_at(v, 1));
            classic_histograms(&v[2], annos, buckets)
                .into_iter()
                .map(|(labels, mut buckets)| Sample {
                    labels,
                    t: ts,
                    f: bucket_fraction(lower, upper, &mut buckets),
                    drop_name: true,
                })
                .collect()
        }
        "histogram_quantiles" => {
            let label = string_arg(&args[1])?;
            let qs: Vec<f64> = (2..args.len()).map(|i| scalar_at(v, i)).collect();
            for &q in &qs {
                if q.is_nan() || !(0.0..=1.0).contains(&q) {
                    annos.warn(format!("quantile value should be between 0 and 1, got {}", go_g(q)));
                }
            }
            let hists = classic_histograms(&v[0], annos, buckets);
            let mut out = Vec::with_capacity(hists.len() * qs.len());
            for &q in &qs {
                for (labels, buckets) in &hists {
                    let mut buckets = buckets.clone();
                    let (value, forced) = bucket_quantile(q, &mut buckets);
                    if forced {
                        annos.info(format!(
                            "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {}",
                            go_quote(metric_name(labels))
                        ));
                    }
                    let mut lbls: Vec<Label> = labels.iter().cloned().collect();
                    set_label(&mut lbls, &label, Some(&format_openmetrics_float(q)));
                    out.push(Sample {
                        labels: Arc::new(Labels::from_sorted_unchecked(lbls)),
                        t: ts,
                        f: value,
                        drop_name: true,
                    });
                }
            }
            out
        }
        // Native-histogram-only functions: nothing for float samples.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => Vec::new(),
        other => return Err(QueryError::BadData(format!("function {other:?} is not supported"))),
    })
}

/// A classic histogram at one step: its labels without `le` and its (upper bound, cumulative count) buckets.
type ClassicHistogram = (Arc<Labels>, Vec<(f64, f64)>);

/// What a bucket series contributes, computed once per series for all steps: its parsed `le` (or the raw value
/// when it does not parse) and the histogram (labels without `le`) it belongs to. Keyed by the address of the
/// series' label set, which is kept alive here so the address cannot be reused.
#[derive(Default)]
pub(crate) struct BucketCache {
    by_series: HashMap<*const Labels, BucketSeries>,
    histograms: HashMap<Labels, usize>,
    histogram_labels: Vec<Arc<Labels>>,
}

/// A bucket series: its upper bound (or the `le` value that failed to parse), its histogram's id, and its labels.
type BucketSeries = (Result<f64, String>, usize, Arc<Labels>);

/// Groups classic-histogram bucket samples by their labels without `le` (in order of first appearance); warns
/// about unparsable `le` values.
fn classic_histograms(v: &[Sample], annos: &mut Annotations, cache: &mut BucketCache) -> Vec<ClassicHistogram> {
    let mut slot: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<ClassicHistogram> = Vec::new();
    for s in v {
        let key = Arc::as_ptr(&s.labels);
        if !cache.by_series.contains_key(&key) {
            let le = s.labels.get("le").unwrap_or("");
            let parsed = parse_go_float(le).ok_or_else(|| le.to_string());
            let without_le =
                Labels::from_sorted_unchecked(s.labels.iter().filter(|l| l.name != "le").cloned().collect());
            let next = cache.histograms.len();
            let id = *cache.histograms.entry(without_le.clone()).or_insert(next);
            if id == cache.histogram_labels.len() {
                cache.histogram_labels.push(Arc::new(without_le));
            }
            cache.by_series.insert(key, (parsed, id, s.labels.clone()));
        }
        let (parsed, id, _) = &cache.by_series[&key];
        let upper = match parsed {
            Ok(upper) => *upper,
            Err(le) => {
                annos.warn(format!(
                    "bucket label \"le\" is missing or has a malformed value of {} for metric name {}",
                    go_quote(le),
                    go_quote(metric_name(&s.labels))
                ));
                continue;
            }
        };
        match slot.get(id) {
            Some(&i) => out[i].1.push((upper, s.f)),
            None => {
                slot.insert(*id, out.len());
                out.push((cache.histogram_labels[*id].clone(), vec![(upper, s.f)]));
            }
        }
    }
    out
}

/// Go's `strconv.ParseFloat` for bucket bounds.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.chars().any(|c| c.is_ascii_alphabetic() && !matches!(c, 'e' | 'E')) {
        return None;
    }
    s.parse::<f64>().ok()
}

fn sort_coalesce(buckets: &mut Vec<(f64, f64)>) {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Prometheus's `BucketQuantile`; returns the quantile and whether monotonicity had to be forced.
fn bucket_quantile(q: f64, buckets: &mut Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return (f64::NAN, false);
    }
    sort_coalesce(buckets);
    // Ensure monotonicity, ignoring tiny floating-point deltas.
    let mut forced = false;
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = buckets.len() - 1;
    let b = buckets[..n].partition_point(|x| x.1 < rank);
    let value = if b == n {
        buckets[n - 1].0
    } else if b == 0 && buckets[0].0 <= 0.0 {
        buckets[0].0
    } else {
        let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
        if b > 0 {
            start = buckets[b - 1].0;
            count -= buckets[b - 1].1;
            rank -= buckets[b - 1].1;
        }
        start + (end - start) * (rank / count)
    };
    (value, forced)
}

/// Prometheus's `BucketFraction`.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<(f64, f64)>) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
        return f64::NAN;
    }
    sort_coalesce(buckets);
    let count = buckets[buckets.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].0 <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].0;
        }
        let upper_bound = b.0;
        let interp = |v: f64, rank: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.1
            } else {
                rank + (b.1 - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower, rank);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper, rank);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.1;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

fn label_replace(ev: &mut Ev, args: &[&Expr]) -> Result<Vec<Series>, QueryError> {
    let dst = string_arg(args[1])?;
    let repl = string_arg(args[2])?;
    let src = string_arg(args[3])?;
    let regex_str = string_arg(args[4])?;
    let regex = regex::Regex::new(&format!("^(?s:{regex_str})$"))
        .map_err(|_| QueryError::Execution(format!("invalid regular expression in label_replace(): {regex_str}")))?;
    if !crate::aggregate::valid_label_name(&dst) {
        return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let mut mat = ev.eval(args[0])?.into_matrix();
    for s in &mut mat {
        let src_val = s.labels.get(&src).unwrap_or("").to_string();
        if let Some(caps) = regex.captures(&src_val) {
            let mut res = String::new();
            // Go's regexp.Expand syntax ($1, ${1}, $name, $$) is the regex crate's too.
            caps.expand(&repl, &mut res);
            relabel(s, &dst, &res);
        }
    }
    merge_same_labelset(mat)
}

/// Sets (or, with an empty value, removes) label `dst` of a series for `label_replace`/`label_join`; writing the
/// name keeps it, as in Prometheus.
fn relabel(s: &mut Series, dst: &str, value: &str) {
    let mut lbls: Vec<Label> = s.labels.iter().cloned().collect();
    set_label(&mut lbls, dst, Some(value));
    s.labels = Arc::new(Labels::from_sorted_unchecked(lbls));
    if dst == "__name__" {
        s.drop_name = false;
    }
}

fn label_join(ev: &mut Ev, args: &[&Expr]) -> Result<Vec<Series>, QueryError> {
    let dst = string_arg(args[1])?;
    let sep = string_arg(args[2])?;
    let srcs: Vec<String> = args[3..].iter().map(|a| string_arg(a)).collect::<Result<_, _>>()?;
    for src in &srcs {
        if !crate::aggregate::valid_label_name(src) {
            return Err(QueryError::Execution(format!("invalid source label name in label_join(): {src}")));
        }
    }
    if !crate::aggregate::valid_label_name(&dst) {
        return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    let mut mat = ev.eval(args[0])?.into_matrix();
    for s in &mut mat {
        let joined = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect::<Vec<_>>().join(&sep);
        relabel(s, &dst, &joined);
    }
    merge_same_labelset(mat)
}
