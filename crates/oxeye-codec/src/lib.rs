//! Pure encodings used by oxeye's storage engines.
//!
//! Every codec appends into a caller's buffer and decodes into a `Result` (the VictoriaMetrics `lib/encoding`
//! habit), so hot paths can reuse buffers. Nothing here does I/O.
//!
//! - [`varint`]: LEB128 unsigned varints and zigzag signed varints.
//! - [`bits`]: a bit-level writer and reader.
//! - [`bloom`]: split-block bloom filters; [`hash`]: the fixed seeded hash of their keys.
//! - [`pco_chunk`]: pco-compressed column chunks, the encoding of sealed block chunks.
//! - [`xor_chunk`]: Gorilla-style time series chunks (delta-of-delta timestamps, XOR'd float values), the
//!   encoding of the metrics head and of block chunks.

pub mod bits;
pub mod bloom;
pub mod hash;
pub mod pco_chunk;
pub mod varint;
pub mod xor_chunk;

/// Why a decode failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of input at byte {offset}")]
    UnexpectedEof { offset: usize },
    #[error("varint at byte {offset} is longer than 10 bytes")]
    VarintOverflow { offset: usize },
    #[error("corrupt chunk: {reason}")]
    CorruptChunk { reason: &'static str },
}
