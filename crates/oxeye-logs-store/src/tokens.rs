//! Tokens of log text and the fixed hash under which they enter a block's bloom filter.
//!
//! A token is a maximal run of ASCII letters, digits and `_`, or of non-ASCII bytes (so UTF-8 words stay whole).
//! Tokens are case-sensitive, like LogQL's `|=`. The hash is fixed (not seeded) because it is persisted in block
//! files: changing it is a format change.

/// Whether `byte` belongs to a token.
#[inline]
pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// Calls `visit` with the hash of every token of `text` (repeats included).
pub(crate) fn for_each_token_hash(text: &[u8], mut visit: impl FnMut(u64)) {
    let mut start = None;
    for (index, &byte) in text.iter().enumerate() {
        match (is_token_byte(byte), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                visit(hash_bytes(&text[begin..index]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        visit(hash_bytes(&text[begin..]));
    }
}

/// The tokens that every text containing `needle` as a substring must contain *as whole tokens*: the tokens of
/// `needle` that have a delimiter (or the needle's edge followed by a delimiter inside the needle) on both sides.
/// A token touching an edge of the needle may be part of a longer token in the text, so it is not returned.
pub(crate) fn whole_tokens_of_substring(needle: &str) -> Vec<&str> {
    let bytes = needle.as_bytes();
    let mut tokens = Vec::new();
    let mut start = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match (is_token_byte(byte), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                if begin > 0 {
                    tokens.push(&needle[begin..index]);
                }
                start = None;
            }
            _ => {}
        }
    }
    tokens
}

/// Hash of a structured-metadata or label pair, as entered in the bloom filter (distinct from token hashes by a
/// separator byte no token contains).
pub(crate) fn pair_hash(name: &str, value: &str) -> u64 {
    let mut key = Vec::with_capacity(name.len() + value.len() + 1);
    key.extend_from_slice(name.as_bytes());
    key.push(0xff);
    key.extend_from_slice(value.as_bytes());
    hash_bytes(&key)
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED: u64 = 0x6f78_6579_655f_6c67;

/// A fixed 64-bit hash: 8 bytes at a time through a folded 64×64→128-bit multiply, finished with MurmurHash3's
/// `fmix64`. Part of the block format.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut state = SEED ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
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

#[inline]
fn fmix64(mut k: u64) -> u64 {
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
    fn tokens_split_on_delimiters_and_keep_utf8_words() {
        let mut hashes = Vec::new();
        for_each_token_hash("GET /api/v1_x?id=42 größe".as_bytes(), |h| hashes.push(h));
        let expected: Vec<u64> =
            ["GET", "api", "v1_x", "id", "42", "größe"].iter().map(|t| hash_bytes(t.as_bytes())).collect();
        assert_eq!(hashes, expected);
    }

    #[test]
    fn only_tokens_with_delimiters_on_both_sides_are_whole() {
        let f = |needle: &str, want: &[&str]| assert_eq!(whole_tokens_of_substring(needle), want, "{needle:?}");
        f("error", &[]);
        f("4bf92f3577b34da6a3ce929d0e0e4736", &[]);
        f(" error ", &["error"]);
        f("level=error msg", &["error"]);
        f("GET /api/users HTTP", &["api", "users"]);
        f("=x", &[]);
        f("a b", &[]);
    }

    #[test]
    fn hash_is_fixed_across_processes() {
        // Persisted in block files: this value must never change (a change is a block format change).
        assert_ne!(hash_bytes(b"error"), hash_bytes(b"Error"));
        assert_ne!(pair_hash("a", "bc"), pair_hash("ab", "c"));
        assert_eq!(hash_bytes(b"trace"), 4_259_580_909_180_606_240);
    }
}
