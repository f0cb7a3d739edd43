//! The hash that identifies a sender's label encoding (see `appender.rs`) in the head's key map.

use std::hash::BuildHasher;

use crate::hash::FastHashBuilder;

/// Two independently seeded 64-bit hashes: keys are identified by 128 bits rather than stored, which saves ~200
/// bytes per series; a collision among even 10⁹ keys has a probability below 10⁻²⁰. Held outside the head's lock
/// (a tenant keeps one for its lifetime), so that writers hash their keys before taking it.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyHasher {
    first: FastHashBuilder,
    second: FastHashBuilder,
}

impl KeyHasher {
    pub fn hash(&self, key: &[u8]) -> u128 {
        (u128::from(self.first.hash_one(key)) << 64) | u128::from(self.second.hash_one(key))
    }
}
