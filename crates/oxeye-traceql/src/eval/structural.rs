//! Structural spanset operators over the parent links of one trace (Tempo computes them from nested sets; the
//! relations are the same). Following Tempo's documentation ("structural operators ALWAYS return matches from the
//! right side"):
//!
//! - `A > B` returns the B spans whose parent is in A; `A < B` the B spans that are the parent of an A span;
//! - `A >> B` the B spans with an ancestor in A; `A << B` the B spans with a descendant in A;
//! - `A ~ B` the B spans with a sibling (another span with the same parent) in A;
//! - `!>`, `!<`, `!>>`, `!<<`, `!~` return the B spans for which the relation does not hold;
//! - `&>`, `&<`, `&>>`, `&<<`, `&~` return the spans of both sides that take part in the relation.
//!
//! A span's parent is the span of the trace with its `parent_span_id`; a parent missing from a fragment makes the
//! span a root of that fragment (its siblings are still found by the shared parent id).

use std::collections::HashMap;

use oxeye_model::{SpanId, Trace};

use crate::parser::ast::SpansetOp;

const NO_PARENT: u32 = u32::MAX;

/// Parent positions and child counts of a trace's spans, built once per trace when a query needs them.
pub(crate) struct StructureIndex {
    parent: Vec<u32>,
    child_count: Vec<u32>,
}

impl StructureIndex {
    pub(crate) fn build(trace: &Trace) -> Self {
        let span_count = trace.spans.len();
        let mut position_by_id: HashMap<SpanId, u32> = HashMap::with_capacity(span_count);
        for (index, span) in trace.spans.iter().enumerate() {
            position_by_id.entry(span.span_id).or_insert(index as u32);
        }
        let mut parent = vec![NO_PARENT; span_count];
        let mut child_count = vec![0u32; span_count];
        for (index, span) in trace.spans.iter().enumerate() {
            if span.parent_span_id.is_zero() {
                continue;
            }
            if let Some(&parent_index) = position_by_id.get(&span.parent_span_id)
                && parent_index as usize != index
            {
                parent[index] = parent_index;
                child_count[parent_index as usize] += 1;
            }
        }
        Self { parent, child_count }
    }

    pub(crate) fn parent(&self, index: usize) -> Option<usize> {
        let parent = self.parent[index];
        (parent != NO_PARENT).then_some(parent as usize)
    }

    pub(crate) fn child_count(&self, index: usize) -> u32 {
        self.child_count[index]
    }

    /// Ancestors of a span, nearest first (bounded by the span count, so a parent cycle cannot loop forever).
    fn ancestors(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let mut current = index;
        let mut remaining = self.parent.len();
        std::iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            remaining -= 1;
            current = self.parent(current)?;
            Some(current)
        })
    }
}

/// Membership of span positions, for one operation.
struct SpanSet(Vec<bool>);

impl SpanSet {
    fn of(span_count: usize, spans: &[usize]) -> Self {
        let mut members = vec![false; span_count];
        for &index in spans {
            members[index] = true;
        }
        Self(members)
    }

    fn contains(&self, index: usize) -> bool {
        self.0[index]
    }

    fn insert(&mut self, index: usize) -> bool {
        !std::mem::replace(&mut self.0[index], true)
    }
}

/// Applies a structural operator to the spans of the two sides; returns the spans it selects (unordered, unique).
pub(crate) fn relate(op: SpansetOp, trace: &Trace, index: &StructureIndex, lhs: &[usize], rhs: &[usize]) -> Vec<usize> {
    let span_count = trace.spans.len();
    let left = SpanSet::of(span_count, lhs);
    let keep_right = |relation: &dyn Fn(usize) -> bool, negated: bool| -> Vec<usize> {
        rhs.iter().copied().filter(|&right| relation(right) != negated).collect()
    };
    match op {
        SpansetOp::Child | SpansetOp::NotChild => {
            let has_parent_left = |right: usize| index.parent(right).is_some_and(|parent| left.contains(parent));
            keep_right(&has_parent_left, op == SpansetOp::NotChild)
        }
        SpansetOp::Parent | SpansetOp::NotParent => {
            let mut parents_of_left = SpanSet::of(span_count, &[]);
            for &child in lhs {
                if let Some(parent) = index.parent(child) {
                    parents_of_left.insert(parent);
                }
            }
            keep_right(&|right| parents_of_left.contains(right), op == SpansetOp::NotParent)
        }
        SpansetOp::Descendant | SpansetOp::NotDescendant => {
            let has_ancestor_left = |right: usize| index.ancestors(right).any(|ancestor| left.contains(ancestor));
            keep_right(&has_ancestor_left, op == SpansetOp::NotDescendant)
        }
        SpansetOp::Ancestor | SpansetOp::NotAncestor => {
            let mut ancestors_of_left = SpanSet::of(span_count, &[]);
            for &descendant in lhs {
                for ancestor in index.ancestors(descendant) {
                    if !ancestors_of_left.insert(ancestor) {
                        break; // the rest of the chain is already marked
                    }
                }
            }
            keep_right(&|right| ancestors_of_left.contains(right), op == SpansetOp::NotAncestor)
        }
        SpansetOp::Sibling | SpansetOp::NotSibling => {
            let siblings = SiblingIndex::of(trace, lhs);
            keep_right(&|right| siblings.has_sibling(trace, right), op == SpansetOp::NotSibling)
        }
        SpansetOp::UnionChild => union_child(index, span_count, lhs, rhs),
        SpansetOp::UnionParent => union_child(index, span_count, rhs, lhs),
        SpansetOp::UnionDescendant => union_descendant(index, span_count, lhs, rhs),
        SpansetOp::UnionAncestor => union_descendant(index, span_count, rhs, lhs),
        SpansetOp::UnionSibling => {
            let left_siblings = SiblingIndex::of(trace, lhs);
            let right_siblings = SiblingIndex::of(trace, rhs);
            let mut selected = SpanSet::of(span_count, &[]);
            let mut result = Vec::new();
            for &right in rhs {
                if left_siblings.has_sibling(trace, right) && selected.insert(right) {
                    result.push(right);
                }
            }
            for &left_span in lhs {
                if right_siblings.has_sibling(trace, left_span) && selected.insert(left_span) {
                    result.push(left_span);
                }
            }
            result
        }
        SpansetOp::And | SpansetOp::Or => unreachable!("BUG: && and || are not structural"),
    }
}

/// Parents and children in a direct parent/child relation, from both sides.
fn union_child(index: &StructureIndex, span_count: usize, parents: &[usize], children: &[usize]) -> Vec<usize> {
    let parent_set = SpanSet::of(span_count, parents);
    let mut selected = SpanSet::of(span_count, &[]);
    let mut result = Vec::new();
    for &child in children {
        if let Some(parent) = index.parent(child)
            && parent_set.contains(parent)
        {
            if selected.insert(child) {
                result.push(child);
            }
            if selected.insert(parent) {
                result.push(parent);
            }
        }
    }
    result
}

/// Ancestors and descendants in an ancestor/descendant relation, from both sides.
fn union_descendant(
    index: &StructureIndex,
    span_count: usize,
    ancestors: &[usize],
    descendants: &[usize],
) -> Vec<usize> {
    let ancestor_set = SpanSet::of(span_count, ancestors);
    let mut selected = SpanSet::of(span_count, &[]);
    let mut result = Vec::new();
    for &descendant in descendants {
        let mut matched = false;
        for ancestor in index.ancestors(descendant) {
            if ancestor_set.contains(ancestor) {
                matched = true;
                if selected.insert(ancestor) {
                    result.push(ancestor);
                }
            }
        }
        if matched && selected.insert(descendant) {
            result.push(descendant);
        }
    }
    result
}

/// Spans of one side grouped by parent id, to find siblings.
struct SiblingIndex {
    /// Parent id -> (spans with that parent, one of them).
    by_parent: HashMap<SpanId, (usize, usize)>,
}

impl SiblingIndex {
    fn of(trace: &Trace, spans: &[usize]) -> Self {
        let mut by_parent: HashMap<SpanId, (usize, usize)> = HashMap::new();
        for &index in spans {
            let parent = trace.spans[index].parent_span_id;
            if parent.is_zero() {
                continue;
            }
            by_parent.entry(parent).and_modify(|(count, _)| *count += 1).or_insert((1, index));
        }
        Self { by_parent }
    }

    /// Whether another span of this side shares the span's (non-zero) parent.
    fn has_sibling(&self, trace: &Trace, index: usize) -> bool {
        let parent = trace.spans[index].parent_span_id;
        if parent.is_zero() {
            return false;
        }
        match self.by_parent.get(&parent) {
            Some((count, only)) => *count > 1 || *only != index,
            None => false,
        }
    }
}
