//! TraceQL (being built).
