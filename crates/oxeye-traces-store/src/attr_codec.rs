//! Attribute values in bytes, shared by the WAL (strings inline) and blocks (strings as indexes into a page's
//! string dictionary).
//!
//! A value is a tag byte and a payload: `0` string (a string reference), `1` false, `2` true, `3` int (zigzag
//! varint), `4` double (8 bytes LE, bit-exact), `5` bytes (uvarint length + bytes), `6` array (uvarint count +
//! values), `7` key-value list (attributes). Attributes are `uvarint count, (key string reference, value)*`. How a
//! string reference is written is the caller's choice ([`StringOut`] / [`StringIn`]).

use oxeye_codec::varint::{get_bytes, get_str, get_uvarint, get_varint, put_bytes, put_uvarint, put_varint};
use oxeye_model::{AttrValue, Attribute};

pub(crate) const TAG_STR: u8 = 0;
pub(crate) const TAG_FALSE: u8 = 1;
pub(crate) const TAG_TRUE: u8 = 2;
pub(crate) const TAG_INT: u8 = 3;
pub(crate) const TAG_DOUBLE: u8 = 4;
pub(crate) const TAG_BYTES: u8 = 5;
pub(crate) const TAG_ARRAY: u8 = 6;
pub(crate) const TAG_KVLIST: u8 = 7;

/// Arrays and key-value lists nested deeper than this are refused when decoding (bounded recursion on input).
pub(crate) const MAX_DEPTH: usize = 32;

/// Writes a string reference.
pub(crate) trait StringOut {
    fn put(&mut self, dst: &mut Vec<u8>, text: &str);
}

/// Reads (or skips) a string reference.
pub(crate) trait StringIn {
    fn get(&self, src: &[u8], pos: &mut usize) -> Option<String>;
    fn skip(&self, src: &[u8], pos: &mut usize) -> Option<()>;
}

/// Strings written in place: uvarint length and UTF-8 bytes (the WAL).
pub(crate) struct InlineStrings;

impl StringOut for InlineStrings {
    fn put(&mut self, dst: &mut Vec<u8>, text: &str) {
        put_bytes(dst, text.as_bytes());
    }
}

impl StringIn for InlineStrings {
    fn get(&self, src: &[u8], pos: &mut usize) -> Option<String> {
        get_str(src, pos).ok().map(str::to_string)
    }

    fn skip(&self, src: &[u8], pos: &mut usize) -> Option<()> {
        get_bytes(src, pos).ok().map(|_| ())
    }
}

pub(crate) fn encode_value(dst: &mut Vec<u8>, value: &AttrValue, strings: &mut impl StringOut) {
    match value {
        AttrValue::Str(text) => {
            dst.push(TAG_STR);
            strings.put(dst, text);
        }
        AttrValue::Bool(false) => dst.push(TAG_FALSE),
        AttrValue::Bool(true) => dst.push(TAG_TRUE),
        AttrValue::Int(number) => {
            dst.push(TAG_INT);
            put_varint(dst, *number);
        }
        AttrValue::Double(number) => {
            dst.push(TAG_DOUBLE);
            dst.extend_from_slice(&number.to_bits().to_le_bytes());
        }
        AttrValue::Bytes(bytes) => {
            dst.push(TAG_BYTES);
            put_bytes(dst, bytes);
        }
        AttrValue::Array(values) => {
            dst.push(TAG_ARRAY);
            put_uvarint(dst, values.len() as u64);
            for value in values {
                encode_value(dst, value, strings);
            }
        }
        AttrValue::KvList(pairs) => {
            dst.push(TAG_KVLIST);
            encode_attributes(dst, pairs, strings);
        }
    }
}

pub(crate) fn encode_attributes(dst: &mut Vec<u8>, attributes: &[Attribute], strings: &mut impl StringOut) {
    put_uvarint(dst, attributes.len() as u64);
    for attribute in attributes {
        strings.put(dst, &attribute.key);
        encode_value(dst, &attribute.value, strings);
    }
}

pub(crate) fn decode_value(src: &[u8], pos: &mut usize, strings: &impl StringIn, depth: usize) -> Option<AttrValue> {
    let tag = *src.get(*pos)?;
    *pos += 1;
    Some(match tag {
        TAG_STR => AttrValue::Str(strings.get(src, pos)?),
        TAG_FALSE => AttrValue::Bool(false),
        TAG_TRUE => AttrValue::Bool(true),
        TAG_INT => AttrValue::Int(get_varint(src, pos).ok()?),
        TAG_DOUBLE => {
            let bytes = src.get(*pos..*pos + 8)?;
            *pos += 8;
            AttrValue::Double(f64::from_bits(u64::from_le_bytes(bytes.try_into().ok()?)))
        }
        TAG_BYTES => AttrValue::Bytes(get_bytes(src, pos).ok()?.to_vec()),
        TAG_ARRAY if depth < MAX_DEPTH => {
            let count = get_uvarint(src, pos).ok()? as usize;
            let mut values = Vec::with_capacity(count.min(src.len()));
            for _ in 0..count {
                values.push(decode_value(src, pos, strings, depth + 1)?);
            }
            AttrValue::Array(values)
        }
        TAG_KVLIST if depth < MAX_DEPTH => AttrValue::KvList(decode_attributes_at(src, pos, strings, depth + 1)?),
        _ => return None,
    })
}

pub(crate) fn skip_value(src: &[u8], pos: &mut usize, strings: &impl StringIn, depth: usize) -> Option<()> {
    let tag = *src.get(*pos)?;
    *pos += 1;
    match tag {
        TAG_STR => strings.skip(src, pos)?,
        TAG_FALSE | TAG_TRUE => {}
        TAG_INT => {
            get_varint(src, pos).ok()?;
        }
        TAG_DOUBLE => {
            src.get(*pos..*pos + 8)?;
            *pos += 8;
        }
        TAG_BYTES => {
            get_bytes(src, pos).ok()?;
        }
        TAG_ARRAY if depth < MAX_DEPTH => {
            let count = get_uvarint(src, pos).ok()?;
            for _ in 0..count {
                skip_value(src, pos, strings, depth + 1)?;
            }
        }
        TAG_KVLIST if depth < MAX_DEPTH => skip_attributes_at(src, pos, strings, depth + 1)?,
        _ => return None,
    }
    Some(())
}

pub(crate) fn decode_attributes(src: &[u8], pos: &mut usize, strings: &impl StringIn) -> Option<Vec<Attribute>> {
    decode_attributes_at(src, pos, strings, 0)
}

fn decode_attributes_at(src: &[u8], pos: &mut usize, strings: &impl StringIn, depth: usize) -> Option<Vec<Attribute>> {
    let count = get_uvarint(src, pos).ok()? as usize;
    let mut attributes = Vec::with_capacity(count.min(src.len()));
    for _ in 0..count {
        let key = strings.get(src, pos)?;
        let value = decode_value(src, pos, strings, depth)?;
        attributes.push(Attribute { key, value });
    }
    Some(attributes)
}

pub(crate) fn skip_attributes(src: &[u8], pos: &mut usize, strings: &impl StringIn) -> Option<()> {
    skip_attributes_at(src, pos, strings, 0)
}

fn skip_attributes_at(src: &[u8], pos: &mut usize, strings: &impl StringIn, depth: usize) -> Option<()> {
    let count = get_uvarint(src, pos).ok()?;
    for _ in 0..count {
        strings.skip(src, pos)?;
        skip_value(src, pos, strings, depth)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_round_trips_and_skips() {
        let attributes = vec![
            Attribute::string("s", "text ü"),
            Attribute::new("t", AttrValue::Bool(true)),
            Attribute::new("f", AttrValue::Bool(false)),
            Attribute::new("i", AttrValue::Int(-42)),
            Attribute::new("d", AttrValue::Double(f64::from_bits(0x7ff8_0000_0000_0001))),
            Attribute::new("b", AttrValue::Bytes(vec![0, 255])),
            Attribute::new("a", AttrValue::Array(vec![AttrValue::Int(1), AttrValue::Str("x".into())])),
            Attribute::new("k", AttrValue::KvList(vec![Attribute::string("inner", "v")])),
        ];
        let mut bytes = Vec::new();
        encode_attributes(&mut bytes, &attributes, &mut InlineStrings);
        let mut pos = 0;
        let decoded = decode_attributes(&bytes, &mut pos, &InlineStrings).unwrap();
        assert_eq!(pos, bytes.len());
        // NaN payloads survive bit-exactly, so compare bits for the double.
        assert_eq!(format!("{decoded:?}"), format!("{attributes:?}"));
        let mut skip_pos = 0;
        skip_attributes(&bytes, &mut skip_pos, &InlineStrings).unwrap();
        assert_eq!(skip_pos, bytes.len());
        assert!(decode_attributes(&bytes[..bytes.len() - 1], &mut 0, &InlineStrings).is_none());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing_the_stack() {
        let bytes: Vec<u8> = std::iter::repeat_n([TAG_ARRAY, 1], 10_000).flatten().collect();
        assert!(decode_value(&bytes, &mut 0, &InlineStrings, 0).is_none());
        assert!(skip_value(&bytes, &mut 0, &InlineStrings, 0).is_none());
    }
}
