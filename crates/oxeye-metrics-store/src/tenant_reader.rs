//! Reads: [`MetricsReader`] for a tenant, merging the blocks that overlap the range with the head.

use oxeye_model::{Labels, MetricMetadata, Sample};
use oxeye_storage_api::{MetricsReader, ReadError, SelectRequest, SeriesExemplars, SeriesSamples};

use crate::TenantDb;
use crate::block::BlockDecodeScratch;
use crate::head::{Head, MemSeries, dedup_by_timestamp};
use crate::postings::{PostingsIndex, select_postings};

fn head_series_overlaps(series: &MemSeries, start: i64, end: i64) -> bool {
    let newest = series.max_t.max(series.out_of_order.last().map_or(i64::MIN, |s| s.timestamp_ms));
    series.min_time().is_some_and(|oldest| oldest <= end && newest >= start)
}

fn head_overlaps(head: &Head, start: i64, end: i64) -> bool {
    head.num_series() > 0 && head.max_t >= start && head.min_time().is_some_and(|t| t <= end)
}

/// Where one series' samples live: a block (index into the overlapping blocks, series id) or the head.
#[derive(Clone, Copy)]
enum Source {
    Block(usize, u32),
    Head(u32),
}

/// Below this many series, or about this many samples, decoding stays on the calling thread (starting threads
/// costs more than it saves).
const PARALLEL_DECODE_MIN_SERIES: usize = 256;
const PARALLEL_DECODE_MIN_SAMPLES: usize = 250_000;

impl TenantDb {
    /// Series matching the request, sorted by labels, with their samples in range when `with_samples`.
    ///
    /// First the matching series are found in every overlapping block and in the head and merged by label set
    /// (no sample is decoded yet); then each series' chunks are decoded, on several threads for large selections.
    /// The head stays locked until decoding ends.
    fn collect_series(
        &self,
        request: &SelectRequest,
        with_samples: bool,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, ReadError> {
        let (start, end) = (request.start_ms, request.end_ms);
        let blocks: Vec<_> = self.blocks_snapshot().into_iter().filter(|b| b.overlaps(start, end)).collect();
        // Every matching (labels, source), blocks first and in block order, then the head; a stable sort by labels
        // then brings each series' sources together in that order. (A sort of one vector does about half the label
        // comparisons of inserting into a B-tree, whose nodes are searched linearly.)
        let mut found: Vec<(Labels, Source)> = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            for id in select_postings(block.as_ref(), &request.matchers) {
                if block.series_overlaps(id, start, end) {
                    found.push((block.labels(id), Source::Block(index, id)));
                }
            }
        }
        let head = self.lock_head();
        for id in select_postings(&*head, &request.matchers) {
            let Some(series) = head.series(id) else {
                continue;
            };
            if !head_series_overlaps(series, start, end) {
                continue;
            }
            let Some(labels) = head.labels_of(id) else {
                continue;
            };
            found.push((labels, Source::Head(id)));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries: Vec<(Labels, Vec<Source>)> = Vec::with_capacity(found.len());
        for (labels, source) in found {
            match entries.last_mut() {
                Some((last, sources)) if *last == labels => sources.push(source),
                _ => entries.push((labels, vec![source])),
            }
        }
        if !with_samples {
            drop(head);
            return Ok(entries.into_iter().map(|(labels, _)| (labels, Vec::new())).collect());
        }
        let head_ref: &Head = &head;
        // Each series' sample count bound, read once from the chunk headers: it sizes the series' vector and
        // decides whether decoding is worth spreading over threads.
        let hints: Vec<usize> = entries
            .iter()
            .map(|(_, sources)| {
                sources
                    .iter()
                    .map(|source| match *source {
                        Source::Block(index, id) => blocks[index].sample_count_hint(id, start, end),
                        Source::Head(id) => head_ref.series(id).map_or(0, |s| s.sample_count_hint(start, end)),
                    })
                    .sum()
            })
            .collect();
        let decode =
            |sources: &[Source], hint: usize, scratch: &mut BlockDecodeScratch| -> Result<Vec<Sample>, ReadError> {
                let mut samples = Vec::with_capacity(hint);
                for source in sources {
                    match *source {
                        Source::Block(index, id) => {
                            blocks[index].samples_in_with_scratch(id, start, end, &mut samples, scratch)?
                        }
                        Source::Head(id) => {
                            if let Some(series) = head_ref.series(id) {
                                series.samples_in(start, end, &mut samples);
                            }
                        }
                    }
                }
                if sources.len() > 1 && samples.windows(2).any(|w| w[0].timestamp_ms >= w[1].timestamp_ms) {
                    samples.sort_by_key(|s| s.timestamp_ms);
                    dedup_by_timestamp(&mut samples, 0);
                }
                Ok(samples)
            };
        let decode_part =
            |part: &[(Labels, Vec<Source>)], part_hints: &[usize]| -> Result<Vec<Vec<Sample>>, ReadError> {
                let mut scratch = BlockDecodeScratch::default();
                part.iter().zip(part_hints).map(|((_, sources), hint)| decode(sources, *hint, &mut scratch)).collect()
            };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(entries.len().max(1));
        let work: usize = hints.iter().sum();
        let decoded: Vec<Vec<Sample>> =
            if threads > 1 && entries.len() >= PARALLEL_DECODE_MIN_SERIES && work >= PARALLEL_DECODE_MIN_SAMPLES {
                // Split by samples rather than by series so that each thread gets about the same decoding work.
                let per_thread = work.div_ceil(threads);
                let mut bounds = vec![0usize];
                let mut acc = 0usize;
                for (i, hint) in hints.iter().enumerate() {
                    acc += hint;
                    if acc >= per_thread * bounds.len() && bounds.len() < threads && i + 1 < entries.len() {
                        bounds.push(i + 1);
                    }
                }
                bounds.push(entries.len());
                let parts: Vec<Result<Vec<Vec<Sample>>, ReadError>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = bounds
                        .windows(2)
                        .map(|w| {
                            let (part, part_hints) = (&entries[w[0]..w[1]], &hints[w[0]..w[1]]);
                            let decode_part = &decode_part;
                            scope.spawn(move || decode_part(part, part_hints))
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().expect("series decoding thread panicked")).collect()
                });
                let mut all = Vec::with_capacity(entries.len());
                for part in parts {
                    all.extend(part?);
                }
                all
            } else {
                decode_part(&entries, &hints)?
            };
        drop(head);
        Ok(entries
            .into_iter()
            .zip(decoded)
            .filter(|(_, samples)| !samples.is_empty())
            .map(|((labels, _), samples)| (labels, samples))
            .collect())
    }
}

impl MetricsReader for TenantDb {
    fn select_series(&self, request: &SelectRequest) -> Result<Vec<SeriesSamples>, ReadError> {
        let merged = self.collect_series(request, true)?;
        let limit = if request.limit == 0 { usize::MAX } else { request.limit };
        Ok(merged.into_iter().take(limit).map(|(labels, samples)| SeriesSamples { labels, samples }).collect())
    }

    fn series_labels(&self, request: &SelectRequest) -> Result<Vec<Labels>, ReadError> {
        if request.matchers.is_empty() {
            return Ok(Vec::new());
        }
        let merged = self.collect_series(request, false)?;
        let limit = if request.limit == 0 { usize::MAX } else { request.limit };
        Ok(merged.into_iter().take(limit).map(|(labels, _)| labels).collect())
    }

    fn label_names(&self, request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        let mut names = std::collections::BTreeSet::new();
        if request.matchers.is_empty() {
            for block in self.blocks_snapshot().iter().filter(|b| b.overlaps(request.start_ms, request.end_ms)) {
                names.extend(block.label_names());
            }
            let head = self.lock_head();
            if head_overlaps(&head, request.start_ms, request.end_ms) {
                names.extend(head.label_names());
            }
        } else {
            for (labels, _) in self.collect_series(request, false)? {
                names.extend(labels.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        let mut values = std::collections::BTreeSet::new();
        if request.matchers.is_empty() {
            let mut collect = |index: &dyn PostingsIndex| {
                index.for_each_value(name, &mut |value, ids| {
                    if !ids.is_empty() {
                        values.insert(value.to_string());
                    }
                })
            };
            for block in self.blocks_snapshot().iter().filter(|b| b.overlaps(request.start_ms, request.end_ms)) {
                collect(block.as_ref());
            }
            let head = self.lock_head();
            if head_overlaps(&head, request.start_ms, request.end_ms) {
                collect(&*head);
            }
        } else {
            for (labels, _) in self.collect_series(request, false)? {
                if let Some(value) = labels.get(name) {
                    values.insert(value.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }

    fn select_exemplars(&self, request: &SelectRequest) -> Result<Vec<SeriesExemplars>, ReadError> {
        let head = self.lock_head();
        let mut out = Vec::new();
        for id in select_postings(&*head, &request.matchers) {
            let Some(series) = head.series(id) else {
                continue;
            };
            let exemplars: Vec<_> = series
                .exemplars
                .iter()
                .filter(|e| e.timestamp_ms >= request.start_ms && e.timestamp_ms <= request.end_ms)
                .cloned()
                .collect();
            if !exemplars.is_empty()
                && let Some(labels) = head.labels_of(id)
            {
                out.push(SeriesExemplars { labels, exemplars });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn metadata(&self, metric: Option<&str>, limit: usize) -> Result<Vec<MetricMetadata>, ReadError> {
        let head = self.lock_head();
        let mut entries: Vec<MetricMetadata> =
            head.metadata.values().filter(|m| metric.is_none_or(|name| m.metric_family == name)).cloned().collect();
        entries.sort_by(|a, b| a.metric_family.cmp(&b.metric_family));
        if limit > 0 {
            entries.truncate(limit);
        }
        Ok(entries)
    }
}
