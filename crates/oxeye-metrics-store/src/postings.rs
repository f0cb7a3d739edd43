//! Posting lists (sorted series ids) and the evaluation of label matchers over an inverted index.
//!
//! Both the head and blocks expose their index as a [`PostingsIndex`]; [`select_postings`] turns a matcher list
//! into the ids of matching series using only the index, the way Prometheus's `PostingsForMatchers` does:
//! intersect the postings of matchers that need the label to be present, then subtract the postings of label
//! values that the other matchers exclude.

use oxeye_storage_api::{MatchOp, Matcher};

/// An inverted index: label name → value → sorted series ids.
pub(crate) trait PostingsIndex {
    /// Calls `visit` with each value of `name` and its postings.
    fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&str, &[u32]));
    /// The postings of one exact pair (empty if absent).
    fn postings(&self, name: &str, value: &str) -> Vec<u32>;
    /// Every series id, sorted.
    fn all_ids(&self) -> Vec<u32>;
}

/// The sorted ids of series that satisfy every matcher. An empty matcher list selects every series.
pub(crate) fn select_postings(index: &dyn PostingsIndex, matchers: &[Matcher]) -> Vec<u32> {
    let mut result: Option<Vec<u32>> = None;
    // Matchers that require the label to be present narrow the set by intersection; cheapest (equality) first.
    let mut ordered: Vec<&Matcher> = matchers.iter().collect();
    ordered.sort_by_key(|m| match m.op {
        MatchOp::Equal => 0,
        MatchOp::Regex(_) => 1,
        MatchOp::NotEqual => 2,
        MatchOp::NotRegex(_) => 3,
    });
    for matcher in ordered.iter().filter(|m| !m.matches_empty()) {
        let ids = match &matcher.op {
            MatchOp::Equal => index.postings(&matcher.name, &matcher.value),
            _ => union_of_values(index, &matcher.name, |value| matcher.matches(value)),
        };
        result = Some(match result {
            None => ids,
            Some(current) => intersect(&current, &ids),
        });
        if result.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
    }
    let mut ids = match result {
        Some(ids) => ids,
        None => index.all_ids(),
    };
    // Matchers that accept the empty string keep series lacking the label; remove those whose value fails.
    for matcher in ordered.iter().filter(|m| m.matches_empty()) {
        let excluded = union_of_values(index, &matcher.name, |value| !matcher.matches(value));
        if !excluded.is_empty() {
            ids = subtract(&ids, &excluded);
        }
    }
    ids
}

fn union_of_values(index: &dyn PostingsIndex, name: &str, mut keep: impl FnMut(&str) -> bool) -> Vec<u32> {
    let mut lists: Vec<Vec<u32>> = Vec::new();
    index.for_each_value(name, &mut |value, ids| {
        if keep(value) {
            lists.push(ids.to_vec());
        }
    });
    union_many(lists)
}

/// Merges several sorted lists into one sorted list without duplicates.
pub(crate) fn union_many(mut lists: Vec<Vec<u32>>) -> Vec<u32> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().unwrap_or_default(),
        _ => {
            let mut all: Vec<u32> = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

pub(crate) fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

pub(crate) fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &id in a {
        while j < b.len() && b[j] < id {
            j += 1;
        }
        if j < b.len() && b[j] == id {
            continue;
        }
        out.push(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tiny index over explicit label sets, for testing matcher semantics.
    struct TestIndex(BTreeMap<String, BTreeMap<String, Vec<u32>>>, u32);

    impl TestIndex {
        fn new(series: &[&[(&str, &str)]]) -> Self {
            let mut map: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
            for (id, labels) in series.iter().enumerate() {
                for (name, value) in labels.iter() {
                    map.entry(name.to_string()).or_default().entry(value.to_string()).or_default().push(id as u32);
                }
            }
            Self(map, series.len() as u32)
        }
    }

    impl PostingsIndex for TestIndex {
        fn for_each_value(&self, name: &str, visit: &mut dyn FnMut(&str, &[u32])) {
            if let Some(values) = self.0.get(name) {
                for (value, ids) in values {
                    visit(value, ids);
                }
            }
        }
        fn postings(&self, name: &str, value: &str) -> Vec<u32> {
            self.0.get(name).and_then(|v| v.get(value)).cloned().unwrap_or_default()
        }
        fn all_ids(&self) -> Vec<u32> {
            (0..self.1).collect()
        }
    }

    #[test]
    fn matchers_select_like_prometheus() {
        let index = TestIndex::new(&[
            &[("__name__", "up"), ("job", "api"), ("env", "prod")],
            &[("__name__", "up"), ("job", "db")],
            &[("__name__", "down"), ("job", "api"), ("env", "dev")],
        ]);
        let f =
            |matchers: Vec<Matcher>, want: &[u32]| assert_eq!(select_postings(&index, &matchers), want, "{matchers:?}");
        f(vec![Matcher::equal("__name__", "up")], &[0, 1]);
        f(vec![Matcher::equal("__name__", "up"), Matcher::equal("job", "api")], &[0]);
        f(vec![Matcher::equal("env", "")], &[1]);
        f(vec![Matcher::not_equal("env", "prod")], &[1, 2]);
        f(vec![Matcher::regex("job", "a.*").unwrap()], &[0, 2]);
        f(vec![Matcher::regex("env", ".*").unwrap()], &[0, 1, 2]);
        f(vec![Matcher::regex("env", ".+").unwrap()], &[0, 2]);
        f(vec![Matcher::not_regex("env", "p.*").unwrap(), Matcher::equal("__name__", "up")], &[1]);
        f(vec![Matcher::equal("__name__", "missing")], &[]);
        f(vec![], &[0, 1, 2]);
    }

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), [3, 5]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 7, 9]), [1, 5]);
        assert_eq!(union_many(vec![vec![1, 5], vec![2, 5, 9]]), [1, 2, 5, 9]);
    }
}
