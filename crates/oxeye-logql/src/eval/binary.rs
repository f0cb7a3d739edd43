//! Binary operators.

use crate::parser::ast::BinaryOp;

/// Loki's `MergeBinOp` on two scalars without filtering: comparisons give 0 or 1, division and modulo by zero give
/// NaN (not ±Inf as in Prometheus).
pub(crate) fn scalar_binary(op: BinaryOp, lhs: f64, rhs: f64) -> f64 {
    let truth = |condition: bool| if condition { 1.0 } else { 0.0 };
    match op {
        BinaryOp::Add => lhs + rhs,
        BinaryOp::Sub => lhs - rhs,
        BinaryOp::Mul => lhs * rhs,
        BinaryOp::Div => {
            if rhs == 0.0 {
                f64::NAN
            } else {
                lhs / rhs
            }
        }
        BinaryOp::Mod => {
            if rhs == 0.0 {
                f64::NAN
            } else {
                lhs % rhs
            }
        }
        BinaryOp::Pow => lhs.powf(rhs),
        BinaryOp::CmpEq => truth(lhs == rhs),
        BinaryOp::Neq => truth(lhs != rhs),
        BinaryOp::Gt => truth(lhs > rhs),
        BinaryOp::Gte => truth(lhs >= rhs),
        BinaryOp::Lt => truth(lhs < rhs),
        BinaryOp::Lte => truth(lhs <= rhs),
        BinaryOp::Or | BinaryOp::And | BinaryOp::Unless => f64::NAN,
    }
}
