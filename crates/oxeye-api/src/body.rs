//! Request bodies: `Content-Encoding` handling with a bound on the decompressed size.

use std::io::Read;

use axum::http::HeaderMap;

use crate::ApiError;

/// Decodes a body according to its `Content-Encoding` (`gzip`, `deflate`, `identity` or none). `snappy` is left
/// as is for the caller (remote write and Loki use the snappy block format, which is not a stream encoding). An
/// unencoded body is returned as is (shared, not copied).
pub fn decode_content_encoding(
    headers: &HeaderMap,
    body: &bytes::Bytes,
    max_decompressed: usize,
) -> Result<bytes::Bytes, ApiError> {
    let encoding =
        headers.get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" | "snappy" => Ok(body.clone()),
        "gzip" | "x-gzip" => {
            read_bounded(flate2::read::GzDecoder::new(&body[..]), max_decompressed, "gzip").map(bytes::Bytes::from)
        }
        "deflate" => {
            read_bounded(flate2::read::ZlibDecoder::new(&body[..]), max_decompressed, "deflate").map(bytes::Bytes::from)
        }
        other => Err(ApiError::UnsupportedMediaType(format!("unsupported Content-Encoding {other:?}"))),
    }
}

fn read_bounded(reader: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadData(format!("{what}: corrupt body: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::BadData(format!("{what}: decompressed body exceeds the limit of {limit} bytes")));
    }
    Ok(out)
}

/// The media type of the request without parameters, lowercased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
