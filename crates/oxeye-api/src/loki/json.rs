//! Loki's JSON response shapes, written by hand in the field order Loki's encoder uses.
//!
//! Query responses: `{"status":"success","data":{"resultType":…,"result":…,"stats":…}}`. Stream entries are
//! `["<ns>","line"]` (plus `{"structuredMetadata":…,"parsed":…}` with the `categorize-labels` encoding flag);
//! samples are `[<seconds>,"<value>"]` with Prometheus's `model.Time` and `model.SampleValue` formatting
//! (seconds with up to three decimals; values in shortest decimal form, never exponent notation).

use std::fmt::Write as _;

use oxeye_model::go_json::write_string;
use oxeye_model::{Label, Labels};
use oxeye_storage_api::LogScanStats;

/// `model.Time.String()`: milliseconds as seconds with the shortest decimal fraction.
pub(crate) fn write_seconds(out: &mut String, timestamp_ns: i64) {
    let millis = timestamp_ns.div_euclid(1_000_000);
    let seconds = millis.div_euclid(1000);
    let fraction = millis.rem_euclid(1000);
    if fraction == 0 {
        let _ = write!(out, "{seconds}");
    } else {
        let digits = format!("{fraction:03}");
        let _ = write!(out, "{seconds}.{}", digits.trim_end_matches('0'));
    }
}

/// `model.SampleValue.String()`: Go's `strconv.FormatFloat(v, 'f', -1, 64)`, quoted.
pub(crate) fn write_value(out: &mut String, value: f64) {
    out.push('"');
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Rust's `Display` for f64 is the shortest round-trip digits without an exponent, as 'f', -1 is.
        let _ = write!(out, "{value}");
    }
    out.push('"');
}

/// A label set as a JSON object, in label order.
pub(crate) fn write_labels<'a>(out: &mut String, labels: impl IntoIterator<Item = &'a Label>) {
    out.push('{');
    for (index, label) in labels.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, &label.name);
        out.push(':');
        write_string(out, &label.value);
    }
    out.push('}');
}

/// One log entry of a result stream.
pub(crate) struct EntryJson<'a> {
    pub timestamp_ns: i64,
    pub line: &'a str,
    pub structured_metadata: &'a [Label],
    pub parsed: &'a [Label],
}

pub(crate) fn write_entry(out: &mut String, entry: &EntryJson<'_>, categorize_labels: bool) {
    let _ = write!(out, "[\"{}\",", entry.timestamp_ns);
    write_string(out, entry.line);
    if categorize_labels {
        out.push_str(",{");
        if !entry.structured_metadata.is_empty() {
            out.push_str("\"structuredMetadata\":");
            write_labels(out, entry.structured_metadata);
        }
        if !entry.parsed.is_empty() {
            if !entry.structured_metadata.is_empty() {
                out.push(',');
            }
            out.push_str("\"parsed\":");
            write_labels(out, entry.parsed);
        }
        out.push('}');
    }
    out.push(']');
}

/// `{"metric":{…},"value":[t,"v"]}`.
pub(crate) fn write_sample(out: &mut String, labels: &Labels, timestamp_ns: i64, value: f64) {
    out.push_str("{\"metric\":");
    write_labels(out, labels.iter());
    out.push_str(",\"value\":[");
    write_seconds(out, timestamp_ns);
    out.push(',');
    write_value(out, value);
    out.push_str("]}");
}

/// `{"metric":{…},"values":[[t,"v"],…]}`.
pub(crate) fn write_series(out: &mut String, labels: &Labels, points: impl IntoIterator<Item = (i64, f64)>) {
    out.push_str("{\"metric\":");
    write_labels(out, labels.iter());
    out.push_str(",\"values\":[");
    for (index, (timestamp_ns, value)) in points.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push('[');
        write_seconds(out, timestamp_ns);
        out.push(',');
        write_value(out, value);
        out.push(']');
    }
    out.push_str("]}");
}

/// What a query did, for the `stats` block.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueryStats {
    pub exec_time_seconds: f64,
    pub queue_time_seconds: f64,
    pub total_bytes_processed: u64,
    pub total_lines_processed: u64,
    pub total_entries_returned: u64,
    pub total_post_filter_lines: u64,
    pub structured_metadata_bytes: u64,
    pub store: LogScanStats,
}

/// Loki 3's `stats.Result` (summary, querier, ingester, cache, index), every field present as Loki writes them.
/// oxeye has no separate ingesters or caches: everything read counts as the querier's store, and cache and
/// ingester figures are zero.
pub(crate) fn write_stats(out: &mut String, stats: &QueryStats) {
    let exec = stats.exec_time_seconds.max(1e-9);
    let _ = write!(
        out,
        "{{\"summary\":{{\"bytesProcessedPerSecond\":{},\"linesProcessedPerSecond\":{},\"totalBytesProcessed\":{},\
         \"totalLinesProcessed\":{},\"execTime\":{},\"queueTime\":{},\"subqueries\":0,\"totalEntriesReturned\":{},\
         \"splits\":0,\"shards\":0,\"totalPostFilterLines\":{},\"totalStructuredMetadataBytesProcessed\":{}}},",
        (stats.total_bytes_processed as f64 / exec) as i64,
        (stats.total_lines_processed as f64 / exec) as i64,
        stats.total_bytes_processed,
        stats.total_lines_processed,
        stats.exec_time_seconds,
        stats.queue_time_seconds,
        stats.total_entries_returned,
        stats.total_post_filter_lines,
        stats.structured_metadata_bytes,
    );
    out.push_str("\"querier\":{\"store\":");
    write_store_stats(out, stats, true);
    out.push_str("},\"ingester\":{\"totalReached\":0,\"totalChunksMatched\":0,\"totalBatches\":0,\"totalLinesSent\":0,\"store\":");
    write_store_stats(out, stats, false);
    out.push_str("},\"cache\":{");
    for (index, name) in [
        "chunk",
        "index",
        "result",
        "statsResult",
        "volumeResult",
        "seriesResult",
        "labelResult",
        "instantMetricResult",
    ]
    .iter()
    .enumerate()
    {
        if index > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "\"{name}\":{{\"entriesFound\":0,\"entriesRequested\":0,\"entriesStored\":0,\"bytesReceived\":0,\
             \"bytesSent\":0,\"requests\":0,\"downloadTime\":0,\"queryLengthServed\":0}}"
        );
    }
    let _ = write!(
        out,
        "}},\"index\":{{\"totalChunks\":{},\"postFilterChunks\":{},\"shardsDuration\":0,\"usedBloomFilters\":{}}}}}",
        stats.store.chunks_opened + stats.store.chunks_skipped,
        stats.store.chunks_opened,
        stats.store.chunks_skipped > 0
    );
}

fn write_store_stats(out: &mut String, stats: &QueryStats, filled: bool) {
    let store = if filled { stats.store } else { LogScanStats::default() };
    let post_filter = if filled { stats.total_post_filter_lines } else { 0 };
    let _ = write!(
        out,
        "{{\"totalChunksRef\":{},\"totalChunksDownloaded\":{},\"chunksDownloadTime\":0,\
         \"queryReferencedStructuredMetadata\":false,\"chunk\":{{\"headChunkBytes\":0,\"headChunkLines\":0,\
         \"decompressedBytes\":{},\"decompressedLines\":{},\"compressedBytes\":{},\"totalDuplicates\":0,\
         \"postFilterLines\":{},\"headChunkStructuredMetadataBytes\":0,\"decompressedStructuredMetadataBytes\":{}}},\
         \"chunkRefsFetchTime\":0,\"congestionControlLatency\":0,\"pipelineWrapperFilteredLines\":0}}",
        store.chunks_opened + store.chunks_skipped,
        store.chunks_opened,
        store.decompressed_bytes,
        store.decompressed_lines,
        store.compressed_bytes,
        post_filter,
        store.structured_metadata_bytes,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_values_print_like_prometheus_model_types() {
        let f = |ns: i64, want: &str| {
            let mut out = String::new();
            write_seconds(&mut out, ns);
            assert_eq!(out, want);
        };
        f(1_700_000_000_000_000_000, "1700000000");
        f(1_700_000_000_500_000_000, "1700000000.5");
        f(1_700_000_000_123_999_999, "1700000000.123");
        let v = |value: f64, want: &str| {
            let mut out = String::new();
            write_value(&mut out, value);
            assert_eq!(out, want);
        };
        v(1.0, "\"1\"");
        v(0.1, "\"0.1\"");
        v(1e21, "\"1000000000000000000000\"");
        v(f64::NAN, "\"NaN\"");
        v(f64::NEG_INFINITY, "\"-Inf\"");
    }

    #[test]
    fn entries_carry_categorized_labels_only_when_asked() {
        let metadata = [Label::new("trace_id", "abc")];
        let entry = EntryJson { timestamp_ns: 5, line: "a <b>", structured_metadata: &metadata, parsed: &[] };
        let mut out = String::new();
        write_entry(&mut out, &entry, false);
        assert_eq!(out, r#"["5","a \u003cb\u003e"]"#);
        out.clear();
        write_entry(&mut out, &entry, true);
        assert_eq!(out, r#"["5","a \u003cb\u003e",{"structuredMetadata":{"trace_id":"abc"}}]"#);
    }
}
