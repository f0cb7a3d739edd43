//! Payloads of the metrics store's WAL records (layout in `docs/formats/wal.md`).
//!
//! Every payload starts with a type byte. Segments hold `Series`, `Samples`, `Exemplars` and `Metadata` records
//! in the order they were accepted; checkpoints also hold `Chunk` records (a head chunk, already compressed) and
//! one `HeadState` record.

use oxeye_codec::DecodeError;
use oxeye_codec::varint::{get_bytes, get_str, get_uvarint, get_varint, put_bytes, put_uvarint, put_varint};
use oxeye_model::{Exemplar, Label, Labels, MetricMetadata, MetricType};

pub(crate) const RECORD_SERIES: u8 = 1;
pub(crate) const RECORD_SAMPLES: u8 = 2;
pub(crate) const RECORD_EXEMPLARS: u8 = 3;
pub(crate) const RECORD_METADATA: u8 = 4;
pub(crate) const RECORD_CHUNK: u8 = 5;
pub(crate) const RECORD_HEAD_STATE: u8 = 6;

/// A decoded record.
#[derive(Debug, PartialEq)]
pub(crate) enum Record {
    Series(Vec<(u32, Labels)>),
    Samples(Vec<(u32, i64, f64)>),
    Exemplars(Vec<(u32, Exemplar)>),
    Metadata(Vec<MetricMetadata>),
    Chunk { series: u32, min_t: i64, max_t: i64, bytes: Vec<u8> },
    HeadState { min_valid_time: i64 },
}

fn put_labels(dst: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(dst, labels.len() as u64);
    for label in labels {
        put_bytes(dst, label.name.as_bytes());
        put_bytes(dst, label.value.as_bytes());
    }
}

fn get_labels(src: &[u8], pos: &mut usize) -> Result<Labels, DecodeError> {
    let count = get_uvarint(src, pos)? as usize;
    let mut labels = Vec::with_capacity(count.min(256));
    for _ in 0..count {
        let name = get_str(src, pos)?.to_string();
        let value = get_str(src, pos)?.to_string();
        labels.push(Label { name, value });
    }
    Ok(Labels::from_sorted_unchecked(labels))
}

/// Labels as shared (interned) name/value strings.
/// Like [`encode_series`] for labels given as string pairs (the head's interned symbols), without building
/// [`Labels`] first.
pub(crate) fn encode_series_pairs<'a, L>(dst: &mut Vec<u8>, series: &[(u32, L)])
where
    L: Clone + ExactSizeIterator<Item = (&'a str, &'a str)>,
{
    dst.push(RECORD_SERIES);
    put_uvarint(dst, series.len() as u64);
    for (id, labels) in series {
        put_uvarint(dst, u64::from(*id));
        put_uvarint(dst, labels.len() as u64);
        for (name, value) in labels.clone() {
            put_bytes(dst, name.as_bytes());
            put_bytes(dst, value.as_bytes());
        }
    }
}

pub(crate) fn encode_series(dst: &mut Vec<u8>, series: &[(u32, &Labels)]) {
    dst.push(RECORD_SERIES);
    put_uvarint(dst, series.len() as u64);
    for (id, labels) in series {
        put_uvarint(dst, u64::from(*id));
        put_labels(dst, labels);
    }
}

/// Samples as `(series id, timestamp, value)`. Timestamps are stored relative to the first one.
pub(crate) fn encode_samples(dst: &mut Vec<u8>, samples: &[(u32, i64, f64)]) {
    dst.push(RECORD_SAMPLES);
    put_uvarint(dst, samples.len() as u64);
    let base = samples.first().map_or(0, |s| s.1);
    put_varint(dst, base);
    for (id, timestamp, value) in samples {
        put_uvarint(dst, u64::from(*id));
        put_varint(dst, timestamp.wrapping_sub(base));
        dst.extend_from_slice(&value.to_bits().to_le_bytes());
    }
}

pub(crate) fn encode_exemplars(dst: &mut Vec<u8>, exemplars: &[(u32, &Exemplar)]) {
    dst.push(RECORD_EXEMPLARS);
    put_uvarint(dst, exemplars.len() as u64);
    for (id, exemplar) in exemplars {
        put_uvarint(dst, u64::from(*id));
        put_varint(dst, exemplar.timestamp_ms);
        dst.extend_from_slice(&exemplar.value.to_bits().to_le_bytes());
        put_labels(dst, &exemplar.labels);
    }
}

pub(crate) fn encode_metadata(dst: &mut Vec<u8>, metadata: &[&MetricMetadata]) {
    dst.push(RECORD_METADATA);
    put_uvarint(dst, metadata.len() as u64);
    for entry in metadata {
        put_bytes(dst, entry.metric_family.as_bytes());
        put_bytes(dst, entry.metric_type.as_str().as_bytes());
        put_bytes(dst, entry.help.as_bytes());
        put_bytes(dst, entry.unit.as_bytes());
    }
}

pub(crate) fn encode_chunk(dst: &mut Vec<u8>, series: u32, min_t: i64, max_t: i64, bytes: &[u8]) {
    dst.push(RECORD_CHUNK);
    put_uvarint(dst, u64::from(series));
    put_varint(dst, min_t);
    put_varint(dst, max_t);
    put_bytes(dst, bytes);
}

pub(crate) fn encode_head_state(dst: &mut Vec<u8>, min_valid_time: i64) {
    dst.push(RECORD_HEAD_STATE);
    put_varint(dst, min_valid_time);
}

fn get_f64(src: &[u8], pos: &mut usize) -> Result<f64, DecodeError> {
    let bytes = src.get(*pos..*pos + 8).ok_or(DecodeError::UnexpectedEof { offset: *pos })?;
    *pos += 8;
    let mut array = [0u8; 8];
    array.copy_from_slice(bytes);
    Ok(f64::from_bits(u64::from_le_bytes(array)))
}

fn get_id(src: &[u8], pos: &mut usize) -> Result<u32, DecodeError> {
    u32::try_from(get_uvarint(src, pos)?).map_err(|_| DecodeError::CorruptChunk { reason: "series id exceeds u32" })
}

/// Decodes a payload. Counts are bounded by the payload length, so corrupt input cannot cause a huge allocation.
pub(crate) fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
    let (&kind, _) = payload.split_first().ok_or(DecodeError::UnexpectedEof { offset: 0 })?;
    let mut pos = 1;
    let src = payload;
    let bounded = |count: u64| (count as usize).min(src.len());
    match kind {
        RECORD_SERIES => {
            let count = get_uvarint(src, &mut pos)?;
            let mut series = Vec::with_capacity(bounded(count));
            for _ in 0..count {
                let id = get_id(src, &mut pos)?;
                series.push((id, get_labels(src, &mut pos)?));
            }
            Ok(Record::Series(series))
        }
        RECORD_SAMPLES => {
            let count = get_uvarint(src, &mut pos)?;
            let base = get_varint(src, &mut pos)?;
            let mut samples = Vec::with_capacity(bounded(count));
            for _ in 0..count {
                let id = get_id(src, &mut pos)?;
                let timestamp = base.wrapping_add(get_varint(src, &mut pos)?);
                samples.push((id, timestamp, get_f64(src, &mut pos)?));
            }
            Ok(Record::Samples(samples))
        }
        RECORD_EXEMPLARS => {
            let count = get_uvarint(src, &mut pos)?;
            let mut exemplars = Vec::with_capacity(bounded(count));
            for _ in 0..count {
                let id = get_id(src, &mut pos)?;
                let timestamp_ms = get_varint(src, &mut pos)?;
                let value = get_f64(src, &mut pos)?;
                let labels = get_labels(src, &mut pos)?;
                exemplars.push((id, Exemplar { labels, value, timestamp_ms }));
            }
            Ok(Record::Exemplars(exemplars))
        }
        RECORD_METADATA => {
            let count = get_uvarint(src, &mut pos)?;
            let mut metadata = Vec::with_capacity(bounded(count));
            for _ in 0..count {
                let metric_family = get_str(src, &mut pos)?.to_string();
                let metric_type = MetricType::parse(get_str(src, &mut pos)?);
                let help = get_str(src, &mut pos)?.to_string();
                let unit = get_str(src, &mut pos)?.to_string();
                metadata.push(MetricMetadata { metric_family, metric_type, help, unit });
            }
            Ok(Record::Metadata(metadata))
        }
        RECORD_CHUNK => {
            let series = get_id(src, &mut pos)?;
            let min_t = get_varint(src, &mut pos)?;
            let max_t = get_varint(src, &mut pos)?;
            let bytes = get_bytes(src, &mut pos)?.to_vec();
            Ok(Record::Chunk { series, min_t, max_t, bytes })
        }
        RECORD_HEAD_STATE => Ok(Record::HeadState { min_valid_time: get_varint(src, &mut pos)? }),
        _ => Err(DecodeError::CorruptChunk { reason: "unknown wal record type" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "api")]).unwrap();
        let exemplar =
            Exemplar { labels: Labels::from_pairs([("trace_id", "abc")]).unwrap(), value: 2.5, timestamp_ms: 7 };
        let metadata = MetricMetadata {
            metric_family: "up".into(),
            metric_type: MetricType::Gauge,
            help: "Is it up".into(),
            unit: "".into(),
        };
        let f = |payload: Vec<u8>, want: Record| assert_eq!(decode(&payload).unwrap(), want);
        let mut buf = Vec::new();
        encode_series(&mut buf, &[(3, &labels)]);
        f(buf, Record::Series(vec![(3, labels.clone())]));
        let mut buf = Vec::new();
        encode_samples(&mut buf, &[(3, 1000, 1.5), (4, 900, -2.0)]);
        f(buf, Record::Samples(vec![(3, 1000, 1.5), (4, 900, -2.0)]));
        let mut buf = Vec::new();
        encode_exemplars(&mut buf, &[(3, &exemplar)]);
        f(buf, Record::Exemplars(vec![(3, exemplar.clone())]));
        let mut buf = Vec::new();
        encode_metadata(&mut buf, &[&metadata]);
        f(buf, Record::Metadata(vec![metadata.clone()]));
        let mut buf = Vec::new();
        encode_chunk(&mut buf, 9, -5, 5, &[1, 2, 3]);
        f(buf, Record::Chunk { series: 9, min_t: -5, max_t: 5, bytes: vec![1, 2, 3] });
        let mut buf = Vec::new();
        encode_head_state(&mut buf, 42);
        f(buf, Record::HeadState { min_valid_time: 42 });
        assert!(decode(&[RECORD_SAMPLES, 0xff]).is_err());
        assert!(decode(&[99]).is_err());
        assert!(decode(&[]).is_err());
    }
}
