//! `oxeye-bench-metrics-workload`: the workload half of oxeye's side-by-side metrics ingest benchmark.
//!
//! `generate` simulates a fleet of hosts (node_exporter and application targets, see [`workload`]) and writes
//! what a Prometheus would remote-write for it (snappy-compressed `WriteRequest` bodies, see [`body_file`]) plus a
//! manifest. `replay` sends those exact bodies to a remote_write endpoint and reports throughput. The driver that
//! starts oxeye, Prometheus and VictoriaMetrics and compares them is `bench/metrics/run.py`.

mod app_service;
mod body_file;
mod generate;
mod http_client;
mod manifest;
mod node_exporter;
mod replay;
mod scrape_sink;
mod time_args;
mod value_models;
mod workload;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::generate::{GenerateOptions, generate};
use crate::replay::{ReplayOptions, replay};
use crate::time_args::{parse_duration, parse_end_time};
use crate::workload::WorkloadSpec;

/// Generate and replay a reproducible Prometheus remote_write workload.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a fleet and write its remote_write bodies and manifest.json into a directory.
    Generate(GenerateArgs),
    /// Send a generated workload to a remote_write endpoint, step by step, and report samples/s.
    Replay(ReplayArgs),
}

#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// Hosts in the fleet; each has a node_exporter and an application target (about 400 series per host; the default gives over 100,000).
    #[arg(long, default_value_t = 260)]
    hosts: usize,
    /// Time range covered, ending at --end-time (e.g. 2h, 3h15m, 90m).
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    duration: Duration,
    /// Scrape interval.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    interval: Duration,
    /// End of the time range: `now` (rounded down to the interval), Unix seconds, or `YYYY-MM-DDTHH:MM:SSZ`.
    #[arg(long, default_value = "now")]
    end_time: String,
    /// Seed of every random choice; the same seed and parameters give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Series per request body, like Prometheus's `max_samples_per_send` with one sample per series.
    #[arg(long, default_value_t = 5000)]
    max_series_per_body: usize,
    /// A new body file starts at the first step boundary after a file reaches this many MiB.
    #[arg(long, default_value_t = 1024)]
    max_file_mib: u64,
    /// Replace a workload already in --out.
    #[arg(long)]
    overwrite: bool,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    /// Directory written by `generate`.
    #[arg(long)]
    workload: PathBuf,
    /// remote_write endpoint, e.g. http://127.0.0.1:9090/api/v1/write.
    #[arg(long)]
    url: String,
    /// Requests in flight within one step (one keep-alive connection each).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Limit for connecting and for each read or write of a request.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    result_json: Option<PathBuf>,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Generate(args) => run_generate(args),
        Command::Replay(args) => run_replay(args),
    }
}

fn run_generate(args: GenerateArgs) -> Result<()> {
    let interval_ms = i64::try_from(args.interval.as_millis()).context("interval too long")?;
    if interval_ms < 1000 {
        bail!("--interval must be at least 1s");
    }
    if args.hosts == 0 {
        bail!("--hosts must be at least 1");
    }
    let duration_ms = i64::try_from(args.duration.as_millis()).context("duration too long")?;
    let steps = (duration_ms / interval_ms).max(1) as u64;
    let now_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let end_ms = parse_end_time(&args.end_time, now_ms)?;
    let aligned_end_ms = end_ms - end_ms.rem_euclid(interval_ms);
    let spec = WorkloadSpec {
        seed: args.seed,
        hosts: args.hosts,
        interval_ms,
        start_ms: aligned_end_ms - steps as i64 * interval_ms,
        steps,
    };
    let options = GenerateOptions {
        spec,
        out: args.out,
        max_series_per_body: args.max_series_per_body.max(1),
        max_file_bytes: args.max_file_mib.max(1) << 20,
        overwrite: args.overwrite,
    };
    let manifest = generate(&options)?;
    println!(
        "{} series, {} samples, {} bodies, {:.1} MiB in {}",
        manifest.series,
        manifest.samples,
        manifest.bodies,
        manifest.compressed_bytes as f64 / 1_048_576.0,
        options.out.display()
    );
    Ok(())
}

fn run_replay(args: ReplayArgs) -> Result<()> {
    let options = ReplayOptions {
        workload: args.workload,
        url: args.url,
        concurrency: args.concurrency,
        request_timeout: args.request_timeout,
        result_json: args.result_json,
    };
    let result = replay(&options)?;
    println!(
        "{} samples in {} requests in {:.2} s: {:.0} samples/s (request latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
        result.samples,
        result.requests,
        result.wall_seconds,
        result.samples_per_second,
        result.request_latency_p50_ms,
        result.request_latency_p99_ms,
        result.request_latency_max_ms
    );
    Ok(())
}
