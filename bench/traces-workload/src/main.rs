//! `oxeye-bench-traces-workload`: the workload of oxeye's trace benchmark (`bench/traces/run.py`).
//!
//! Simulates a shop of fifteen microservices ([`shop`], [`topology`]) serving user requests, one trace per
//! request, and writes what their OpenTelemetry SDKs would export ([`batch_exporter`]): OTLP protobuf request bodies
//! in `spans.bin`, plus `manifest.json` with the counts, the time range, a sample of trace ids with their span
//! counts (for trace-by-id lookups), and the exact answers of the benchmark's TraceQL queries. The same seed and
//! options give byte-identical output when `--end-time` is fixed.

mod batch_exporter;
mod shop;
mod topology;
mod trace_builder;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::batch_exporter::{BODIES_FILE, BatchExporter};
use crate::shop::Shop;
use crate::topology::{SERVICES, Svc};

/// Generate a reproducible microservice trace workload as OTLP protobuf request bodies.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Spans to generate (whole traces: the total is at most one trace more).
    #[arg(long, default_value_t = 5_000_000)]
    spans: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Traffic of the shop in spans per second; the time range is spans / this.
    #[arg(long, default_value_t = 5_000)]
    spans_per_second: u64,
    /// End of the time range in Unix seconds, or `now` (two minutes before now, so no span ends in the future).
    #[arg(long, default_value = "now")]
    end_time: String,
    /// Share of traces with an error.
    #[arg(long, default_value_t = 0.015)]
    error_rate: f64,
    /// Most spans per export request (the SDK's maxExportBatchSize).
    #[arg(long, default_value_t = 512)]
    batch_spans: usize,
    /// Export timer of each pod in milliseconds (the SDK's scheduledDelay).
    #[arg(long, default_value_t = 5_000)]
    batch_delay_ms: u64,
    /// Trace ids (with their span counts) listed in the manifest for lookups.
    #[arg(long, default_value_t = 2_000)]
    sample_ids: usize,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// A query's exact answer: every trace that matches.
#[derive(Serialize, Default)]
struct Expected {
    trace_ids: Vec<String>,
}

#[derive(Serialize)]
struct Needle {
    /// `order.id` of a checkout placed at about 40 % of the traces.
    order_id: String,
    /// Every trace with a span carrying that `order.id` (the checkout and later order-status requests).
    order_trace_ids: Vec<String>,
    /// `user.id` of the user who placed it, and every trace of that user.
    user_id: String,
    user_trace_ids: Vec<String>,
}

#[derive(Serialize)]
struct SampledTrace {
    trace_id: String,
    spans: u32,
}

#[derive(Serialize)]
struct Manifest {
    format: u32,
    seed: u64,
    spans: u64,
    traces: u64,
    requests: u64,
    protobuf_bytes: u64,
    bodies_file: &'static str,
    /// Earliest span start and latest span end, Unix ns.
    start_ns: u64,
    end_ns: u64,
    services: Vec<&'static str>,
    pods: usize,
    spans_by_kind: BTreeMap<&'static str, u64>,
    spans_by_service: BTreeMap<&'static str, u64>,
    traces_by_route: BTreeMap<&'static str, u64>,
    spans_per_trace_mean: f64,
    spans_per_trace_max: u32,
    depth_histogram: BTreeMap<u8, u64>,
    error_traces: u64,
    error_spans: u64,
    exception_events: u64,
    events: u64,
    attributes_per_span_mean: f64,
    batch_spans_mean: f64,
    batch_spans_p50: u32,
    batch_spans_min: u32,
    batch_spans_max: u32,
    needle: Needle,
    /// `{ status = error }`.
    error_traces_expected: Expected,
    /// `{ resource.service.name = "checkout" && duration > 500ms }`.
    checkout_slow_expected: Expected,
    sample: Vec<SampledTrace>,
    generated_in_s: f64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.spans == 0 || cli.spans_per_second == 0 {
        bail!("--spans and --spans-per-second must be positive");
    }
    if !(0.0..=1.0).contains(&cli.error_rate) {
        bail!("--error-rate must be between 0 and 1");
    }
    let started = Instant::now();
    let end_ns: u64 = if cli.end_time == "now" {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        (now - 120) * 1_000_000_000
    } else {
        cli.end_time.parse::<u64>().with_context(|| format!("--end-time {:?}", cli.end_time))? * 1_000_000_000
    };
    let window_ns = cli.spans * 1_000_000_000 / cli.spans_per_second;
    let window_start_ns = end_ns - window_ns;
    let ns_per_span = (window_ns / cli.spans).max(1);
    std::fs::create_dir_all(&cli.out).with_context(|| format!("creating {}", cli.out.display()))?;

    let mut rng = StdRng::seed_from_u64(cli.seed);
    let mut shop = Shop::new(&mut rng);
    let pods = shop.topology.pods.len();
    let mut exporter = BatchExporter::create(
        &cli.out,
        pods,
        cli.batch_spans,
        cli.batch_delay_ms * 1_000_000,
        window_start_ns,
        &mut rng,
    )?;

    // Trace id, spans, user number (0: anonymous).
    let mut all_traces: Vec<([u8; 16], u32, u32)> = Vec::new();
    let mut spans_by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut spans_by_service: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut traces_by_route: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut depth_histogram: BTreeMap<u8, u64> = BTreeMap::new();
    let (mut error_traces, mut error_spans, mut exception_events, mut events, mut attributes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut error_expected = Expected::default();
    let mut slow_expected = Expected::default();
    let mut needle: Option<Needle> = None;
    let mut min_start = u64::MAX;
    let mut max_end = 0u64;
    let mut spans_so_far = 0u64;
    let mut max_spans = 0u32;
    let needle_after = cli.spans * 2 / 5;

    while spans_so_far < cli.spans {
        let start_ns = window_start_ns + spans_so_far * ns_per_span + rng.random_range(0..ns_per_span * 16);
        exporter.tick(&shop.topology, start_ns)?;
        let error = rng.random_bool(cli.error_rate);
        let (trace, facts) = shop.request(&mut rng, start_ns, error);
        let trace_id = hex(&trace.trace_id);
        let count = trace.spans.len() as u32;
        max_spans = max_spans.max(count);
        *traces_by_route.entry(facts.route).or_default() += 1;
        let mut has_error = false;
        let mut checkout_slow = false;
        for record in trace.spans {
            let span = record.span;
            min_start = min_start.min(span.start_time_unix_nano);
            max_end = max_end.max(span.end_time_unix_nano);
            let svc = shop.topology.pods[record.pod].svc;
            *spans_by_service.entry(svc.spec().name).or_default() += 1;
            *spans_by_kind.entry(kind_name(span.kind)).or_default() += 1;
            *depth_histogram.entry(record.depth).or_default() += 1;
            if span.status.as_ref().is_some_and(|status| status.code == StatusCode::Error as i32) {
                has_error = true;
                error_spans += 1;
            }
            if svc == Svc::Checkout && span.end_time_unix_nano - span.start_time_unix_nano > 500_000_000 {
                checkout_slow = true;
            }
            events += span.events.len() as u64;
            exception_events += span.events.iter().filter(|event| event.name == "exception").count() as u64;
            attributes += span.attributes.len() as u64;
            exporter.push(&shop.topology, record.pod, record.scope, span)?;
        }
        if has_error {
            error_traces += 1;
            error_expected.trace_ids.push(trace_id.clone());
        }
        if checkout_slow {
            slow_expected.trace_ids.push(trace_id.clone());
        }
        match &mut needle {
            None if spans_so_far >= needle_after && facts.route == "POST /api/checkout" && !has_error => {
                if let (Some(order_id), Some(user_id)) = (&facts.order_id, &facts.user_id) {
                    needle = Some(Needle {
                        order_id: order_id.clone(),
                        order_trace_ids: vec![trace_id.clone()],
                        user_id: user_id.clone(),
                        user_trace_ids: Vec::new(),
                    });
                }
            }
            Some(found) if facts.order_id.as_deref() == Some(found.order_id.as_str()) => {
                found.order_trace_ids.push(trace_id.clone());
            }
            _ => {}
        }
        let user_number = facts.user_id.as_deref().and_then(|user| user[1..].parse().ok()).unwrap_or(0);
        all_traces.push((trace.trace_id, count, user_number));
        spans_so_far += u64::from(count);
    }
    let totals = exporter.finish(&shop.topology)?;
    let Some(mut needle) = needle else {
        bail!("no checkout by a logged-in user after 40 % of the spans; generate more spans");
    };
    // An order cannot be looked up before it is placed, but its user may have made requests earlier.
    let needle_user: u32 = needle.user_id[1..].parse().context("user ids are u<number>")?;
    needle.user_trace_ids =
        all_traces.iter().filter(|trace| trace.2 == needle_user).map(|trace| hex(&trace.0)).collect();

    let sample_count = cli.sample_ids.min(all_traces.len());
    let sample = rand::seq::index::sample(&mut rng, all_traces.len(), sample_count)
        .into_iter()
        .map(|index| SampledTrace { trace_id: hex(&all_traces[index].0), spans: all_traces[index].1 })
        .collect();
    let mut sizes = totals.batch_sizes.clone();
    sizes.sort_unstable();
    let manifest = Manifest {
        format: 1,
        seed: cli.seed,
        spans: totals.spans,
        traces: all_traces.len() as u64,
        requests: totals.requests,
        protobuf_bytes: totals.protobuf_bytes,
        bodies_file: BODIES_FILE,
        start_ns: min_start,
        end_ns: max_end,
        services: SERVICES.iter().map(|service| service.name).collect(),
        pods,
        spans_by_kind,
        spans_by_service,
        traces_by_route,
        spans_per_trace_mean: totals.spans as f64 / all_traces.len() as f64,
        spans_per_trace_max: max_spans,
        depth_histogram,
        error_traces,
        error_spans,
        exception_events,
        events,
        attributes_per_span_mean: attributes as f64 / totals.spans as f64,
        batch_spans_mean: totals.spans as f64 / totals.requests as f64,
        batch_spans_p50: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        batch_spans_min: sizes.first().copied().unwrap_or(0),
        batch_spans_max: sizes.last().copied().unwrap_or(0),
        needle,
        error_traces_expected: error_expected,
        checkout_slow_expected: slow_expected,
        sample,
        generated_in_s: started.elapsed().as_secs_f64(),
    };
    let path = cli.out.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{} spans in {} traces ({:.1} spans/trace, {} error traces), {} requests ({:.0} spans each), {:.1} MB of OTLP protobuf, in {:.1} s",
        manifest.spans,
        manifest.traces,
        manifest.spans_per_trace_mean,
        manifest.error_traces,
        manifest.requests,
        manifest.batch_spans_mean,
        manifest.protobuf_bytes as f64 / 1e6,
        manifest.generated_in_s
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}
