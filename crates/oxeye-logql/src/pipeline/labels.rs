//! The labels of one row while it goes through the pipeline: Loki's `LabelsBuilder`.
//!
//! A row starts from its stream's labels; structured metadata and parser output are added in categories with
//! Loki's precedence (parsed > structured metadata > stream: setting a parsed label hides a stream label or metadata
//! field of the same name). Parsers rename a key that clashes with a stream label or a metadata field to
//! `key_extracted`, and skip keys an earlier stage already extracted for this row (the first parser wins).
//! `__error__`/`__error_details__` are kept apart and only appear in the output.
//!
//! [`LabelBuffers`] owns every string and is reused from row to row, so that processing a row allocates nothing once
//! the buffers have grown; [`RowLabels`] pairs them with the current stream's labels for one row.

use oxeye_model::{Label, Labels};

/// Name of the label carrying a pipeline error.
pub const ERROR_LABEL: &str = "__error__";
/// Name of the label carrying the error's details.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
/// A label that keeps errored samples in metric queries when set to `true` (Loki's `__preserve_error__`).
pub(crate) const PRESERVE_ERROR_LABEL: &str = "__preserve_error__";
/// Suffix of parsed keys that clash with a stream label or metadata field.
pub(crate) const DUPLICATE_SUFFIX: &str = "_extracted";

/// Where a label came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Stream,
    StructuredMetadata,
    Parsed,
}

#[derive(Debug, Default)]
struct Slot {
    name: String,
    value: String,
    category: Option<Category>,
}

/// Reusable storage for a row's added, deleted and extracted labels.
#[derive(Debug, Default)]
pub(crate) struct LabelBuffers {
    slots: Vec<Slot>,
    used: usize,
    deleted: Vec<String>,
    deleted_used: usize,
    extracted: Vec<String>,
    extracted_used: usize,
    error: String,
    error_details: String,
}

impl LabelBuffers {
    /// Starts a row of the stream with `base` labels.
    pub(crate) fn row<'a>(&'a mut self, base: &'a Labels) -> RowLabels<'a> {
        self.used = 0;
        self.deleted_used = 0;
        self.extracted_used = 0;
        self.error.clear();
        self.error_details.clear();
        RowLabels { base, buffers: self }
    }
}

/// One row's labels (see the module documentation).
pub(crate) struct RowLabels<'a> {
    base: &'a Labels,
    buffers: &'a mut LabelBuffers,
}

fn push_reused(pool: &mut Vec<String>, used: &mut usize, value: &str) {
    if *used == pool.len() {
        pool.push(String::new());
    }
    pool[*used].clear();
    pool[*used].push_str(value);
    *used += 1;
}

impl<'a> RowLabels<'a> {
    fn slots(&self) -> &[Slot] {
        &self.buffers.slots[..self.buffers.used]
    }

    fn slot_index(&self, name: &str) -> Option<usize> {
        self.slots().iter().position(|slot| slot.name == name)
    }

    fn is_deleted(&self, name: &str) -> bool {
        self.buffers.deleted[..self.buffers.deleted_used].iter().any(|deleted| deleted == name)
    }

    /// Whether the row's labels differ from its stream's.
    pub(crate) fn is_modified(&self) -> bool {
        self.buffers.used > 0 || self.buffers.deleted_used > 0 || self.has_error() || !self.error_details().is_empty()
    }

    /// The current value of a label (not `__error__`); stream labels with an empty value do not exist.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        if let Some(index) = self.slot_index(name) {
            return Some(&self.buffers.slots[index].value);
        }
        if self.is_deleted(name) {
            return None;
        }
        self.base.get(name).filter(|value| !value.is_empty())
    }

    /// Like [`RowLabels::get`], but `__error__` and `__error_details__` read the error (Loki's `labelValue`), and an
    /// absent label reads as empty.
    pub(crate) fn value_for_filter(&self, name: &str) -> &str {
        match name {
            ERROR_LABEL => &self.buffers.error,
            ERROR_DETAILS_LABEL => &self.buffers.error_details,
            _ => self.get(name).unwrap_or(""),
        }
    }

    /// Whether the stream's own labels contain `name` (deleted or not), the clash test of parsers.
    pub(crate) fn base_has(&self, name: &str) -> bool {
        self.base.get(name).is_some()
    }

    pub(crate) fn has_in_category(&self, name: &str, category: Category) -> bool {
        self.slot_index(name).is_some_and(|index| self.buffers.slots[index].category == Some(category))
    }

    /// The name a parser stores `key` under: with `_extracted` when it clashes with a stream label or a metadata
    /// field.
    pub(crate) fn parsed_name<'k>(&self, key: &'k str, scratch: &'k mut String) -> &'k str {
        if self.base_has(key) || self.has_in_category(key, Category::StructuredMetadata) {
            scratch.clear();
            scratch.push_str(key);
            scratch.push_str(DUPLICATE_SUFFIX);
            scratch
        } else {
            key
        }
    }

    /// Whether a parsed label of that name was already set for this row (later parsers skip it).
    pub(crate) fn was_extracted(&self, name: &str) -> bool {
        self.buffers.extracted[..self.buffers.extracted_used].iter().any(|extracted| extracted == name)
    }

    fn remove_slot(&mut self, index: usize) {
        let last = self.buffers.used - 1;
        self.buffers.slots.swap(index, last);
        self.buffers.used = last;
    }

    fn remove_in_category(&mut self, name: &str, category: Category) {
        if let Some(index) = self.slot_index(name)
            && self.buffers.slots[index].category == Some(category)
        {
            self.remove_slot(index);
        }
    }

    /// Sets a label in a category with Loki's precedence rules.
    pub(crate) fn set(&mut self, category: Category, name: &str, value: &str) {
        match category {
            Category::Parsed => {
                self.remove_in_category(name, Category::StructuredMetadata);
                self.remove_in_category(name, Category::Stream);
            }
            Category::StructuredMetadata => {
                self.remove_in_category(name, Category::Stream);
                if self.has_in_category(name, Category::Parsed) {
                    return;
                }
            }
            Category::Stream => {
                if self.has_in_category(name, Category::StructuredMetadata)
                    || self.has_in_category(name, Category::Parsed)
                {
                    return;
                }
            }
        }
        if let Some(index) = self.slot_index(name) {
            let slot = &mut self.buffers.slots[index];
            slot.value.clear();
            slot.value.push_str(value);
        } else {
            if self.buffers.used == self.buffers.slots.len() {
                self.buffers.slots.push(Slot::default());
            }
            let slot = &mut self.buffers.slots[self.buffers.used];
            slot.name.clear();
            slot.name.push_str(name);
            slot.value.clear();
            slot.value.push_str(value);
            slot.category = Some(category);
            self.buffers.used += 1;
        }
        if category == Category::Parsed && !self.was_extracted(name) {
            push_reused(&mut self.buffers.extracted, &mut self.buffers.extracted_used, name);
        }
    }

    /// Adds structured metadata the way Loki's pipeline does: a field named like a stream label becomes
    /// `name_extracted`; `__error__`/`__error_details__` fields set the error.
    pub(crate) fn add_structured_metadata(&mut self, metadata: &[(&str, &str)], scratch: &mut String) {
        for (name, value) in metadata {
            let name = if self.base_has(name) {
                scratch.clear();
                scratch.push_str(name);
                scratch.push_str(DUPLICATE_SUFFIX);
                scratch.as_str()
            } else {
                name
            };
            match name {
                ERROR_LABEL => self.set_error_raw(value),
                ERROR_DETAILS_LABEL => self.set_error_details(value),
                _ => self.set(Category::StructuredMetadata, name, value),
            }
        }
    }

    /// Deletes a label from every category (and hides the stream label).
    pub(crate) fn delete(&mut self, name: &str) {
        while let Some(index) = self.slot_index(name) {
            self.remove_slot(index);
        }
        if !self.is_deleted(name) {
            push_reused(&mut self.buffers.deleted, &mut self.buffers.deleted_used, name);
        }
    }

    pub(crate) fn has_error(&self) -> bool {
        !self.buffers.error.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn error(&self) -> &str {
        &self.buffers.error
    }

    pub(crate) fn error_details(&self) -> &str {
        &self.buffers.error_details
    }

    fn set_error_raw(&mut self, error: &str) {
        self.buffers.error.clear();
        self.buffers.error.push_str(error);
    }

    /// Sets `__error__` (replacing an earlier error) and, when given, `__error_details__`.
    pub(crate) fn set_error(&mut self, error: &str, details: Option<&str>) {
        self.set_error_raw(error);
        if let Some(details) = details {
            self.set_error_details(details);
        }
    }

    pub(crate) fn set_error_details(&mut self, details: &str) {
        self.buffers.error_details.clear();
        self.buffers.error_details.push_str(details);
    }

    pub(crate) fn clear_error(&mut self) {
        self.buffers.error.clear();
    }

    pub(crate) fn clear_error_details(&mut self) {
        self.buffers.error_details.clear();
    }

    /// Calls `visit` with every current label (name, value, category) in Loki's unsorted order: stream labels,
    /// structured metadata, parsed labels, then the error labels (as parsed).
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&str, &str, Category)) {
        let deleted_or_shadowed = |name: &str| {
            self.is_deleted(name)
                || self.slots().iter().any(|slot| {
                    slot.name == name && matches!(slot.category, Some(Category::StructuredMetadata | Category::Parsed))
                })
        };
        for label in self.base.iter() {
            if deleted_or_shadowed(&label.name) {
                continue;
            }
            let overridden = self
                .slots()
                .iter()
                .find(|slot| slot.name == label.name && slot.category == Some(Category::Stream))
                .map(|slot| slot.value.as_str());
            visit(&label.name, overridden.unwrap_or(&label.value), Category::Stream);
        }
        for category in [Category::StructuredMetadata, Category::Parsed] {
            for slot in self.slots().iter().filter(|slot| slot.category == Some(category)) {
                visit(&slot.name, &slot.value, category);
            }
        }
        if self.has_error() {
            visit(ERROR_LABEL, &self.buffers.error, Category::Parsed);
        }
        if !self.buffers.error_details.is_empty() {
            visit(ERROR_DETAILS_LABEL, &self.buffers.error_details, Category::Parsed);
        }
    }

    /// Calls `visit` with the labels a sample keeps under a grouping (Loki's `GroupedLabels`): every label when
    /// there is an error (so the error is reported), none for `no_labels`, the `by` labels, or all but the
    /// `without` labels.
    pub(crate) fn for_each_grouped(&self, grouping: &OutputGrouping, mut visit: impl FnMut(&str, &str)) {
        if self.has_error() {
            self.for_each(|name, value, _| visit(name, value));
            return;
        }
        match grouping {
            OutputGrouping::All => self.for_each(|name, value, _| visit(name, value)),
            OutputGrouping::NoLabels => {}
            OutputGrouping::By(names) => {
                for name in names {
                    if self.is_deleted(name) {
                        continue;
                    }
                    if let Some(index) = self.slot_index(name) {
                        visit(name, &self.buffers.slots[index].value);
                    } else if let Some(value) = self.base.get(name).filter(|value| !value.is_empty()) {
                        visit(name, value);
                    }
                }
            }
            OutputGrouping::Without(names) => {
                let excluded = |name: &str| names.iter().any(|excluded| excluded == name);
                for label in self.base.iter() {
                    if self.is_deleted(&label.name) || self.slot_index(&label.name).is_some() || excluded(&label.name) {
                        continue;
                    }
                    visit(&label.name, &label.value);
                }
                for slot in self.slots() {
                    if !excluded(&slot.name) {
                        visit(&slot.name, &slot.value);
                    }
                }
            }
        }
    }
}

/// Which labels a metric sample keeps (resolved from `by`/`without`, `unwrap` and `absent_over_time`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutputGrouping {
    /// Every label (no grouping).
    All,
    /// `by ()` and `absent_over_time`: none.
    NoLabels,
    By(Vec<String>),
    Without(Vec<String>),
}

/// Labels in sorted order, as owned [`Label`]s, dropping empty values (the model's [`Labels`] invariant).
pub(crate) fn sorted_labels(pairs: &mut [(&str, &str)]) -> Labels {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<Label> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs.iter() {
        if value.is_empty() || out.last().is_some_and(|last| last.name == *name) {
            continue;
        }
        out.push(Label::new(*name, *value));
    }
    Labels::from_sorted_unchecked(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn collect(row: &RowLabels<'_>) -> Vec<(String, String, Category)> {
        let mut out = Vec::new();
        row.for_each(|name, value, category| out.push((name.to_string(), value.to_string(), category)));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn categories_follow_loki_precedence() {
        let base = labels(&[("app", "api"), ("level", "info")]);
        let mut buffers = LabelBuffers::default();
        let mut scratch = String::new();
        let mut row = buffers.row(&base);
        row.add_structured_metadata(&[("trace_id", "abc"), ("app", "other")], &mut scratch);
        assert_eq!(row.get("app"), Some("api"));
        assert_eq!(row.get("app_extracted"), Some("other"));
        row.set(Category::Parsed, "trace_id", "parsed");
        row.set(Category::StructuredMetadata, "trace_id", "ignored");
        assert_eq!(row.get("trace_id"), Some("parsed"));
        assert!(row.was_extracted("trace_id"));
        row.delete("level");
        assert_eq!(row.get("level"), None);
        row.set_error("JSONParserErr", Some("bad"));
        assert_eq!(
            collect(&row),
            vec![
                ("__error__".into(), "JSONParserErr".into(), Category::Parsed),
                ("__error_details__".into(), "bad".into(), Category::Parsed),
                ("app".into(), "api".into(), Category::Stream),
                ("app_extracted".into(), "other".into(), Category::StructuredMetadata),
                ("trace_id".into(), "parsed".into(), Category::Parsed),
            ]
        );
        // A new row starts clean.
        let row = buffers.row(&base);
        assert!(!row.is_modified());
        assert_eq!(row.get("level"), Some("info"));
    }

    #[test]
    fn grouped_labels() {
        let base = labels(&[("app", "api"), ("pod", "p1")]);
        let mut buffers = LabelBuffers::default();
        let mut row = buffers.row(&base);
        row.set(Category::Parsed, "latency", "5");
        let grouped = |row: &RowLabels<'_>, grouping: &OutputGrouping| {
            let mut out = Vec::new();
            row.for_each_grouped(grouping, |name, value| out.push(format!("{name}={value}")));
            out.sort();
            out
        };
        assert_eq!(grouped(&row, &OutputGrouping::By(vec!["app".into(), "latency".into()])), ["app=api", "latency=5"]);
        assert_eq!(grouped(&row, &OutputGrouping::Without(vec!["latency".into()])), ["app=api", "pod=p1"]);
        assert!(grouped(&row, &OutputGrouping::NoLabels).is_empty());
        row.set_error("SampleExtractionErr", None);
        assert_eq!(
            grouped(&row, &OutputGrouping::NoLabels),
            ["__error__=SampleExtractionErr", "app=api", "latency=5", "pod=p1"]
        );
    }
}
