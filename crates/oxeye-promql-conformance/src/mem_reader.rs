//! An in-memory [`MetricsReader`] for the scripts' `load` data.
//!
//! Series live in a `BTreeMap<Labels, Vec<Sample>>`, so every answer comes sorted by labels as the trait
//! requires. Some loaded data cannot be expressed through `MetricsReader` (native histograms, start
//! timestamps): the reader remembers where it is ([`UnsupportedData`]) and records when a selection reaches it,
//! so that the runner can count such a case as skipped instead of judging the engine on data it never saw.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};

use oxeye_model::{Labels, MetricMetadata, Sample};
use oxeye_storage_api::{Matcher, MetricsReader, ReadError, SelectRequest, SeriesExemplars, SeriesSamples};

/// Loaded data that [`MetricsReader`] cannot deliver to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UnsupportedData {
    /// A native histogram sample (`{{...}}` values, `load_with_nhcb` conversions).
    NativeHistogram,
    /// A float sample with a start timestamp (`metric@st` lines).
    StartTimestamp,
}

impl UnsupportedData {
    /// A short description for skip reasons.
    pub fn describe(self) -> &'static str {
        match self {
            UnsupportedData::NativeHistogram => "native histograms",
            UnsupportedData::StartTimestamp => "start timestamps (@st)",
        }
    }
}

/// An in-memory store of float series, plus the positions of data it cannot serve.
#[derive(Debug, Default)]
pub struct MemReader {
    samples: BTreeMap<Labels, Vec<Sample>>,
    /// Timestamps, sorted, at which a series holds data of an unsupported kind.
    unsupported: BTreeMap<Labels, Vec<(i64, UnsupportedData)>>,
    /// Kinds of unsupported data that `select_series` reached since the last [`MemReader::take_unsupported_reads`].
    unsupported_reads: Mutex<BTreeSet<UnsupportedData>>,
}

impl MemReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops all data (the script's `clear`).
    pub fn clear(&mut self) {
        self.samples.clear();
        self.unsupported.clear();
        self.take_unsupported_reads();
    }

    /// Adds samples to a series, keeping its samples sorted by timestamp. A sample at a timestamp the series
    /// already has replaces the old one (Prometheus would reject a different value there; the scripts never
    /// rely on either behaviour).
    pub fn append(&mut self, labels: &Labels, new_samples: &[Sample]) {
        let samples = self.samples.entry(labels.clone()).or_default();
        for sample in new_samples {
            match samples.binary_search_by_key(&sample.timestamp_ms, |existing| existing.timestamp_ms) {
                Ok(index) => samples[index] = *sample,
                Err(index) => samples.insert(index, *sample),
            }
        }
    }

    /// Records that `labels` holds data of kind `kind` at `timestamp_ms`, which `select_series` cannot return.
    pub fn add_unsupported(&mut self, labels: &Labels, timestamp_ms: i64, kind: UnsupportedData) {
        let points = self.unsupported.entry(labels.clone()).or_default();
        let index = points.partition_point(|&(existing, _)| existing < timestamp_ms);
        if !points[index..].iter().take_while(|&&(existing, _)| existing == timestamp_ms).any(|&(_, k)| k == kind) {
            points.insert(index, (timestamp_ms, kind));
        }
    }

    /// The kinds of unsupported data that selections reached since the previous call, and resets the record.
    pub fn take_unsupported_reads(&self) -> BTreeSet<UnsupportedData> {
        std::mem::take(&mut *self.unsupported_reads.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The first series (in label order) satisfying all `matchers` that holds unsupported data at any time, with
    /// the kind of its first such point.
    pub fn find_unsupported(&self, matchers: &[Matcher]) -> Option<(&Labels, UnsupportedData)> {
        self.unsupported
            .iter()
            .filter(|(labels, _)| matches_all(labels, matchers))
            .find_map(|(labels, points)| points.first().map(|&(_, kind)| (labels, kind)))
    }

    /// The samples of one series, if it has any.
    pub fn series_samples(&self, labels: &Labels) -> Option<&[Sample]> {
        self.samples.get(labels).map(Vec::as_slice)
    }

    /// Number of series holding float samples.
    pub fn float_series_count(&self) -> usize {
        self.samples.len()
    }

    /// Every series with its overall time bounds, float and unsupported data together, sorted by labels.
    fn series_time_bounds(&self) -> BTreeMap<&Labels, (i64, i64)> {
        let mut bounds: BTreeMap<&Labels, (i64, i64)> = BTreeMap::new();
        let mut widen = |labels, first: i64, last: i64| {
            let entry = bounds.entry(labels).or_insert((first, last));
            entry.0 = entry.0.min(first);
            entry.1 = entry.1.max(last);
        };
        for (labels, samples) in &self.samples {
            if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
                widen(labels, first.timestamp_ms, last.timestamp_ms);
            }
        }
        for (labels, points) in &self.unsupported {
            if let (Some(first), Some(last)) = (points.first(), points.last()) {
                widen(labels, first.0, last.0);
            }
        }
        bounds
    }

    /// Series matching the request whose data overlaps its time range (as an index answers label queries).
    fn series_overlapping<'a>(&'a self, request: &'a SelectRequest) -> impl Iterator<Item = &'a Labels> + 'a {
        self.series_time_bounds().into_iter().filter_map(move |(labels, (first, last))| {
            let overlaps = first <= request.end_ms && last >= request.start_ms;
            (overlaps && matches_all(labels, &request.matchers)).then_some(labels)
        })
    }
}

/// Whether a series satisfies every matcher; a missing label is matched as the empty string.
fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|matcher| matcher.matches(labels.get(&matcher.name).unwrap_or("")))
}

/// The samples with timestamps in `[start_ms, end_ms]` of a sorted slice.
fn samples_in_range(samples: &[Sample], start_ms: i64, end_ms: i64) -> &[Sample] {
    let first = samples.partition_point(|sample| sample.timestamp_ms < start_ms);
    let end = samples.partition_point(|sample| sample.timestamp_ms <= end_ms);
    &samples[first..end.max(first)]
}

impl MetricsReader for MemReader {
    fn select_series(&self, request: &SelectRequest) -> Result<Vec<SeriesSamples>, ReadError> {
        let mut selected = Vec::new();
        for (labels, samples) in &self.samples {
            if request.limit > 0 && selected.len() >= request.limit {
                break;
            }
            if !matches_all(labels, &request.matchers) {
                continue;
            }
            let in_range = samples_in_range(samples, request.start_ms, request.end_ms);
            if in_range.is_empty() {
                continue;
            }
            selected.push(SeriesSamples { labels: labels.clone(), samples: in_range.to_vec() });
        }
        let mut reads = self.unsupported_reads.lock().unwrap_or_else(PoisonError::into_inner);
        for (labels, points) in &self.unsupported {
            if !matches_all(labels, &request.matchers) {
                continue;
            }
            let first = points.partition_point(|&(timestamp_ms, _)| timestamp_ms < request.start_ms);
            for &(_, kind) in points[first..].iter().take_while(|&&(timestamp_ms, _)| timestamp_ms <= request.end_ms) {
                reads.insert(kind);
            }
        }
        Ok(selected)
    }

    fn series_labels(&self, request: &SelectRequest) -> Result<Vec<Labels>, ReadError> {
        if request.matchers.is_empty() {
            return Ok(Vec::new());
        }
        let limit = if request.limit == 0 { usize::MAX } else { request.limit };
        Ok(self.series_overlapping(request).take(limit).cloned().collect())
    }

    fn label_names(&self, request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        let names: BTreeSet<&str> = self
            .series_overlapping(request)
            .flat_map(|labels| labels.iter().map(|label| label.name.as_str()))
            .collect();
        Ok(names.into_iter().map(str::to_string).collect())
    }

    fn label_values(&self, name: &str, request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        let values: BTreeSet<&str> = self.series_overlapping(request).filter_map(|labels| labels.get(name)).collect();
        Ok(values.into_iter().map(str::to_string).collect())
    }

    fn select_exemplars(&self, _request: &SelectRequest) -> Result<Vec<SeriesExemplars>, ReadError> {
        // The scripts load no exemplars.
        Ok(Vec::new())
    }

    fn metadata(&self, _metric: Option<&str>, _limit: usize) -> Result<Vec<MetricMetadata>, ReadError> {
        // The scripts load no metadata.
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::{STALE_NAN, is_stale_nan};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap()
    }

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(timestamp_ms, value)| Sample::new(timestamp_ms, value)).collect()
    }

    fn reader() -> MemReader {
        let mut reader = MemReader::new();
        reader.append(&labels(&[("__name__", "up"), ("job", "b")]), &samples(&[(0, 1.0), (60_000, 2.0)]));
        reader.append(&labels(&[("__name__", "up"), ("job", "a")]), &samples(&[(30_000, 3.0)]));
        reader.append(&labels(&[("__name__", "down")]), &samples(&[(0, 4.0), (120_000, STALE_NAN)]));
        reader
    }

    #[test]
    fn select_honours_matchers_range_and_order() {
        let reader = reader();
        let select = |matchers: Vec<Matcher>, start_ms: i64, end_ms: i64| {
            let request = SelectRequest::new(matchers, start_ms, end_ms);
            reader.select_series(&request).unwrap()
        };

        let all_up = select(vec![Matcher::equal("__name__", "up")], 0, 60_000);
        let jobs: Vec<_> = all_up.iter().map(|series| series.labels.get("job").unwrap()).collect();
        assert_eq!(jobs, ["a", "b"], "sorted by labels");
        assert_eq!(all_up[1].samples, samples(&[(0, 1.0), (60_000, 2.0)]), "both ends inclusive");

        let narrow = select(vec![Matcher::equal("__name__", "up")], 1, 59_999);
        assert_eq!(narrow.len(), 1, "a series without samples in range is not returned");
        assert_eq!(narrow[0].samples, samples(&[(30_000, 3.0)]));

        // A missing label matches as "".
        let without_job = select(vec![Matcher::equal("job", "")], 0, 200_000);
        assert_eq!(without_job.len(), 1);
        assert_eq!(without_job[0].labels.metric_name(), Some("down"));
        assert!(is_stale_nan(without_job[0].samples[1].value), "stale markers are kept bit for bit");

        let regex = select(vec![Matcher::regex("__name__", "up|down").unwrap(), Matcher::not_equal("job", "a")], 0, 1);
        let names: Vec<_> = regex.iter().map(|series| series.labels.to_string()).collect();
        assert_eq!(names, ["down{}", "up{job=\"b\"}"]);

        let mut limited = SelectRequest::new(vec![Matcher::regex("__name__", ".+").unwrap()], 0, 200_000);
        limited.limit = 1;
        assert_eq!(reader.select_series(&limited).unwrap().len(), 1);
    }

    #[test]
    fn appends_merge_in_timestamp_order() {
        let mut reader = reader();
        let series = labels(&[("__name__", "up"), ("job", "a")]);
        reader.append(&series, &samples(&[(90_000, 5.0), (0, 6.0), (30_000, 7.0)]));
        assert_eq!(reader.series_samples(&series).unwrap(), samples(&[(0, 6.0), (30_000, 7.0), (90_000, 5.0)]));
        reader.clear();
        assert_eq!(reader.float_series_count(), 0);
    }

    #[test]
    fn label_queries_see_series_overlapping_the_range() {
        let mut reader = reader();
        reader.add_unsupported(
            &labels(&[("__name__", "hist"), ("le", "1")]),
            500_000,
            UnsupportedData::NativeHistogram,
        );
        let request = |matchers: Vec<Matcher>, start_ms, end_ms| SelectRequest::new(matchers, start_ms, end_ms);

        let everything = request(vec![], 0, 1_000_000);
        assert_eq!(reader.label_names(&everything).unwrap(), ["__name__", "job", "le"]);
        assert_eq!(reader.label_values("__name__", &everything).unwrap(), ["down", "hist", "up"]);
        assert_eq!(reader.label_values("job", &request(vec![], 50_000, 1_000_000)).unwrap(), ["b"]);
        // `down` spans [0, 120s], so it overlaps [50s, 60s] although it has no sample there.
        let middle = request(vec![Matcher::equal("job", "")], 50_000, 60_000);
        assert_eq!(reader.series_labels(&middle).unwrap(), [labels(&[("__name__", "down")])]);
        assert!(reader.series_labels(&request(vec![], 0, 1_000_000)).unwrap().is_empty());
        assert!(reader.select_exemplars(&everything).unwrap().is_empty());
        assert!(reader.metadata(None, 0).unwrap().is_empty());
    }

    #[test]
    fn selections_reaching_unsupported_data_are_recorded() {
        let mut reader = reader();
        let histogram = labels(&[("__name__", "hist")]);
        reader.add_unsupported(&histogram, 60_000, UnsupportedData::NativeHistogram);
        reader.add_unsupported(&histogram, 60_000, UnsupportedData::NativeHistogram);

        let before = SelectRequest::new(vec![Matcher::regex("__name__", "h.*").unwrap()], 0, 59_999);
        assert!(reader.select_series(&before).unwrap().is_empty());
        assert!(reader.take_unsupported_reads().is_empty(), "outside the range");

        let other = SelectRequest::new(vec![Matcher::equal("__name__", "up")], 0, 100_000);
        reader.select_series(&other).unwrap();
        assert!(reader.take_unsupported_reads().is_empty(), "matchers exclude it");

        assert_eq!(
            reader.find_unsupported(&[Matcher::regex("__name__", "h.*").unwrap()]),
            Some((&histogram, UnsupportedData::NativeHistogram))
        );
        assert_eq!(reader.find_unsupported(&[Matcher::equal("__name__", "up")]), None);

        let reaching = SelectRequest::new(vec![Matcher::regex("__name__", ".+").unwrap()], 0, 100_000);
        let selected = reader.select_series(&reaching).unwrap();
        assert!(selected.iter().all(|series| series.labels != histogram), "no float samples to return");
        assert_eq!(reader.take_unsupported_reads(), BTreeSet::from([UnsupportedData::NativeHistogram]));
        assert!(reader.take_unsupported_reads().is_empty(), "taking resets");
    }
}
