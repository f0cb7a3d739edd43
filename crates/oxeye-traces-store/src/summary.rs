//! What a unit (the head, a block) holds, summarised for tag and service listings without reading spans: time
//! range, counts, attribute names with up to [`MAX_VALUES_PER_TAG`] scalar values each, and every service's
//! operations. The head keeps one up to date as spans arrive; a block stores one in its index.

use std::collections::{BTreeMap, BTreeSet};

use oxeye_codec::varint::{get_str, get_uvarint, get_varint, put_bytes, put_uvarint, put_varint};
use oxeye_model::{AttrValue, Attribute, Resource, Span, SpanKind};
use oxeye_storage_api::{ServiceOperations, TagNames, TagScope};

/// Values kept per attribute name (Tempo caps tag-value answers similarly); further values are dropped and the
/// key is marked as overflowed.
pub(crate) const MAX_VALUES_PER_TAG: usize = 1000;
/// Attribute names kept per scope; further names are dropped.
pub(crate) const MAX_TAG_NAMES: usize = 10_000;
/// Operations kept per service.
pub(crate) const MAX_OPERATIONS_PER_SERVICE: usize = 2000;
/// Services kept.
pub(crate) const MAX_SERVICES: usize = 10_000;

/// Distinct scalar values of one attribute name.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TagValues {
    pub strings: BTreeSet<String>,
    pub ints: BTreeSet<i64>,
    /// Bit patterns of the doubles.
    pub doubles: BTreeSet<u64>,
    /// Bit 0: `false` seen, bit 1: `true` seen.
    pub bools: u8,
    /// Some value was dropped because the set was full.
    pub overflowed: bool,
}

impl TagValues {
    fn len(&self) -> usize {
        self.strings.len() + self.ints.len() + self.doubles.len() + self.bools.count_ones() as usize
    }

    fn add(&mut self, value: &AttrValue) {
        let present = match value {
            AttrValue::Str(text) => self.strings.contains(text.as_str()),
            AttrValue::Int(number) => self.ints.contains(number),
            AttrValue::Double(number) => self.doubles.contains(&number.to_bits()),
            AttrValue::Bool(flag) => self.bools & (1 << *flag as u8) != 0,
            // Only scalar values are listed.
            AttrValue::Bytes(_) | AttrValue::Array(_) | AttrValue::KvList(_) => return,
        };
        if present {
            return;
        }
        if self.len() >= MAX_VALUES_PER_TAG {
            self.overflowed = true;
            return;
        }
        match value {
            AttrValue::Str(text) => {
                self.strings.insert(text.clone());
            }
            AttrValue::Int(number) => {
                self.ints.insert(*number);
            }
            AttrValue::Double(number) => {
                self.doubles.insert(number.to_bits());
            }
            AttrValue::Bool(flag) => self.bools |= 1 << *flag as u8,
            AttrValue::Bytes(_) | AttrValue::Array(_) | AttrValue::KvList(_) => {}
        }
    }

    /// Adds every value to `out` (ordered and deduplicated by [`ValueKey`]).
    pub(crate) fn collect(&self, out: &mut BTreeSet<ValueKey>) {
        out.extend(self.strings.iter().cloned().map(ValueKey::Str));
        out.extend(self.ints.iter().copied().map(ValueKey::Int));
        out.extend(self.doubles.iter().copied().map(ValueKey::Double));
        for flag in [false, true] {
            if self.bools & (1 << flag as u8) != 0 {
                out.insert(ValueKey::Bool(flag));
            }
        }
    }
}

/// A scalar value as an ordered set key (doubles by bit pattern).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ValueKey {
    Str(String),
    Int(i64),
    Double(u64),
    Bool(bool),
}

impl ValueKey {
    pub(crate) fn into_value(self) -> AttrValue {
        match self {
            ValueKey::Str(text) => AttrValue::Str(text),
            ValueKey::Int(number) => AttrValue::Int(number),
            ValueKey::Double(bits) => AttrValue::Double(f64::from_bits(bits)),
            ValueKey::Bool(flag) => AttrValue::Bool(flag),
        }
    }
}

/// The summary of a unit.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct UnitSummary {
    /// Earliest span start.
    pub min_ns: u64,
    /// Latest span end.
    pub max_ns: u64,
    pub spans: u64,
    pub traces: u64,
    pub span_tags: BTreeMap<String, TagValues>,
    pub resource_tags: BTreeMap<String, TagValues>,
    /// Service → operation → kinds seen (bit `kind as u8`).
    pub services: BTreeMap<String, BTreeMap<String, u8>>,
}

impl Default for UnitSummary {
    fn default() -> Self {
        Self {
            min_ns: u64::MAX,
            max_ns: 0,
            spans: 0,
            traces: 0,
            span_tags: BTreeMap::new(),
            resource_tags: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }
}

fn add_attributes(tags: &mut BTreeMap<String, TagValues>, attributes: &[Attribute]) {
    for attribute in attributes {
        let full = tags.len() >= MAX_TAG_NAMES;
        let values = match tags.get_mut(attribute.key.as_str()) {
            Some(values) => values,
            None if full => continue,
            None => tags.entry(attribute.key.clone()).or_default(),
        };
        values.add(&attribute.value);
    }
}

impl UnitSummary {
    pub(crate) fn overlaps(&self, start_ns: u64, end_ns: u64) -> bool {
        self.spans > 0 && self.min_ns <= end_ns && self.max_ns >= start_ns
    }

    /// Counts a span and adds its names and span attributes (its resource is added by [`Self::add_resource`],
    /// once per distinct resource).
    pub(crate) fn add_span(&mut self, span: &Span) {
        self.spans += 1;
        self.min_ns = self.min_ns.min(span.start_ns);
        self.max_ns = self.max_ns.max(span.end_ns.max(span.start_ns));
        add_attributes(&mut self.span_tags, &span.attributes);
        let service = span.service_name();
        let services_full = self.services.len() >= MAX_SERVICES;
        let operations = match self.services.get_mut(service) {
            Some(operations) => operations,
            None if services_full => return,
            None => self.services.entry(service.to_string()).or_default(),
        };
        let operations_full = operations.len() >= MAX_OPERATIONS_PER_SERVICE;
        match operations.get_mut(span.name.as_str()) {
            Some(kinds) => *kinds |= 1 << span.kind as u8,
            None if operations_full => {}
            None => {
                operations.insert(span.name.clone(), 1 << span.kind as u8);
            }
        }
    }

    pub(crate) fn add_resource(&mut self, resource: &Resource) {
        add_attributes(&mut self.resource_tags, &resource.attributes);
    }

    pub(crate) fn add_tag_names(&self, names: &mut (BTreeSet<String>, BTreeSet<String>)) {
        names.0.extend(self.span_tags.keys().cloned());
        names.1.extend(self.resource_tags.keys().cloned());
    }

    pub(crate) fn add_tag_values(&self, scope: Option<TagScope>, key: &str, out: &mut BTreeSet<ValueKey>) {
        if scope != Some(TagScope::Resource)
            && let Some(values) = self.span_tags.get(key)
        {
            values.collect(out);
        }
        if scope != Some(TagScope::Span)
            && let Some(values) = self.resource_tags.get(key)
        {
            values.collect(out);
        }
    }

    pub(crate) fn add_services(&self, out: &mut BTreeMap<String, BTreeSet<(String, SpanKind)>>) {
        for (service, operations) in &self.services {
            let set = out.entry(service.clone()).or_default();
            for (name, kinds) in operations {
                for kind in 0..6u8 {
                    if kinds & (1 << kind) != 0 {
                        set.insert((name.clone(), SpanKind::from_i32(kind as i32)));
                    }
                }
            }
        }
    }

    /// Layout in `docs/formats/traces-block.md` ("summary").
    pub(crate) fn encode(&self, dst: &mut Vec<u8>) {
        put_uvarint(dst, self.min_ns);
        put_uvarint(dst, self.max_ns);
        put_uvarint(dst, self.spans);
        put_uvarint(dst, self.traces);
        for tags in [&self.span_tags, &self.resource_tags] {
            put_uvarint(dst, tags.len() as u64);
            for (key, values) in tags {
                put_bytes(dst, key.as_bytes());
                dst.push(values.bools | ((values.overflowed as u8) << 2));
                put_uvarint(dst, values.strings.len() as u64);
                for text in &values.strings {
                    put_bytes(dst, text.as_bytes());
                }
                put_uvarint(dst, values.ints.len() as u64);
                for number in &values.ints {
                    put_varint(dst, *number);
                }
                put_uvarint(dst, values.doubles.len() as u64);
                for bits in &values.doubles {
                    dst.extend_from_slice(&bits.to_le_bytes());
                }
            }
        }
        put_uvarint(dst, self.services.len() as u64);
        for (service, operations) in &self.services {
            put_bytes(dst, service.as_bytes());
            put_uvarint(dst, operations.len() as u64);
            for (name, kinds) in operations {
                put_bytes(dst, name.as_bytes());
                dst.push(*kinds);
            }
        }
    }

    pub(crate) fn decode(src: &[u8], pos: &mut usize) -> Option<Self> {
        let mut summary = UnitSummary {
            min_ns: get_uvarint(src, pos).ok()?,
            max_ns: get_uvarint(src, pos).ok()?,
            spans: get_uvarint(src, pos).ok()?,
            traces: get_uvarint(src, pos).ok()?,
            ..UnitSummary::default()
        };
        for scope in 0..2 {
            let count = get_uvarint(src, pos).ok()?;
            let mut tags = BTreeMap::new();
            for _ in 0..count {
                let key = get_str(src, pos).ok()?.to_string();
                let flags = *src.get(*pos)?;
                *pos += 1;
                let mut values = TagValues { bools: flags & 3, overflowed: flags & 4 != 0, ..TagValues::default() };
                for _ in 0..get_uvarint(src, pos).ok()? {
                    values.strings.insert(get_str(src, pos).ok()?.to_string());
                }
                for _ in 0..get_uvarint(src, pos).ok()? {
                    values.ints.insert(get_varint(src, pos).ok()?);
                }
                for _ in 0..get_uvarint(src, pos).ok()? {
                    let bytes = src.get(*pos..*pos + 8)?;
                    *pos += 8;
                    values.doubles.insert(u64::from_le_bytes(bytes.try_into().ok()?));
                }
                tags.insert(key, values);
            }
            if scope == 0 {
                summary.span_tags = tags;
            } else {
                summary.resource_tags = tags;
            }
        }
        for _ in 0..get_uvarint(src, pos).ok()? {
            let service = get_str(src, pos).ok()?.to_string();
            let mut operations = BTreeMap::new();
            for _ in 0..get_uvarint(src, pos).ok()? {
                let name = get_str(src, pos).ok()?.to_string();
                let kinds = *src.get(*pos)?;
                *pos += 1;
                operations.insert(name, kinds);
            }
            summary.services.insert(service, operations);
        }
        Some(summary)
    }
}

/// Turns collected names into the reader's answer.
pub(crate) fn tag_names_answer(names: (BTreeSet<String>, BTreeSet<String>)) -> TagNames {
    TagNames { span: names.0.into_iter().collect(), resource: names.1.into_iter().collect() }
}

/// Turns collected services into the reader's answer.
pub(crate) fn services_answer(services: BTreeMap<String, BTreeSet<(String, SpanKind)>>) -> Vec<ServiceOperations> {
    services
        .into_iter()
        .map(|(service, operations)| ServiceOperations { service, operations: operations.into_iter().collect() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::full_span;

    #[test]
    fn summaries_round_trip_and_cap_values_per_tag() {
        let mut summary = UnitSummary::default();
        let span = full_span(1, 1);
        summary.add_span(&span);
        summary.add_resource(&span.resource);
        for index in 0..(MAX_VALUES_PER_TAG + 10) {
            summary
                .add_span(&Span { attributes: vec![Attribute::string("many", format!("v{index}"))], ..span.clone() });
        }
        summary.traces = 1;
        let many = &summary.span_tags["many"];
        assert_eq!(many.strings.len(), MAX_VALUES_PER_TAG);
        assert!(many.overflowed);
        let mut bytes = Vec::new();
        summary.encode(&mut bytes);
        let mut pos = 0;
        assert_eq!(UnitSummary::decode(&bytes, &mut pos), Some(summary.clone()));
        assert_eq!(pos, bytes.len());
    }
}
