//! LEB128 varints (as protobuf and Prometheus's index use them) and zigzag signed varints.

use crate::DecodeError;

/// Appends `value` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(dst: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        dst.push((value as u8) | 0x80);
        value >>= 7;
    }
    dst.push(value as u8);
}

/// Appends `value` zigzag-encoded as a varint, so small negative numbers stay short.
#[inline]
pub fn put_varint(dst: &mut Vec<u8>, value: i64) {
    put_uvarint(dst, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads an unsigned varint from `src[*pos..]`, advancing `pos`.
#[inline]
pub fn get_uvarint(src: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let start = *pos;
    let mut result: u64 = 0;
    let mut shift = 0u32;
    loop {
        let Some(&byte) = src.get(*pos) else {
            return Err(DecodeError::UnexpectedEof { offset: *pos });
        };
        *pos += 1;
        if shift == 63 && byte > 1 {
            return Err(DecodeError::VarintOverflow { offset: start });
        }
        result |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(result);
        }
        shift += 7;
        if shift > 63 {
            return Err(DecodeError::VarintOverflow { offset: start });
        }
    }
}

/// Reads a zigzag varint written by [`put_varint`].
#[inline]
pub fn get_varint(src: &[u8], pos: &mut usize) -> Result<i64, DecodeError> {
    let raw = get_uvarint(src, pos)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// Appends a length-prefixed byte string.
pub fn put_bytes(dst: &mut Vec<u8>, bytes: &[u8]) {
    put_uvarint(dst, bytes.len() as u64);
    dst.extend_from_slice(bytes);
}

/// Reads a length-prefixed byte string written by [`put_bytes`].
pub fn get_bytes<'a>(src: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let len = get_uvarint(src, pos)? as usize;
    let end =
        pos.checked_add(len).filter(|end| *end <= src.len()).ok_or(DecodeError::UnexpectedEof { offset: src.len() })?;
    let bytes = &src[*pos..end];
    *pos = end;
    Ok(bytes)
}

/// Reads a length-prefixed UTF-8 string written by [`put_bytes`].
pub fn get_str<'a>(src: &'a [u8], pos: &mut usize) -> Result<&'a str, DecodeError> {
    let start = *pos;
    let bytes = get_bytes(src, pos)?;
    std::str::from_utf8(bytes).map_err(|_| {
        let _ = start;
        DecodeError::CorruptChunk { reason: "string is not valid UTF-8" }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn uvarint_round_trips(values in proptest::collection::vec(any::<u64>(), 0..50)) {
            let mut buf = Vec::new();
            for v in &values { put_uvarint(&mut buf, *v); }
            let mut pos = 0;
            for v in &values { prop_assert_eq!(get_uvarint(&buf, &mut pos).unwrap(), *v); }
            prop_assert_eq!(pos, buf.len());
        }

        #[test]
        fn varint_round_trips(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            let mut buf = Vec::new();
            for v in &values { put_varint(&mut buf, *v); }
            let mut pos = 0;
            for v in &values { prop_assert_eq!(get_varint(&buf, &mut pos).unwrap(), *v); }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let mut pos = 0;
            while pos < bytes.len() {
                if get_uvarint(&bytes, &mut pos).is_err() { break; }
            }
        }
    }

    #[test]
    fn small_values_are_short_and_truncation_is_an_error() {
        let mut buf = Vec::new();
        put_varint(&mut buf, -1);
        assert_eq!(buf, [1]);
        buf.clear();
        put_uvarint(&mut buf, 300);
        assert_eq!(buf, [0xac, 0x02]);
        let mut pos = 0;
        assert_eq!(get_uvarint(&buf[..1], &mut pos), Err(DecodeError::UnexpectedEof { offset: 1 }));
        let mut pos = 0;
        assert!(matches!(get_uvarint(&[0xff; 11], &mut pos), Err(DecodeError::VarintOverflow { .. })));
    }
}
