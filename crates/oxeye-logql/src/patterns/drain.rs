//! Drain (He et al., ICWS 2017), as Loki's pattern ingester runs it (`pkg/pattern/drain/drain.go`, after
//! faceair/drain).
//!
//! Lines are tokenized; a prefix tree keyed first by token count, then by the first tokens (up to depth 28, at
//! most 15 children per node, tokens holding digits going to the `<_>` child) leads to a leaf with candidate
//! clusters. The candidate with the most equal tokens wins if at least 30 % of its tokens equal the line's;
//! its differing tokens become `<_>`. Otherwise the line starts a new cluster. At most 300 clusters are kept,
//! the least recently used evicted first; when more than a quarter of the lines seen evicted a cluster, training
//! pauses for 10 minutes (of entry time here, of wall time in Loki) so a stream of unique lines cannot churn.

use std::borrow::Cow;
use std::collections::HashMap;

use super::samples::Chunks;
use super::tokenizer::{EntryText, LogFormat, PLACEHOLDER, Tokenizer, has_numbers};

/// Prefix-tree depth counted as in Loki (`LogClusterDepth` 30, of which the root and token-count layers).
const MAX_NODE_DEPTH: usize = 30 - 2;
/// Share of equal tokens a line needs to join a cluster (Loki's `SimTh`).
const SIMILARITY_THRESHOLD: f64 = 0.3;
/// Children per tree node before new tokens go to the `<_>` child (Loki's `MaxChildren`).
const MAX_CHILDREN: usize = 15;
/// Clusters per Drain before the least recently used is evicted (Loki's `MaxClusters`).
pub const MAX_CLUSTERS: usize = 300;
/// Evictions per trained line above which training pauses (Loki's `MaxEvictionRatio`).
const MAX_EVICTION_RATIO: f64 = 0.25;
/// How long training pauses then, in nanoseconds (Loki's limiter: 10 minutes).
const EVICTION_PAUSE_NS: i64 = 600_000_000_000;
/// Lines with fewer or more tokens are not mined.
const MIN_TOKENS: usize = 4;
const MAX_TOKENS: usize = 80;

#[derive(Debug, Default)]
struct Node {
    children: HashMap<String, Node>,
    cluster_ids: Vec<usize>,
}

/// A pattern being learnt: its template tokens (variable ones `<_>`), the spacing of its first line and its
/// counts over time.
#[derive(Debug)]
pub(crate) struct Cluster {
    tokens: Vec<String>,
    spaces_after: Vec<i32>,
    pub(crate) samples: Chunks,
    last_used: u64,
}

/// Loki's eviction limiter, with entry timestamps as the clock.
#[derive(Debug, Default)]
struct Limiter {
    added: u64,
    evicted: u64,
    paused_until_ns: Option<i64>,
}

impl Limiter {
    fn allow(&mut self, now_ns: i64) -> bool {
        if let Some(until) = self.paused_until_ns {
            if now_ns < until {
                return false;
            }
            *self = Limiter::default();
        }
        if self.added > 0 && self.evicted as f64 / self.added as f64 > MAX_EVICTION_RATIO {
            self.paused_until_ns = Some(now_ns.saturating_add(EVICTION_PAUSE_NS));
            return false;
        }
        self.added += 1;
        true
    }
}

/// The clusters by id, with least-recently-used eviction (Loki's `simplelru`): every lookup counts as a use.
#[derive(Debug, Default)]
struct ClusterCache {
    clusters: HashMap<usize, Cluster>,
    clock: u64,
}

impl ClusterCache {
    fn touch(&mut self, id: usize) -> Option<&mut Cluster> {
        self.clock += 1;
        let clock = self.clock;
        let cluster = self.clusters.get_mut(&id)?;
        cluster.last_used = clock;
        Some(cluster)
    }

    /// Adds a cluster; returns whether the least recently used one was evicted to make room.
    fn insert(&mut self, id: usize, mut cluster: Cluster) -> bool {
        self.clock += 1;
        cluster.last_used = self.clock;
        self.clusters.insert(id, cluster);
        if self.clusters.len() <= MAX_CLUSTERS {
            return false;
        }
        let oldest = self.clusters.iter().min_by_key(|(_, cluster)| cluster.last_used).map(|(id, _)| *id);
        if let Some(oldest) = oldest {
            self.clusters.remove(&oldest);
        }
        true
    }
}

/// One Drain: the patterns of one stream at one level.
#[derive(Debug)]
pub(crate) struct Drain {
    tokenizer: Tokenizer,
    root: Node,
    clusters: ClusterCache,
    clusters_created: usize,
    limiter: Limiter,
}

impl Drain {
    pub(crate) fn new(format: LogFormat) -> Self {
        Drain {
            tokenizer: Tokenizer::for_format(format),
            root: Node::default(),
            clusters: ClusterCache::default(),
            clusters_created: 0,
            limiter: Limiter::default(),
        }
    }

    /// Learns from one line and counts it in its cluster. Lines that cannot be tokenized, have fewer than 4 or
    /// more than 80 tokens, or come while training is paused are not counted.
    pub(crate) fn train(&mut self, text: &EntryText, timestamp_ns: i64) {
        if !self.limiter.allow(timestamp_ns) {
            return;
        }
        let mut tokens: Vec<Cow<'_, str>> = Vec::new();
        let mut spaces_after = Vec::new();
        if !self.tokenizer.tokenize(text, &mut tokens, &mut spaces_after) {
            return;
        }
        if tokens.len() < MIN_TOKENS || tokens.len() > MAX_TOKENS {
            return;
        }
        let timestamp_ms = timestamp_ns / 1_000_000;
        match self.tree_search(&tokens) {
            Some(id) => {
                let Some(cluster) = self.clusters.touch(id) else { unreachable!("BUG: matched cluster {id} is gone") };
                for (template, token) in cluster.tokens.iter_mut().zip(&tokens) {
                    if template != token {
                        *template = PLACEHOLDER.to_string();
                    }
                }
                cluster.samples.add(timestamp_ms);
            }
            None => {
                self.clusters_created += 1;
                let id = self.clusters_created;
                let owned: Vec<String> = tokens.iter().map(|token| token.to_string()).collect();
                let mut samples = Chunks::default();
                samples.add(timestamp_ms);
                let cluster = Cluster { tokens: owned.clone(), spaces_after, samples, last_used: 0 };
                if self.clusters.insert(id, cluster) {
                    self.limiter.evicted += 1;
                }
                self.add_to_tree(id, &owned);
            }
        }
    }

    /// The current clusters with their printed patterns (empty patterns are left out, as Loki does).
    pub(crate) fn patterns(&self) -> impl Iterator<Item = (String, &Cluster)> {
        self.clusters.clusters.values().filter_map(|cluster| {
            let pattern = self.tokenizer.join(&cluster.tokens, &cluster.spaces_after);
            (!pattern.is_empty()).then_some((pattern, cluster))
        })
    }

    /// The best cluster for `tokens`, if one is similar enough (Loki's `treeSearch` and `fastMatch`).
    fn tree_search(&mut self, tokens: &[Cow<'_, str>]) -> Option<usize> {
        let token_count = tokens.len();
        let mut node = self.root.children.get(&token_count.to_string())?;
        for (depth, token) in (1..).zip(tokens) {
            if depth >= MAX_NODE_DEPTH || depth == token_count {
                break;
            }
            node = node.children.get(token.as_ref()).or_else(|| node.children.get(PLACEHOLDER))?;
        }
        let mut best: Option<(usize, f64, usize)> = None;
        for &id in &node.cluster_ids {
            let Some(cluster) = self.clusters.touch(id) else { continue };
            let Some((similarity, placeholders)) = similarity(&cluster.tokens, tokens) else { continue };
            let better = match best {
                None => true,
                Some((_, best_similarity, best_placeholders)) => {
                    similarity > best_similarity || (similarity == best_similarity && placeholders > best_placeholders)
                }
            };
            if better {
                best = Some((id, similarity, placeholders));
            }
        }
        best.filter(|(_, similarity, _)| *similarity >= SIMILARITY_THRESHOLD).map(|(id, _, _)| id)
    }

    /// Files a new cluster in the prefix tree (Loki's `addSeqToPrefixTree`).
    fn add_to_tree(&mut self, id: usize, tokens: &[String]) {
        let token_count = tokens.len();
        let mut node = self.root.children.entry(token_count.to_string()).or_default();
        for (depth, token) in (1..).zip(tokens) {
            if depth >= MAX_NODE_DEPTH || depth >= token_count {
                // Drop evicted clusters from the leaf before adding this one.
                let clusters = &mut self.clusters;
                node.cluster_ids.retain(|candidate| clusters.touch(*candidate).is_some());
                node.cluster_ids.push(id);
                return;
            }
            let key = if node.children.contains_key(token) {
                token.as_str()
            } else if has_numbers(token) {
                PLACEHOLDER
            } else if node.children.contains_key(PLACEHOLDER) {
                if node.children.len() < MAX_CHILDREN { token.as_str() } else { PLACEHOLDER }
            } else if node.children.len() + 1 < MAX_CHILDREN {
                token.as_str()
            } else {
                PLACEHOLDER
            };
            node = node.children.entry(key.to_string()).or_default();
        }
    }
}

/// Share of the cluster's tokens equal to the line's and the cluster's number of placeholders (Loki's
/// `getSeqDistance` without parameters); `None` if a token the cluster marks as exact (a leading NUL) differs.
fn similarity(template: &[String], tokens: &[Cow<'_, str>]) -> Option<(f64, usize)> {
    debug_assert_eq!(template.len(), tokens.len());
    let mut equal = 0;
    let mut placeholders = 0;
    for (template_token, token) in template.iter().zip(tokens) {
        if template_token.starts_with('\0') && template_token != token {
            return None;
        }
        if template_token == PLACEHOLDER {
            placeholders += 1;
        } else if template_token == token {
            equal += 1;
        }
    }
    Some((equal as f64 / template.len() as f64, placeholders))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trained(format: LogFormat, lines: &[&str]) -> Drain {
        let mut drain = Drain::new(format);
        for (index, line) in lines.iter().enumerate() {
            drain.train(&EntryText::new(line), index as i64 * 1_000_000_000);
        }
        drain
    }

    fn patterns(drain: &Drain) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = drain
            .patterns()
            .map(|(pattern, cluster)| {
                let mut total = 0;
                cluster.samples.for_range(i64::MIN + 1, i64::MAX, 10_000, &mut |sample| total += sample.count);
                (pattern, total)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn lines_of_one_shape_become_one_pattern() {
        let drain = trained(
            LogFormat::Unknown,
            &[
                "user 1001 logged in from 10.0.0.1",
                "user 1002 logged in from 10.0.0.7",
                "user 2003 logged in from 192.168.1.20",
                "connection to db-1 lost after 30s",
                "connection to db-2 lost after 12s",
            ],
        );
        assert_eq!(
            patterns(&drain),
            [("connection to <_> lost after <_>".to_string(), 2), ("user <_> logged in from <_>".to_string(), 3)]
        );
    }

    #[test]
    fn different_shapes_stay_apart() {
        // The first tokens lead down the prefix tree, so a differing word there (no digits) separates lines.
        let drain = trained(
            LogFormat::Unknown,
            &[
                "GET /api/users 200 12ms",
                "GET /api/users 500 3ms",
                "disk full on /dev/sda1 now",
                "GET /api/orders 200 5ms",
            ],
        );
        assert_eq!(
            patterns(&drain),
            [
                ("GET /api/orders 200 5ms".to_string(), 1),
                ("GET /api/users <_> <_>".to_string(), 2),
                ("disk full on /dev/sda1 now".to_string(), 1),
            ]
        );
    }

    #[test]
    fn lines_below_the_similarity_threshold_start_a_new_cluster() {
        // Tokens with digits all go down the `<_>` branch; then only similarity (≥ 30 % equal tokens) decides.
        let drain = trained(LogFormat::Unknown, &["10 20 30 40", "50 60 70 80", "10 20 30 41"]);
        assert_eq!(patterns(&drain), [("10 20 30 <_>".to_string(), 2), ("50 60 70 80".to_string(), 1)]);
    }

    #[test]
    fn short_and_long_lines_are_not_mined() {
        let many_tokens = vec!["w"; 81].join(" ");
        let drain = trained(LogFormat::Unknown, &["only three tokens", &many_tokens, &"x ".repeat(1600)]);
        assert!(patterns(&drain).is_empty());
    }

    /// A word of letters only, distinct for every `index`.
    fn word(mut index: usize) -> String {
        let mut out = String::new();
        loop {
            out.push((b'a' + (index % 26) as u8) as char);
            index /= 26;
            if index == 0 {
                return out;
            }
        }
    }

    #[test]
    fn clusters_past_the_limit_evict_the_least_recently_used() {
        let mut drain = Drain::new(LogFormat::Unknown);
        for index in 0..=MAX_CLUSTERS {
            // No token in common with any other line: every line starts a cluster.
            let line: Vec<String> = (0..4).map(|k| word(index * 4 + k)).collect();
            drain.train(&EntryText::new(&line.join(" ")), index as i64);
        }
        assert_eq!(drain.clusters.clusters.len(), MAX_CLUSTERS);
        assert_eq!(drain.limiter.evicted, 1);

        let mut cache = ClusterCache::default();
        let cluster =
            || Cluster { tokens: Vec::new(), spaces_after: Vec::new(), samples: Chunks::default(), last_used: 0 };
        for id in 1..=MAX_CLUSTERS {
            assert!(!cache.insert(id, cluster()));
        }
        assert!(cache.touch(1).is_some());
        assert!(cache.insert(MAX_CLUSTERS + 1, cluster()));
        assert!(cache.clusters.contains_key(&1));
        assert!(!cache.clusters.contains_key(&2));
    }

    #[test]
    fn training_pauses_when_too_many_lines_evict() {
        let mut drain = Drain::new(LogFormat::Unknown);
        drain.limiter = Limiter { added: 4, evicted: 2, paused_until_ns: None };
        drain.train(&EntryText::new("a b c d"), 0);
        assert_eq!(drain.limiter.paused_until_ns, Some(EVICTION_PAUSE_NS));
        drain.train(&EntryText::new("a b c d"), EVICTION_PAUSE_NS - 1);
        assert!(drain.patterns().next().is_none());
        drain.train(&EntryText::new("a b c d"), EVICTION_PAUSE_NS);
        assert_eq!(patterns(&drain), [("a b c d".to_string(), 1)]);
    }

    #[test]
    fn tokens_with_digits_share_the_placeholder_branch() {
        // "job 17 …" and "job 18 …" go down the same `<_>` branch and merge, although "17" never varied before.
        let drain = trained(LogFormat::Unknown, &["job 17 finished in time", "job 18 finished in time"]);
        assert_eq!(patterns(&drain), [("job <_> finished in time".to_string(), 2)]);
    }
}
