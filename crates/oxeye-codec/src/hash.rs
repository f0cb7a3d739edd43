//! A fixed, seeded 64-bit hash of byte strings, part of the logs and trace block formats (bloom keys): 8 bytes
//! at a time through a folded 64×64→128-bit multiply, finished with MurmurHash3's `fmix64`. It must never change:
//! blocks on disk hold its values.

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash of `bytes` under `seed` (each block format has its own seed).
pub fn seeded_hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut state = seed ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        state = folded_multiply(state ^ word, MULTIPLIER);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        state = folded_multiply(state ^ u64::from_le_bytes(last), MULTIPLIER);
    }
    fmix64(state)
}

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = (a as u128) * (b as u128);
    (product as u64) ^ ((product >> 64) as u64)
}

/// MurmurHash3's 64-bit finaliser: a bijective mix of all bits.
#[inline]
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_fixed() {
        // Blocks on disk depend on these exact values (the logs store's seed; tails of 1, 5 and 0 bytes).
        let logs_seed = 0x6f78_6579_655f_6c67;
        assert_eq!(seeded_hash(logs_seed, b"e"), 0x4f0a_edd0_64fa_84aa);
        assert_eq!(seeded_hash(logs_seed, b"error"), 0x3985_3dd0_120d_7bed);
        assert_eq!(seeded_hash(logs_seed, b"abcdefgh"), 0xdb95_18d3_4ad1_6153);
        assert_eq!(seeded_hash(logs_seed, b"4bf92f3577b34da6a3ce929d0e0e4736"), 0xd694_4974_dd5b_5fd2);
        assert_eq!(seeded_hash(0, b""), fmix64(0));
        assert_ne!(seeded_hash(1, b"abc"), seeded_hash(2, b"abc"));
        assert_ne!(seeded_hash(1, b"abcdefgh1"), seeded_hash(1, b"abcdefgh2"));
    }
}
