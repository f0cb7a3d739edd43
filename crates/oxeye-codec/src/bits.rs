//! Bit-level writer and reader (most significant bit first), the substrate of the XOR chunk encoding.

use crate::DecodeError;

/// Appends bits to a byte vector. The last byte may be partially filled; `bit_len` tracks the exact length.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Number of valid bits in the last byte (0 means the last byte is full or there is none).
    used_in_last: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes writing after `bytes`, whose last byte holds `used_in_last` valid bits (0 = full).
    pub fn from_parts(bytes: Vec<u8>, used_in_last: u8) -> Self {
        Self { bytes, used_in_last }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Number of valid bits in the last byte (0 = full).
    pub fn used_in_last(&self) -> u8 {
        self.used_in_last
    }

    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Reserves room for `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        if self.used_in_last == 0 {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> self.used_in_last;
        }
        self.used_in_last = (self.used_in_last + 1) & 7;
    }

    /// Writes the low `count` bits of `value`, most significant first. `count` ≤ 64.
    #[inline]
    pub fn write_bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 64);
        let mut remaining = count;
        while remaining > 0 {
            if self.used_in_last == 0 {
                self.bytes.push(0);
            }
            let free = 8 - u32::from(self.used_in_last);
            let take = free.min(remaining);
            let shift = remaining - take;
            let chunk = ((value >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= chunk << (free - take);
            self.used_in_last = ((u32::from(self.used_in_last) + take) & 7) as u8;
            remaining -= take;
        }
    }
}

/// Reads bits written by [`BitWriter`].
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    position: usize,
    /// Total number of valid bits.
    bit_len: usize,
}

impl<'a> BitReader<'a> {
    /// Reads `bytes`, all bits valid.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0, bit_len: bytes.len() * 8 }
    }

    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, DecodeError> {
        if self.position >= self.bit_len {
            return Err(DecodeError::UnexpectedEof { offset: self.position / 8 });
        }
        let byte = self.bytes[self.position / 8];
        let bit = byte & (0x80 >> (self.position % 8)) != 0;
        self.position += 1;
        Ok(bit)
    }

    /// Reads `count` ≤ 64 bits as the low bits of a `u64`.
    #[inline]
    pub fn read_bits(&mut self, count: u32) -> Result<u64, DecodeError> {
        debug_assert!(count <= 64);
        if self.position + count as usize > self.bit_len {
            return Err(DecodeError::UnexpectedEof { offset: self.position / 8 });
        }
        // Fast path: the bits lie within the 8 bytes from the current byte (always, but for the last bytes of the
        // stream and a 64-bit read that is not byte-aligned): one unaligned big-endian load and two shifts.
        let (byte_index, shift) = (self.position / 8, (self.position % 8) as u32);
        if count > 0
            && count + shift <= 64
            && let Some(word) = self.bytes.get(byte_index..byte_index + 8)
        {
            let word = u64::from_be_bytes(word.try_into().unwrap_or([0; 8]));
            self.position += count as usize;
            return Ok((word << shift) >> (64 - count));
        }
        let mut value: u64 = 0;
        let mut remaining = count;
        while remaining > 0 {
            let byte = u64::from(self.bytes[self.position / 8]);
            let offset_in_byte = (self.position % 8) as u32;
            let available = 8 - offset_in_byte;
            let take = available.min(remaining);
            let bits = (byte >> (available - take)) & ((1u64 << take) - 1);
            value = if take == 64 { bits } else { (value << take) | bits };
            self.position += take as usize;
            remaining -= take;
        }
        Ok(value)
    }

    /// Reads bits while they are 1, at most `max` (≤ 56) of them, and the 0 that stops them if fewer; returns the
    /// number of 1 bits (a unary prefix, as Gorilla's timestamp codes use).
    #[inline]
    pub fn read_ones(&mut self, max: u32) -> Result<u32, DecodeError> {
        debug_assert!(max <= 56);
        let (byte_index, shift) = (self.position / 8, (self.position % 8) as u32);
        if self.position + (max as usize) < self.bit_len
            && let Some(word) = self.bytes.get(byte_index..byte_index + 8)
        {
            let word = u64::from_be_bytes(word.try_into().unwrap_or([0; 8])) << shift;
            let ones = (!word).leading_zeros().min(max);
            self.position += (ones + u32::from(ones < max)) as usize;
            return Ok(ones);
        }
        let mut ones = 0;
        while ones < max && self.read_bit()? {
            ones += 1;
        }
        Ok(ones)
    }

    /// The byte offset of the next unread bit, rounded up.
    pub fn byte_position(&self) -> usize {
        self.position.div_ceil(8)
    }
}

impl BitWriter {
    /// Mutable access to the written bytes (for patching a fixed-size header).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 1u32..=64), 0..100)) {
            let mut writer = BitWriter::new();
            for (value, count) in &items {
                writer.write_bits(*value, *count);
            }
            let bytes = writer.into_bytes();
            let mut reader = BitReader::new(&bytes);
            for (value, count) in &items {
                let mask = if *count == 64 { u64::MAX } else { (1u64 << count) - 1 };
                prop_assert_eq!(reader.read_bits(*count).unwrap(), value & mask);
            }
        }
    }

    proptest! {
        #[test]
        fn unary_prefixes_read_like_bit_by_bit(bits in proptest::collection::vec(any::<bool>(), 0..200), max in 1u32..=8) {
            let mut writer = BitWriter::new();
            for bit in &bits {
                writer.write_bit(*bit);
            }
            let bytes = writer.into_bytes();
            let (mut fast, mut slow) = (BitReader::new(&bytes), BitReader::new(&bytes));
            loop {
                let mut expected = 0;
                let slow_result = loop {
                    if expected == max {
                        break Ok(expected);
                    }
                    match slow.read_bit() {
                        Ok(true) => expected += 1,
                        Ok(false) => break Ok(expected),
                        Err(e) => break Err(e),
                    }
                };
                let fast_result = fast.read_ones(max);
                prop_assert_eq!(fast_result.is_ok(), slow_result.is_ok());
                if fast_result.is_err() {
                    break;
                }
                prop_assert_eq!(fast_result.unwrap(), slow_result.unwrap());
                prop_assert_eq!(fast.position, slow.position);
            }
        }
    }

    #[test]
    fn single_bits_and_eof() {
        let mut writer = BitWriter::new();
        for bit in [true, false, true, true, false, false, false, true, true] {
            writer.write_bit(bit);
        }
        assert_eq!(writer.bytes(), [0b1011_0001, 0b1000_0000]);
        assert_eq!(writer.used_in_last(), 1);
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes[..1]);
        assert_eq!(reader.read_bits(8).unwrap(), 0b1011_0001);
        assert!(reader.read_bit().is_err());
    }
}
