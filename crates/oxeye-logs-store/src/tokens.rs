//! Tokens of log text and the fixed hash under which they enter a block's bloom filter.
//!
//! A token is a maximal run of ASCII letters, digits and `_`, or of non-ASCII bytes (so UTF-8 words stay whole).
//! Tokens are case-sensitive, like LogQL's `|=`. The hash is fixed (not seeded) because it is persisted in block
//! files: changing it is a format change.

/// Whether each byte value belongs to a token (a table: this runs on every byte of every line at a cut).
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
        byte += 1;
    }
    table
};

/// Whether `byte` belongs to a token.
#[inline]
pub(crate) fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES[byte as usize]
}

/// Calls `visit` with the offset and bytes of every token of `text` (repeats included).
#[inline]
pub(crate) fn for_each_token_at(text: &[u8], mut visit: impl FnMut(usize, &[u8])) {
    let mut start = None;
    for (index, &byte) in text.iter().enumerate() {
        match (is_token_byte(byte), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                visit(begin, &text[begin..index]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        visit(begin, &text[begin..]);
    }
}

/// A token of a substring filter and what a matching text must contain because of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NeedleToken<'a> {
    pub token: &'a str,
    /// Delimited on both sides within the needle: every matching text contains it as a whole token. Otherwise it
    /// touches an edge of the needle and a matching text contains a token *at least as long* that extends it,
    /// which is this token itself when the text has no longer tokens.
    pub whole: bool,
}

/// The tokens of a substring filter `needle`, each with whether it is certainly whole in a matching text.
pub(crate) fn needle_tokens(needle: &str) -> Vec<NeedleToken<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut push = |begin: usize, end: usize| {
        let whole = begin > 0 && end < needle.len();
        tokens.push(NeedleToken { token: &needle[begin..end], whole });
    };
    for (index, &byte) in needle.as_bytes().iter().enumerate() {
        match (is_token_byte(byte), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                push(begin, index);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        push(begin, needle.len());
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

/// Whether a line token is a key of the bloom filter (block format 4 on). A number shorter than
/// [`LONG_KEY_LEN`] digits is not: numbers are a third of a page's distinct tokens (sizes, durations, ports,
/// pids), they are rarely what a substring filter looks for, and a filter's token can only be probed when it is
/// whole within the needle (`|= " 503 "`, not `|= "503"`) anyway. Leaving them out takes about a third off the
/// filters; a query for such a number reads the pages its other tokens do not rule out.
#[inline]
pub(crate) fn is_indexed_token(token: &[u8]) -> bool {
    token.len() >= LONG_KEY_LEN || !token.iter().all(u8::is_ascii_digit)
}

/// Keys at least this long (trace ids, span ids, request ids: what needle searches look for) enter the bloom filter
/// twice, under two independent hashes, so a probe for one has the false-positive rate squared.
pub(crate) const LONG_KEY_LEN: usize = 16;

/// The bloom keys of a token or pair of `len` bytes whose first hash is `hash`: itself, plus a second independent
/// hash for long ones (see [`LONG_KEY_LEN`]).
pub(crate) fn bloom_keys(hash: u64, len: usize) -> impl Iterator<Item = u64> {
    let second = (len >= LONG_KEY_LEN).then(|| oxeye_codec::hash::fmix64(hash ^ SECOND_KEY_SALT));
    std::iter::once(hash).chain(second)
}

const SECOND_KEY_SALT: u64 = 0x5851_f42d_4c95_7f2d;

const SEED: u64 = 0x6f78_6579_655f_6c67;

/// The block format's hash of a token or key: [`oxeye_codec::hash::seeded_hash`] under this store's seed.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    oxeye_codec::hash::seeded_hash(SEED, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_on_delimiters_and_keep_utf8_words() {
        let mut tokens = Vec::new();
        for_each_token_at("GET /api/v1_x?id=42 größe".as_bytes(), |_, t| {
            tokens.push(String::from_utf8(t.to_vec()).unwrap())
        });
        assert_eq!(tokens, ["GET", "api", "v1_x", "id", "42", "größe"]);
    }

    #[test]
    fn only_tokens_with_delimiters_on_both_sides_are_whole() {
        let f = |needle: &str, want: &[(&str, bool)]| {
            let got: Vec<(&str, bool)> = needle_tokens(needle).iter().map(|t| (t.token, t.whole)).collect();
            assert_eq!(got, want, "{needle:?}");
        };
        f("error", &[("error", false)]);
        f(" error ", &[("error", true)]);
        f("level=error msg", &[("level", false), ("error", true), ("msg", false)]);
        f("GET /api/users HTTP", &[("GET", false), ("api", true), ("users", true), ("HTTP", false)]);
        f("=x", &[("x", false)]);
        f("", &[]);
    }

    #[test]
    fn short_numbers_are_not_bloom_keys() {
        assert!(!is_indexed_token(b"503") && !is_indexed_token(b"123456789012345"));
        assert!(is_indexed_token(b"1234567890123456"), "long numbers (ids) are");
        assert!(is_indexed_token(b"v2") && is_indexed_token(b"x") && is_indexed_token(b"E11"));
    }

    #[test]
    fn long_keys_enter_the_bloom_twice() {
        let short: Vec<u64> = bloom_keys(hash_bytes(b"error"), 5).collect();
        assert_eq!(short, [hash_bytes(b"error")]);
        let trace = b"4bf92f3577b34da6a3ce929d0e0e4736";
        let long: Vec<u64> = bloom_keys(hash_bytes(trace), trace.len()).collect();
        assert_eq!(long.len(), 2);
        assert_eq!(long[0], hash_bytes(trace));
        assert_ne!(long[0], long[1]);
    }

    #[test]
    fn hash_is_fixed_across_processes() {
        // Persisted in block files: this value must never change (a change is a block format change).
        assert_ne!(hash_bytes(b"error"), hash_bytes(b"Error"));
        assert_ne!(pair_hash("a", "bc"), pair_hash("ab", "c"));
        assert_eq!(hash_bytes(b"trace"), 4_259_580_909_180_606_240);
    }
}
