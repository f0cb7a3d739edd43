//! `replay`: sends a generated workload's bodies to one remote_write endpoint as fast as it accepts them.
//!
//! Steps are sent in order with a barrier between them: every request of step `t` is answered before any request of
//! step `t + 1` goes out, so each series' samples arrive in time order, as from a real Prometheus. Within a step,
//! `concurrency` workers (each with its own keep-alive connection) share the step's requests. A reader thread
//! loads the next steps from disk meanwhile, so sending is not slowed by file I/O. Any non-2xx answer stops the
//! replay with the status and the server's message.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::body_file::{BodyFileReader, BodyFrame};
use crate::http_client::{HttpConnection, HttpEndpoint};
use crate::manifest::Manifest;

/// Headers of a remote_write 1.0 request.
const REMOTE_WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];
/// Steps read ahead of the one being sent.
const PREFETCH_STEPS: usize = 4;

/// Resolved options of the `replay` command.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub workload: PathBuf,
    pub url: String,
    pub concurrency: usize,
    pub request_timeout: Duration,
    pub result_json: Option<PathBuf>,
}

/// What a replay measured; also written as JSON for `run.py`.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayResult {
    pub url: String,
    pub concurrency: usize,
    pub samples: u64,
    pub requests: u64,
    pub compressed_bytes: u64,
    pub wall_seconds: f64,
    pub samples_per_second: f64,
    pub request_latency_p50_ms: f64,
    pub request_latency_p99_ms: f64,
    pub request_latency_max_ms: f64,
}

struct StepBatch {
    step: u32,
    frames: Vec<BodyFrame>,
}

/// Replays the workload in `options.workload` to `options.url`.
pub fn replay(options: &ReplayOptions) -> Result<ReplayResult> {
    let manifest = Manifest::load(&options.workload)?;
    let endpoint = HttpEndpoint::parse(&options.url)?;
    let concurrency = options.concurrency.max(1);
    let mut connections: Vec<HttpConnection> =
        (0..concurrency).map(|_| HttpConnection::new(endpoint.clone(), options.request_timeout)).collect();
    let steps = spawn_step_reader(options.workload.clone(), manifest.clone());

    eprintln!(
        "replay: {} samples of {} series in {} steps to {} with {concurrency} connections",
        manifest.samples, manifest.series, manifest.steps, options.url
    );
    let started = Instant::now();
    let mut latencies_us: Vec<u32> = Vec::with_capacity(manifest.bodies as usize);
    let mut samples = 0u64;
    let mut requests = 0u64;
    let mut compressed_bytes = 0u64;
    let progress_every = (manifest.steps / 10).max(1);
    for batch in steps {
        let batch = batch?;
        samples += batch.frames.iter().map(|frame| u64::from(frame.samples)).sum::<u64>();
        requests += batch.frames.len() as u64;
        compressed_bytes += batch.frames.iter().map(|frame| frame.body.len() as u64).sum::<u64>();
        send_step(&batch, &mut connections, &mut latencies_us)?;
        if u64::from(batch.step + 1) % progress_every == 0 {
            let elapsed = started.elapsed().as_secs_f64();
            eprintln!(
                "replay: step {}/{}, {samples} samples, {:.0} samples/s",
                batch.step + 1,
                manifest.steps,
                samples as f64 / elapsed
            );
        }
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    if samples != manifest.samples {
        bail!("sent {samples} samples but the manifest lists {}", manifest.samples);
    }
    latencies_us.sort_unstable();
    let percentile_ms = |share: f64| {
        let index = ((latencies_us.len() as f64 - 1.0) * share).round() as usize;
        latencies_us.get(index).map_or(0.0, |&micros| f64::from(micros) / 1000.0)
    };
    let result = ReplayResult {
        url: options.url.clone(),
        concurrency,
        samples,
        requests,
        compressed_bytes,
        wall_seconds,
        samples_per_second: samples as f64 / wall_seconds,
        request_latency_p50_ms: percentile_ms(0.5),
        request_latency_p99_ms: percentile_ms(0.99),
        request_latency_max_ms: percentile_ms(1.0),
    };
    if let Some(path) = &options.result_json {
        std::fs::write(path, serde_json::to_vec_pretty(&result)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(result)
}

/// Reads frames on a separate thread and hands them over grouped by step.
fn spawn_step_reader(directory: PathBuf, manifest: Manifest) -> Receiver<Result<StepBatch>> {
    let (sender, receiver) = sync_channel(PREFETCH_STEPS);
    thread::spawn(move || {
        let result = read_steps(&directory, &manifest, |batch| sender.send(Ok(batch)).is_ok());
        if let Err(error) = result {
            // The receiver may be gone already (the replay failed); nothing left to tell then.
            let _ = sender.send(Err(error));
        }
    });
    receiver
}

fn read_steps(directory: &Path, manifest: &Manifest, mut deliver: impl FnMut(StepBatch) -> bool) -> Result<()> {
    let mut reader = BodyFileReader::new(directory, &manifest.files);
    let mut pending: Option<StepBatch> = None;
    while let Some(frame) = reader.next_frame()? {
        match &mut pending {
            Some(batch) if batch.step == frame.step => batch.frames.push(frame),
            _ => {
                if let Some(batch) = pending.take()
                    && !deliver(batch)
                {
                    return Ok(());
                }
                pending = Some(StepBatch { step: frame.step, frames: vec![frame] });
            }
        }
    }
    if let Some(batch) = pending {
        deliver(batch);
    }
    Ok(())
}

/// Sends every request of one step over the connections and waits for all answers.
fn send_step(batch: &StepBatch, connections: &mut [HttpConnection], latencies_us: &mut Vec<u32>) -> Result<()> {
    let next_frame = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker_results: Vec<Result<Vec<u32>>> = thread::scope(|scope| {
        let workers: Vec<_> = connections
            .iter_mut()
            .take(batch.frames.len())
            .map(|connection| {
                let next_frame = &next_frame;
                let failed = &failed;
                scope.spawn(move || -> Result<Vec<u32>> {
                    let mut latencies = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let index = next_frame.fetch_add(1, Ordering::Relaxed);
                        let Some(frame) = batch.frames.get(index) else {
                            break;
                        };
                        let sent = Instant::now();
                        let outcome = connection.post(&REMOTE_WRITE_HEADERS, &frame.body).and_then(|response| {
                            if (200..300).contains(&response.status) {
                                Ok(())
                            } else {
                                Err(anyhow!(
                                    "HTTP {} for request {index} of step {} ({} samples): {}",
                                    response.status,
                                    frame.step,
                                    frame.samples,
                                    String::from_utf8_lossy(&response.body).trim()
                                ))
                            }
                        });
                        if let Err(error) = outcome {
                            failed.store(true, Ordering::Relaxed);
                            return Err(error);
                        }
                        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    }
                    Ok(latencies)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|_| Err(anyhow!("a replay worker panicked"))))
            .collect()
    });
    for result in worker_results {
        latencies_us.extend(result?);
    }
    Ok(())
}
