//! promqltest's `@` variants of an instant eval: the same query with `@ <eval time>` on every selector (and on
//! subqueries, whose insides are then left alone), evaluated at other times, must give the same answer. Queries
//! calling a function whose result depends on the evaluation time get no variants, as in promqltest.

use promql_parser::parser::{AtModifier, Expr};

/// Functions Prometheus lists in `AtModifierUnsafeFunctions` (plus the query-context functions).
const UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// The variant queries and the times to evaluate them at, or none when the query has no safe variant.
pub fn at_modifier_variants(query: &str, eval_ms: i64) -> Vec<(String, i64)> {
    // Parse the way the engine does, so byte escapes mean the same thing in the printed variant.
    let Ok(mut expr) = promql_parser::parser::parse(&oxeye_promql::byte_escapes_as_utf8(query)) else {
        return Vec::new();
    };
    let Ok(at) = AtModifier::try_from(eval_ms as f64 / 1000.0) else {
        return Vec::new();
    };
    let mut unsafe_call = false;
    set_at(&mut expr, &at, &mut unsafe_call);
    if unsafe_call {
        return Vec::new();
    }
    let text = expr.to_string();
    let times: Vec<i64> =
        if eval_ms == 0 { vec![-1000, 0, 1000] } else { vec![-10 * eval_ms, 0, eval_ms / 5, eval_ms, 10 * eval_ms] };
    times.into_iter().map(|t| (text.clone(), t)).collect()
}

fn set_at(expr: &mut Expr, at: &AtModifier, unsafe_call: &mut bool) {
    match expr {
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(at.clone());
            }
        }
        Expr::MatrixSelector(ms) => {
            if ms.vs.at.is_none() {
                ms.vs.at = Some(at.clone());
            }
        }
        Expr::Subquery(sq) => {
            // Selectors inside a subquery with an @ time are left as they are.
            if sq.at.is_none() {
                sq.at = Some(at.clone());
            }
        }
        Expr::Call(call) => {
            *unsafe_call |= UNSAFE.contains(&call.func.name);
            for arg in call.args.args.iter_mut() {
                set_at(arg, at, unsafe_call);
            }
        }
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, at, unsafe_call);
            if let Some(p) = a.param.as_mut() {
                set_at(p, at, unsafe_call);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, at, unsafe_call),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, at, unsafe_call);
            set_at(&mut b.rhs, at, unsafe_call);
        }
        Expr::Paren(p) => set_at(&mut p.expr, at, unsafe_call),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_get_the_eval_time_and_unsafe_functions_get_no_variants() {
        let v = at_modifier_variants("sum(rate(m[5m])) + n offset 1m", 60_000);
        assert_eq!(v.len(), 5);
        assert_eq!(v.iter().map(|x| x.1).collect::<Vec<_>>(), vec![-600_000, 0, 12_000, 60_000, 600_000]);
        assert!(v[0].0.contains("m[5m] @ 60.000"), "{}", v[0].0);
        assert!(v[0].0.contains("n offset 1m @ 60.000") || v[0].0.contains("n @ 60.000 offset 1m"), "{}", v[0].0);
        assert!(at_modifier_variants("time() - m", 60_000).is_empty());
        assert_eq!(at_modifier_variants("m", 0).iter().map(|x| x.1).collect::<Vec<_>>(), vec![-1000, 0, 1000]);
        // An existing @ stays.
        assert!(at_modifier_variants("m @ 100", 60_000)[0].0.contains("@ 100.000"));
    }
}
