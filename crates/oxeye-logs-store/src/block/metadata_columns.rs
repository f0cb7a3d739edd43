//! A page's structured metadata in block format 2: one column per key, stored after the page's lines in the
//! same zstd frame.
//!
//! Format 1 stored each row's pairs as length-prefixed strings in a zstd frame of their own. Two things made it
//! large: the per-row repetition of names and of a handful of values (`detected_level`, `host_name`, scope), and
//! ids that the line already holds (an OTLP record's `trace_id` is usually in its body too), which a separate
//! frame cannot refer to. Here a row names its *shape* (the sequence of keys it has), each key keeps a column of
//! values, and a value is a dictionary reference, a reference into the row's own line, raw bytes for lowercase
//! hex ids, or a literal. Byte layout: `docs/formats/logs-block.md` ("Metadata columns").
//!
//! The reader turns a section back into format 1's row layout (`count, (name, value)*` per row), so everything
//! after loading a page is the same for both formats.

use std::collections::HashMap;

use oxeye_codec::varint::{get_bytes, get_uvarint, put_bytes, put_uvarint};

use super::ids;

/// A value of at least this many bytes is looked up in the row's line (then hex, then literal); a shorter one in
/// the key's dictionary.
const LONG_VALUE_LEN: usize = 16;
/// A key's dictionary holds at most this many values (the first short literals of the page).
const DICTIONARY_MAX: usize = 256;

/// Value codes: a literal (`str`) follows.
const CODE_LITERAL: u64 = 0;
/// `uvarint start, uvarint len` follow: the value is `line[start..start + len]` of the row's line.
const CODE_IN_LINE: u64 = 1;
/// `uvarint n, n bytes` follow: the value is their lowercase hex (2n characters).
const CODE_HEX: u64 = 2;
/// `CODE_DICTIONARY + i`: the key's dictionary entry `i`.
const CODE_DICTIONARY: u64 = 3;

/// One key's column of values while a page is filled.
#[derive(Default)]
struct KeyColumn {
    bytes: Vec<u8>,
    dictionary: HashMap<String, u32>,
    dictionary_values: Vec<String>,
    last_dictionary_hit: Option<u32>,
}

impl KeyColumn {
    fn push(&mut self, line: &str, value: &str) {
        if value.len() < LONG_VALUE_LEN {
            self.push_short(value);
            return;
        }
        if let Some(start) = find_in_line(line.as_bytes(), value.as_bytes()) {
            put_uvarint(&mut self.bytes, CODE_IN_LINE);
            put_uvarint(&mut self.bytes, start as u64);
            put_uvarint(&mut self.bytes, value.len() as u64);
        } else if ids::is_lower_hex(value.as_bytes()) {
            put_uvarint(&mut self.bytes, CODE_HEX);
            put_uvarint(&mut self.bytes, value.len() as u64 / 2);
            ids::push_lower_hex_bytes(value.as_bytes(), &mut self.bytes);
        } else {
            put_uvarint(&mut self.bytes, CODE_LITERAL);
            put_bytes(&mut self.bytes, value.as_bytes());
        }
    }

    fn push_short(&mut self, value: &str) {
        let hit = match self.last_dictionary_hit {
            Some(index) if self.dictionary_values[index as usize] == value => Some(index),
            _ => self.dictionary.get(value).copied(),
        };
        if let Some(index) = hit {
            self.last_dictionary_hit = Some(index);
            put_uvarint(&mut self.bytes, CODE_DICTIONARY + index as u64);
            return;
        }
        put_uvarint(&mut self.bytes, CODE_LITERAL);
        put_bytes(&mut self.bytes, value.as_bytes());
        if self.dictionary_values.len() < DICTIONARY_MAX {
            let index = self.dictionary_values.len() as u32;
            self.dictionary.insert(value.to_string(), index);
            self.dictionary_values.push(value.to_string());
            self.last_dictionary_hit = Some(index);
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.dictionary.clear();
        self.dictionary_values.clear();
        self.last_dictionary_hit = None;
    }
}

/// Collects a page's metadata row by row and encodes it as a section (see the module doc).
#[derive(Default)]
pub(crate) struct MetadataColumnsBuilder {
    has_pairs: bool,
    key_names: Vec<String>,
    key_by_name: HashMap<String, u32>,
    columns: Vec<KeyColumn>,
    /// Shapes (sequences of key indices), flattened; `shape_bounds[i]..shape_bounds[i + 1]` is shape `i`.
    shape_keys: Vec<u32>,
    shape_bounds: Vec<usize>,
    shape_by_keys: HashMap<Vec<u32>, u32>,
    row_shapes: Vec<u32>,
    row_keys: Vec<u32>,
}

impl MetadataColumnsBuilder {
    /// Adds a row: its line (for in-line references) and its pairs, in order.
    pub(crate) fn push_row(&mut self, line: &str, metadata: &[(&str, &str)]) {
        if self.shape_bounds.is_empty() {
            self.shape_bounds.push(0);
        }
        if let Some(shape) = self.same_shape_as_previous_row(metadata) {
            self.row_shapes.push(shape);
        } else {
            self.row_keys.clear();
            for (name, _) in metadata {
                let key = match self.key_by_name.get(*name) {
                    Some(key) => *key,
                    None => {
                        let key = self.key_names.len() as u32;
                        self.key_names.push(name.to_string());
                        self.key_by_name.insert(name.to_string(), key);
                        if self.columns.len() <= key as usize {
                            self.columns.push(KeyColumn::default());
                        }
                        key
                    }
                };
                self.row_keys.push(key);
            }
            let shape = match self.shape_by_keys.get(&self.row_keys) {
                Some(shape) => *shape,
                None => {
                    let shape = (self.shape_bounds.len() - 1) as u32;
                    self.shape_keys.extend_from_slice(&self.row_keys);
                    self.shape_bounds.push(self.shape_keys.len());
                    self.shape_by_keys.insert(self.row_keys.clone(), shape);
                    shape
                }
            };
            self.row_shapes.push(shape);
        }
        let shape = *self.row_shapes.last().unwrap_or(&0) as usize;
        let keys = &self.shape_keys[self.shape_bounds[shape]..self.shape_bounds[shape + 1]];
        for (key, (_, value)) in keys.iter().zip(metadata) {
            self.columns[*key as usize].push(line, value);
        }
        self.has_pairs |= !metadata.is_empty();
    }

    /// The previous row's shape, if this row's names are the same.
    fn same_shape_as_previous_row(&self, metadata: &[(&str, &str)]) -> Option<u32> {
        let shape = *self.row_shapes.last()? as usize;
        let keys = &self.shape_keys[self.shape_bounds[shape]..self.shape_bounds[shape + 1]];
        let same = keys.len() == metadata.len()
            && keys.iter().zip(metadata).all(|(key, (name, _))| self.key_names[*key as usize] == *name);
        same.then_some(shape as u32)
    }

    /// Whether any row so far has a pair (a page without any stores no section).
    pub(crate) fn has_pairs(&self) -> bool {
        self.has_pairs
    }

    /// Appends the section to `dst`.
    pub(crate) fn encode(&self, dst: &mut Vec<u8>) {
        put_uvarint(dst, self.key_names.len() as u64);
        for name in &self.key_names {
            put_bytes(dst, name.as_bytes());
        }
        let shape_count = self.shape_bounds.len().saturating_sub(1);
        put_uvarint(dst, shape_count as u64);
        for shape in 0..shape_count {
            let keys = &self.shape_keys[self.shape_bounds[shape]..self.shape_bounds[shape + 1]];
            put_uvarint(dst, keys.len() as u64);
            for key in keys {
                put_uvarint(dst, *key as u64);
            }
        }
        for shape in &self.row_shapes {
            put_uvarint(dst, *shape as u64);
        }
        for column in &self.columns[..self.key_names.len()] {
            put_bytes(dst, &column.bytes);
        }
    }

    /// Empties the builder for the next page, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.has_pairs = false;
        self.key_names.clear();
        self.key_by_name.clear();
        self.columns.iter_mut().for_each(KeyColumn::clear);
        self.shape_keys.clear();
        self.shape_bounds.clear();
        self.shape_by_keys.clear();
        self.row_shapes.clear();
    }
}

/// Where `needle` (not empty) first occurs in `line`. A one-shot search in a short line: candidates come from
/// `memchr` on the needle's first byte and are compared directly, which costs less than setting up a substring
/// searcher for every value.
fn find_in_line(line: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, line).find(|&at| line[at + 1..].starts_with(rest))
}

/// Decodes a section for rows whose lines are `lines` (concatenated, `line_lengths` each) into format 1's row
/// layout, appended to `out`: per row `uvarint count, (str name, str value) × count`. Fails with the reason on
/// malformed input (never panics).
pub(crate) fn decode_into_rows(
    section: &[u8],
    lines: &[u8],
    line_lengths: &[u32],
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    const TRUNCATED: &str = "metadata section truncated";
    let mut pos = 0;
    let key_count = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
    let mut names = Vec::with_capacity(key_count.min(section.len()));
    for _ in 0..key_count {
        let name = get_bytes(section, &mut pos).map_err(|_| TRUNCATED)?;
        std::str::from_utf8(name).map_err(|_| "metadata name is not UTF-8")?;
        names.push(name);
    }
    let shape_count = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
    let mut shape_keys = Vec::new();
    let mut shape_bounds = Vec::with_capacity(shape_count.min(section.len()) + 1);
    shape_bounds.push(0);
    for _ in 0..shape_count {
        let len = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
        if len > section.len() {
            return Err(TRUNCATED);
        }
        for _ in 0..len {
            let key = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
            if key >= key_count {
                return Err("metadata shape names an unknown key");
            }
            shape_keys.push(key);
        }
        shape_bounds.push(shape_keys.len());
    }
    let mut row_shapes = Vec::with_capacity(line_lengths.len());
    for _ in 0..line_lengths.len() {
        let shape = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
        if shape >= shape_count {
            return Err("metadata row names an unknown shape");
        }
        row_shapes.push(shape);
    }
    // Each key's column: a cursor and the end, and its dictionary.
    let mut cursors = Vec::with_capacity(key_count);
    for _ in 0..key_count {
        let column_len = get_uvarint(section, &mut pos).map_err(|_| TRUNCATED)? as usize;
        let end = pos.checked_add(column_len).filter(|end| *end <= section.len()).ok_or(TRUNCATED)?;
        cursors.push((pos, end));
        pos = end;
    }
    if pos != section.len() {
        return Err("metadata section has trailing bytes");
    }
    let mut dictionaries: Vec<Vec<&[u8]>> = vec![Vec::new(); key_count];
    let mut line_start = 0usize;
    for (&shape, &line_len) in row_shapes.iter().zip(line_lengths) {
        let line_end = line_start.checked_add(line_len as usize).ok_or("line outside its column")?;
        let line = lines.get(line_start..line_end).ok_or("line outside its column")?;
        line_start = line_end;
        let keys = &shape_keys[shape_bounds[shape]..shape_bounds[shape + 1]];
        put_uvarint(out, keys.len() as u64);
        for &key in keys {
            put_bytes(out, names[key]);
            let (cursor, end) = &mut cursors[key];
            let column = &section[..*end];
            let code = get_uvarint(column, cursor).map_err(|_| TRUNCATED)?;
            match code {
                CODE_LITERAL => {
                    let value = get_bytes(column, cursor).map_err(|_| TRUNCATED)?;
                    std::str::from_utf8(value).map_err(|_| "metadata value is not UTF-8")?;
                    put_bytes(out, value);
                    let dictionary = &mut dictionaries[key];
                    if value.len() < LONG_VALUE_LEN && dictionary.len() < DICTIONARY_MAX {
                        dictionary.push(value);
                    }
                }
                CODE_IN_LINE => {
                    let start = get_uvarint(column, cursor).map_err(|_| TRUNCATED)? as usize;
                    let len = get_uvarint(column, cursor).map_err(|_| TRUNCATED)? as usize;
                    let value = start
                        .checked_add(len)
                        .and_then(|end| line.get(start..end))
                        .ok_or("metadata value outside its line")?;
                    std::str::from_utf8(value).map_err(|_| "metadata value is not UTF-8")?;
                    put_bytes(out, value);
                }
                CODE_HEX => {
                    let len = get_uvarint(column, cursor).map_err(|_| TRUNCATED)? as usize;
                    let bytes = cursor
                        .checked_add(len)
                        .and_then(|value_end| column.get(*cursor..value_end))
                        .ok_or(TRUNCATED)?;
                    *cursor += len;
                    put_uvarint(out, 2 * len as u64);
                    ids::push_lower_hex(bytes, out);
                }
                _ => {
                    let index = usize::try_from(code - CODE_DICTIONARY).map_err(|_| "metadata value code too large")?;
                    let value = dictionaries[key].get(index).ok_or("metadata dictionary reference out of range")?;
                    put_bytes(out, value);
                }
            }
        }
    }
    if cursors.iter().any(|(cursor, end)| cursor != end) {
        return Err("metadata column has values left over");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::decode_metadata;
    use proptest::prelude::*;

    type Rows = Vec<(String, Vec<(String, String)>)>;

    /// Encodes rows, decodes them back through format 1's row layout, and returns the section's size.
    fn round_trip(rows: &Rows) -> usize {
        let mut builder = MetadataColumnsBuilder::default();
        let mut lines = Vec::new();
        let mut line_lengths = Vec::new();
        for (line, metadata) in rows {
            let pairs: Vec<(&str, &str)> = metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            builder.push_row(line, &pairs);
            lines.extend_from_slice(line.as_bytes());
            line_lengths.push(line.len() as u32);
        }
        let mut section = Vec::new();
        builder.encode(&mut section);
        let mut decoded = Vec::new();
        decode_into_rows(&section, &lines, &line_lengths, &mut decoded).expect("decodes");
        let mut pos = 0;
        for (_, metadata) in rows {
            let start = pos;
            let count = get_uvarint(&decoded, &mut pos).unwrap();
            for _ in 0..count * 2 {
                get_bytes(&decoded, &mut pos).unwrap();
            }
            let mut got = Vec::new();
            decode_metadata(&decoded[start..pos], &mut got);
            let want: Vec<(&str, &str)> = metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            assert_eq!(got, want);
        }
        assert_eq!(pos, decoded.len());
        // A cleared builder starts afresh.
        builder.clear();
        assert!(!builder.has_pairs());
        section.len()
    }

    fn row(line: &str, pairs: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
        (line.to_string(), pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }

    #[test]
    fn every_kind_of_value_round_trips() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let rows = vec![
            row(&format!(r#"{{"trace_id":"{trace}","msg":"ü"}}"#), &[("trace_id", trace), ("detected_level", "info")]),
            row("no metadata", &[]),
            // Same shape, value from the dictionary; a hex id not in the line; a long literal.
            row("x", &[("trace_id", "00f067aa0ba902b7aaaaaaaaaaaaaaaa"), ("detected_level", "info")]),
            row("y", &[("trace_id", "Not-Hex-And-Long-Enough"), ("detected_level", "warn")]),
            // Another order of the same keys, a repeated key, an empty value, odd-length hex.
            row("z", &[("detected_level", ""), ("trace_id", "abc"), ("trace_id", "abcdef0123456789a")]),
            row("", &[("größe", "ü")]),
        ];
        round_trip(&rows);
    }

    #[test]
    fn repeated_values_cost_a_byte_and_ids_in_the_line_a_few() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let line = format!(r#"{{"level":"info","trace_id":"{trace}"}}"#);
        let rows: Rows = (0..1000).map(|_| row(&line, &[("detected_level", "info"), ("trace_id", trace)])).collect();
        let size = round_trip(&rows);
        // Per row: the shape (1 byte), the level's dictionary code (1), the trace id's code, start and length (3).
        assert!(size < 5 * 1000 + 100, "{size}");
    }

    #[test]
    fn more_distinct_short_values_than_the_dictionary_holds() {
        let rows: Rows = (0..(DICTIONARY_MAX as u32 + 50))
            .chain(0..10)
            .map(|i| row("line", &[("status", &i.to_string())]))
            .collect();
        round_trip(&rows);
    }

    #[test]
    fn damaged_sections_are_errors_not_panics() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let line = format!("trace {trace}");
        let mut builder = MetadataColumnsBuilder::default();
        builder.push_row(&line, &[("trace_id", trace), ("level", "info"), ("span", "00f067aa0ba902b7")]);
        builder.push_row(&line, &[("level", "info")]);
        let mut section = Vec::new();
        builder.encode(&mut section);
        let lines = format!("{line}{line}");
        let lengths = [line.len() as u32; 2];
        let mut out = Vec::new();
        assert!(decode_into_rows(&section, lines.as_bytes(), &lengths, &mut out).is_ok());
        for cut in 0..section.len() {
            out.clear();
            assert!(decode_into_rows(&section[..cut], lines.as_bytes(), &lengths, &mut out).is_err(), "cut {cut}");
        }
        for index in 0..section.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = section.clone();
                damaged[index] ^= flip;
                out.clear();
                let _ = decode_into_rows(&damaged, lines.as_bytes(), &lengths, &mut out);
            }
        }
        // The in-line reference must stay inside its (shorter) line.
        out.clear();
        assert!(decode_into_rows(&section, &lines.as_bytes()[..10], &[5, 5], &mut out).is_err());
    }

    #[test]
    fn values_are_found_in_their_line() {
        assert_eq!(find_in_line(b"aab aabc", b"aabc"), Some(4));
        assert_eq!(find_in_line(b"abc", b"abcd"), None);
        assert_eq!(find_in_line(b"xyz", b"z"), Some(2));
        assert_eq!(find_in_line(b"xyz", b""), None);
    }

    proptest! {
        #[test]
        fn arbitrary_rows_round_trip(
            rows in proptest::collection::vec(
                (
                    "[a-f0-9 ü\"]{0,40}",
                    proptest::collection::vec(("[a-c]{1,2}", "[a-f0-9ü]{0,34}"), 0..4),
                ),
                0..40,
            )
        ) {
            // Make some values appear in their line.
            let rows: Rows = rows
                .into_iter()
                .map(|(line, pairs)| {
                    let line = pairs.iter().fold(line, |line, (_, value)| if value.len() % 3 == 0 { format!("{line}{value}") } else { line });
                    (line, pairs)
                })
                .collect();
            round_trip(&rows);
        }

        #[test]
        fn arbitrary_bytes_never_panic(section in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_into_rows(&section, b"abcdefghij", &[3, 7], &mut out);
        }
    }
}
