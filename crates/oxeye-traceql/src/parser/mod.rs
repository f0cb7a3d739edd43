//! TraceQL text to syntax tree and back: [`lexer`] splits the query, [`parse`](parse::parse) builds and validates the
//! [`ast`], [`printer`] writes it back in canonical form.

pub mod ast;
pub(crate) mod lexer;
mod parse;
pub(crate) mod printer;

#[cfg(test)]
mod tests;

pub use lexer::format_duration;
pub use parse::parse;
