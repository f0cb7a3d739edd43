//! The logs WAL's record: one per accepted push, carrying whole streams (labels and entries).
//!
//! Layout (`docs/formats/logs-wal.md`): `type u8 = 1 | uvarint streams | per stream: uvarint labels,
//! (str name, str value)*, uvarint entries, per entry: varint timestamp_ns, str line, uvarint metadata,
//! (str name, str value)*` where `str` is a uvarint length and UTF-8 bytes. Stream labels are written in every
//! record: the WAL lives only until the head is cut, and lines dominate its size.

use oxeye_codec::varint::{get_str, get_uvarint, get_varint, put_bytes, put_uvarint, put_varint};
use oxeye_model::{Label, Labels, LogEntry, LogStream};

/// The record type byte of an append.
pub(crate) const RECORD_APPEND: u8 = 1;

/// Encodes accepted streams as one append record.
pub(crate) fn encode_append(dst: &mut Vec<u8>, streams: &[&LogStream]) {
    dst.push(RECORD_APPEND);
    put_uvarint(dst, streams.len() as u64);
    for stream in streams {
        put_uvarint(dst, stream.labels.len() as u64);
        for label in stream.labels.iter() {
            put_bytes(dst, label.name.as_bytes());
            put_bytes(dst, label.value.as_bytes());
        }
        put_uvarint(dst, stream.entries.len() as u64);
        for entry in &stream.entries {
            put_varint(dst, entry.timestamp_ns);
            put_bytes(dst, entry.line.as_bytes());
            put_uvarint(dst, entry.metadata.len() as u64);
            for pair in &entry.metadata {
                put_bytes(dst, pair.name.as_bytes());
                put_bytes(dst, pair.value.as_bytes());
            }
        }
    }
}

/// Decodes an append record; `None` for a record that is not one or is malformed (replay skips it with a
/// warning: a record that passed its checksum but does not parse is a bug, not a torn write).
pub(crate) fn decode_append(record: &[u8]) -> Option<Vec<LogStream>> {
    let (&kind, body) = record.split_first()?;
    if kind != RECORD_APPEND {
        return None;
    }
    let mut pos = 0;
    let stream_count = get_uvarint(body, &mut pos).ok()? as usize;
    let mut streams = Vec::with_capacity(stream_count.min(body.len()));
    for _ in 0..stream_count {
        let label_count = get_uvarint(body, &mut pos).ok()? as usize;
        let mut labels = Vec::with_capacity(label_count.min(body.len()));
        for _ in 0..label_count {
            let name = get_str(body, &mut pos).ok()?;
            let value = get_str(body, &mut pos).ok()?;
            labels.push(Label::new(name, value));
        }
        let entry_count = get_uvarint(body, &mut pos).ok()? as usize;
        let mut entries = Vec::with_capacity(entry_count.min(body.len()));
        for _ in 0..entry_count {
            let timestamp_ns = get_varint(body, &mut pos).ok()?;
            let line = get_str(body, &mut pos).ok()?.to_string();
            let metadata_count = get_uvarint(body, &mut pos).ok()? as usize;
            let mut metadata = Vec::with_capacity(metadata_count.min(body.len()));
            for _ in 0..metadata_count {
                let name = get_str(body, &mut pos).ok()?;
                let value = get_str(body, &mut pos).ok()?;
                metadata.push(Label::new(name, value));
            }
            entries.push(LogEntry { timestamp_ns, line, metadata });
        }
        streams.push(LogStream {
            labels: Labels::from_pairs(labels.into_iter().map(|l| (l.name, l.value))).ok()?,
            entries,
        });
    }
    (pos == body.len()).then_some(streams)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn append_records_round_trip() {
        let mut entry = LogEntry::new(-5, "line ü");
        entry.metadata = vec![Label::new("trace_id", "00ff")];
        let stream = LogStream {
            labels: Labels::from_pairs([("app", "x"), ("env", "prod")]).unwrap(),
            entries: vec![entry, LogEntry::new(i64::MAX, "")],
        };
        let mut record = Vec::new();
        encode_append(&mut record, &[&stream]);
        assert_eq!(decode_append(&record), Some(vec![stream]));
        assert_eq!(decode_append(&record[..record.len() - 1]), None);
        assert_eq!(decode_append(&[9]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_append(&bytes);
        }
    }
}
