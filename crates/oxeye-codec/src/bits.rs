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
