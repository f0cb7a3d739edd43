//! `generate`: runs the fleet model over the time range and writes the remote_write bodies and the manifest.
//!
//! Series are assigned to requests the way Prometheus's remote-write shards group them: by a hash of the label
//! set, so one request mixes series of many targets. Every step's samples are cut into requests of at most
//! `max_series_per_body` series with one sample each; the set of series in each request is the same at every
//! step. Step 0 also carries one metadata-only request (TYPE/HELP of every metric family), as Prometheus sends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use oxeye_ingest::remote_write::{Label, MetricMetadata, ProtoMetricType, Sample, TimeSeries, WriteRequest};
use prost::Message;

use crate::body_file::BodyFileWriter;
use crate::manifest::{MANIFEST_FILE, MANIFEST_FORMAT, Manifest};
use crate::scrape_sink::ScrapeSink;
use crate::value_models::fnv1a;
use crate::workload::{Workload, WorkloadSpec};

/// Resolved options of the `generate` command.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub spec: WorkloadSpec,
    pub out: PathBuf,
    pub max_series_per_body: usize,
    pub max_file_bytes: u64,
    pub overwrite: bool,
}

/// Generates the workload into `options.out` and returns its manifest.
pub fn generate(options: &GenerateOptions) -> Result<Manifest> {
    prepare_output_directory(options)?;
    let spec = &options.spec;
    let started = Instant::now();
    let mut workload = Workload::new(spec.clone());
    let mut sink = ScrapeSink::recording();
    let mut timestamps = Vec::new();
    workload.scrape_step(0, &mut sink, &mut timestamps);
    let catalog = sink.take_catalog();
    let series_count = catalog.len();
    let metadata_body = WriteRequest { timeseries: Vec::new(), metadata: metric_metadata(&catalog) };
    let (mut requests, shards) = shard_series(catalog, options.max_series_per_body);
    eprintln!(
        "generate: {} hosts, {series_count} series in {} requests per step, {} steps of {} ms",
        spec.hosts,
        requests.len(),
        spec.steps,
        spec.interval_ms
    );

    let mut writer = BodyFileWriter::new(&options.out, options.max_file_bytes);
    let mut totals = BodyTotals::default();
    let mut metadata_scratch = EncodeScratch::new();
    let metadata_compressed = metadata_scratch.compress(&metadata_body)?;
    writer.write_frame(0, 0, &metadata_compressed)?;
    totals.add(metadata_scratch.encoded.len(), metadata_compressed.len());

    // Encoding and compressing dominate; the step's requests are split over one thread per core.
    let threads = thread::available_parallelism().map_or(1, |count| count.get()).clamp(1, requests.len().max(1));
    let requests_per_thread = requests.len().div_ceil(threads).max(1);
    let mut scratches: Vec<EncodeScratch> = (0..threads).map(|_| EncodeScratch::new()).collect();
    let progress_every = (spec.steps / 20).max(1);
    for step in 0..spec.steps {
        if step > 0 {
            sink.clear_values();
            timestamps.clear();
            workload.scrape_step(step, &mut sink, &mut timestamps);
        }
        if sink.len() != series_count {
            bail!("BUG: step {step} produced {} samples for {series_count} series", sink.len());
        }
        let step_number = u32::try_from(step).context("too many steps")?;
        let values = sink.values();
        let timestamps = &timestamps;
        let bodies: Vec<Result<Vec<EncodedBody>>> = thread::scope(|scope| {
            let workers: Vec<_> = requests
                .chunks_mut(requests_per_thread)
                .zip(shards.chunks(requests_per_thread))
                .zip(scratches.iter_mut())
                .map(|((requests, shards), scratch)| {
                    scope.spawn(move || -> Result<Vec<EncodedBody>> {
                        let mut bodies = Vec::with_capacity(requests.len());
                        for (request, shard) in requests.iter_mut().zip(shards) {
                            for (series, &series_index) in request.timeseries.iter_mut().zip(shard) {
                                series.samples[0] =
                                    Sample { value: values[series_index], timestamp: timestamps[series_index] };
                            }
                            let compressed = scratch.compress(request)?;
                            bodies.push(EncodedBody {
                                samples: shard.len() as u32,
                                encoded_len: scratch.encoded.len(),
                                compressed,
                            });
                        }
                        Ok(bodies)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap_or_else(|_| bail!("an encoding thread panicked")))
                .collect()
        });
        for thread_bodies in bodies {
            for body in thread_bodies? {
                writer.write_frame(step_number, body.samples, &body.compressed)?;
                totals.add(body.encoded_len, body.compressed.len());
            }
        }
        if (step + 1) % progress_every == 0 {
            eprintln!("generate: step {}/{} ({:.0} s)", step + 1, spec.steps, started.elapsed().as_secs_f64());
        }
    }
    let files = writer.finish()?;
    let counts = workload.counts();
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        seed: spec.seed,
        hosts: spec.hosts,
        interval_ms: spec.interval_ms,
        start_ms: spec.start_ms,
        end_ms: spec.start_ms + spec.steps as i64 * spec.interval_ms,
        steps: spec.steps,
        series: series_count as u64,
        node_series: counts.node_series as u64,
        app_series: counts.app_series as u64,
        samples: series_count as u64 * spec.steps,
        bodies: totals.bodies,
        max_series_per_body: options.max_series_per_body,
        compressed_bytes: totals.compressed_bytes,
        uncompressed_bytes: totals.uncompressed_bytes,
        host_reboots: counts.host_reboots,
        app_restarts: counts.app_restarts,
        files,
    };
    manifest.save(&options.out)?;
    eprintln!(
        "generate: {} samples, {} bodies, {:.1} MiB compressed ({:.1} MiB protobuf) in {:.1} s",
        manifest.samples,
        manifest.bodies,
        manifest.compressed_bytes as f64 / 1_048_576.0,
        manifest.uncompressed_bytes as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    Ok(manifest)
}

#[derive(Default)]
struct BodyTotals {
    bodies: u64,
    compressed_bytes: u64,
    uncompressed_bytes: u64,
}

impl BodyTotals {
    fn add(&mut self, encoded_len: usize, compressed_len: usize) {
        self.bodies += 1;
        self.uncompressed_bytes += encoded_len as u64;
        self.compressed_bytes += compressed_len as u64;
    }
}

/// One request body ready for the body file.
struct EncodedBody {
    samples: u32,
    encoded_len: usize,
    compressed: Vec<u8>,
}

/// Per-thread encoder state, reused across requests.
struct EncodeScratch {
    encoder: snap::raw::Encoder,
    encoded: Vec<u8>,
}

impl EncodeScratch {
    fn new() -> Self {
        Self { encoder: snap::raw::Encoder::new(), encoded: Vec::new() }
    }

    /// Encodes `request` as protobuf (kept in `self.encoded`) and returns its snappy block compression.
    fn compress(&mut self, request: &WriteRequest) -> Result<Vec<u8>> {
        self.encoded.clear();
        request.encode(&mut self.encoded)?;
        let mut compressed = vec![0u8; snap::raw::max_compress_len(self.encoded.len())];
        let written = self.encoder.compress(&self.encoded, &mut compressed)?;
        compressed.truncate(written);
        Ok(compressed)
    }
}

/// Orders series by a hash of their labels and cuts them into requests of at most `max_series_per_body`; returns
/// the requests (labels filled in, one zero sample each) and, per request, the catalog index of each series.
fn shard_series(catalog: Vec<Vec<Label>>, max_series_per_body: usize) -> (Vec<WriteRequest>, Vec<Vec<usize>>) {
    let mut order: Vec<(u64, usize)> = catalog
        .iter()
        .enumerate()
        .map(|(index, labels)| {
            let parts: Vec<&[u8]> =
                labels.iter().flat_map(|label| [label.name.as_bytes(), label.value.as_bytes()]).collect();
            (fnv1a(&parts), index)
        })
        .collect();
    order.sort_unstable();
    let mut labels_by_index: Vec<Option<Vec<Label>>> = catalog.into_iter().map(Some).collect();
    let mut requests = Vec::new();
    let mut shards = Vec::new();
    for chunk in order.chunks(max_series_per_body.max(1)) {
        let shard: Vec<usize> = chunk.iter().map(|&(_, index)| index).collect();
        let timeseries = shard
            .iter()
            .map(|&index| TimeSeries {
                labels: labels_by_index[index].take().unwrap_or_default(),
                samples: vec![Sample::default()],
                exemplars: Vec::new(),
            })
            .collect();
        requests.push(WriteRequest { timeseries, metadata: Vec::new() });
        shards.push(shard);
    }
    (requests, shards)
}

/// TYPE metadata for every metric family in the catalog, derived from naming conventions: `_bucket` with `le`
/// makes a histogram, `quantile` a summary, `_total` a counter, anything else a gauge. Prometheus's synthetic
/// scrape series (`up`, `scrape_*`) carry no metadata.
fn metric_metadata(catalog: &[Vec<Label>]) -> Vec<MetricMetadata> {
    let label = |labels: &[Label], name: &str| labels.iter().any(|label| label.name == name);
    let mut families: BTreeMap<String, ProtoMetricType> = BTreeMap::new();
    for labels in catalog {
        let Some(name) = labels.iter().find(|label| label.name == "__name__").map(|label| label.value.as_str()) else {
            continue;
        };
        if name == "up" || name.starts_with("scrape_") {
            continue;
        }
        if let Some(family) = name.strip_suffix("_bucket").filter(|_| label(labels, "le")) {
            families.insert(family.to_owned(), ProtoMetricType::Histogram);
        } else if label(labels, "quantile") {
            families.insert(name.to_owned(), ProtoMetricType::Summary);
        } else if name.ends_with("_total") {
            families.insert(name.to_owned(), ProtoMetricType::Counter);
        } else {
            families.entry(name.to_owned()).or_insert(ProtoMetricType::Gauge);
        }
    }
    // `_sum` and `_count` of histograms and summaries belong to their family, not to a gauge of their own.
    let composite: Vec<String> = families
        .iter()
        .filter(|(_, kind)| matches!(kind, ProtoMetricType::Histogram | ProtoMetricType::Summary))
        .map(|(family, _)| family.clone())
        .collect();
    for family in composite {
        families.remove(&format!("{family}_sum"));
        families.remove(&format!("{family}_count"));
    }
    families
        .into_iter()
        .map(|(family, kind)| MetricMetadata {
            r#type: kind as i32,
            help: format!("{} of the simulated fleet.", family.replace('_', " ")),
            metric_family_name: family,
            unit: String::new(),
        })
        .collect()
}

fn prepare_output_directory(options: &GenerateOptions) -> Result<()> {
    let out = &options.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let existing: Vec<PathBuf> = std::fs::read_dir(out)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
            name == MANIFEST_FILE || (name.starts_with("bodies-") && name.ends_with(".bin"))
        })
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    if !options.overwrite {
        bail!("{} already holds a workload; pass --overwrite to replace it", out.display());
    }
    for path in existing {
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_series_once_and_respect_the_limit() {
        let catalog: Vec<Vec<Label>> =
            (0..1234).map(|index| vec![Label { name: "__name__".into(), value: format!("m{index}") }]).collect();
        let (requests, shards) = shard_series(catalog, 500);
        assert_eq!(requests.len(), 3);
        assert!(shards.iter().all(|shard| shard.len() <= 500));
        let mut seen: Vec<usize> = shards.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..1234).collect::<Vec<_>>());
        for (request, shard) in requests.iter().zip(&shards) {
            for (series, &index) in request.timeseries.iter().zip(shard) {
                assert_eq!(series.labels[0].value, format!("m{index}"));
            }
        }
    }

    #[test]
    fn metadata_types_follow_naming() {
        let series = |name: &str, extra: Option<(&str, &str)>| {
            let mut labels = vec![Label { name: "__name__".into(), value: name.into() }];
            if let Some((label_name, value)) = extra {
                labels.push(Label { name: label_name.into(), value: value.into() });
            }
            labels
        };
        let catalog = vec![
            series("req_seconds_bucket", Some(("le", "0.1"))),
            series("req_seconds_sum", None),
            series("req_seconds_count", None),
            series("hits_total", None),
            series("queue_depth", None),
            series("up", None),
        ];
        let kinds: Vec<(String, i32)> =
            metric_metadata(&catalog).into_iter().map(|meta| (meta.metric_family_name, meta.r#type)).collect();
        assert_eq!(
            kinds,
            [
                ("hits_total".to_owned(), ProtoMetricType::Counter as i32),
                ("queue_depth".to_owned(), ProtoMetricType::Gauge as i32),
                ("req_seconds".to_owned(), ProtoMetricType::Histogram as i32),
            ]
        );
    }
}
