//! Block round trips, the trace-id index, pruning facts, and the size of blocks against OTLP.

use std::ops::ControlFlow;

use oxeye_model::{Span, TraceId};
use oxeye_storage_api::{TraceFilterHints, TraceTerm};

use super::{Block, BlockWriter, PageScratch};
use crate::head::normalize_spans;
use crate::test_data::{
    BASE_NS, Rng, full_span, generated_scope, generated_trace, otlp_export_size, service_resources,
};

/// Traces sorted by id, spans normalised: what a block is written from.
fn sorted_traces(mut traces: Vec<Vec<Span>>) -> Vec<(TraceId, Vec<Span>)> {
    let mut out: Vec<(TraceId, Vec<Span>)> = traces
        .drain(..)
        .map(|mut spans| {
            normalize_spans(&mut spans);
            (spans[0].trace_id, spans)
        })
        .collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

fn write_block(dir: &std::path::Path, traces: &[(TraceId, Vec<Span>)], level: i32) -> Block {
    let path = dir.join(crate::files::block_file_name(1));
    let mut writer = BlockWriter::create_with_level(&path, level).unwrap();
    for (index, (trace_id, spans)) in traces.iter().enumerate() {
        writer.push_trace(*trace_id, spans, index as u64 % 3).unwrap();
    }
    Block::open(&writer.finish(7).unwrap()).unwrap()
}

fn generated(traces: usize, seed: u64) -> Vec<Vec<Span>> {
    let mut rng = Rng(seed);
    let resources = service_resources();
    let scope = generated_scope();
    (0..traces)
        .map(|index| {
            let spans = 12 + rng.below(17) as usize;
            generated_trace(&mut rng, &resources, &scope, spans, BASE_NS + index as u64 * 10_000_000)
        })
        .collect()
}

#[test]
fn every_field_round_trips_through_a_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut traces: Vec<Vec<Span>> =
        (1..=5).map(|trace| (1..=4).map(|span| full_span(trace, span)).collect()).collect();
    // A span whose parent is not in the block, one without events and an end before its start.
    let mut orphan = full_span(1, 9);
    orphan.parent_span_id = oxeye_model::SpanId([9; 8]);
    orphan.events.clear();
    orphan.end_ns = orphan.start_ns - 1;
    traces[0].push(orphan);
    traces.extend(generated(50, 3));
    let traces = sorted_traces(traces);
    let block = write_block(dir.path(), &traces, super::ZSTD_LEVEL);
    assert_eq!(block.wal_through, 7);
    assert_eq!(block.trace_ids.len(), traces.len());
    let mut scratch = PageScratch::default();
    for (index, (trace_id, spans)) in traces.iter().enumerate() {
        let (read, truncated) = block.trace_fragment(*trace_id, None, &mut scratch).unwrap().expect("trace present");
        assert_eq!(&read, spans, "trace {trace_id}");
        assert_eq!(truncated, index as u64 % 3);
    }
    assert!(block.trace_fragment(TraceId([0xee; 16]), None, &mut scratch).unwrap().is_none());
    assert_eq!(block.summary.spans, traces.iter().map(|(_, spans)| spans.len() as u64).sum::<u64>());
    assert!(block.summary.services.contains_key("checkout"));
    assert!(block.summary.resource_tags["service.name"].strings.contains("svc-1"));
}

#[test]
fn pages_hold_whole_traces_and_the_index_finds_each() {
    let dir = tempfile::tempdir().unwrap();
    let traces = sorted_traces(generated(4000, 11));
    let block = write_block(dir.path(), &traces, 3);
    assert!(block.pages.len() >= 3, "{} pages", block.pages.len());
    let mut scratch = PageScratch::default();
    let mut rng = Rng(5);
    for _ in 0..200 {
        let (trace_id, spans) = &traces[rng.below(traces.len() as u64) as usize];
        let (read, _) = block.trace_fragment(*trace_id, None, &mut scratch).unwrap().unwrap();
        assert_eq!(&read, spans);
    }
    // Every page read in full yields its traces, in index order.
    let mut seen = Vec::new();
    for page in &block.pages {
        block.load_page(page, &mut scratch).unwrap();
        let ids = block.page_trace_ids(page);
        let _ = block.read_page_traces(
            page,
            &scratch,
            |_| true,
            |index, spans, _| {
                assert_eq!(spans[0].trace_id, ids[index]);
                seen.push(ids[index]);
                ControlFlow::Continue(())
            },
        );
    }
    assert_eq!(seen, traces.iter().map(|(id, _)| *id).collect::<Vec<_>>());
}

#[test]
fn page_facts_never_rule_out_a_page_that_matches() {
    let dir = tempfile::tempdir().unwrap();
    let traces = sorted_traces(generated(3000, 17));
    let block = write_block(dir.path(), &traces, 3);
    let f = |term: TraceTerm, want_some_skipped: bool| {
        let hints = TraceFilterHints { all_of: vec![term.clone()] };
        let mut skipped = 0;
        for page in &block.pages {
            let traces_in_page = &traces[page.first_trace as usize..(page.first_trace + page.traces) as usize];
            let matches = traces_in_page.iter().any(|(_, spans)| crate::terms::fragment_matches(&hints, spans));
            let may = block.page_may_match(page, &hints).unwrap();
            assert!(may || !matches, "{term:?} ruled out a matching page");
            skipped += (!may) as usize;
        }
        assert_eq!(skipped > 0, want_some_skipped, "{term:?}: {skipped} of {} pages skipped", block.pages.len());
    };
    f(TraceTerm::SpanName("GET /api/cart".into()), false);
    f(TraceTerm::SpanName("no such span".into()), true);
    f(TraceTerm::ResourceAttr { key: "service.name".into(), value: "checkout".into() }, false);
    f(TraceTerm::ResourceAttr { key: "service.name".into(), value: "nobody".into() }, true);
    f(TraceTerm::AnyAttr { key: "db.system".into(), value: "postgresql".into() }, false);
    f(TraceTerm::SpanAttr { key: "db.system".into(), value: "mysql".into() }, true);
    f(TraceTerm::MinSpanDurationNs(u64::MAX), true);
    f(TraceTerm::StatusError, false);
}

/// The size goal: a block takes at most 1/8 of the OTLP protobuf bytes of the same spans.
#[test]
fn blocks_are_at_most_an_eighth_of_otlp() {
    let dir = tempfile::tempdir().unwrap();
    let traces = generated(5000, 23);
    let spans: Vec<Span> = traces.iter().flatten().cloned().collect();
    let otlp = otlp_export_size(&spans);
    let block = write_block(dir.path(), &sorted_traces(traces), super::ZSTD_LEVEL);
    let disk = block.file_bytes() as usize;
    let ratio = otlp as f64 / disk as f64;
    println!(
        "{} spans: OTLP protobuf {otlp} bytes ({:.0}/span), block {disk} bytes ({:.1}/span), {} pages: 1/{ratio:.1}",
        spans.len(),
        otlp as f64 / spans.len() as f64,
        disk as f64 / spans.len() as f64,
        block.pages.len()
    );
    assert!(ratio >= 8.0, "block is 1/{ratio:.2} of OTLP, goal 1/8");
}

/// Block size by zstd level (run with `--ignored --nocapture`; numbers in the format doc).
#[test]
#[ignore]
fn zstd_levels() {
    let dir = tempfile::tempdir().unwrap();
    let traces = sorted_traces(generated(5000, 23));
    for level in [1, 3, 6, 9, 12, 15, 19] {
        let started = std::time::Instant::now();
        let block = write_block(dir.path(), &traces, level);
        println!("zstd {level:2}: {} bytes, written in {:?}", block.file_bytes(), started.elapsed());
    }
}

/// Damaged page bytes are reported as corruption (or, in the unchecked raw span-id column, read as other ids);
/// they never panic.
#[test]
fn damaged_pages_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let traces = sorted_traces(generated(300, 31));
    let block = write_block(dir.path(), &traces, 3);
    let original = std::fs::read(&block.path).unwrap();
    let data_end = block.pages.last().map_or(0, |page| page.bloom_offset as usize);
    let mut rng = Rng(77);
    let mut errors = 0;
    for round in 0..300 {
        let mut damaged = original.clone();
        for _ in 0..1 + rng.below(4) {
            let at = 8 + rng.below(data_end as u64 - 8) as usize;
            damaged[at] ^= 1 << rng.below(8);
        }
        let path = dir.path().join(format!("damaged-{round}.otb"));
        std::fs::write(&path, &damaged).unwrap();
        let damaged_block = Block::open(&path).expect("the index is intact");
        let mut scratch = PageScratch::default();
        for (trace_id, _) in traces.iter().step_by(37) {
            errors += damaged_block.trace_fragment(*trace_id, None, &mut scratch).is_err() as usize;
        }
        std::fs::remove_file(&path).unwrap();
    }
    assert!(errors > 0);
}
