//! A pattern's counts over time (Loki's `pkg/pattern/drain/chunk.go`): one count per 10 s bucket, in chunks
//! spanning at most an hour, re-bucketed into the query's step when read.

/// Width of a count bucket, in milliseconds (Loki's `SampleInterval` and `TimeResolution`).
pub const SAMPLE_INTERVAL_MS: i64 = 10_000;
/// A chunk holds buckets starting less than this after its first one (Loki's `MaxChunkAge`).
const MAX_CHUNK_AGE_MS: i64 = 3_600_000;

/// Lines in the bucket starting at `timestamp_ms` (Unix milliseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub timestamp_ms: i64,
    pub count: i64,
}

/// Start of the step-wide bucket holding `timestamp_ms` (Go's `ts - ts%step`, so buckets are aligned on the Unix
/// epoch).
pub(crate) fn truncate(timestamp_ms: i64, step_ms: i64) -> i64 {
    timestamp_ms - timestamp_ms % step_ms
}

/// The buckets of one cluster, in chunks of at most an hour, each sorted by time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Chunks {
    chunks: Vec<Vec<Sample>>,
}

impl Chunks {
    /// Counts one line at `timestamp_ms`. A line older than the last bucket is not counted (Loki's `Chunks.Add`;
    /// lines are fed in time order, so this only drops nothing in practice).
    pub(crate) fn add(&mut self, timestamp_ms: i64) {
        let bucket = truncate(timestamp_ms, SAMPLE_INTERVAL_MS);
        let Some(last_chunk) = self.chunks.last_mut() else {
            self.chunks.push(vec![Sample { timestamp_ms: bucket, count: 1 }]);
            return;
        };
        let Some(first) = last_chunk.first().map(|sample| sample.timestamp_ms) else {
            unreachable!("BUG: empty pattern chunk")
        };
        let Some(last) = last_chunk.last_mut() else { unreachable!("BUG: empty pattern chunk") };
        if last.timestamp_ms == bucket {
            last.count += 1;
            return;
        }
        if bucket - first >= MAX_CHUNK_AGE_MS {
            self.chunks.push(vec![Sample { timestamp_ms: bucket, count: 1 }]);
            return;
        }
        if timestamp_ms < last.timestamp_ms {
            return;
        }
        last_chunk.push(Sample { timestamp_ms: bucket, count: 1 });
    }

    /// Calls `emit` with the counts of buckets in `[start_ms, end_ms)`, summed into `step_ms`-wide buckets aligned
    /// on the epoch, chunk by chunk (Loki's `Chunk.ForRange`). With a step wider than a bucket, steps between the
    /// first and last non-empty one of a chunk are emitted with count 0, as Loki does; with the bucket width as
    /// step, buckets are emitted as they are.
    ///
    /// Loki also keeps a chunk's last bucket when it starts exactly at `end_ms`; here `end_ms` is exclusive.
    pub(crate) fn for_range(&self, start_ms: i64, end_ms: i64, step_ms: i64, emit: &mut impl FnMut(Sample)) {
        if start_ms >= end_ms {
            return;
        }
        for chunk in &self.chunks {
            let low = chunk.partition_point(|sample| sample.timestamp_ms < start_ms);
            let high = chunk.partition_point(|sample| sample.timestamp_ms < end_ms);
            if low >= high {
                continue;
            }
            let in_range = &chunk[low..high];
            if step_ms == SAMPLE_INTERVAL_MS {
                in_range.iter().copied().for_each(&mut *emit);
                continue;
            }
            let mut current = Sample { timestamp_ms: truncate(in_range[0].timestamp_ms, step_ms), count: 0 };
            for sample in in_range {
                let step_start = truncate(sample.timestamp_ms, step_ms);
                if step_start >= current.timestamp_ms + step_ms {
                    emit(current);
                    let mut empty = current.timestamp_ms + step_ms;
                    while empty < step_start {
                        emit(Sample { timestamp_ms: empty, count: 0 });
                        empty += step_ms;
                    }
                    current = Sample { timestamp_ms: step_start, count: 0 };
                }
                current.count += sample.count;
            }
            emit(current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &Chunks, start: i64, end: i64, step: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        chunks.for_range(start, end, step, &mut |sample| out.push((sample.timestamp_ms, sample.count)));
        out
    }

    #[test]
    fn lines_are_counted_per_ten_seconds() {
        let mut chunks = Chunks::default();
        for timestamp in [1_000, 9_999, 10_000, 35_000, 35_500, 39_999] {
            chunks.add(timestamp);
        }
        assert_eq!(read(&chunks, 0, 100_000, SAMPLE_INTERVAL_MS), [(0, 2), (10_000, 1), (30_000, 3)]);
        // The range selects buckets by their start.
        assert_eq!(read(&chunks, 5_000, 30_000, SAMPLE_INTERVAL_MS), [(10_000, 1)]);
        assert_eq!(read(&chunks, 30_000, 30_000, SAMPLE_INTERVAL_MS), []);
    }

    #[test]
    fn wider_steps_sum_buckets_and_fill_gaps_with_zero() {
        let mut chunks = Chunks::default();
        for timestamp in [61_000, 75_000, 119_000, 250_000] {
            chunks.add(timestamp);
        }
        assert_eq!(read(&chunks, 0, 300_000, 60_000), [(60_000, 3), (120_000, 0), (180_000, 0), (240_000, 1)]);
        assert_eq!(
            read(&chunks, 0, 300_000, 30_000),
            [(60_000, 2), (90_000, 1), (120_000, 0), (150_000, 0), (180_000, 0), (210_000, 0), (240_000, 1)]
        );
    }

    #[test]
    fn chunks_span_at_most_an_hour_and_older_lines_are_dropped() {
        let mut chunks = Chunks::default();
        chunks.add(0);
        chunks.add(3_599_000);
        chunks.add(3_600_000);
        chunks.add(3_590_000);
        assert_eq!(chunks.chunks.len(), 2);
        assert_eq!(read(&chunks, 0, 4_000_000, SAMPLE_INTERVAL_MS), [(0, 1), (3_590_000, 1), (3_600_000, 1)]);
        // Each chunk is re-bucketed on its own.
        assert_eq!(read(&chunks, 0, 4_000_000, 3_600_000), [(0, 2), (3_600_000, 1)]);
    }
}
