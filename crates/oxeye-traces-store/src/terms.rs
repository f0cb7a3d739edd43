//! Search terms: the fixed hashes under which span names and string attributes enter a page's bloom filter, and
//! the exact check of [`TraceTerm`]s against a trace fragment.
//!
//! The hash is fixed (not seeded) because it is persisted in block files: changing it is a format change.

use oxeye_model::{AttrValue, Span, StatusCode};
use oxeye_storage_api::{TraceFilterHints, TraceTerm};

const KIND_SPAN_NAME: u8 = 1;
const KIND_SPAN_ATTR: u8 = 2;
const KIND_RESOURCE_ATTR: u8 = 3;

/// The bloom key of a span name.
pub(crate) fn span_name_key(name: &str) -> u64 {
    keyed_hash(KIND_SPAN_NAME, name, "")
}

/// The bloom key of a string-valued span attribute.
pub(crate) fn span_attr_key(key: &str, value: &str) -> u64 {
    keyed_hash(KIND_SPAN_ATTR, key, value)
}

/// The bloom key of a string-valued resource attribute.
pub(crate) fn resource_attr_key(key: &str, value: &str) -> u64 {
    keyed_hash(KIND_RESOURCE_ATTR, key, value)
}

/// `hash(kind, uvarint len(a), a, b)`: the kind byte and the length prefix keep the three key spaces and every
/// split of `a`/`b` apart.
fn keyed_hash(kind: u8, first: &str, second: &str) -> u64 {
    let mut key = Vec::with_capacity(first.len() + second.len() + 6);
    key.push(kind);
    oxeye_codec::varint::put_uvarint(&mut key, first.len() as u64);
    key.extend_from_slice(first.as_bytes());
    key.extend_from_slice(second.as_bytes());
    hash_bytes(&key)
}

const SEED: u64 = 0x6f78_6579_655f_7472;

/// The block format's hash of a token or key: [`oxeye_codec::hash::seeded_hash`] under this store's seed.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    oxeye_codec::hash::seeded_hash(SEED, bytes)
}

/// What a unit (a page) offers to prune against: its flags and a membership test on its bloom keys.
pub(crate) struct UnitFacts<'a> {
    pub has_error: bool,
    pub max_duration_ns: u64,
    pub may_contain: &'a dyn Fn(u64) -> bool,
}

/// False only if the unit certainly holds no span meeting some term.
pub(crate) fn unit_may_match(hints: &TraceFilterHints, facts: &UnitFacts<'_>) -> bool {
    hints.all_of.iter().all(|term| match term {
        TraceTerm::SpanName(name) => (facts.may_contain)(span_name_key(name)),
        TraceTerm::SpanAttr { key, value } => (facts.may_contain)(span_attr_key(key, value)),
        TraceTerm::ResourceAttr { key, value } => (facts.may_contain)(resource_attr_key(key, value)),
        TraceTerm::AnyAttr { key, value } => {
            (facts.may_contain)(span_attr_key(key, value)) || (facts.may_contain)(resource_attr_key(key, value))
        }
        TraceTerm::StatusError => facts.has_error,
        TraceTerm::MinSpanDurationNs(duration) => facts.max_duration_ns >= *duration,
    })
}

fn has_string_attr(attributes: &[oxeye_model::Attribute], key: &str, value: &str) -> bool {
    attributes.iter().any(|a| a.key == key && matches!(&a.value, AttrValue::Str(text) if text == value))
}

/// Whether some span of the fragment meets each term (each possibly a different span), exactly.
pub(crate) fn fragment_matches(hints: &TraceFilterHints, spans: &[Span]) -> bool {
    hints.all_of.iter().all(|term| {
        spans.iter().any(|span| match term {
            TraceTerm::SpanName(name) => span.name == *name,
            TraceTerm::SpanAttr { key, value } => has_string_attr(&span.attributes, key, value),
            TraceTerm::ResourceAttr { key, value } => resource_has(span, key, value),
            TraceTerm::AnyAttr { key, value } => {
                has_string_attr(&span.attributes, key, value) || resource_has(span, key, value)
            }
            TraceTerm::StatusError => span.status_code == StatusCode::Error,
            TraceTerm::MinSpanDurationNs(duration) => span.duration_ns() >= *duration,
        })
    })
}

/// `service.name` counts even when the resource lacks it (the span then belongs to `unknown_service`).
fn resource_has(span: &Span, key: &str, value: &str) -> bool {
    has_string_attr(&span.resource.attributes, key, value)
        || (key == oxeye_model::SERVICE_NAME_ATTRIBUTE
            && value == oxeye_model::UNKNOWN_SERVICE
            && oxeye_model::find_attribute(&span.resource.attributes, key).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_and_kept_apart() {
        assert_ne!(span_attr_key("a", "bc"), span_attr_key("ab", "c"));
        assert_ne!(span_attr_key("k", "v"), resource_attr_key("k", "v"));
        assert_ne!(span_name_key("x"), span_attr_key("x", ""));
        // Persisted in block files: this value must never change (a change is a block format change).
        assert_eq!(hash_bytes(b"trace"), 17_226_834_970_345_153_931);
    }
}
