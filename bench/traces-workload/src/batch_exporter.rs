//! What each pod's OpenTelemetry SDK sends: a batch span processor per pod, and the file of request bodies.
//!
//! Every pod buffers its finished spans and exports them as one OTLP `ExportTraceServiceRequest` (one resource,
//! one `ScopeSpans` per instrumentation scope) when `max_batch` spans are waiting or when its export timer fires
//! (every `delay`, at a phase of its own), as the SDK's `BatchSpanProcessor` does (`maxExportBatchSize` 512,
//! `scheduledDelay` 5 s). The spans of one trace therefore reach the backend in several requests, from several pods,
//! at different times.
//!
//! Layout of `spans.bin` (integers big-endian), frames in the order the requests are sent:
//!
//! ```text
//! frame: +-------------+---------------+-----------------------------------------------------+
//!        | spans u32   | body_len u32  | body: ExportTraceServiceRequest, protobuf (body_len) |
//!        +-------------+---------------+-----------------------------------------------------+
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rand::Rng;
use rand::rngs::StdRng;

use crate::topology::{ScopeKind, Topology, scope};

pub const BODIES_FILE: &str = "spans.bin";

struct PodBuffer {
    spans: Vec<(ScopeKind, Span)>,
    next_export_ns: u64,
}

/// Totals of what was written.
#[derive(Default)]
pub struct ExportTotals {
    pub requests: u64,
    pub spans: u64,
    pub protobuf_bytes: u64,
    pub batch_sizes: Vec<u32>,
}

pub struct BatchExporter {
    buffers: Vec<PodBuffer>,
    max_batch: usize,
    delay_ns: u64,
    out: BufWriter<File>,
    body: Vec<u8>,
    pub totals: ExportTotals,
}

impl BatchExporter {
    pub fn create(
        directory: &Path,
        pods: usize,
        max_batch: usize,
        delay_ns: u64,
        start_ns: u64,
        rng: &mut StdRng,
    ) -> Result<Self> {
        let path = directory.join(BODIES_FILE);
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let buffers = (0..pods)
            .map(|_| PodBuffer {
                spans: Vec::with_capacity(max_batch),
                next_export_ns: start_ns + rng.random_range(0..delay_ns.max(1)),
            })
            .collect();
        Ok(BatchExporter {
            buffers,
            max_batch: max_batch.max(1),
            delay_ns: delay_ns.max(1),
            out: BufWriter::with_capacity(4 << 20, file),
            body: Vec::with_capacity(1 << 20),
            totals: ExportTotals::default(),
        })
    }

    /// A span of `pod` ended (by `now_ns` of the simulation).
    pub fn push(&mut self, topology: &Topology, pod: usize, scope_kind: ScopeKind, span: Span) -> Result<()> {
        self.buffers[pod].spans.push((scope_kind, span));
        if self.buffers[pod].spans.len() >= self.max_batch {
            self.export(topology, pod)?;
        }
        Ok(())
    }

    /// Fires every export timer due by `now_ns`.
    pub fn tick(&mut self, topology: &Topology, now_ns: u64) -> Result<()> {
        for pod in 0..self.buffers.len() {
            if self.buffers[pod].next_export_ns <= now_ns {
                while self.buffers[pod].next_export_ns <= now_ns {
                    self.buffers[pod].next_export_ns += self.delay_ns;
                }
                if !self.buffers[pod].spans.is_empty() {
                    self.export(topology, pod)?;
                }
            }
        }
        Ok(())
    }

    /// Exports what every pod still holds (the SDKs' shutdown) and flushes the file.
    pub fn finish(mut self, topology: &Topology) -> Result<ExportTotals> {
        for pod in 0..self.buffers.len() {
            if !self.buffers[pod].spans.is_empty() {
                self.export(topology, pod)?;
            }
        }
        self.out.flush().context("writing the bodies")?;
        Ok(self.totals)
    }

    fn export(&mut self, topology: &Topology, pod: usize) -> Result<()> {
        let mut spans = std::mem::take(&mut self.buffers[pod].spans);
        spans.sort_by_key(|(kind, _)| *kind); // stable: spans keep their order within a scope
        let count = spans.len();
        let service = topology.pods[pod].svc.spec();
        let mut scope_spans: Vec<ScopeSpans> = Vec::new();
        for (kind, span) in spans {
            let same_scope = scope_spans.last().is_some_and(|last| {
                last.scope.as_ref().map(|s| s.name.as_str())
                    == Some(scope(service.language, kind, service.name).name.as_str())
            });
            if !same_scope {
                scope_spans.push(ScopeSpans {
                    scope: Some(scope(service.language, kind, service.name)),
                    spans: Vec::new(),
                    schema_url: "https://opentelemetry.io/schemas/1.24.0".to_string(),
                });
            }
            if let Some(last) = scope_spans.last_mut() {
                last.spans.push(span);
            }
        }
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(topology.pods[pod].resource.clone()),
                scope_spans,
                schema_url: "https://opentelemetry.io/schemas/1.24.0".to_string(),
            }],
        };
        self.body.clear();
        request.encode(&mut self.body).context("encoding a request")?;
        let spans_u32 = u32::try_from(count).context("batch too large")?;
        let length = u32::try_from(self.body.len()).context("body too large")?;
        self.out.write_all(&spans_u32.to_be_bytes())?;
        self.out.write_all(&length.to_be_bytes())?;
        self.out.write_all(&self.body)?;
        self.totals.requests += 1;
        self.totals.spans += count as u64;
        self.totals.protobuf_bytes += self.body.len() as u64;
        self.totals.batch_sizes.push(spans_u32);
        Ok(())
    }
}
