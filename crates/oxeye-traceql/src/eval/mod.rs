pub mod metrics;
pub struct Spanset;
pub struct SpanMatch;
