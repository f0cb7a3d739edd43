//! LogQL text to syntax tree and back: [`lexer`] (tokens with Loki's positions), [`parse`] and `parse_pipeline`
//! (recursive descent over Loki's grammar, then Loki's validation), [`ast`] (the tree) and `printer` (canonical
//! text, `Display`).

pub mod ast;
pub(crate) mod lexer;
pub(crate) mod parse;
mod parse_pipeline;
mod printer;

#[cfg(test)]
mod tests;

pub use parse::{parse, parse_selector, parse_selector_unvalidated, parse_unvalidated};
