//! Aggregation operators: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`, `quantile`, `topk`,
//! `bottomk`, `limitk`, `limit_ratio` and `count_values`, with `by`/`without` — Prometheus's `rangeEvalAgg`,
//! `aggregation` and `aggregationK`, including its Kahan summation and overflow-safe mean.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use oxeye_model::{Label, Labels};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use crate::QueryError;
use crate::annotations::Annotations;
use crate::engine::{Ev, Sample, Series};
use crate::functions::{go_g, kahan_inc, quantile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    Topk,
    Bottomk,
    Limitk,
    LimitRatio,
    CountValues,
}

fn agg_op(token: &str) -> Result<AggOp, QueryError> {
    Ok(match token {
        "sum" => AggOp::Sum,
        "avg" => AggOp::Avg,
        "min" => AggOp::Min,
        "max" => AggOp::Max,
        "count" => AggOp::Count,
        "group" => AggOp::Group,
        "stddev" => AggOp::Stddev,
        "stdvar" => AggOp::Stdvar,
        "quantile" => AggOp::Quantile,
        "topk" => AggOp::Topk,
        "bottomk" => AggOp::Bottomk,
        "limitk" => AggOp::Limitk,
        "limit_ratio" => AggOp::LimitRatio,
        "count_values" => AggOp::CountValues,
        other => return Err(QueryError::BadData(format!("unknown aggregation {other:?}"))),
    })
}

/// The grouping key of a series: the `by` labels' values, or every label except the `without` ones and the name.
fn group_key(labels: &Labels, grouping: &[String], without: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for l in labels.iter() {
        let listed = grouping.contains(&l.name);
        let include = if without { !listed && l.name != "__name__" } else { listed };
        if include {
            out.extend_from_slice(l.name.as_bytes());
            out.push(0xff);
            out.extend_from_slice(l.value.as_bytes());
            out.push(0xff);
        }
    }
    out
}

fn group_labels(labels: &Labels, grouping: &[String], without: bool) -> Labels {
    Labels::from_sorted_unchecked(
        labels
            .iter()
            .filter(|l| {
                let listed = grouping.contains(&l.name);
                if without { !listed && l.name != "__name__" } else { listed }
            })
            .cloned()
            .collect(),
    )
}

/// Whether a label name is valid: Prometheus 3 accepts any non-empty valid UTF-8 name. The parser hands us Rust
/// strings, in which invalid UTF-8 escapes (`"\xff"`) have become U+FFFD, so that character marks an invalid name.
pub(crate) fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('\u{fffd}')
}

#[derive(Clone, Default)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
    incremental_mean: bool,
    drop_name: bool,
    values: Vec<f64>,
    heap: Vec<Sample>,
    complete: bool,
}

pub(crate) fn eval_aggregate(ev: &mut Ev, a: &AggregateExpr) -> Result<Vec<Series>, QueryError> {
    let op = agg_op(&a.op.to_string())?;
    let (mut grouping, without) = match &a.modifier {
        Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
        Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
        None => (Vec::new(), false),
    };
    grouping.sort();

    if op == AggOp::CountValues {
        let label = match a.param.as_deref().map(crate::engine::unparen) {
            Some(Expr::StringLiteral(s)) => s.val.clone(),
            _ => return Err(QueryError::BadData("count_values requires a string parameter".into())),
        };
        if !valid_label_name(&label) {
            return Err(QueryError::Execution(format!("invalid label name {}", crate::binary::go_quote(&label))));
        }
        if !without {
            grouping.push(label.clone());
            grouping.sort();
        }
        let input = ev.eval(&a.expr)?.into_matrix();
        return ev.range_eval(vec![input], None, |v, _, _, _| Ok(count_values(&v[0], &label, &grouping, without)));
    }

    // The numeric parameter at every step.
    let params: Vec<f64> = match &a.param {
        Some(p) => {
            let m = ev.eval(p)?.into_matrix();
            let mut per_step = vec![f64::NAN; ev.num_steps()];
            if let Some(s) = m.first() {
                for (t, v) in &s.points {
                    per_step[((t - ev.start) / ev.interval) as usize] = *v;
                }
            }
            per_step
        }
        None => vec![0.0; ev.num_steps()],
    };
    // Go's math.Max/Min propagate NaN; Prometheus's checks below rely on that.
    let go_max = |a: f64, b: f64| if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) };
    let go_min = |a: f64, b: f64| if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) };
    let (pmax, pmin) = if a.param.is_some() {
        (params.iter().copied().fold(-f64::MAX, go_max), params.iter().copied().fold(f64::MAX, go_min))
    } else {
        (0.0, 0.0)
    };
    let any_nan = params.iter().any(|p| p.is_nan());
    let input = ev.eval(&a.expr)?.into_matrix();

    let mut annos = Annotations::default();
    match op {
        AggOp::Topk | AggOp::Bottomk | AggOp::Limitk => {
            if pmax < 1.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(QueryError::Execution("Parameter value is NaN".into()));
            }
            if pmin <= i64::MIN as f64 {
                return Err(QueryError::Execution(format!("Scalar value {} underflows int64", go_g(pmin))));
            }
            if pmax >= i64::MAX as f64 {
                return Err(QueryError::Execution(format!("Scalar value {} overflows int64", go_g(pmax))));
            }
        }
        AggOp::LimitRatio => {
            if pmax == 0.0 && pmin == 0.0 {
                return Ok(Vec::new());
            }
            if any_nan {
                return Err(QueryError::Execution("Ratio value is NaN".into()));
            }
            if pmax > 1.0 {
                annos.warn(format!("ratio value should be between -1 and 1, got {}, capping to 1", go_g(pmax)));
            }
            if pmin < -1.0 {
                annos.warn(format!("ratio value should be between -1 and 1, got {}, capping to -1", go_g(pmin)));
            }
        }
        AggOp::Quantile => {
            if any_nan {
                annos.warn("quantile value should be between 0 and 1, got NaN");
            }
            if pmax > 1.0 {
                annos.warn(format!("quantile value should be between 0 and 1, got {}", go_g(pmax)));
            }
            if pmin < 0.0 {
                annos.warn(format!("quantile value should be between 0 and 1, got {}", go_g(pmin)));
            }
        }
        _ => {}
    }
    ev.ctx.annos.merge(annos);

    // Map input series to groups.
    let mut group_index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut series_group = Vec::with_capacity(input.len());
    let mut group_label_sets: Vec<Arc<Labels>> = Vec::new();
    let k_op = matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio);
    for s in &input {
        let key = group_key(&s.labels, &grouping, without);
        let next = group_index.len();
        let idx = *group_index.entry(key).or_insert_with(|| {
            if !k_op {
                group_label_sets.push(Arc::new(group_labels(&s.labels, &grouping, without)));
            }
            next
        });
        series_group.push(idx);
    }
    let ngroups = group_index.len();
    let instant = ev.start == ev.end;
    let steps: Vec<i64> = ev.step_times().collect();
    let mut cursors = vec![0usize; input.len()];
    let mut groups: Vec<Group> = vec![Group::default(); ngroups];
    // Output for ordinary aggregations: one series per group.
    let mut out_points: Vec<Vec<(i64, f64)>> = vec![Vec::new(); if k_op { 0 } else { ngroups }];
    let mut out_drop: Vec<bool> = vec![false; if k_op { 0 } else { ngroups }];
    // Output for k-aggregations.
    let mut k_out: Vec<Series> = Vec::new();
    let mut k_index: HashMap<Arc<Labels>, usize> = HashMap::new();

    // Series by series into one accumulator per (group, step): each accumulator sees its samples in the same
    // order as the step-by-step loop below, so the arithmetic (Kahan sums, overflow-safe means) is identical, but
    // each series is walked once instead of checking every series at every step.
    if !k_op && op != AggOp::Quantile && ngroups.saturating_mul(steps.len()) <= SERIES_MAJOR_MAX_CELLS {
        let n = steps.len();
        let mut acc = vec![Group::default(); ngroups * n];
        for (si, s) in input.iter().enumerate() {
            if si % 256 == 0 {
                ev.check_deadline()?;
            }
            let base = series_group[si] * n;
            for &(t, f) in &s.points {
                accumulate(op, &mut acc[base + ((t - ev.start) / ev.interval) as usize], f, s.drop_name);
            }
        }
        let mut out = Vec::with_capacity(ngroups);
        for (gi, labels) in group_label_sets.into_iter().enumerate() {
            let mut points = Vec::new();
            let mut drop_name = false;
            for (step_no, &ts) in steps.iter().enumerate() {
                let g = &mut acc[gi * n + step_no];
                if g.seen {
                    points.push((ts, finish(op, g, params[step_no])));
                    drop_name = g.drop_name;
                }
            }
            if !points.is_empty() {
                out.push(Series { labels, points, drop_name });
            }
        }
        return Ok(out);
    }

    for (step_no, &ts) in steps.iter().enumerate() {
        if step_no % 256 == 0 {
            ev.check_deadline()?;
        }
        let param = params[step_no];
        for g in groups.iter_mut() {
            g.seen = false;
        }
        // Samples at this step.
        let mut step_samples: Vec<(usize, f64)> = Vec::with_capacity(input.len());
        for (si, s) in input.iter().enumerate() {
            let c = &mut cursors[si];
            if *c < s.points.len() && s.points[*c].0 == ts {
                step_samples.push((si, s.points[*c].1));
                *c += 1;
            }
        }
        if k_op {
            let result = aggregation_k(op, param, &input, &series_group, &step_samples, &mut groups, ts)?;
            if instant {
                return Ok(result
                    .into_iter()
                    .map(|s| Series { labels: s.labels, points: vec![(ts, s.f)], drop_name: s.drop_name })
                    .collect());
            }
            for s in result {
                match k_index.get(&s.labels) {
                    Some(&i) => k_out[i].points.push((ts, s.f)),
                    None => {
                        k_index.insert(s.labels.clone(), k_out.len());
                        k_out.push(Series { labels: s.labels, points: vec![(ts, s.f)], drop_name: s.drop_name });
                    }
                }
            }
            continue;
        }
        for &(si, f) in &step_samples {
            accumulate(op, &mut groups[series_group[si]], f, input[si].drop_name);
        }
        for (gi, g) in groups.iter_mut().enumerate() {
            if !g.seen {
                continue;
            }
            out_points[gi].push((ts, finish(op, g, param)));
            out_drop[gi] = g.drop_name;
        }
    }
    if k_op {
        return Ok(k_out);
    }
    let mut out = Vec::with_capacity(ngroups);
    for ((labels, points), drop_name) in group_label_sets.into_iter().zip(out_points).zip(out_drop) {
        if !points.is_empty() {
            out.push(Series { labels, points, drop_name });
        }
    }
    Ok(out)
}

/// Most (group, step) accumulators the series-by-series aggregation path allocates.
const SERIES_MAJOR_MAX_CELLS: usize = 1 << 18;

/// Adds one sample to a group's accumulator (Prometheus's `aggregation`, per sample).
fn accumulate(op: AggOp, g: &mut Group, f: f64, drop: bool) {
    if !g.seen {
        *g = Group { seen: true, value: f, mean: f, count: 1.0, drop_name: drop, ..Group::default() };
        match op {
            AggOp::Stddev | AggOp::Stdvar => {
                g.value = if f.is_nan() || f.is_infinite() { f64::NAN } else { 0.0 };
            }
            AggOp::Quantile => g.values = vec![f],
            AggOp::Group => g.value = 1.0,
            _ => {}
        }
        return;
    }
    if drop {
        g.drop_name = true;
    }
    match op {
        AggOp::Sum => {
            let (v, c) = kahan_inc(f, g.value, g.kahan_c);
            g.value = v;
            g.kahan_c = c;
        }
        AggOp::Avg => {
            g.count += 1.0;
            if !g.incremental_mean {
                let (nv, nc) = kahan_inc(f, g.value, g.kahan_c);
                if !nv.is_infinite() {
                    g.value = nv;
                    g.kahan_c = nc;
                    return;
                }
                g.incremental_mean = true;
                g.mean = g.value / (g.count - 1.0);
                g.kahan_c /= g.count - 1.0;
            }
            let q = (g.count - 1.0) / g.count;
            let (m, c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
            g.mean = m;
            g.kahan_c = c;
        }
        AggOp::Max if (g.value < f || g.value.is_nan()) => g.value = f,
        AggOp::Min if (g.value > f || g.value.is_nan()) => g.value = f,
        AggOp::Count => g.count += 1.0,
        AggOp::Stddev | AggOp::Stdvar => {
            g.count += 1.0;
            let delta = f - g.mean;
            g.mean += delta / g.count;
            g.value += delta * (f - g.mean);
        }
        AggOp::Quantile => g.values.push(f),
        _ => {}
    }
}

/// A group's result at one step.
fn finish(op: AggOp, g: &mut Group, param: f64) -> f64 {
    match op {
        AggOp::Avg => {
            if g.incremental_mean {
                g.mean + g.kahan_c
            } else {
                g.value / g.count + g.kahan_c / g.count
            }
        }
        AggOp::Count => g.count,
        AggOp::Stdvar => g.value / g.count,
        AggOp::Stddev => (g.value / g.count).sqrt(),
        AggOp::Quantile => quantile(param, &mut g.values),
        AggOp::Sum => g.value + g.kahan_c,
        _ => g.value,
    }
}

fn count_values(vec: &[Sample], label: &str, grouping: &[String], without: bool) -> Vec<Sample> {
    let mut groups: HashMap<Vec<u8>, (Arc<Labels>, f64)> = HashMap::new();
    let mut order = Vec::new();
    for s in vec {
        let mut lbls: Vec<Label> = s.labels.iter().cloned().collect();
        let value = crate::functions::format_go_float(s.f);
        crate::binary::set_label(&mut lbls, label, Some(&value));
        let metric = Labels::from_sorted_unchecked(lbls);
        let key = group_key(&metric, grouping, without);
        match groups.get_mut(&key) {
            Some(g) => g.1 += 1.0,
            None => {
                order.push(key.clone());
                groups.insert(key, (Arc::new(group_labels(&metric, grouping, without)), 1.0));
            }
        }
    }
    order
        .into_iter()
        .map(|k| {
            let (labels, count) = groups.remove(&k).expect("group exists");
            Sample { labels, t: 0, f: count, drop_name: false }
        })
        .collect()
}

/// Go `container/heap` operations over a slice with a custom `less`, so that ties resolve as in Prometheus.
fn heap_up(h: &mut [Sample], mut j: usize, less: &impl Fn(&Sample, &Sample) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [Sample], i0: usize, less: &impl Fn(&Sample, &Sample) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

fn heap_push(h: &mut Vec<Sample>, s: Sample, less: &impl Fn(&Sample, &Sample) -> bool) {
    h.push(s);
    let n = h.len() - 1;
    heap_up(h, n, less);
}

fn heap_fix0(h: &mut [Sample], less: &impl Fn(&Sample, &Sample) -> bool) {
    if !heap_down(h, 0, less) {
        heap_up(h, 0, less);
    }
}

fn by_value_less(a: &Sample, b: &Sample) -> bool {
    if a.f.is_nan() {
        return true;
    }
    a.f < b.f
}

fn by_reverse_value_less(a: &Sample, b: &Sample) -> bool {
    if a.f.is_nan() {
        return true;
    }
    a.f > b.f
}

/// A stable position in [0, 1) for a series, used by `limit_ratio` to pick the same series at every step.
fn ratio_offset(labels: &Labels) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    labels.hash(&mut h);
    h.finish() as f64 / u64::MAX as f64
}

fn add_ratio_sample(ratio: f64, labels: &Labels) -> bool {
    let offset = ratio_offset(labels);
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

fn aggregation_k(
    op: AggOp,
    param: f64,
    input: &[Series],
    series_group: &[usize],
    step_samples: &[(usize, f64)],
    groups: &mut [Group],
    ts: i64,
) -> Result<Vec<Sample>, QueryError> {
    let mut k: i64 = 0;
    let mut ratio = 0.0;
    match op {
        AggOp::LimitRatio => {
            if param == 0.0 {
                return Ok(Vec::new());
            }
            ratio = param.clamp(-1.0, 1.0);
        }
        _ => {
            k = (param as i64).min(input.len() as i64);
            if k < 1 {
                return Ok(Vec::new());
            }
        }
    }
    let mut remaining = groups.len();
    for &(si, f) in step_samples {
        let s = Sample { labels: input[si].labels.clone(), t: ts, f, drop_name: input[si].drop_name };
        let g = &mut groups[series_group[si]];
        if !g.seen {
            *g = Group { seen: true, ..Group::default() };
            match op {
                AggOp::LimitRatio => {
                    if add_ratio_sample(ratio, &s.labels) {
                        heap_push(&mut g.heap, s, &by_value_less);
                    }
                }
                AggOp::Limitk => g.heap.push(s),
                AggOp::Topk => heap_push(&mut g.heap, s, &by_value_less),
                _ => heap_push(&mut g.heap, s, &by_reverse_value_less),
            }
            if op == AggOp::Limitk && g.heap.len() as i64 == k {
                g.complete = true;
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
            continue;
        }
        match op {
            AggOp::Topk => {
                if (g.heap.len() as i64) < k {
                    heap_push(&mut g.heap, s, &by_value_less);
                } else if g.heap[0].f < s.f || (g.heap[0].f.is_nan() && !s.f.is_nan()) {
                    g.heap[0] = s;
                    if k > 1 {
                        heap_fix0(&mut g.heap, &by_value_less);
                    }
                }
            }
            AggOp::Bottomk => {
                if (g.heap.len() as i64) < k {
                    heap_push(&mut g.heap, s, &by_reverse_value_less);
                } else if g.heap[0].f > s.f || (g.heap[0].f.is_nan() && !s.f.is_nan()) {
                    g.heap[0] = s;
                    if k > 1 {
                        heap_fix0(&mut g.heap, &by_reverse_value_less);
                    }
                }
            }
            AggOp::Limitk => {
                if (g.heap.len() as i64) < k {
                    heap_push(&mut g.heap, s, &by_value_less);
                }
                if !g.complete && g.heap.len() as i64 == k {
                    g.complete = true;
                    remaining -= 1;
                    if remaining == 0 {
                        break;
                    }
                }
            }
            AggOp::LimitRatio if add_ratio_sample(ratio, &s.labels) => {
                heap_push(&mut g.heap, s, &by_value_less);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for g in groups.iter_mut() {
        if !g.seen {
            continue;
        }
        let mut heap = std::mem::take(&mut g.heap);
        match op {
            AggOp::Topk => heap.sort_by(|a, b| nan_last(a.f, b.f, true)),
            AggOp::Bottomk => heap.sort_by(|a, b| nan_last(a.f, b.f, false)),
            _ => {}
        }
        out.extend(heap);
    }
    Ok(out)
}

/// The order Prometheus's `sort.Reverse` over its value heaps produces: by value (descending or ascending), NaN
/// last. A total order, so sorting never sees an inconsistent comparison.
pub(crate) fn nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ if descending => b.total_cmp(&a),
        _ => a.total_cmp(&b),
    }
}
