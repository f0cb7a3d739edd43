//! Label sets: the identity of a series.
//!
//! A [`Labels`] value is always sorted by name with unique names and no empty values, which is the invariant
//! Prometheus relies on for series identity (`labels.Labels`). Build one with [`LabelsBuilder`] or
//! [`Labels::from_pairs`], which sort, drop empty values and report duplicates.

use std::fmt;

/// The label that carries the metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// One label: a name and a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// A sorted, duplicate-free set of labels with non-empty values.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs in any order. Empty values are dropped (Prometheus treats `a=""` as the
    /// absence of `a`). Returns the first duplicated name as the error.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, String> {
        let mut builder = LabelsBuilder::default();
        for (name, value) in pairs {
            builder.push(name, value);
        }
        builder.build()
    }

    /// Wraps labels that the caller guarantees are sorted by name, unique and non-empty (for example labels read
    /// back from storage, which only ever stores valid sets).
    pub fn from_sorted_unchecked(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name), "BUG: labels not sorted/unique");
        Self(labels)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|label| label.name.as_str().cmp(name)).ok().map(|index| self.0[index].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME_LABEL)
    }
}

impl fmt::Display for Labels {
    /// Renders in the Prometheus text style: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name().unwrap_or("");
        write!(f, "{name}{{")?;
        let mut first = true;
        for label in self.0.iter().filter(|label| label.name != METRIC_NAME_LABEL) {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        write!(f, "}}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Accumulates labels in any order and produces a valid [`Labels`].
#[derive(Default, Debug, Clone)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { labels: Vec::with_capacity(capacity) }
    }

    /// Adds a label; an empty value is ignored.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.labels.push(Label { name: name.into(), value });
        }
        self
    }

    /// Sets a label, replacing an existing one with the same name; an empty value removes it.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        self.labels.retain(|label| label.name != name);
        if !value.is_empty() {
            self.labels.push(Label { name: name.to_string(), value });
        }
        self
    }

    /// Sorts and checks the labels; the error is the first name that appears twice.
    pub fn build(mut self) -> Result<Labels, String> {
        self.labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = self.labels.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(pair[0].name.clone());
        }
        Ok(Labels(self.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_drops_empty_values() {
        let labels = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("empty", "")]).unwrap();
        let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "job"]);
        assert_eq!(labels.get("job"), Some("api"));
        assert_eq!(labels.get("empty"), None);
        assert_eq!(labels.to_string(), "up{job=\"api\"}");
    }

    #[test]
    fn duplicate_names_are_reported() {
        let err = Labels::from_pairs([("a", "1"), ("b", "2"), ("a", "3")]).unwrap_err();
        assert_eq!(err, "a");
    }
}
