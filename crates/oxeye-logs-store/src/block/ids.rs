//! Hex identifiers moved out of a page's text into a column of their bytes (block format 4).
//!
//! Trace and span ids, hashes, keys and UUIDs are random: 4 bits a character at best, yet in a zstd frame their
//! characters share one Huffman table with the rest of the text, and each id breaks the matches around it. On the
//! bench corpus a page's text with its ids moved out plus the ids as bytes compress to 9 % less than the text as
//! it was. The writer replaces every *whole token* (see [`crate::tokens`]) of 16 to 254 hex characters (an even
//! count, all lowercase or all uppercase), and every UUID (8-4-4-4-12 hex digits of one case), by [`MARKER`] and a
//! code byte, and appends the id's bytes to the ids column. A literal [`MARKER`] byte in a line is escaped.
//!
//! Code byte after a [`MARKER`]:
//! - 0: a literal `0x01` byte;
//! - 1 / 2: a UUID, lowercase / uppercase: 16 bytes of the ids column;
//! - 8 to 127: that many bytes of the ids column, written as twice as many lowercase hex characters;
//! - 136 to 255: (code − 128) bytes, as uppercase hex characters.

use crate::tokens::for_each_token_at;

/// Starts an escape in a page's text (a control character that log lines practically never hold).
pub(crate) const MARKER: u8 = 0x01;
const LITERAL_MARKER: u8 = 0;
const UUID_LOWER: u8 = 1;
const UUID_UPPER: u8 = 2;
const UPPER: u8 = 0x80;
/// Bytes of the shortest and longest hex id moved out (16 and 254 characters).
const MIN_ID_BYTES: usize = 8;
const MAX_ID_BYTES: usize = 127;
const UUID_LEN: usize = 36;

/// 0–15 for a hex digit of the given case, else `NOT_HEX`.
const NOT_HEX: u8 = 0xff;
const LOWER_HEX_VALUE: [u8; 256] = hex_values(b'a');
const UPPER_HEX_VALUE: [u8; 256] = hex_values(b'A');

const fn hex_values(ten: u8) -> [u8; 256] {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 10 {
        table[(b'0' + digit) as usize] = digit;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 6 {
        table[(ten + letter) as usize] = 10 + letter;
        letter += 1;
    }
    table
}

/// Appends `line` to `text` with its hex ids moved to `ids`, and calls `visit` with every token of the line
/// (the tokens are walked once for both; see [`crate::tokens::for_each_token_at`]).
pub(crate) fn append_line(line: &[u8], text: &mut Vec<u8>, ids: &mut Vec<u8>, mut visit: impl FnMut(&[u8])) {
    let escape = memchr::memchr(MARKER, line).is_some();
    let mut copied = 0;
    for_each_token_at(line, |start, token| {
        visit(token);
        if start < copied {
            return; // a later group of a UUID already moved out
        }
        let Some((end, code)) = classify(line, start, token) else { return };
        copy_text(&line[copied..start], text, escape);
        text.push(MARKER);
        text.push(code);
        let values = if code & UPPER != 0 || code == UUID_UPPER { &UPPER_HEX_VALUE } else { &LOWER_HEX_VALUE };
        if code == UUID_LOWER || code == UUID_UPPER {
            for group in line[start..end].split(|&byte| byte == b'-') {
                push_hex_bytes(group, values, ids);
            }
        } else {
            push_hex_bytes(&line[start..end], values, ids);
        }
        copied = end;
    });
    copy_text(&line[copied..], text, escape);
}

fn copy_text(part: &[u8], text: &mut Vec<u8>, escape: bool) {
    if !escape {
        text.extend_from_slice(part);
        return;
    }
    for &byte in part {
        text.push(byte);
        if byte == MARKER {
            text.push(LITERAL_MARKER);
        }
    }
}

/// Whether the token `token` at `start` of `line` begins an id to move out: its end in `line` and its code.
#[inline]
fn classify(line: &[u8], start: usize, token: &[u8]) -> Option<(usize, u8)> {
    let len = token.len();
    if len == 8 {
        return uuid(line, start).map(|code| (start + UUID_LEN, code));
    }
    if !(2 * MIN_ID_BYTES..=2 * MAX_ID_BYTES).contains(&len) || !len.is_multiple_of(2) {
        return None;
    }
    if all_hex(token, &LOWER_HEX_VALUE) {
        Some((start + len, (len / 2) as u8))
    } else if all_hex(token, &UPPER_HEX_VALUE) {
        Some((start + len, UPPER | (len / 2) as u8))
    } else {
        None
    }
}

#[inline]
fn all_hex(bytes: &[u8], values: &[u8; 256]) -> bool {
    bytes.iter().all(|&byte| values[byte as usize] != NOT_HEX)
}

/// Whether `bytes` are lowercase hex digits, an even number of them (what [`push_lower_hex_bytes`] takes).
pub(crate) fn is_lower_hex(bytes: &[u8]) -> bool {
    bytes.len().is_multiple_of(2) && all_hex(bytes, &LOWER_HEX_VALUE)
}

/// Appends the bytes that the lowercase hex `digits` (checked with [`is_lower_hex`]) spell.
pub(crate) fn push_lower_hex_bytes(digits: &[u8], out: &mut Vec<u8>) {
    push_hex_bytes(digits, &LOWER_HEX_VALUE, out);
}

/// Appends `bytes` as lowercase hex.
pub(crate) fn push_lower_hex(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.extend_from_slice(&[LOWER_DIGITS[(byte >> 4) as usize], LOWER_DIGITS[(byte & 15) as usize]]);
    }
}

fn push_hex_bytes(digits: &[u8], values: &[u8; 256], out: &mut Vec<u8>) {
    for pair in digits.chunks_exact(2) {
        out.push(values[pair[0] as usize] << 4 | values[pair[1] as usize]);
    }
}

/// The code of a UUID starting at `start` of `line` (its first group already a whole token of 8 characters).
fn uuid(line: &[u8], start: usize) -> Option<u8> {
    let candidate = line.get(start..start + UUID_LEN)?;
    if line.get(start + UUID_LEN).is_some_and(|&byte| crate::tokens::is_token_byte(byte)) {
        return None;
    }
    let shape_ok = [8, 13, 18, 23].iter().all(|&dash| candidate[dash] == b'-');
    let groups = || [&candidate[..8], &candidate[9..13], &candidate[14..18], &candidate[19..23], &candidate[24..]];
    if !shape_ok {
        None
    } else if groups().iter().all(|group| all_hex(group, &LOWER_HEX_VALUE)) {
        Some(UUID_LOWER)
    } else if groups().iter().all(|group| all_hex(group, &UPPER_HEX_VALUE)) {
        Some(UUID_UPPER)
    } else {
        None
    }
}

/// Appends `text` to `out` with its ids put back from `ids`: the inverse of [`append_line`] over a page's lines.
/// Every byte of `ids` must be used.
pub(crate) fn restore(text: &[u8], ids: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    out.reserve(text.len() + 2 * ids.len());
    let (mut pos, mut used) = (0, 0);
    let mut take = |count: usize| {
        let bytes = ids.get(used..used + count).ok_or_else(|| format!("ids column shorter than its markers ({used})"));
        used += count;
        bytes
    };
    while let Some(found) = memchr::memchr(MARKER, &text[pos..]) {
        let at = pos + found;
        out.extend_from_slice(&text[pos..at]);
        let Some(&code) = text.get(at + 1) else { return Err(format!("marker without a code at byte {at}")) };
        match code {
            LITERAL_MARKER => out.push(MARKER),
            UUID_LOWER | UUID_UPPER => {
                let digits = if code == UUID_LOWER { LOWER_DIGITS } else { UPPER_DIGITS };
                let bytes = take(16)?;
                for (index, &byte) in bytes.iter().enumerate() {
                    if matches!(index, 4 | 6 | 8 | 10) {
                        out.push(b'-');
                    }
                    out.extend_from_slice(&[digits[(byte >> 4) as usize], digits[(byte & 15) as usize]]);
                }
            }
            _ if (MIN_ID_BYTES..=MAX_ID_BYTES).contains(&((code & !UPPER) as usize)) => {
                let digits = if code & UPPER != 0 { UPPER_DIGITS } else { LOWER_DIGITS };
                for &byte in take((code & !UPPER) as usize)? {
                    out.extend_from_slice(&[digits[(byte >> 4) as usize], digits[(byte & 15) as usize]]);
                }
            }
            _ => return Err(format!("unknown marker code {code} at byte {at}")),
        }
        pos = at + 2;
    }
    out.extend_from_slice(&text[pos..]);
    if used != ids.len() {
        return Err(format!("ids column has {} bytes, its markers use {used}", ids.len()));
    }
    Ok(())
}

const LOWER_DIGITS: &[u8; 16] = b"0123456789abcdef";
const UPPER_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(line: &str) -> (Vec<u8>, Vec<u8>, Vec<String>) {
        let (mut text, mut ids, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
        append_line(line.as_bytes(), &mut text, &mut ids, |token| tokens.push(String::from_utf8_lossy(token).into()));
        let mut back = Vec::new();
        restore(&text, &ids, &mut back).unwrap();
        assert_eq!(String::from_utf8(back).unwrap(), line, "round trip");
        (text, ids, tokens)
    }

    #[test]
    fn trace_span_ids_and_uuids_move_out_and_come_back() {
        let line = r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","req":"550e8400-e29b-41d4-a716-446655440000"}"#;
        let (text, ids, tokens) = moved(line);
        assert_eq!(
            text,
            b"{\"trace_id\":\"\x01\x10\",\"span_id\":\"\x01\x08\",\"req\":\"\x01\x01\"}".to_vec(),
            "{}",
            String::from_utf8_lossy(&text)
        );
        assert_eq!(ids.len(), 16 + 8 + 16);
        assert_eq!(&ids[..4], &[0x4b, 0xf9, 0x2f, 0x35]);
        assert_eq!(&ids[24..28], &[0x55, 0x0e, 0x84, 0x00]);
        // Every token is still visited, the UUID's groups included (the bloom filter sees the line as it is).
        assert_eq!(tokens.iter().filter(|t| t.as_str() == "e29b").count(), 1);
        assert!(tokens.contains(&"4bf92f3577b34da6a3ce929d0e0e4736".to_string()));
    }

    #[test]
    fn uppercase_ids_keep_their_case() {
        let (text, ids, _) = moved("A 4BF92F3577B34DA6 550E8400-E29B-41D4-A716-446655440000 z");
        assert_eq!(text, b"A \x01\x88 \x01\x02 z".to_vec());
        assert_eq!(ids.len(), 8 + 16);
    }

    #[test]
    fn only_whole_even_single_case_tokens_of_16_to_254_digits_move() {
        for line in [
            "short 4bf92f3577b34da",                          // 15 digits
            "odd 4bf92f3577b34da6a",                          // 17
            "mixed 4bf92f3577B34da6",                         // both cases
            "part x4bf92f3577b34da6",                         // inside a longer token
            "part 4bf92f3577b34da6_x",                        // `_` belongs to tokens
            "not-uuid 550e8400-e29b-41d4-a716-44665544000",   // last group short
            "not-uuid 550e8400-e29b-41d4-a716-4466554400001", // last group long
            "not-uuid 550e8400-E29B-41d4-a716-446655440000",  // mixed case
            "not-uuid 550e8400-e29b-41d4-a716-446655440000x",
            &format!("long {}", "ab".repeat(128)), // 256 digits
        ] {
            let (text, ids, _) = moved(line);
            assert!(ids.is_empty() && text == line.as_bytes(), "{line}: {:?}", String::from_utf8_lossy(&text));
        }
        let (_, ids, _) = moved(&format!("long {}", "ab".repeat(127)));
        assert_eq!(ids.len(), 127);
        let (_, ids, _) = moved("digits 1234567890123456 ok");
        assert_eq!(ids, [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56]);
    }

    #[test]
    fn marker_bytes_in_lines_are_escaped() {
        let line = "a\x01b \x01\x01 4bf92f3577b34da6\x01";
        let (text, _, _) = moved(line);
        assert_eq!(text, b"a\x01\x00b \x01\x00\x01\x00 \x01\x08\x01\x00".to_vec());
    }

    #[test]
    fn damaged_text_or_ids_are_errors() {
        let mut out = Vec::new();
        assert!(restore(b"x\x01", &[], &mut out).unwrap_err().contains("without a code"));
        assert!(restore(b"x\x01\x05", &[0; 5], &mut out).unwrap_err().contains("unknown marker code 5"));
        assert!(restore(b"x\x01\x08", &[0; 7], &mut out).unwrap_err().contains("shorter"));
        assert!(restore(b"x\x01\x08", &[0; 9], &mut out).unwrap_err().contains("has 9 bytes, its markers use 8"));
    }

    #[test]
    fn random_lines_round_trip() {
        // Lines built from pieces that exercise every branch, in a deterministic pseudo-random order.
        let pieces = [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00F067AA0BA902B7",
            "550e8400-e29b-41d4-a716-446655440000",
            "\x01",
            "-",
            " ",
            "abc",
            "12",
            "ü",
            "deadbeefdeadbee",
            "=",
            "\n",
            "550E8400-E29B-41D4-A716-446655440000",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let (mut text, mut ids, mut expected) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..2_000 {
            let mut line = String::new();
            for _ in 0..(state % 12) {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                line.push_str(pieces[(state >> 33) as usize % pieces.len()]);
            }
            append_line(line.as_bytes(), &mut text, &mut ids, |_| {});
            expected.extend_from_slice(line.as_bytes());
        }
        let mut back = Vec::new();
        restore(&text, &ids, &mut back).unwrap();
        assert!(back == expected);
        assert!(!ids.is_empty());
    }
}
