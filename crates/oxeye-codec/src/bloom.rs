//! A split-block bloom filter (as in Parquet and Impala), the page filter of the logs and trace blocks.
//!
//! The filter is an array of 256-bit blocks, each eight 32-bit words. A key's hash picks one block with its
//! upper 32 bits and sets one bit in each of the eight words with its lower 32 bits, so a probe touches one cache
//! line. Sized at 8 bits per distinct key, the false-positive rate is about 2 %. Encoded as the words in
//! little-endian order; the block count is the encoded length / 32.

const SALT: [u32; 8] =
    [0x47b6_137b, 0x4497_4d91, 0x8824_ad5b, 0xa2b7_289d, 0x7054_95c7, 0x2df1_424b, 0x9efc_4947, 0x5c6b_fb31];

const BITS_PER_KEY: usize = 8;

/// A filter being built.
#[derive(Debug)]
pub struct BloomBuilder {
    words: Vec<[u32; 8]>,
}

impl BloomBuilder {
    /// A filter for about `distinct_keys` keys.
    pub fn with_keys(distinct_keys: usize) -> Self {
        let blocks = (distinct_keys * BITS_PER_KEY).div_ceil(256).max(1);
        Self { words: vec![[0u32; 8]; blocks] }
    }

    pub fn insert(&mut self, hash: u64) {
        let block = block_index(hash, self.words.len());
        let masks = masks(hash as u32);
        for (word, mask) in self.words[block].iter_mut().zip(masks) {
            *word |= mask;
        }
    }

    pub fn encode(&self, dst: &mut Vec<u8>) {
        for block in &self.words {
            for word in block {
                dst.extend_from_slice(&word.to_le_bytes());
            }
        }
    }
}

/// An encoded filter, read in place.
#[derive(Clone, Copy, Debug)]
pub struct Bloom<'a> {
    bytes: &'a [u8],
}

impl<'a> Bloom<'a> {
    /// `None` if the length is not a whole number of blocks.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        (!bytes.is_empty() && bytes.len().is_multiple_of(32)).then_some(Self { bytes })
    }

    /// False only if the key was certainly never inserted.
    pub fn may_contain(&self, hash: u64) -> bool {
        let block = block_index(hash, self.bytes.len() / 32);
        let words = &self.bytes[block * 32..block * 32 + 32];
        masks(hash as u32).iter().enumerate().all(|(index, mask)| {
            let word = u32::from_le_bytes([
                words[index * 4],
                words[index * 4 + 1],
                words[index * 4 + 2],
                words[index * 4 + 3],
            ]);
            word & mask == *mask
        })
    }
}

#[inline]
fn block_index(hash: u64, blocks: usize) -> usize {
    (((hash >> 32) * blocks as u64) >> 32) as usize
}

#[inline]
fn masks(key: u32) -> [u32; 8] {
    let mut masks = [0u32; 8];
    for (mask, salt) in masks.iter_mut().zip(SALT) {
        *mask = 1u32 << (key.wrapping_mul(salt) >> 27);
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::seeded_hash;

    fn hash_bytes(bytes: &[u8]) -> u64 {
        seeded_hash(0x1234, bytes)
    }

    #[test]
    fn inserted_keys_are_found_and_absent_keys_mostly_not() {
        let mut builder = BloomBuilder::with_keys(10_000);
        for i in 0..10_000 {
            builder.insert(hash_bytes(format!("token{i}").as_bytes()));
        }
        let mut encoded = Vec::new();
        builder.encode(&mut encoded);
        let bloom = Bloom::new(&encoded).expect("whole blocks");
        assert!((0..10_000).all(|i| bloom.may_contain(hash_bytes(format!("token{i}").as_bytes()))));
        let false_positives =
            (0..100_000).filter(|i| bloom.may_contain(hash_bytes(format!("absent{i}").as_bytes()))).count();
        assert!(false_positives < 3_500, "false-positive rate {false_positives}/100000 is above 3.5 %");
    }

    #[test]
    fn malformed_lengths_are_refused() {
        assert!(Bloom::new(&[]).is_none());
        assert!(Bloom::new(&[0; 33]).is_none());
    }
}
