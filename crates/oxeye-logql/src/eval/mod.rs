//! The evaluator.
pub(crate) mod binary;
