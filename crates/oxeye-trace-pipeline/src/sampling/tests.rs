use std::sync::Arc;

use oxeye_model::{Attribute, Resource, SpanId};

use super::*;

/// A test codec: one line per span (`trace span service name status start end`).
struct TextCodec;

impl SpanCodec for TextCodec {
    fn encode(&self, spans: &[Span]) -> Vec<u8> {
        let mut out = String::new();
        for span in spans {
            out.push_str(&format!(
                "{} {} {} {} {} {} {}\n",
                span.trace_id,
                span.span_id,
                span.service_name(),
                span.name,
                span.status_code as u8,
                span.start_ns,
                span.end_ns
            ));
        }
        out.into_bytes()
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<Span>, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                let mut span =
                    make_span(TraceId::from_hex(f[0]).unwrap(), SpanId::from_hex(f[1]).unwrap(), f[2], f[3], 0);
                span.status_code = if f[4] == "2" { StatusCode::Error } else { StatusCode::Unset };
                span.start_ns = f[5].parse().unwrap();
                span.end_ns = f[6].parse().unwrap();
                Ok(span)
            })
            .collect()
    }
}

fn make_span(trace_id: TraceId, span_id: SpanId, service: &str, name: &str, duration_ms: u64) -> Span {
    Span {
        trace_id,
        span_id,
        name: name.into(),
        start_ns: 1_000_000_000,
        end_ns: 1_000_000_000 + duration_ms * 1_000_000,
        resource: Arc::new(Resource {
            attributes: vec![Attribute::string("service.name", service)],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn trace_id(n: u64) -> TraceId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&n.wrapping_mul(0x2545_f491_4f6c_dd1d).to_be_bytes());
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    TraceId(bytes)
}

fn open(dir: &Path, config: SamplingConfig, now_ms: i64) -> TailSampler {
    TailSampler::open(dir, config, Arc::new(TextCodec), now_ms).unwrap()
}

#[test]
fn errors_and_slow_traces_are_always_kept_and_the_rest_at_the_base_rate() {
    let dir = tempfile::tempdir().unwrap();
    let config = SamplingConfig {
        base_rate: 0.01,
        latency_threshold: Some(Duration::from_secs(2)),
        ..SamplingConfig::default()
    };
    let sampler = open(dir.path(), config, 0);
    let (mut errors, mut slow, mut normal) = (HashSet::new(), HashSet::new(), 0u64);
    let mut spans = Vec::new();
    for n in 0..20_000u64 {
        let id = trace_id(n);
        let mut root = make_span(id, SpanId([1; 8]), "api", "GET /", 50);
        let child = make_span(id, SpanId([2; 8]), "db", "SELECT", 10);
        if n % 50 == 7 {
            root.status_code = StatusCode::Error;
            errors.insert(id);
        } else if n % 50 == 13 {
            root.end_ns = root.start_ns + 3_000_000_000;
            slow.insert(id);
        } else {
            normal += 1;
        }
        spans.push(root);
        spans.push(child);
    }
    assert!(sampler.offer(spans, 0).unwrap().is_empty());
    assert!(sampler.tick(9_999).is_empty(), "nothing is decided before the wait is over");
    let kept = sampler.tick(10_000);
    let kept_traces: HashSet<TraceId> = kept.iter().map(|span| span.trace_id).collect();
    assert!(errors.iter().all(|id| kept_traces.contains(id)), "every error trace is kept");
    assert!(slow.iter().all(|id| kept_traces.contains(id)), "every slow trace is kept");
    let kept_normal = kept_traces.iter().filter(|id| !errors.contains(id) && !slow.contains(id)).count() as f64;
    // Binomial(n = 19,200, p = 0.01): mean 192, standard deviation 13.8; accept ±5 sd.
    let mean = normal as f64 * 0.01;
    let sd = (normal as f64 * 0.01 * 0.99).sqrt();
    assert!((kept_normal - mean).abs() < 5.0 * sd, "kept {kept_normal} of {normal}, expected about {mean}");
    assert_eq!(kept.len(), kept_traces.len() * 2, "whole traces are kept");
    let stats = sampler.stats();
    assert_eq!(stats.traces[&(true, Policy::Error)], errors.len() as u64);
    assert_eq!(stats.traces[&(true, Policy::Latency)], slow.len() as u64);
    assert_eq!(stats.pending_spans, 0);
    assert_eq!(stats.spans_kept + stats.spans_dropped, 40_000);
}

#[test]
fn decisions_are_deterministic_per_trace_id() {
    let config = SamplingConfig { base_rate: 0.5, ..SamplingConfig::default() };
    for n in 0..1_000 {
        let spans = [make_span(trace_id(n), SpanId([1; 8]), "a", "b", 1)];
        let first = decide(&config, trace_id(n), &spans);
        let again = decide(&config, trace_id(n), &spans);
        assert_eq!(first, again);
    }
}

#[test]
fn rate_rules_by_service_and_operation_override_the_base_rate() {
    let config = SamplingConfig {
        base_rate: 0.5,
        rate_rules: vec![
            RateRule { matcher: SpanMatcher { service: None, span_name: Some("GET /health".into()) }, rate: 0.0 },
            RateRule {
                matcher: SpanMatcher { service: Some("payments".into()), span_name: Some("charge".into()) },
                rate: 1.0,
            },
        ],
        ..SamplingConfig::default()
    };
    for n in 0..500 {
        let health = [make_span(trace_id(n), SpanId([1; 8]), "api", "GET /health", 1)];
        assert!(!decide(&config, trace_id(n), &health).keep);
        let critical = [
            make_span(trace_id(n), SpanId([1; 8]), "api", "POST /buy", 1),
            make_span(trace_id(n), SpanId([2; 8]), "payments", "charge", 1),
        ];
        assert_eq!(decide(&config, trace_id(n), &critical), Decision { keep: true, policy: Policy::Rate });
    }
}

#[test]
fn per_operation_latency_thresholds() {
    let config = SamplingConfig {
        base_rate: 0.0,
        latency_rules: vec![LatencyRule {
            matcher: SpanMatcher { service: Some("db".into()), span_name: None },
            threshold: Duration::from_millis(100),
        }],
        ..SamplingConfig::default()
    };
    let fast = [make_span(trace_id(1), SpanId([1; 8]), "db", "q", 99)];
    let slow = [make_span(trace_id(1), SpanId([1; 8]), "db", "q", 100)];
    let other = [make_span(trace_id(1), SpanId([1; 8]), "api", "q", 500)];
    assert!(!decide(&config, trace_id(1), &fast).keep);
    assert_eq!(decide(&config, trace_id(1), &slow), Decision { keep: true, policy: Policy::Latency });
    assert!(!decide(&config, trace_id(1), &other).keep);
}

#[test]
fn the_wait_restarts_with_each_span_and_late_spans_follow_the_decision() {
    let dir = tempfile::tempdir().unwrap();
    let sampler = open(dir.path(), SamplingConfig { base_rate: 1.0, ..SamplingConfig::default() }, 0);
    let id = trace_id(42);
    sampler.offer(vec![make_span(id, SpanId([1; 8]), "a", "root", 1)], 0).unwrap();
    sampler.offer(vec![make_span(id, SpanId([2; 8]), "a", "child", 1)], 8_000).unwrap();
    assert!(sampler.tick(10_000).is_empty(), "the second span restarted the wait");
    assert_eq!(sampler.tick(18_000).len(), 2);
    let late = sampler.offer(vec![make_span(id, SpanId([3; 8]), "a", "late", 1)], 19_000).unwrap();
    assert_eq!(late.len(), 1, "a late span of a kept trace is stored at once");
}

#[test]
fn the_pending_bound_decides_the_oldest_traces_early_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let config = SamplingConfig { base_rate: 0.0, max_pending_spans: 100, ..SamplingConfig::default() };
    let sampler = open(dir.path(), config, 0);
    let mut released = Vec::new();
    for n in 0..150u64 {
        let mut span = make_span(trace_id(n), SpanId([1; 8]), "a", "x", 1);
        if n < 20 {
            span.status_code = StatusCode::Error;
        }
        released.extend(sampler.offer(vec![span], n as i64).unwrap());
    }
    let stats = sampler.stats();
    assert!(stats.pending_spans <= 100);
    assert!(stats.decided_early >= 50);
    assert_eq!(released.len(), 20, "the oldest traces, decided early, still keep their errors");
}

#[test]
fn pending_spans_survive_a_crash_and_checkpoints_forget_decided_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = SamplingConfig { base_rate: 1.0, ..SamplingConfig::default() };
    {
        let sampler = open(dir.path(), config.clone(), 0);
        sampler.offer(vec![make_span(trace_id(1), SpanId([1; 8]), "a", "one", 1)], 0).unwrap();
        sampler.offer(vec![make_span(trace_id(2), SpanId([1; 8]), "a", "two", 1)], 5_000).unwrap();
        // Trace 1 is decided and stored, and a checkpoint taken; trace 2 is still pending. Then a crash.
        assert_eq!(sampler.tick(10_000).len(), 1);
        sampler.checkpoint().unwrap();
        sampler.offer(vec![make_span(trace_id(3), SpanId([1; 8]), "a", "three", 1)], 10_500).unwrap();
    }
    let sampler = open(dir.path(), config, 20_000);
    let stats = sampler.stats();
    assert_eq!(stats.pending_traces, 2, "traces 2 and 3 come back; trace 1 was checkpointed away");
    let released = sampler.tick(30_000);
    let names: HashSet<&str> = released.iter().map(|span| span.name.as_str()).collect();
    assert_eq!(names, HashSet::from(["two", "three"]));
}
