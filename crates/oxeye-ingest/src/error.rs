//! The one error type of this crate: why a request (or, for the text format, one line) could not be read.

/// A request that cannot be decoded at all, or one bad line of a text exposition.
///
/// Messages follow Prometheus's style: the layer that failed first (`snappy:`, `protobuf:`, `json:`), then what was
/// wrong. The API layer maps every variant to HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not valid snappy block-format data.
    #[error("snappy: corrupt input")]
    SnappyCorrupt,
    /// The snappy header announces more bytes than the caller allows; nothing was allocated.
    #[error("snappy: decompressed size {size} exceeds limit {limit}")]
    DecompressedTooLarge { size: usize, limit: usize },
    /// The (decompressed) body is not a valid protobuf message of the expected type.
    #[error("protobuf: {message}")]
    Protobuf { message: String },
    /// The body is not valid OTLP/JSON.
    #[error("json: {message}")]
    Json { message: String },
    /// One line of a Prometheus text exposition could not be parsed (1-based line number).
    #[error("line {line}: {message}")]
    TextLine { line: usize, message: String },
    /// A line of an Elasticsearch bulk body breaks the action/document structure (1-based line number).
    #[error("bulk line {line}: {message}")]
    BulkLine { line: usize, message: String },
    /// An ingestion parameter (query string or header) is malformed.
    #[error("invalid parameter {name:?}: {message}")]
    InvalidParameter { name: String, message: String },
}
