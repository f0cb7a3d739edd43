//! Gorilla-style chunks: delta-of-delta timestamps and XOR'd float values (Facebook's Gorilla paper, as in
//! Prometheus's `chunkenc.XORChunk`).
//!
//! Byte layout (see `docs/formats/metrics-chunks.md`):
//! ```text
//! ┌──────────────┬──────────────────────────────────────────────┐
//! │ count u16 BE │ bit stream, most significant bit first        │
//! └──────────────┴──────────────────────────────────────────────┘
//! sample 0: t as zigzag varint (bytes through the bit stream), v as 64 raw bits
//! sample 1: t−t0 as zigzag varint, v XOR'd
//! sample n: dod = (tₙ−tₙ₋₁) − (tₙ₋₁−tₙ₋₂) in the first bucket that holds it:
//!           '0' (dod = 0) | '10' + 14 bits | '110' + 17 bits | '1110' + 20 bits | '1111' + 64 bits
//! value:    '0' (same as previous) | '10' + meaningful bits within the previous leading/trailing window
//!           | '11' + 5 bits leading zeros + 6 bits length (0 means 64) + the meaningful bits
//! ```
//! Timestamps within a chunk must be strictly increasing; the appender refuses anything else.

use crate::DecodeError;
use crate::bits::{BitReader, BitWriter};

/// Most samples one chunk may hold (the count is a `u16`).
pub const MAX_SAMPLES_PER_CHUNK: usize = u16::MAX as usize;

/// Appends samples to one chunk. Keeps the little state the encoding needs between appends.
#[derive(Clone, Debug)]
pub struct XorAppender {
    writer: BitWriter,
    count: u16,
    last_timestamp: i64,
    last_delta: i64,
    last_value_bits: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    pub fn new() -> Self {
        let mut writer = BitWriter::new();
        writer.write_bits(0, 16);
        Self { writer, count: 0, last_timestamp: 0, last_delta: 0, last_value_bits: 0, leading: 0xff, trailing: 0 }
    }

    /// Number of samples appended.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The timestamp of the last sample, if any.
    pub fn last_timestamp(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_timestamp)
    }

    /// The value of the last sample, if any.
    pub fn last_value(&self) -> Option<f64> {
        (self.count > 0).then_some(f64::from_bits(self.last_value_bits))
    }

    /// The encoded chunk so far (count header included).
    pub fn bytes(&self) -> &[u8] {
        self.writer.bytes()
    }

    /// Bytes of encoded data including spare capacity, for memory accounting.
    pub fn encoded_len(&self) -> usize {
        self.writer.bytes().len()
    }

    /// Finishes the chunk and returns its bytes (the vector may have spare capacity; callers that keep it
    /// copy it into an exact-size allocation).
    pub fn finish(self) -> Vec<u8> {
        self.writer.into_bytes()
    }

    /// Starts a chunk whose buffer is allocated for `expected_bytes`, so that appending does not reallocate.
    pub fn with_capacity(expected_bytes: usize) -> Self {
        let mut appender = Self::new();
        appender.writer.reserve(expected_bytes);
        appender
    }

    /// Appends a sample. Returns false (and appends nothing) if the chunk is full or `timestamp` is not after the
    /// last one.
    pub fn append(&mut self, timestamp: i64, value: f64) -> bool {
        if self.len() >= MAX_SAMPLES_PER_CHUNK || (self.count > 0 && timestamp <= self.last_timestamp) {
            return false;
        }
        let value_bits = value.to_bits();
        match self.count {
            0 => {
                write_varint_bits(&mut self.writer, timestamp);
                self.writer.write_bits(value_bits, 64);
            }
            1 => {
                let delta = timestamp.wrapping_sub(self.last_timestamp);
                write_varint_bits(&mut self.writer, delta);
                self.write_value(value_bits);
                self.last_delta = delta;
            }
            _ => {
                let delta = timestamp.wrapping_sub(self.last_timestamp);
                let delta_of_delta = delta.wrapping_sub(self.last_delta);
                write_delta_of_delta(&mut self.writer, delta_of_delta);
                self.write_value(value_bits);
                self.last_delta = delta;
            }
        }
        self.last_timestamp = timestamp;
        self.last_value_bits = value_bits;
        self.count += 1;
        let count_bytes = self.count.to_be_bytes();
        // The writer's first two bytes are the count header, always present.
        self.writer.bytes_mut()[..2].copy_from_slice(&count_bytes);
        true
    }

    fn write_value(&mut self, value_bits: u64) {
        let xor = value_bits ^ self.last_value_bits;
        if xor == 0 {
            self.writer.write_bit(false);
            return;
        }
        self.writer.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.writer.write_bit(false);
            let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.writer.write_bits(xor >> self.trailing, significant);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.writer.write_bit(true);
        self.writer.write_bits(u64::from(leading), 5);
        let significant = 64 - u32::from(leading) - u32::from(trailing);
        // A length of 64 does not fit in 6 bits; 0 stands for it (0 meaningful bits cannot occur here).
        self.writer.write_bits(u64::from(significant & 63), 6);
        self.writer.write_bits(xor >> trailing, significant);
    }
}

fn write_varint_bits(writer: &mut BitWriter, value: i64) {
    let mut buf = Vec::with_capacity(10);
    crate::varint::put_varint(&mut buf, value);
    for byte in buf {
        writer.write_bits(u64::from(byte), 8);
    }
}

fn read_varint_bits(reader: &mut BitReader<'_>) -> Result<i64, DecodeError> {
    let mut raw: u64 = 0;
    for index in 0..10 {
        let byte = reader.read_bits(8)?;
        raw |= (byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    Err(DecodeError::CorruptChunk { reason: "timestamp varint longer than 10 bytes" })
}

fn write_delta_of_delta(writer: &mut BitWriter, delta_of_delta: i64) {
    let fits = |bits: u32| {
        let limit = 1i64 << (bits - 1);
        (-limit + 1..=limit).contains(&delta_of_delta)
    };
    if delta_of_delta == 0 {
        writer.write_bit(false);
    } else if fits(14) {
        writer.write_bits(0b10, 2);
        writer.write_bits(delta_of_delta as u64, 14);
    } else if fits(17) {
        writer.write_bits(0b110, 3);
        writer.write_bits(delta_of_delta as u64, 17);
    } else if fits(20) {
        writer.write_bits(0b1110, 4);
        writer.write_bits(delta_of_delta as u64, 20);
    } else {
        writer.write_bits(0b1111, 4);
        writer.write_bits(delta_of_delta as u64, 64);
    }
}

/// Decodes an `n`-bit delta-of-delta field. The encoder's ranges are `-(2ⁿ⁻¹−1) ..= 2ⁿ⁻¹` (as Prometheus's
/// `bitRange`), so a raw value above `2ⁿ⁻¹` is negative and `2ⁿ⁻¹` itself is positive.
fn sign_extend(value: u64, bits: u32) -> i64 {
    let half = 1u64 << (bits - 1);
    if value > half { value as i64 - (1i64 << bits) } else { value as i64 }
}

/// The number of samples in an encoded chunk.
pub fn chunk_len(chunk: &[u8]) -> Result<usize, DecodeError> {
    match chunk {
        [high, low, ..] => Ok(usize::from(u16::from_be_bytes([*high, *low]))),
        _ => Err(DecodeError::UnexpectedEof { offset: chunk.len() }),
    }
}

/// Iterates over the samples of an encoded chunk. Stops with an error on corrupt input; never panics.
#[derive(Clone, Debug)]
pub struct XorIterator<'a> {
    reader: BitReader<'a>,
    remaining: usize,
    read: usize,
    timestamp: i64,
    delta: i64,
    value_bits: u64,
    leading: u8,
    trailing: u8,
}

impl<'a> XorIterator<'a> {
    pub fn new(chunk: &'a [u8]) -> Result<Self, DecodeError> {
        let remaining = chunk_len(chunk)?;
        Ok(Self {
            reader: BitReader::new(&chunk[2..]),
            remaining,
            read: 0,
            timestamp: 0,
            delta: 0,
            value_bits: 0,
            leading: 0,
            trailing: 0,
        })
    }

    fn read_next(&mut self) -> Result<(i64, f64), DecodeError> {
        match self.read {
            0 => {
                self.timestamp = read_varint_bits(&mut self.reader)?;
                self.value_bits = self.reader.read_bits(64)?;
            }
            1 => {
                self.delta = read_varint_bits(&mut self.reader)?;
                self.timestamp = self.timestamp.wrapping_add(self.delta);
                self.read_value()?;
            }
            _ => {
                let prefix_len = self.reader.read_ones(4)?;
                let delta_of_delta = match prefix_len {
                    0 => 0,
                    1 => sign_extend(self.reader.read_bits(14)?, 14),
                    2 => sign_extend(self.reader.read_bits(17)?, 17),
                    3 => sign_extend(self.reader.read_bits(20)?, 20),
                    _ => self.reader.read_bits(64)? as i64,
                };
                self.delta = self.delta.wrapping_add(delta_of_delta);
                self.timestamp = self.timestamp.wrapping_add(self.delta);
                self.read_value()?;
            }
        }
        self.read += 1;
        Ok((self.timestamp, f64::from_bits(self.value_bits)))
    }

    fn read_value(&mut self) -> Result<(), DecodeError> {
        if !self.reader.read_bit()? {
            return Ok(());
        }
        if self.reader.read_bit()? {
            self.leading = self.reader.read_bits(5)? as u8;
            let mut significant = self.reader.read_bits(6)? as u8;
            if significant == 0 {
                significant = 64;
            }
            if u32::from(self.leading) + u32::from(significant) > 64 {
                return Err(DecodeError::CorruptChunk { reason: "xor window exceeds 64 bits" });
            }
            self.trailing = 64 - self.leading - significant;
        }
        let significant = 64 - u32::from(self.leading) - u32::from(self.trailing);
        if significant == 0 {
            return Err(DecodeError::CorruptChunk { reason: "xor window reused before being set" });
        }
        let bits = self.reader.read_bits(significant)?;
        self.value_bits ^= bits << self.trailing;
        Ok(())
    }
}

impl Iterator for XorIterator<'_> {
    type Item = Result<(i64, f64), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let item = self.read_next();
        if item.is_err() {
            self.remaining = 0;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Decodes a whole chunk, appending its samples to `timestamps` and `values`.
pub fn decode_chunk(chunk: &[u8], timestamps: &mut Vec<i64>, values: &mut Vec<f64>) -> Result<(), DecodeError> {
    for item in XorIterator::new(chunk)? {
        let (timestamp, value) = item?;
        timestamps.push(timestamp);
        values.push(value);
    }
    Ok(())
}

/// Encodes samples (strictly increasing timestamps) into one chunk, appending to `dst`.
/// Returns the number of samples encoded, which is fewer than given if a timestamp is out of order.
pub fn encode_chunk(dst: &mut Vec<u8>, timestamps: &[i64], values: &[f64]) -> usize {
    let mut appender = XorAppender::new();
    let mut encoded = 0;
    for (timestamp, value) in timestamps.iter().zip(values) {
        if !appender.append(*timestamp, *value) {
            break;
        }
        encoded += 1;
    }
    dst.extend_from_slice(appender.bytes());
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let mut appender = XorAppender::new();
        for (timestamp, value) in samples {
            assert!(appender.append(*timestamp, *value));
        }
        let bytes = appender.finish();
        XorIterator::new(&bytes).unwrap().map(|item| item.unwrap()).collect()
    }

    fn same_bits(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    proptest! {
        #[test]
        fn arbitrary_series_round_trip(
            start in -1_000_000_000_000i64..2_000_000_000_000,
            steps in proptest::collection::vec((1i64..10_000_000, any::<f64>()), 0..300),
        ) {
            let mut timestamp = start;
            let mut samples = Vec::new();
            for (step, value) in steps {
                timestamp += step;
                samples.push((timestamp, value));
            }
            let decoded = round_trip(&samples);
            prop_assert!(same_bits(&decoded, &samples));
        }

        #[test]
        fn regular_counters_round_trip(start in 0i64..2_000_000_000_000, increments in proptest::collection::vec(0u32..1000, 1..300)) {
            let mut value = 0.0;
            let samples: Vec<(i64, f64)> = increments.iter().enumerate().map(|(i, inc)| {
                value += f64::from(*inc);
                (start + i as i64 * 15_000, value)
            }).collect();
            prop_assert!(same_bits(&round_trip(&samples), &samples));
        }

        #[test]
        fn corrupt_chunks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(iterator) = XorIterator::new(&bytes) {
                for item in iterator { if item.is_err() { break; } }
            }
        }
    }

    #[test]
    fn delta_of_delta_bucket_boundaries_round_trip() {
        for bits in [14i64, 17, 20] {
            let half = 1i64 << (bits - 1);
            for dod in [half, half + 1, -half, -half + 1, half - 1, 1, -1] {
                // Deltas 1000 then 1000 + dod (kept positive so timestamps increase).
                let samples = [(0, 1.0), (100_000_000, 2.0), (200_000_000 + dod, 3.0)];
                assert!(same_bits(&round_trip(&samples), &samples), "dod {dod}");
            }
        }
    }

    #[test]
    fn regular_scrapes_compress_well_and_order_is_enforced() {
        let mut appender = XorAppender::new();
        for i in 0..120 {
            assert!(appender.append(1_700_000_000_000 + i * 15_000, 42.0));
        }
        // 120 constant samples at a fixed interval: a few header bytes, then 2 bits per sample.
        assert!(appender.bytes().len() < 50, "{} bytes", appender.bytes().len());
        assert!(!appender.append(1_700_000_000_000, 1.0), "older timestamp must be refused");
        assert_eq!(appender.len(), 120);
        let samples = [(1, f64::NAN), (2, f64::INFINITY), (3, -0.0), (4, f64::from_bits(0x7ff0_0000_0000_0002))];
        assert!(same_bits(&round_trip(&samples), &samples));
    }
}
