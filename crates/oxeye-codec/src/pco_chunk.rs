//! Column chunks compressed with pco (Pcodec), the encoding of sealed block chunks.
//!
//! Timestamps and values are compressed as two separate pco streams: pco finds the delta order that suits each
//! (regular scrape timestamps become near-constant, counters become small increments), bins the latents and
//! entropy-codes them, losslessly and bit-exactly for floats (NaN payloads included). It is slower to encode than
//! Gorilla and needs the whole chunk up front, so the head keeps Gorilla chunks and blocks use this.
//!
//! Layout (after the block's encoding byte, see `docs/formats/metrics-block.md`):
//! ```text
//! ┌────────────────┬─────────────────────┬──────────────────────┬────────────────────────┐
//! │ count uvarint  │ ts_len uvarint      │ pco stream of i64 ts │ pco stream of f64 values│
//! └────────────────┴─────────────────────┴──────────────────────┴────────────────────────┘
//! ```

use crate::DecodeError;
use crate::varint::{get_uvarint, put_uvarint};

/// pco compression level used for block chunks: level 8 is pco's default and its size/speed sweet spot.
const COMPRESSION_LEVEL: usize = 8;

/// Appends a chunk of `timestamps` and `values` (same length) to `dst`.
pub fn encode(dst: &mut Vec<u8>, timestamps: &[i64], values: &[f64]) -> Result<(), DecodeError> {
    debug_assert_eq!(timestamps.len(), values.len());
    let config = pco::ChunkConfig::default().with_compression_level(COMPRESSION_LEVEL);
    let timestamp_stream = pco::standalone::simple_compress(timestamps, &config)
        .map_err(|_| DecodeError::CorruptChunk { reason: "pco failed to compress timestamps" })?;
    let value_stream = pco::standalone::simple_compress(values, &config)
        .map_err(|_| DecodeError::CorruptChunk { reason: "pco failed to compress values" })?;
    put_uvarint(dst, timestamps.len() as u64);
    put_uvarint(dst, timestamp_stream.len() as u64);
    dst.extend_from_slice(&timestamp_stream);
    dst.extend_from_slice(&value_stream);
    Ok(())
}

/// Decodes a chunk written by [`encode`], appending to `timestamps` and `values`.
/// The number of samples in an encoded chunk, read from its header without decoding it.
pub fn sample_count(src: &[u8]) -> Result<usize, DecodeError> {
    let mut pos = 0;
    Ok(get_uvarint(src, &mut pos)? as usize)
}

pub fn decode(src: &[u8], timestamps: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), DecodeError> {
    let mut pos = 0;
    let count = get_uvarint(src, &mut pos)? as usize;
    let timestamp_len = get_uvarint(src, &mut pos)? as usize;
    let timestamp_end = pos
        .checked_add(timestamp_len)
        .filter(|end| *end <= src.len())
        .ok_or(DecodeError::UnexpectedEof { offset: src.len() })?;
    // The count comes from the chunk itself; cap what it may make us allocate before pco has verified the data.
    if count > src.len().saturating_mul(1024).max(1 << 20) {
        return Err(DecodeError::CorruptChunk { reason: "pco chunk count is implausible for its size" });
    }
    // Decode straight into the callers' vectors, extended by exactly `count`.
    let (t0, v0) = (timestamps.len(), values.len());
    timestamps.resize(t0 + count, 0);
    values.resize(v0 + count, 0.0);
    let decoded_timestamps = pco::standalone::simple_decompress_into(&src[pos..timestamp_end], &mut timestamps[t0..])
        .map_err(|_| DecodeError::CorruptChunk { reason: "corrupt pco timestamp stream" })?;
    let decoded_values = pco::standalone::simple_decompress_into(&src[timestamp_end..], &mut values[v0..])
        .map_err(|_| DecodeError::CorruptChunk { reason: "corrupt pco value stream" })?;
    if decoded_timestamps.n_processed != count
        || decoded_values.n_processed != count
        || !decoded_timestamps.finished
        || !decoded_values.finished
    {
        timestamps.truncate(t0);
        values.truncate(v0);
        return Err(DecodeError::CorruptChunk { reason: "pco chunk length does not match its count" });
    }
    Ok(())
}

/// The constant step of `timestamps` (at least two, strictly increasing), if every step is the same: a scrape's
/// samples often are (see [`encode_regular`]).
pub fn regular_interval(timestamps: &[i64]) -> Option<i64> {
    let [first, second, ..] = timestamps else { return None };
    let interval = second.checked_sub(*first).filter(|step| *step > 0)?;
    timestamps.windows(2).all(|pair| pair[1].wrapping_sub(pair[0]) == interval).then_some(interval)
}

/// Appends a chunk whose timestamps are regular ([`regular_interval`] is `Some`): count, first timestamp and step
/// instead of a pco timestamp stream (which costs ~25 bytes even for a constant step), then the pco value stream.
/// Layout: `count uvarint | first varint | step uvarint | pco stream of f64 values`.
pub fn encode_regular(dst: &mut Vec<u8>, timestamps: &[i64], values: &[f64]) -> Result<(), DecodeError> {
    debug_assert_eq!(timestamps.len(), values.len());
    let interval = regular_interval(timestamps)
        .ok_or(DecodeError::CorruptChunk { reason: "timestamps are not at a regular interval" })?;
    let config = pco::ChunkConfig::default().with_compression_level(COMPRESSION_LEVEL);
    let value_stream = pco::standalone::simple_compress(values, &config)
        .map_err(|_| DecodeError::CorruptChunk { reason: "pco failed to compress values" })?;
    put_uvarint(dst, timestamps.len() as u64);
    crate::varint::put_varint(dst, timestamps[0]);
    put_uvarint(dst, interval as u64);
    dst.extend_from_slice(&value_stream);
    Ok(())
}

/// Decodes a chunk written by [`encode_regular`], appending to `timestamps` and `values`. Its sample count is read
/// by [`sample_count`] as for [`encode`]'s chunks.
pub fn decode_regular(src: &[u8], timestamps: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), DecodeError> {
    let mut pos = 0;
    let count = get_uvarint(src, &mut pos)? as usize;
    let first = crate::varint::get_varint(src, &mut pos)?;
    let interval = get_uvarint(src, &mut pos)? as i64;
    if count > src.len().saturating_mul(1024).max(1 << 20) {
        return Err(DecodeError::CorruptChunk { reason: "pco chunk count is implausible for its size" });
    }
    let last = (count as i64).checked_sub(1).and_then(|n| n.checked_mul(interval)).and_then(|d| first.checked_add(d));
    if interval <= 0 || last.is_none() {
        return Err(DecodeError::CorruptChunk { reason: "regular chunk has a bad step" });
    }
    let v0 = values.len();
    values.resize(v0 + count, 0.0);
    let decoded = pco::standalone::simple_decompress_into(&src[pos..], &mut values[v0..])
        .map_err(|_| DecodeError::CorruptChunk { reason: "corrupt pco value stream" })?;
    if decoded.n_processed != count || !decoded.finished {
        values.truncate(v0);
        return Err(DecodeError::CorruptChunk { reason: "pco chunk length does not match its count" });
    }
    timestamps.extend((0..count as i64).map(|i| first + i * interval));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(timestamps: &[i64], values: &[f64]) -> (Vec<i64>, Vec<f64>, usize) {
        let mut buf = Vec::new();
        encode(&mut buf, timestamps, values).unwrap();
        let (mut t, mut v) = (Vec::new(), Vec::new());
        decode(&buf, &mut t, &mut v).unwrap();
        (t, v, buf.len())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_chunks_round_trip_bit_exactly(samples in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..300)) {
            let timestamps: Vec<i64> = samples.iter().map(|s| s.0).collect();
            let values: Vec<f64> = samples.iter().map(|s| s.1).collect();
            let (t, v, _) = round_trip(&timestamps, &values);
            prop_assert_eq!(t, timestamps);
            prop_assert!(v.iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
        }

        #[test]
        fn corrupt_input_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let (mut t, mut v) = (Vec::new(), Vec::new());
            let _ = decode(&bytes, &mut t, &mut v);
        }
    }

    #[test]
    fn regular_timestamps_are_stored_as_a_step() {
        assert_eq!(regular_interval(&[5, 20, 35, 50]), Some(15));
        assert_eq!(regular_interval(&[5, 20, 36]), None);
        assert_eq!(regular_interval(&[5]), None);
        assert_eq!(regular_interval(&[]), None);
        assert_eq!(regular_interval(&[i64::MIN, 0, i64::MAX]), None, "steps that overflow are not regular");
        let timestamps: Vec<i64> = (0..480).map(|i| -7_500 + i * 15_000).collect();
        let values: Vec<f64> =
            (0..480).map(|i| if i == 9 { f64::from_bits(0x7ff0_0000_0000_0002) } else { i as f64 * 0.5 }).collect();
        let mut regular = Vec::new();
        encode_regular(&mut regular, &timestamps, &values).unwrap();
        let mut general = Vec::new();
        encode(&mut general, &timestamps, &values).unwrap();
        assert!(regular.len() + 15 < general.len(), "regular {} B vs general {} B", regular.len(), general.len());
        assert_eq!(sample_count(&regular).unwrap(), 480);
        let (mut t, mut v) = (vec![1], vec![1.0]);
        decode_regular(&regular, &mut t, &mut v).unwrap();
        assert_eq!(&t[1..], &timestamps[..]);
        assert!(v[1..].iter().zip(&values).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(encode_regular(&mut Vec::new(), &[1, 2, 4], &[0.0; 3]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn corrupt_regular_chunks_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let (mut t, mut v) = (Vec::new(), Vec::new());
            if decode_regular(&bytes, &mut t, &mut v).is_ok() {
                prop_assert_eq!(t.len(), v.len());
            }
        }
    }

    #[test]
    fn stale_markers_survive_and_regular_series_are_smaller_than_gorilla() {
        let timestamps: Vec<i64> = (0..480).map(|i| 1_700_000_000_000 + i * 15_000).collect();
        // A CPU-seconds counter: increments with two decimals, as node_exporter reports them.
        let mut total = 81_234.56;
        let mut values: Vec<f64> = (0..480)
            .map(|i| {
                total += ((i * 37 % 100) as f64) / 100.0 + 14.0;
                (total * 100.0f64).round() / 100.0
            })
            .collect();
        values[100] = f64::from_bits(0x7ff0_0000_0000_0002);
        let (t, v, pco_len) = round_trip(&timestamps, &values);
        assert_eq!(t, timestamps);
        assert_eq!(v[100].to_bits(), 0x7ff0_0000_0000_0002);
        let mut gorilla = Vec::new();
        crate::xor_chunk::encode_chunk(&mut gorilla, &timestamps, &values);
        assert!(pco_len < gorilla.len(), "pco {pco_len} B vs gorilla {} B", gorilla.len());
    }
}
