//! Zero-copy reading of a remote write 1.0 request, for the ingest fast path.
//!
//! [`RawWriteRequest::parse`] walks the protobuf wire format of a decompressed `WriteRequest` without building
//! owned messages: for each `TimeSeries` it records the byte span of its label fields (the series' *key*, see
//! `oxeye_metrics_store::SeriesInput::Keyed`) and decodes only its samples. The store recognises a key it has
//! seen and skips label decoding entirely; on a miss [`RawWriteRequest::resolve`] decodes that one series with
//! prost and the same conversion as [`decode_write_request`](super::decode_write_request), so both paths accept
//! and refuse exactly the same series. A series whose label fields are not contiguous, or that carries exemplars
//! or native histograms, gets no key and always takes the full path.

use std::ops::Range;

use oxeye_model::{Rejection, Sample, TimeSeries as ModelTimeSeries};
use prost::Message;

use super::decode::{convert_metadata, convert_series};
use super::proto::{MetricMetadata, TimeSeries};
use crate::DecodeError;

/// One series of a parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries<'a> {
    /// The whole `TimeSeries` message.
    pub message: &'a [u8],
    /// The label fields' bytes, or `None` if the series must always be fully decoded.
    pub key: Option<&'a [u8]>,
    /// This series' samples in [`RawWriteRequest::samples`].
    pub samples: Range<usize>,
}

/// A remote write request read in place.
#[derive(Debug, Default)]
pub struct RawWriteRequest<'a> {
    pub series: Vec<RawSeries<'a>>,
    /// Every series' samples, back to back.
    pub samples: Vec<Sample>,
    pub metadata: Vec<oxeye_model::MetricMetadata>,
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_FIXED32: u64 = 5;

fn malformed(message: &str) -> DecodeError {
    DecodeError::Protobuf { message: message.to_string() }
}

#[inline]
fn read_varint(src: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut result = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *src.get(*pos).ok_or_else(|| malformed("unexpected end of message in a varint"))?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(result);
        }
    }
    Err(malformed("varint longer than 10 bytes"))
}

/// Reads a field header; returns (field number, wire type).
#[inline]
fn read_tag(src: &[u8], pos: &mut usize) -> Result<(u64, u64), DecodeError> {
    let tag = read_varint(src, pos)?;
    Ok((tag >> 3, tag & 7))
}

#[inline]
fn read_len_delimited<'a>(src: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let len = read_varint(src, pos)? as usize;
    let end = pos
        .checked_add(len)
        .filter(|end| *end <= src.len())
        .ok_or_else(|| malformed("length past the end of the message"))?;
    let bytes = &src[*pos..end];
    *pos = end;
    Ok(bytes)
}

fn skip_field(src: &[u8], pos: &mut usize, wire_type: u64) -> Result<(), DecodeError> {
    match wire_type {
        WIRE_VARINT => read_varint(src, pos).map(|_| ()),
        WIRE_FIXED64 => advance(src, pos, 8),
        WIRE_LEN => read_len_delimited(src, pos).map(|_| ()),
        WIRE_FIXED32 => advance(src, pos, 4),
        other => Err(DecodeError::Protobuf { message: format!("unsupported wire type {other}") }),
    }
}

fn advance(src: &[u8], pos: &mut usize, count: usize) -> Result<(), DecodeError> {
    if *pos + count > src.len() {
        return Err(malformed("fixed-size field past the end of the message"));
    }
    *pos += count;
    Ok(())
}

impl<'a> RawWriteRequest<'a> {
    /// Parses a decompressed `prometheus.WriteRequest`. Fails only if the wire format itself is broken.
    pub fn parse(src: &'a [u8]) -> Result<Self, DecodeError> {
        let mut request = RawWriteRequest::default();
        let mut pos = 0;
        while pos < src.len() {
            let (field, wire_type) = read_tag(src, &mut pos)?;
            match (field, wire_type) {
                (1, WIRE_LEN) => {
                    let message = read_len_delimited(src, &mut pos)?;
                    request.parse_series(message)?;
                }
                (3, WIRE_LEN) => {
                    let message = read_len_delimited(src, &mut pos)?;
                    let metadata = MetricMetadata::decode(message).map_err(|e| malformed(&e.to_string()))?;
                    request.metadata.extend(convert_metadata(metadata));
                }
                _ => skip_field(src, &mut pos, wire_type)?,
            }
        }
        Ok(request)
    }

    fn parse_series(&mut self, message: &'a [u8]) -> Result<(), DecodeError> {
        let first_sample = self.samples.len();
        let mut labels: Option<Range<usize>> = None;
        let mut labels_contiguous = true;
        let mut simple = true;
        let mut pos = 0;
        while pos < message.len() {
            let field_start = pos;
            let (field, wire_type) = read_tag(message, &mut pos)?;
            match (field, wire_type) {
                (1, WIRE_LEN) => {
                    read_len_delimited(message, &mut pos)?;
                    match &mut labels {
                        None => labels = Some(field_start..pos),
                        Some(range) if range.end == field_start => range.end = pos,
                        Some(_) => labels_contiguous = false,
                    }
                }
                (2, WIRE_LEN) => {
                    let sample = read_len_delimited(message, &mut pos)?;
                    self.samples.push(parse_sample(sample)?);
                }
                (3 | 4, _) => {
                    // Exemplars or native histograms: decoded by the full path.
                    simple = false;
                    skip_field(message, &mut pos, wire_type)?;
                }
                _ => skip_field(message, &mut pos, wire_type)?,
            }
        }
        let key = match (simple && labels_contiguous, labels) {
            (true, Some(range)) => Some(&message[range]),
            _ => None,
        };
        self.series.push(RawSeries { message, key, samples: first_sample..self.samples.len() });
        Ok(())
    }

    /// Fully decodes series `index` (labels, samples, exemplars) as [`decode_write_request`](super::decode_write_request)
    /// would: `Ok(None)` for a series with no data, `Err` for a series that must be refused.
    pub fn resolve(&self, index: usize) -> Result<Option<ModelTimeSeries>, Rejection> {
        let Some(series) = self.series.get(index) else { return Ok(None) };
        match TimeSeries::decode(series.message) {
            Ok(decoded) => convert_series(decoded),
            // The message parsed as wire format above, so this cannot happen; refuse rather than panic.
            Err(error) => Err(Rejection::new(
                oxeye_model::RejectReason::InvalidLabelName,
                "",
                series.samples.len(),
                format!("cannot decode series: {error}"),
            )),
        }
    }
}

fn parse_sample(src: &[u8]) -> Result<Sample, DecodeError> {
    let mut value = 0.0;
    let mut timestamp = 0i64;
    let mut pos = 0;
    while pos < src.len() {
        let (field, wire_type) = read_tag(src, &mut pos)?;
        match (field, wire_type) {
            (1, WIRE_FIXED64) => {
                let bytes = src.get(pos..pos + 8).ok_or_else(|| malformed("truncated sample value"))?;
                let mut array = [0u8; 8];
                array.copy_from_slice(bytes);
                value = f64::from_bits(u64::from_le_bytes(array));
                pos += 8;
            }
            (2, WIRE_VARINT) => timestamp = read_varint(src, &mut pos)? as i64,
            _ => skip_field(src, &mut pos, wire_type)?,
        }
    }
    Ok(Sample::new(timestamp, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_write::{Exemplar, Label, Sample as ProtoSample, WriteRequest};
    use proptest::prelude::*;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: n.to_string(), value: v.to_string() }).collect(),
            samples: samples.iter().map(|(t, v)| ProtoSample { timestamp: *t, value: *v }).collect(),
            exemplars: vec![],
        }
    }

    #[test]
    fn raw_parse_agrees_with_the_full_decoder() {
        let mut with_exemplar = series(&[("__name__", "b")], &[(5, 2.0)]);
        with_exemplar.exemplars.push(Exemplar { labels: vec![], value: 1.0, timestamp: 5 });
        let request = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "a"), ("job", "x")], &[(1, 1.5), (2, -3.0)]),
                with_exemplar,
                series(&[("job", "nameless")], &[(1, 1.0)]),
                series(&[("__name__", "empty")], &[]),
            ],
            metadata: vec![MetricMetadata {
                r#type: 2,
                metric_family_name: "a".into(),
                help: "h".into(),
                unit: "".into(),
            }],
        };
        let bytes = request.encode_to_vec();
        let raw = RawWriteRequest::parse(&bytes).unwrap();
        assert_eq!(raw.series.len(), 4);
        assert!(raw.series[0].key.is_some());
        assert!(raw.series[1].key.is_none(), "exemplars force the full path");
        assert_eq!(&raw.samples[raw.series[0].samples.clone()], &[Sample::new(1, 1.5), Sample::new(2, -3.0)]);
        assert_eq!(raw.metadata[0].metric_family, "a");
        let resolved = raw.resolve(0).unwrap().unwrap();
        assert_eq!(resolved.labels.to_string(), "a{job=\"x\"}");
        assert_eq!(raw.resolve(1).unwrap().unwrap().exemplars.len(), 1);
        assert!(raw.resolve(2).is_err(), "a series without a metric name is refused as by the full path");
        assert_eq!(raw.resolve(3).unwrap(), None);
        // Equal label sets encoded the same way have equal keys; different ones differ.
        let again = request.timeseries[0].encode_to_vec();
        let mut prefix = vec![0x0a];
        prost::encoding::encode_varint(again.len() as u64, &mut prefix);
        let twice = [prefix.clone(), again.clone(), prefix, again].concat();
        let raw_twice = RawWriteRequest::parse(&twice).unwrap();
        assert_eq!(raw_twice.series[0].key, raw_twice.series[1].key);
        assert_ne!(raw.series[0].key, raw.series[2].key);
    }

    #[test]
    fn broken_wire_format_is_an_error() {
        for bad in [&[0x0a, 0x05, 0x01][..], &[0x0a][..], &[0xff; 12][..], &[0x0f][..]] {
            assert!(RawWriteRequest::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(raw) = RawWriteRequest::parse(&bytes) {
                for index in 0..raw.series.len() {
                    let _ = raw.resolve(index);
                }
            }
        }
    }
}
