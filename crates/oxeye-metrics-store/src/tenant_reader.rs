//! Reads: [`MetricsReader`] for a tenant, merging the blocks that overlap the range with the head.

use std::collections::BTreeMap;

use oxeye_model::{Labels, MetricMetadata, Sample};
use oxeye_storage_api::{MetricsReader, ReadError, SelectRequest, SeriesExemplars, SeriesSamples};

use crate::TenantDb;
use crate::head::{Head, MemSeries, dedup_by_timestamp};
use crate::postings::{PostingsIndex, select_postings};

fn head_series_overlaps(series: &MemSeries, start: i64, end: i64) -> bool {
    let newest = series.max_t.max(series.out_of_order.last().map_or(i64::MIN, |s| s.timestamp_ms));
    series.min_time().is_some_and(|oldest| oldest <= end && newest >= start)
}

fn head_overlaps(head: &Head, start: i64, end: i64) -> bool {
    head.num_series() > 0 && head.max_t >= start && head.min_time().is_some_and(|t| t <= end)
}

impl TenantDb {
    fn collect_series(
        &self,
        request: &SelectRequest,
        with_samples: bool,
    ) -> Result<BTreeMap<Labels, Vec<Sample>>, ReadError> {
        let (start, end) = (request.start_ms, request.end_ms);
        let mut merged: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        for block in self.blocks_snapshot().iter().filter(|b| b.overlaps(start, end)) {
            for id in select_postings(block.as_ref(), &request.matchers) {
                if !block.series_overlaps(id, start, end) {
                    continue;
                }
                let entry = merged.entry(block.labels(id)).or_default();
                if with_samples {
                    block.samples_in(id, start, end, entry)?;
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
            let entry = merged.entry(labels).or_default();
            if with_samples {
                series.samples_in(start, end, entry);
            }
        }
        drop(head);
        if with_samples {
            merged.retain(|_, samples| {
                if samples.windows(2).any(|w| w[0].timestamp_ms >= w[1].timestamp_ms) {
                    samples.sort_by_key(|s| s.timestamp_ms);
                    dedup_by_timestamp(samples, 0);
                }
                !samples.is_empty()
            });
        }
        Ok(merged)
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
        Ok(merged.into_keys().take(limit).collect())
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
            for labels in self.collect_series(request, false)?.keys() {
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
            for labels in self.collect_series(request, false)?.keys() {
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
