//! Store-level tests: append, by-id, fragments, scan pruning, tags, WAL replay, retention, compaction, limits.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use oxeye_model::{AttrValue, Attribute, Span, SpanBatch, SpanId, SpanKind, TenantId, Trace, TraceId};
use oxeye_storage_api::{TagScope, TraceFilterHints, TraceScanRequest, TraceTerm, TracesReader};

use crate::test_data::{BASE_NS, Rng, full_span, generated_scope, generated_trace, service_resources, trace_id};
use crate::{TraceLimits, TraceRejectReason, TracesOptions, TracesStore};

const NOW: i64 = BASE_NS as i64 + 3_600_000_000_000;

fn tenant() -> TenantId {
    TenantId::new("team-a").unwrap()
}

fn batch(spans: Vec<Span>) -> SpanBatch {
    SpanBatch { spans }
}

fn scan_all(reader: &dyn TracesReader, hints: Vec<TraceTerm>) -> (Vec<Trace>, oxeye_storage_api::TraceScanStats) {
    let request = TraceScanRequest { start_ns: 0, end_ns: u64::MAX, hints: TraceFilterHints { all_of: hints } };
    let mut fragments = Vec::new();
    let stats = reader
        .scan(&request, &mut |fragment: Trace| {
            fragments.push(fragment);
            ControlFlow::Continue(())
        })
        .unwrap();
    (fragments, stats)
}

#[test]
fn spans_read_back_by_id_from_the_head_and_after_a_cut_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    let spans: Vec<Span> = (1..=3).rev().map(|span| full_span(1, span)).collect();
    let outcome = traces.append_at(batch(spans.clone()), NOW).unwrap();
    assert_eq!(outcome.accepted_spans, 3);
    assert!(outcome.rejections.is_empty());
    let mut expected = spans.clone();
    expected.sort_by_key(|span| span.start_ns);

    let reader = traces.reader();
    let from_head = reader.trace_by_id(trace_id(1), None).unwrap().expect("in the head");
    assert_eq!(from_head.spans, expected);
    assert_eq!(from_head.truncated_spans, 0);
    assert!(reader.trace_by_id(trace_id(2), None).unwrap().is_none());

    assert!(traces.maintain(NOW, true).unwrap(), "forced cut");
    assert_eq!(traces.summary().blocks, 1);
    assert_eq!(traces.summary().head_spans, 0);
    let from_block = reader.trace_by_id(trace_id(1), None).unwrap().expect("in the block");
    assert_eq!(from_block.spans, expected, "every field round-trips through a block");
    // A range that misses the trace finds nothing; one that overlaps it finds it.
    assert!(reader.trace_by_id(trace_id(1), Some((0, BASE_NS - 1))).unwrap().is_none());
    assert!(reader.trace_by_id(trace_id(1), Some((BASE_NS, BASE_NS + 2_000_000))).unwrap().is_some());
}

#[test]
fn fragments_across_head_and_blocks_are_merged_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    let span = |n: u64| full_span(5, n);
    traces.append_at(batch(vec![span(1), span(2)]), NOW).unwrap();
    traces.maintain(NOW, true).unwrap();
    // A retry repeats span 2.
    traces.append_at(batch(vec![span(2), span(3)]), NOW).unwrap();
    traces.maintain(NOW, true).unwrap();
    traces.append_at(batch(vec![span(4), span(3), span(4)]), NOW).unwrap();

    let reader = traces.reader();
    let trace = reader.trace_by_id(trace_id(5), None).unwrap().unwrap();
    let ids: Vec<SpanId> = trace.spans.iter().map(|s| s.span_id).collect();
    assert_eq!(ids, (1..=4).map(|n| span(n).span_id).collect::<Vec<_>>(), "sorted by start, no duplicates");

    // A scan hands one fragment per unit, the head's first.
    let (fragments, stats) = scan_all(&reader, Vec::new());
    assert_eq!(fragments.len(), 3);
    assert_eq!(fragments[0].spans.len(), 2, "the head's fragment (spans 3 and 4, the repeat dropped)");
    assert_eq!(fragments[1].spans[0].span_id, span(2).span_id, "then the newer block");
    assert_eq!(fragments[2].spans[0].span_id, span(1).span_id);
    assert_eq!(stats.inspected_traces, 3);

    // Early break: only the first fragment.
    let request = TraceScanRequest { start_ns: 0, end_ns: u64::MAX, hints: TraceFilterHints::default() };
    let mut seen = 0;
    reader
        .scan(&request, &mut |_: Trace| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
    assert_eq!(seen, 1);
}

/// Random traces in several blocks: a scan with hints skips pages, and hands every fragment that meets the
/// hints (compared with a scan without hints filtered by the test itself).
#[test]
fn scans_with_hints_skip_pages_and_never_drop_a_matching_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    let mut rng = Rng(99);
    let resources = service_resources();
    let scope = generated_scope();
    for block in 0..4u64 {
        let mut spans = Vec::new();
        for index in 0..1500u64 {
            let start = BASE_NS + (block * 1500 + index) * 1_000_000;
            let span_count = 8 + rng.below(20) as usize;
            let mut trace = generated_trace(&mut rng, &resources, &scope, span_count, start);
            // Rare values: a handful of traces carry them.
            if rng.below(400) == 0 {
                trace[1].attributes.push(Attribute::string("feature.flag", "rare-flag"));
            }
            if rng.below(500) == 0 {
                trace[0].name = "rare operation".into();
            }
            spans.extend(trace);
        }
        let outcome = traces.append_at(batch(spans), NOW).unwrap();
        assert!(outcome.rejections.is_empty(), "{:?}", outcome.rejections);
        if block < 3 {
            traces.maintain(NOW, true).unwrap();
        }
    }
    let reader = traces.reader();
    let (everything, unfiltered) = scan_all(&reader, Vec::new());
    assert_eq!(unfiltered.units_skipped, 0);
    let term_sets: Vec<Vec<TraceTerm>> = vec![
        vec![TraceTerm::SpanAttr { key: "feature.flag".into(), value: "rare-flag".into() }],
        vec![TraceTerm::SpanName("rare operation".into())],
        vec![TraceTerm::AnyAttr { key: "service.name".into(), value: "payment".into() }, TraceTerm::StatusError],
        vec![TraceTerm::ResourceAttr { key: "service.name".into(), value: "nobody".into() }],
        vec![TraceTerm::MinSpanDurationNs(200_000_000)],
        vec![
            TraceTerm::SpanAttr { key: "db.sql.table".into(), value: "orders".into() },
            TraceTerm::SpanName("rare operation".into()),
        ],
    ];
    let mut skipped_somewhere = false;
    for terms in term_sets {
        let hints = TraceFilterHints { all_of: terms.clone() };
        let want: BTreeSet<(TraceId, usize)> = everything
            .iter()
            .filter(|fragment| crate::terms::fragment_matches(&hints, &fragment.spans))
            .map(|fragment| (fragment.trace_id, fragment.spans.len()))
            .collect();
        let (got, stats) = scan_all(&reader, terms.clone());
        let got: BTreeSet<(TraceId, usize)> = got.iter().map(|f| (f.trace_id, f.spans.len())).collect();
        assert_eq!(got, want, "{terms:?}");
        skipped_somewhere |= stats.units_skipped > 0;
        if matches!(terms[0], TraceTerm::SpanAttr { .. } | TraceTerm::ResourceAttr { .. }) && terms.len() == 1 {
            assert!(stats.units_skipped > 0, "{terms:?} skipped nothing: {stats:?}");
        }
    }
    assert!(skipped_somewhere);
}

#[test]
fn tags_and_services_come_from_the_head_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    let reader = traces.reader();
    let check = |phase: &str| {
        let names = reader.tag_names(0, u64::MAX).unwrap();
        assert!(names.span.contains(&"http.method".to_string()), "{phase}: {names:?}");
        assert!(names.span.contains(&"http.status_code".to_string()), "{phase}");
        assert!(names.resource.contains(&"service.name".to_string()), "{phase}");
        assert!(!names.resource.contains(&"http.method".to_string()), "{phase}");
        let services = reader.tag_values(Some(TagScope::Resource), "service.name", 0, u64::MAX, 0).unwrap();
        assert_eq!(
            services,
            vec![AttrValue::Str("svc-0".into()), AttrValue::Str("svc-1".into()), AttrValue::Str("svc-2".into())],
            "{phase}"
        );
        let codes = reader.tag_values(None, "http.status_code", 0, u64::MAX, 0).unwrap();
        assert_eq!(codes, vec![AttrValue::Int(503)], "{phase}");
        assert!(reader.tag_values(Some(TagScope::Resource), "http.status_code", 0, u64::MAX, 0).unwrap().is_empty());
        assert_eq!(reader.tag_values(None, "service.name", 0, u64::MAX, 2).unwrap().len(), 2, "{phase}: limit");
        let listed = reader.services(0, u64::MAX).unwrap();
        assert_eq!(listed.iter().map(|s| s.service.as_str()).collect::<Vec<_>>(), ["svc-0", "svc-1", "svc-2"]);
        assert!(listed[1].operations.contains(&("GET /api/1".to_string(), SpanKind::Server)), "{phase}");
        // Outside the data's time range: nothing.
        assert!(reader.tag_names(0, BASE_NS / 2).unwrap().span.is_empty(), "{phase}");
        assert!(reader.services(0, BASE_NS / 2).unwrap().is_empty(), "{phase}");
    };
    traces.append_at(batch((1..=3).flat_map(|t| (1..=2).map(move |s| full_span(t, s))).collect()), NOW).unwrap();
    check("head");
    traces.maintain(NOW, true).unwrap();
    check("block");
}

#[test]
fn the_head_is_replayed_from_the_wal_after_a_crash_and_a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
        let traces = store.tenant(&tenant()).unwrap();
        traces.append_at(batch(vec![full_span(1, 1)]), NOW).unwrap();
        traces.maintain(NOW, true).unwrap();
        traces.append_at(batch(vec![full_span(1, 2), full_span(2, 1)]), NOW).unwrap();
        traces.append_at(batch(vec![full_span(3, 1)]), NOW).unwrap();
        // Dropped without a cut or a sync: the head lives only in the WAL.
    }
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.existing_tenant(&tenant()).expect("opened at start-up");
    let summary = traces.summary();
    assert_eq!((summary.blocks, summary.head_spans), (1, 3), "the block's WAL segment is not replayed again");
    let reader = traces.reader();
    assert_eq!(reader.trace_by_id(trace_id(1), None).unwrap().unwrap().spans.len(), 2);
    assert!(reader.trace_by_id(trace_id(3), None).unwrap().is_some());
    drop((reader, traces, store));

    // Tear the last record: cut the newest WAL segment in the middle of it.
    let wal_dir = dir.path().join("tenants/team-a/traces/wal");
    let mut segments: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| std::fs::metadata(path).unwrap().len() > oxeye_wal::SEGMENT_HEADER_LEN as u64)
        .collect();
    segments.sort();
    let last = segments.last().expect("a segment with records");
    let len = std::fs::metadata(last).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    file.set_len(len - 20).unwrap();
    drop(file);
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let reader = store.tenant(&tenant()).unwrap().reader();
    assert!(reader.trace_by_id(trace_id(3), None).unwrap().is_none(), "the torn record is gone");
    assert_eq!(reader.trace_by_id(trace_id(1), None).unwrap().unwrap().spans.len(), 2, "earlier records stay");
    assert!(reader.trace_by_id(trace_id(2), None).unwrap().is_some());
    // And the store keeps working after the cut.
    store.tenant(&tenant()).unwrap().append_at(batch(vec![full_span(4, 1)]), NOW).unwrap();
    assert!(reader.trace_by_id(trace_id(4), None).unwrap().is_some());
}

#[test]
fn retention_deletes_blocks_whose_newest_span_is_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = TracesOptions::new(dir.path());
    options
        .tenant_limits
        .insert("team-a".into(), TraceLimits { retention: Duration::from_secs(86_400), ..TraceLimits::default() });
    let store = TracesStore::open(options).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    traces.append_at(batch(vec![full_span(1, 1)]), NOW).unwrap();
    traces.maintain(NOW, true).unwrap();
    let mut later = full_span(2, 1);
    later.start_ns += 2 * 86_400_000_000_000;
    later.end_ns += 2 * 86_400_000_000_000;
    traces.append_at(batch(vec![later]), NOW).unwrap();
    traces.maintain(NOW, true).unwrap();
    assert_eq!(traces.summary().blocks, 2);
    let day_after_first = BASE_NS as i64 + 86_400_000_000_000 + 60_000_000_000;
    traces.maintain(day_after_first, false).unwrap();
    assert_eq!(traces.summary().blocks, 1, "the first block is past the one-day retention");
    let reader = traces.reader();
    assert!(reader.trace_by_id(trace_id(1), None).unwrap().is_none());
    assert!(reader.trace_by_id(trace_id(2), None).unwrap().is_some());
    let files = std::fs::read_dir(dir.path().join("tenants/team-a/traces/blocks")).unwrap().count();
    assert_eq!(files, 1);
}

#[test]
fn compaction_joins_the_fragments_of_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    for part in 0..crate::compaction::MIN_BLOCKS_TO_MERGE as u64 {
        // Trace 7 gets two spans per block (one repeated from the previous block); other traces one block each.
        let spans = vec![full_span(7, part + 1), full_span(7, part + 2), full_span(100 + part, 1)];
        let mut outcome = traces.append_at(batch(spans), NOW).unwrap();
        outcome.rejections.clear();
        // Cut without compacting: the cut happens in `maintain`, so compaction only starts once all are written.
        if part + 1 < crate::compaction::MIN_BLOCKS_TO_MERGE as u64 {
            traces.maintain(NOW, true).unwrap();
            assert_eq!(traces.summary().blocks as u64, part + 1);
        }
    }
    traces.maintain(NOW, true).unwrap();
    let summary = traces.summary();
    assert_eq!(summary.blocks, 1, "four small blocks of one day merged");
    assert_eq!(summary.block_traces, 5);
    assert_eq!(summary.block_spans, 5 + 4, "trace 7's repeated spans dropped");
    let reader = traces.reader();
    let trace = reader.trace_by_id(trace_id(7), None).unwrap().unwrap();
    assert_eq!(trace.spans.len(), 5);
    let (fragments, _) = scan_all(&reader, Vec::new());
    assert_eq!(fragments.iter().filter(|f| f.trace_id == trace_id(7)).count(), 1, "one fragment after the merge");
    assert_eq!(fragments.len(), 5);
    let files = std::fs::read_dir(dir.path().join("tenants/team-a/traces/blocks")).unwrap().count();
    assert_eq!(files, 1);
}

fn spans_of_trace(trace: u64, from: u64, count: u64) -> Vec<Span> {
    let template = Span {
        trace_id: trace_id(trace),
        name: "work".into(),
        start_ns: BASE_NS,
        end_ns: BASE_NS + 10,
        ..Span::default()
    };
    (from..from + count)
        .map(|n| Span { span_id: SpanId((n + 1).to_be_bytes()), start_ns: BASE_NS + n, ..template.clone() })
        .collect()
}

#[test]
fn the_span_limit_truncates_a_trace_and_records_it_across_cuts_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
        let traces = store.tenant(&tenant()).unwrap();
        let outcome = traces.append_at(batch(spans_of_trace(1, 0, 10_000)), NOW).unwrap();
        assert_eq!(outcome.accepted_spans, 10_000);
        let outcome = traces.append_at(batch(spans_of_trace(1, 10_000, 1)), NOW).unwrap();
        assert_eq!(outcome.accepted_spans, 0);
        assert_eq!(outcome.rejections.len(), 1);
        assert_eq!(outcome.rejections[0].reason, TraceRejectReason::TraceTooLarge);
        assert_eq!(outcome.rejections[0].spans, 1);
        assert!(outcome.rejections[0].message.starts_with("TRACE_TOO_LARGE: max spans per trace (10000)"));
        assert_eq!(outcome.retryable_rejection(), None);
        let reader = traces.reader();
        let trace = reader.trace_by_id(trace_id(1), None).unwrap().unwrap();
        assert_eq!((trace.spans.len(), trace.truncated_spans), (10_000, 1));

        // After a cut the count is remembered: the next span is refused too.
        traces.maintain(NOW, true).unwrap();
        let outcome = traces.append_at(batch(spans_of_trace(1, 10_001, 2)), NOW).unwrap();
        assert_eq!(outcome.rejected_spans(), 2);
        let trace = reader.trace_by_id(trace_id(1), None).unwrap().unwrap();
        assert_eq!((trace.spans.len(), trace.truncated_spans), (10_000, 3));
        // Other traces are unaffected.
        assert_eq!(traces.append_at(batch(spans_of_trace(2, 0, 5)), NOW).unwrap().accepted_spans, 5);
    }
    // The truncation counts are in the WAL and the block.
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let reader = store.tenant(&tenant()).unwrap().reader();
    let trace = reader.trace_by_id(trace_id(1), None).unwrap().unwrap();
    assert_eq!((trace.spans.len(), trace.truncated_spans), (10_000, 3));
}

#[test]
fn invalid_ids_long_values_and_the_rate_limit_are_refused_with_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = TracesOptions::new(dir.path());
    options.default_limits.max_attribute_bytes = 10;
    options.default_limits.ingestion_rate_spans = 10.0;
    options.default_limits.ingestion_burst_spans = 20.0;
    let store = TracesStore::open(options).unwrap();
    let traces = store.tenant(&tenant()).unwrap();

    let mut long = full_span(1, 1);
    long.attributes = vec![Attribute::string("text", "ééééééé"), Attribute::string("short", "ok")];
    let mut resource = (*long.resource).clone();
    resource.attributes.push(Attribute::string("k8s.pod.uid", "0123456789abcdef"));
    long.resource = Arc::new(resource);
    let zero_trace = Span { trace_id: TraceId::default(), ..full_span(2, 1) };
    let zero_span = Span { span_id: SpanId::default(), ..full_span(3, 1) };
    let outcome = traces.append_at(batch(vec![long, zero_trace, zero_span]), NOW).unwrap();
    assert_eq!(outcome.accepted_spans, 1);
    // The 14-byte value is cut to 10 bytes (5 characters), the resource's 16-byte value and the exception event's
    // 16-byte message too; "ok" is left alone.
    assert_eq!(outcome.truncated_attribute_values, 3);
    let reasons: BTreeMap<&str, usize> =
        outcome.rejections.iter().map(|rejection| (rejection.reason.as_str(), rejection.spans)).collect();
    assert_eq!(reasons, BTreeMap::from([("invalid_span_id", 1), ("invalid_trace_id", 1)]));
    assert!(outcome.error_message().contains("all-zero trace id"), "{}", outcome.error_message());
    let stored = traces.reader().trace_by_id(trace_id(1), None).unwrap().unwrap();
    assert_eq!(stored.spans[0].attributes[0].value, AttrValue::Str("ééééé".into()));
    assert_eq!(
        oxeye_model::find_attribute(&stored.spans[0].resource.attributes, "k8s.pod.uid").unwrap().to_text(),
        "0123456789"
    );

    // 19 tokens left of the burst of 20: a batch of 25 is refused whole, naming the limit.
    let outcome = traces.append_at(batch(spans_of_trace(9, 0, 25)), NOW).unwrap();
    assert_eq!(outcome.accepted_spans, 0);
    let refusal = outcome.retryable_rejection().expect("rate limited");
    assert_eq!(
        (refusal.reason, refusal.spans, refusal.reason.http_status()),
        (TraceRejectReason::RateLimited, 25, 429)
    );
    assert_eq!(
        refusal.message,
        "RATE_LIMITED: ingestion rate limit (local: 10 spans/s, burst: 20 spans) exceeded while adding 25 spans for user team-a"
    );
    assert_eq!(traces.append_at(batch(spans_of_trace(9, 0, 15)), NOW).unwrap().accepted_spans, 15);
    assert_eq!(traces.append_at(batch(spans_of_trace(9, 15, 10)), NOW).unwrap().accepted_spans, 0);
    // A second later, ten more tokens.
    assert_eq!(traces.append_at(batch(spans_of_trace(9, 15, 10)), NOW + 1_000_000_000).unwrap().accepted_spans, 10);
}

#[test]
fn a_head_past_its_hard_bound_answers_head_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = TracesOptions::new(dir.path());
    options.head_max_bytes = 1000;
    let store = TracesStore::open(options).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    // Without the background cut (append_inner), the head passes four times its limit…
    let outcome = traces.append_inner(batch(spans_of_trace(1, 0, 200)), NOW).unwrap();
    assert_eq!(outcome.accepted_spans, 200);
    let outcome = traces.append_inner(batch(spans_of_trace(2, 0, 3)), NOW).unwrap();
    let refusal = outcome.retryable_rejection().expect("head full");
    assert_eq!((refusal.reason, refusal.spans), (TraceRejectReason::HeadFull, 3));
    // …and a cut makes room again.
    traces.maintain(NOW, false).unwrap();
    assert_eq!(traces.append_inner(batch(spans_of_trace(2, 0, 3)), NOW).unwrap().accepted_spans, 3);
}

#[test]
fn a_full_head_is_cut_in_the_background_and_an_old_one_at_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = TracesOptions::new(dir.path());
    options.head_max_bytes = 50_000;
    let store = TracesStore::open(options).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    for trace in 0..20 {
        traces.append_at(batch(spans_of_trace(trace, 0, 100)), NOW).unwrap();
    }
    // Background cuts finish shortly.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while traces.summary().blocks == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(traces.summary().blocks >= 1);
    let reader = traces.reader();
    for trace in 0..20 {
        assert_eq!(reader.trace_by_id(trace_id(trace), None).unwrap().unwrap().spans.len(), 100);
    }
    traces.append_at(batch(spans_of_trace(50, 0, 1)), NOW).unwrap();
    assert!(!traces.maintain(NOW + 60_000_000_000, false).unwrap(), "young head stays");
    assert!(traces.maintain(NOW + 31 * 60_000_000_000, false).unwrap(), "30 minutes old: cut");
}

/// By-id latency over about 5 M spans in 50 blocks (some traces in two blocks). Run with
/// `cargo test -p oxeye-traces-store --release -- --ignored --nocapture by_id_latency`.
#[test]
#[ignore]
fn by_id_latency_over_fifty_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let blocks_dir = dir.path().join("tenants/team-a/traces/blocks");
    std::fs::create_dir_all(&blocks_dir).unwrap();
    let mut rng = Rng(7);
    let resources = service_resources();
    let scope = generated_scope();
    let base: Vec<Vec<Span>> = (0..5000u64)
        .map(|index| {
            let span_count = 12 + rng.below(17) as usize;
            generated_trace(&mut rng, &resources, &scope, span_count, BASE_NS + index * 10_000_000)
        })
        .collect();
    let started = std::time::Instant::now();
    let mut all_ids = Vec::new();
    let mut total_spans = 0;
    let mut previous_ids: Vec<TraceId> = Vec::new();
    for block in 0..50u64 {
        let mut traces: Vec<(TraceId, Vec<Span>)> = base
            .iter()
            .enumerate()
            .map(|(index, spans)| {
                // The first 500 traces of a block continue traces of the previous block (fragments).
                let id = if index < 500 && !previous_ids.is_empty() {
                    previous_ids[index]
                } else {
                    TraceId([rng.next().to_be_bytes(), rng.next().to_be_bytes()].concat().try_into().unwrap())
                };
                let spans: Vec<Span> = spans
                    .iter()
                    .map(|span| Span {
                        trace_id: id,
                        span_id: SpanId((rng.next() | 1).to_be_bytes()),
                        start_ns: span.start_ns + block * 60_000_000_000,
                        end_ns: span.end_ns + block * 60_000_000_000,
                        ..span.clone()
                    })
                    .collect();
                (id, spans)
            })
            .collect();
        previous_ids = traces.iter().skip(500).take(500).map(|(id, _)| *id).collect();
        traces.sort_by_key(|(id, _)| *id);
        let path = blocks_dir.join(crate::files::block_file_name(block + 1));
        let mut writer = crate::block::BlockWriter::create(&path).unwrap();
        for (id, spans) in &mut traces {
            crate::head::normalize_spans(spans);
            total_spans += spans.len();
            writer.push_trace(*id, spans, 0).unwrap();
            all_ids.push(*id);
        }
        writer.finish(0).unwrap();
    }
    println!("wrote {total_spans} spans in 50 blocks in {:?}", started.elapsed());
    let store = TracesStore::open(TracesOptions::new(dir.path())).unwrap();
    let traces = store.tenant(&tenant()).unwrap();
    let summary = traces.summary();
    println!("{} blocks, {} bytes, {} traces", summary.blocks, summary.block_bytes, summary.block_traces);
    let reader = traces.reader();
    let mut timings = Vec::new();
    for _ in 0..1000 {
        let id = all_ids[rng.below(all_ids.len() as u64) as usize];
        let started = std::time::Instant::now();
        let trace = reader.trace_by_id(id, None).unwrap().expect("stored");
        timings.push(started.elapsed());
        assert!(!trace.spans.is_empty());
    }
    timings.sort();
    let missing_started = std::time::Instant::now();
    assert!(reader.trace_by_id(TraceId([0xab; 16]), None).unwrap().is_none());
    println!(
        "by id: p50 {:?}, p99 {:?}, max {:?}; a missing id {:?}",
        timings[500],
        timings[990],
        timings[999],
        missing_started.elapsed()
    );
    assert!(timings[990] < Duration::from_millis(50), "p99 {:?}", timings[990]);
}
