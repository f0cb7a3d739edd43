//! A tenant's write path: validation against the limits, series lookup, sample ordering verdicts, one WAL append,
//! then the head — all under the head lock, so the WAL and the head agree.
//!
//! Series arrive either as owned [`TimeSeries`] or keyed ([`SeriesInput::Keyed`]): identified by an opaque key, the
//! exact bytes a sender used to encode the label set (for remote write, the label fields of one `TimeSeries`
//! message). The head remembers which series each key named, so a repeated series costs one hash and one byte
//! comparison instead of decoding, sorting, validating and hashing its labels again (VictoriaMetrics caches
//! series identities the same way). Only on a miss is the caller asked to `resolve` the series into owned labels.

use std::sync::atomic::Ordering;
use std::time::Instant;

use oxeye_model::{Exemplar, Labels, MetricMetadata, RejectReason, Rejection, Sample, TimeSeries, WriteBatch};
use oxeye_wal::frame_record;

use crate::head::{Head, SampleVerdict};
use crate::{StoreError, TenantDb, wal_records};

/// One series of a write.
pub enum SeriesInput<'a> {
    /// Labels, samples and exemplars, decoded.
    Owned(&'a TimeSeries),
    /// Samples of a series named by an opaque key (see the module documentation).
    Keyed { key: &'a [u8], samples: &'a [Sample] },
    /// A series the caller decodes only through `resolve`, every time.
    Deferred { samples: usize },
}

/// What an append did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AppendOutcome {
    pub samples_accepted: usize,
    pub exemplars_accepted: usize,
    pub series_created: usize,
    /// Refused series and samples, with reasons; the rest of the batch was stored.
    pub rejections: Vec<Rejection>,
}

/// Refusals of one series' samples, grouped by reason: (reason, count, first timestamp).
type Refusals = Vec<(RejectReason, usize, i64)>;

/// The state of one append while the head lock is held.
struct Appender<'a> {
    db: &'a TenantDb,
    min_timestamp: i64,
    max_timestamp: i64,
    ooo_window_ms: i64,
    new_series: Vec<(u32, Labels)>,
    samples: Vec<(u32, i64, f64)>,
    exemplars: Vec<(u32, Exemplar)>,
    rejections: Vec<Rejection>,
    in_range: Vec<Sample>,
}

impl TenantDb {
    /// Stores a batch. Invalid series and samples are refused individually (see [`AppendOutcome::rejections`]);
    /// everything accepted is in the WAL when this returns. `now_ms` is the wall clock, for the age limits.
    pub fn append(&self, batch: &WriteBatch, now_ms: i64) -> Result<AppendOutcome, StoreError> {
        let inputs: Vec<SeriesInput<'_>> = batch.series.iter().map(SeriesInput::Owned).collect();
        self.append_inputs(&inputs, &mut |_| Ok(None), &batch.metadata, now_ms)
    }

    /// Stores series given as [`SeriesInput`]s. For a keyed series the head does not know yet, `resolve(index)`
    /// must decode `inputs[index]`: `Ok(Some(series))` to store it, `Ok(None)` to skip it, `Err` to refuse it.
    pub fn append_inputs(
        &self,
        inputs: &[SeriesInput<'_>],
        resolve: &mut dyn FnMut(usize) -> Result<Option<TimeSeries>, Rejection>,
        metadata: &[MetricMetadata],
        now_ms: i64,
    ) -> Result<AppendOutcome, StoreError> {
        let total_samples: usize = inputs
            .iter()
            .map(|input| match input {
                SeriesInput::Owned(series) => series.samples.len(),
                SeriesInput::Keyed { samples, .. } => samples.len(),
                SeriesInput::Deferred { samples } => *samples,
            })
            .sum();
        if let Some(rejection) = self.check_rate(total_samples) {
            self.stats.count_rejection(&rejection);
            return Ok(AppendOutcome { rejections: vec![rejection], ..AppendOutcome::default() });
        }
        let mut appender = Appender {
            db: self,
            min_timestamp: now_ms.saturating_sub(self.limits.effective_max_sample_age().as_millis() as i64),
            max_timestamp: now_ms.saturating_add(self.limits.max_future.as_millis() as i64),
            ooo_window_ms: self.limits.out_of_order_window.as_millis() as i64,
            new_series: Vec::new(),
            samples: Vec::with_capacity(total_samples),
            exemplars: Vec::new(),
            rejections: Vec::new(),
            in_range: Vec::new(),
        };
        // Keys are hashed before the head is locked.
        let key_hashes: Vec<u128> = inputs
            .iter()
            .map(|input| match input {
                SeriesInput::Keyed { key, .. } => self.key_hasher.hash(key),
                _ => 0,
            })
            .collect();
        let sequence = {
            let mut head = self.lock_head();
            // Known keys are resolved in one pass and their series touched in another before any append: the
            // lookups are independent, so their cache misses overlap instead of coming one after another.
            let known: Vec<Option<u32>> = inputs
                .iter()
                .zip(&key_hashes)
                .map(|(input, hash)| match input {
                    SeriesInput::Keyed { .. } => head.series_for_key(*hash),
                    _ => None,
                })
                .collect();
            std::hint::black_box(known.iter().flatten().fold(0, |acc, id| acc ^ head.touch(*id)));
            for (index, input) in inputs.iter().enumerate() {
                match input {
                    SeriesInput::Owned(series) => {
                        appender.owned(&mut head, series);
                    }
                    SeriesInput::Deferred { .. } => match resolve(index) {
                        Err(rejection) => appender.rejections.push(rejection),
                        Ok(None) => {}
                        Ok(Some(series)) => {
                            appender.owned(&mut head, &series);
                        }
                    },
                    SeriesInput::Keyed { samples, .. } => {
                        // A key unknown before this batch may have been learnt from an earlier series of it.
                        let hash = key_hashes[index];
                        if let Some(id) = known[index].or_else(|| head.series_for_key(hash)) {
                            appender.known(&mut head, id, samples);
                            continue;
                        }
                        match resolve(index) {
                            Err(rejection) => appender.rejections.push(rejection),
                            Ok(None) => {}
                            Ok(Some(series)) => {
                                if let Some(id) = appender.owned(&mut head, &series) {
                                    head.remember_key(hash, id);
                                }
                            }
                        }
                    }
                }
            }
            let changed_metadata: Vec<&MetricMetadata> = metadata.iter().filter(|m| head.set_metadata(m)).collect();
            appender.write_wal(&changed_metadata)?
        };
        // Group commit happens outside the head lock so that concurrent writers share one fsync.
        if let Some(sequence) = sequence
            && self.wal.sync_policy() == oxeye_wal::SyncPolicy::Always
        {
            self.wal.sync_through(sequence)?;
        }
        let outcome = AppendOutcome {
            samples_accepted: appender.samples.len(),
            exemplars_accepted: appender.exemplars.len(),
            series_created: appender.new_series.len(),
            rejections: appender.rejections,
        };
        self.stats.samples_appended.fetch_add(outcome.samples_accepted as u64, Ordering::Relaxed);
        self.stats.exemplars_appended.fetch_add(outcome.exemplars_accepted as u64, Ordering::Relaxed);
        self.stats.series_created.fetch_add(outcome.series_created as u64, Ordering::Relaxed);
        for rejection in &outcome.rejections {
            self.stats.count_rejection(rejection);
        }
        Ok(outcome)
    }

    fn check_rate(&self, samples: usize) -> Option<Rejection> {
        let rate = self.limits.ingestion_rate_samples_per_second;
        if rate == 0 {
            return None;
        }
        let mut limiter = self.rate.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        // A burst of one second's worth of samples is allowed, as Mimir's default burst equals the rate.
        let capacity = rate as f64;
        limiter.tokens = (limiter.tokens + now.duration_since(limiter.last).as_secs_f64() * rate as f64).min(capacity);
        limiter.last = now;
        if samples as f64 <= limiter.tokens {
            limiter.tokens -= samples as f64;
            return None;
        }
        Some(Rejection::new(
            RejectReason::RateLimit,
            "",
            samples,
            format!(
                "ingestion rate limit of {rate} samples/s exceeded for tenant {}, {samples} samples refused",
                self.tenant
            ),
        ))
    }

    fn check_labels(&self, labels: &Labels, samples: usize) -> Option<Rejection> {
        let limits = &self.limits;
        let reject =
            |reason: RejectReason, message: String| Some(Rejection::new(reason, labels.to_string(), samples, message));
        if labels.len() > limits.max_labels_per_series {
            return reject(
                RejectReason::TooManyLabels,
                format!("series {labels} has {} labels, the limit is {}", labels.len(), limits.max_labels_per_series),
            );
        }
        if labels.metric_name().is_none() {
            return reject(RejectReason::MissingMetricName, format!("series {labels} has no metric name"));
        }
        for label in labels {
            if label.name.len() > limits.max_label_name_length {
                return reject(
                    RejectReason::LabelNameTooLong,
                    format!(
                        "label name {:?} of series {labels} is longer than {} bytes",
                        label.name, limits.max_label_name_length
                    ),
                );
            }
            if label.value.len() > limits.max_label_value_length {
                return reject(
                    RejectReason::LabelValueTooLong,
                    format!(
                        "value of label {:?} of series {labels} is {} bytes, longer than {}",
                        label.name,
                        label.value.len(),
                        limits.max_label_value_length
                    ),
                );
            }
        }
        None
    }
}

impl Appender<'_> {
    /// Keeps the samples within the age limits in `self.in_range` (sorted), counting the others in `refused`.
    fn filter_by_age(&mut self, samples: &[Sample], refused: &mut Refusals) {
        self.in_range.clear();
        for sample in samples {
            if sample.timestamp_ms < self.min_timestamp {
                add_refusal(refused, RejectReason::SampleTooOld, sample.timestamp_ms);
            } else if sample.timestamp_ms > self.max_timestamp {
                add_refusal(refused, RejectReason::SampleTooNew, sample.timestamp_ms);
            } else {
                self.in_range.push(*sample);
            }
        }
        if self.in_range.windows(2).any(|w| w[0].timestamp_ms > w[1].timestamp_ms) {
            self.in_range.sort_by_key(|s| s.timestamp_ms);
        }
    }

    /// A series given with its labels: validated, found or created. Returns its id if it exists afterwards.
    fn owned(&mut self, head: &mut Head, series: &TimeSeries) -> Option<u32> {
        if series.samples.is_empty() && series.exemplars.is_empty() {
            return None;
        }
        if let Some(rejection) = self.db.check_labels(&series.labels, series.samples.len()) {
            self.rejections.push(rejection);
            return None;
        }
        let mut refused = Refusals::new();
        // Age limits first, so that a series whose every sample is refused is never created.
        self.filter_by_age(&series.samples, &mut refused);
        let id = if self.in_range.is_empty() && series.exemplars.is_empty() {
            None
        } else if let Some(id) = head.lookup(&series.labels) {
            Some(id)
        } else if head.num_series() >= self.db.limits.max_active_series {
            self.rejections.push(Rejection::new(
                RejectReason::SeriesLimit,
                series.labels.to_string(),
                self.in_range.len(),
                format!(
                    "per-tenant series limit of {} exceeded, series {} was not created",
                    self.db.limits.max_active_series, series.labels
                ),
            ));
            None
        } else {
            let id = head.create(&series.labels, None);
            self.new_series.push((id, series.labels.clone()));
            Some(id)
        };
        if let Some(id) = id {
            self.accept_in_range(head, id, &mut refused);
            for exemplar in &series.exemplars {
                head.add_exemplar(id, exemplar.clone(), self.db.limits.max_exemplars_per_series);
                self.exemplars.push((id, exemplar.clone()));
            }
        }
        self.report(refused, || series.labels.to_string());
        id
    }

    /// Samples of a series the head already has.
    fn known(&mut self, head: &mut Head, id: u32, samples: &[Sample]) {
        let mut refused = Refusals::new();
        self.filter_by_age(samples, &mut refused);
        self.accept_in_range(head, id, &mut refused);
        if !refused.is_empty() {
            let labels = head.labels_of(id).map(|l| l.to_string()).unwrap_or_default();
            self.report(refused, || labels.clone());
        }
    }

    /// Judges and applies the samples in `self.in_range` for series `id`.
    fn accept_in_range(&mut self, head: &mut Head, id: u32, refused: &mut Refusals) {
        for sample in &self.in_range {
            match head.offer_sample(id, sample.timestamp_ms, sample.value, self.ooo_window_ms) {
                SampleVerdict::InOrder | SampleVerdict::OutOfOrder => {
                    self.samples.push((id, sample.timestamp_ms, sample.value));
                }
                SampleVerdict::Duplicate => {}
                SampleVerdict::Conflict => add_refusal(refused, RejectReason::DuplicateTimestamp, sample.timestamp_ms),
                SampleVerdict::TooOld => add_refusal(refused, RejectReason::OutOfOrder, sample.timestamp_ms),
            }
        }
    }

    fn report(&mut self, refused: Refusals, labels: impl Fn() -> String) {
        for (reason, count, timestamp) in refused {
            self.rejections.push(sample_rejection(reason, &labels(), count, timestamp));
        }
    }

    /// Writes what was accepted as one WAL append; returns its sequence number, or `None` if nothing changed.
    fn write_wal(&self, changed_metadata: &[&MetricMetadata]) -> Result<Option<u64>, StoreError> {
        if self.new_series.is_empty()
            && self.samples.is_empty()
            && self.exemplars.is_empty()
            && changed_metadata.is_empty()
        {
            return Ok(None);
        }
        let mut framed = Vec::with_capacity(self.samples.len() * 14 + 64);
        let mut payload = Vec::new();
        let mut frame = |encode: &dyn Fn(&mut Vec<u8>)| {
            payload.clear();
            encode(&mut payload);
            frame_record(&mut framed, &payload);
        };
        if !self.new_series.is_empty() {
            let series: Vec<(u32, &Labels)> = self.new_series.iter().map(|(id, labels)| (*id, labels)).collect();
            frame(&|buf| wal_records::encode_series(buf, &series));
        }
        if !self.samples.is_empty() {
            frame(&|buf| wal_records::encode_samples(buf, &self.samples));
        }
        if !self.exemplars.is_empty() {
            let exemplars: Vec<(u32, &Exemplar)> = self.exemplars.iter().map(|(id, e)| (*id, e)).collect();
            frame(&|buf| wal_records::encode_exemplars(buf, &exemplars));
        }
        if !changed_metadata.is_empty() {
            frame(&|buf| wal_records::encode_metadata(buf, changed_metadata));
        }
        Ok(Some(self.db.wal.write(&framed)?))
    }
}

/// Counts one refused sample under `reason`, remembering the first refused timestamp.
fn add_refusal(refused: &mut Refusals, reason: RejectReason, timestamp: i64) {
    match refused.iter_mut().find(|r| r.0 == reason) {
        Some(entry) => entry.1 += 1,
        None => refused.push((reason, 1, timestamp)),
    }
}

fn sample_rejection(reason: RejectReason, labels: &str, count: usize, timestamp: i64) -> Rejection {
    let what = match reason {
        RejectReason::SampleTooOld => "too old",
        RejectReason::SampleTooNew => "too far in the future",
        RejectReason::DuplicateTimestamp => "duplicate sample for timestamp",
        _ => "out of order sample",
    };
    Rejection::new(
        reason,
        labels,
        count,
        format!("{what}: {count} sample(s) of series {labels}, first at timestamp {timestamp}"),
    )
}
