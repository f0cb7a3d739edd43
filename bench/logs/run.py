#!/usr/bin/env python3
"""Logs benchmark of oxeye: ingest rate per CPU second, bytes on disk, LogQL query latency (issue 4).

Generates a reproducible corpus of realistic logs (nginx access lines, JSON application logs with trace ids,
syslog lines; 600 streams; 10 million lines, about 2 GB, by default) into one raw file, with the request bodies
that replay it: most streams as Loki push JSON, half of the application services as OTLP/HTTP JSON. Starts oxeye on
127.0.0.1 with an empty data directory, replays the bodies, flushes, stops it and measures its log store against
the raw bytes and against `zstd -3` of the raw file. Restarts it on the same data and times LogQL queries through
`/loki/api/v1/query_range`: a needle (one trace id over all data, compared with `grep -F` over the raw file), a word
filter in one service, a regex, `json` plus a field filter, and a metric query. Prints a Markdown report with the
issue's goals, pass or fail. See bench/README.md.

Python 3.11 standard library only. The server machinery is bench/metrics/run.py's, imported from there. Only
processes started here are signalled, by PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import importlib.util
import json
import math
import multiprocessing
import os
import queue
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_ingest_module():
    """bench/metrics/run.py as a module (its file name would clash with this one's on `import run`)."""
    spec = importlib.util.spec_from_file_location("oxeye_bench_metrics_run", REPO / "bench" / "metrics" / "run.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


ingest = _load_ingest_module()
log = ingest.log

CORPUS_FORMAT = 2  # 2: an OTLP record carries the span id of its JSON body (format 1 drew another one)
RAW_FILE = "raw.log"
BODIES_FILE = "bodies.bin"
MANIFEST_FILE = "manifest.json"
# One frame of bodies.bin: kind (b"L" Loki push JSON, b"O" OTLP/HTTP JSON), lines, raw bytes of those lines
# (newlines included), body length; then the body.
FRAME_HEADER = struct.Struct(">cIII")
LOKI, OTLP = b"L", b"O"

REQUEST_TIMEOUT_S = 300
FLUSH_TIMEOUT_S = 1800
SETTLE_MAX_S = 300
QUERY_TIMEOUT_S = 300
GREP_TIMEOUT_S = 1800
ZSTD_TIMEOUT_S = 3600
MAX_CORPUS_AGE_S = 6 * 86400  # oxeye keeps 7 days by default and refuses older entries

GOAL_DISK_VS_ZSTD = 1.0  # bytes on disk / zstd -3 bytes of the raw file, at most
GOAL_NEEDLE_SPEEDUP = 10.0  # grep -F time / needle query time, at least
GOAL_INGEST_MB_PER_CPU_S = 50.0  # raw MB (10^6 bytes) per server CPU second, at least

OXEYE_CONFIG = """\
# Written by bench/logs/run.py: the benchmark measures throughput, not the per-tenant rate limiter
# (default 64 MiB/s with a 128 MiB burst).
logs:
  ingestion_rate_mb: 4096
  ingestion_burst_mb: 8192
"""


# --- the streams -------------------------------------------------------------------------------------------------

NGINX_HOSTS = 150
SYSLOG_HOSTS = 150
APP_SERVICES = (
    "checkout", "payments", "cart", "catalog", "search", "users", "auth", "orders", "shipping", "inventory",
    "pricing", "recommendations", "notifications", "email", "reviews", "ads", "gateway", "billing", "invoices",
    "ledger", "fraud", "ratings", "wishlist", "media", "sessions", "profile", "loyalty", "coupons", "tax", "returns",
)
APP_INSTANCES = 10
# Services at an odd index send OTLP (resource attributes, trace id in the record), the others Loki push.
OTLP_SERVICES = frozenset(APP_SERVICES[1::2])
# Share of lines by kind; each stream's share of its kind is drawn from a log-normal distribution.
KIND_SHARE = {"nginx": 0.45, "app": 0.35, "syslog": 0.20}
NAMESPACE = "shop"
ENVIRONMENT = "prod"

WORD_SERVICE = "checkout"  # the word filter's service (Loki push)
NEEDLE_SERVICES = ("payments", "orders", "billing")  # OTLP services the needle is taken from


@dataclass(frozen=True)
class Stream:
    index: int
    kind: str  # nginx, app or syslog
    labels: dict  # stream labels (Loki push) or the labels oxeye derives from the OTLP resource
    host: str
    service: str = ""
    instance: str = ""
    otlp: bool = False
    resource: dict | None = None  # OTLP resource attributes


def build_streams() -> list[Stream]:
    streams: list[Stream] = []
    for number in range(NGINX_HOSTS):
        host = f"web-{number:03d}"
        streams.append(Stream(len(streams), "nginx", {"job": "nginx", "service_name": "nginx", "host": host}, host))
    for service_number, service in enumerate(APP_SERVICES):
        for instance_number in range(APP_INSTANCES):
            instance = f"{service}-{instance_number}"
            host = f"app-{service_number * APP_INSTANCES + instance_number:03d}"
            otlp = service in OTLP_SERVICES
            labels = {"service_name": service, "service_namespace": NAMESPACE, "service_instance_id": instance,
                      "deployment_environment": ENVIRONMENT}
            resource = None
            if otlp:
                # service.* and deployment.environment become stream labels; host.name structured metadata.
                resource = {"service.name": service, "service.namespace": NAMESPACE,
                            "service.instance.id": instance, "deployment.environment": ENVIRONMENT,
                            "host.name": host}
            else:
                labels = {"job": "app", **labels, "host": host}
            streams.append(Stream(len(streams), "app", labels, host, service, instance, otlp, resource))
    for number in range(SYSLOG_HOSTS):
        host = f"node-{number:03d}"
        streams.append(Stream(len(streams), "syslog", {"job": "syslog", "service_name": "syslog", "host": host},
                              host))
    return streams


def stream_table(streams: list[Stream], seed: int, size: int = 1 << 16) -> list[int]:
    """A lookup table of stream indices, each present in proportion to its share of lines: a uniform random index
    into it picks a stream with the right weight."""
    rng = random.Random(f"{seed}:weights")
    weights = [rng.lognormvariate(0.0, 0.7) for _ in streams]
    kind_totals: dict[str, float] = {}
    for stream, weight in zip(streams, weights):
        kind_totals[stream.kind] = kind_totals.get(stream.kind, 0.0) + weight
    shares = [KIND_SHARE[stream.kind] * weight / kind_totals[stream.kind] for stream, weight in zip(streams, weights)]
    table: list[int] = []
    cumulative = 0.0
    for stream, share in zip(streams, shares):
        cumulative += share
        table.extend([stream.index] * (round(cumulative * size) - len(table)))
    table.extend([streams[-1].index] * (size - len(table)))
    return table


# --- the time line -----------------------------------------------------------------------------------------------


def minute_schedule(lines: int, minutes: int, seed: int) -> tuple[list[int], list[int]]:
    """Lines per minute (summing to `lines`; traffic follows a slow wave with noise) and the minutes of two
    incidents (more 5xx answers, more errors)."""
    rng = random.Random(f"{seed}:schedule")
    phase = rng.uniform(0, 2 * math.pi)
    level, weights = 0.0, []
    for minute in range(minutes):
        level = 0.9 * level + rng.gauss(0.0, 0.05)
        weights.append(max(0.2, 1.0 + 0.35 * math.sin(phase + 2 * math.pi * minute / 720) + level))
    incidents = set()
    for _ in range(2):
        start = rng.randrange(minutes)
        for minute in range(start, min(minutes, start + rng.randint(5, 20))):
            incidents.add(minute)
            weights[minute] *= 1.3
    total = sum(weights)
    exact = [lines * weight / total for weight in weights]
    counts = [int(value) for value in exact]
    for minute in sorted(range(minutes), key=lambda m: counts[m] - exact[m])[: lines - sum(counts)]:
        counts[minute] += 1
    return counts, sorted(incidents)


@dataclass
class Chunk:
    """A contiguous piece of the corpus that one worker generates: `segments` are (minute, first, end, of) — lines
    `first`..`end` of the minute's `of` lines."""

    number: int
    segments: list[tuple[int, int, int, int]]
    needle: bool = False


def plan_chunks(counts: list[int], chunk_lines: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: list[tuple[int, int, int, int]] = []
    filled = 0
    for minute, count in enumerate(counts):
        first = 0
        while first < count:
            take = min(count - first, chunk_lines - filled)
            current.append((minute, first, first + take, count))
            first += take
            filled += take
            if filled == chunk_lines:
                chunks.append(Chunk(len(chunks), current))
                current, filled = [], 0
    if current:
        chunks.append(Chunk(len(chunks), current))
    return chunks


# --- pools for the lines -----------------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.86 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "curl/8.5.0", "python-requests/2.32.3", "Go-http-client/2.0", "okhttp/4.12.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "kube-probe/1.30", "Prometheus/2.53.0", "ShopApp/5.12.1 (iOS 18.1; iPhone15,3)", "ShopApp/5.12.0 (Android 14)",
)
REFERERS = ("-", "-", "-", "https://shop.example.com/", "https://shop.example.com/cart",
            "https://shop.example.com/products", "https://www.google.com/", "https://shop.example.com/account",
            "https://m.shop.example.com/", "https://shop.example.com/search?q=shoes")
WORDS = ("shoes", "jacket", "lamp", "coffee", "phone", "charger", "desk", "chair", "socks", "watch", "bag", "tent",
         "bike", "helmet", "kettle", "mug", "pillow", "gloves", "scarf", "camera")
STATIC = ("/static/js/app.3f9a1c.js", "/static/js/vendor.88b2d0.js", "/static/css/main.5d1e7a.css",
          "/static/img/logo.svg", "/favicon.ico", "/static/fonts/inter.woff2", "/robots.txt")
SYSLOG_TEMPLATES = (
    ("sshd", "Accepted publickey for deploy from 10.{a}.{b}.{c} port {port} ssh2: ED25519 SHA256:{key}"),
    ("sshd", "Connection closed by 10.{a}.{b}.{c} port {port} [preauth]"),
    ("sshd", "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)"),
    ("sshd", "Invalid user admin from 203.0.{b}.{c} port {port}"),
    ("CRON", "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"),
    ("CRON", "pam_unix(cron:session): session closed for user root"),
    ("systemd", "Started session-{n}.scope - Session {n} of User deploy."),
    ("systemd", "logrotate.service: Deactivated successfully."),
    ("systemd", "Starting apt-daily.service - Daily apt download activities..."),
    ("kernel", "[{uptime}] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies."),
    ("kernel", "[{uptime}] eth0: renamed from veth{key8}"),
    ("kernel", "[{uptime}] EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none."),
    ("dockerd", "time=\"{iso}\" level=info msg=\"ignoring event\" container={key} module=libcontainerd"),
    ("containerd", "time=\"{iso}\" level=info msg=\"shim disconnected\" id={key} namespace=k8s.io"),
    ("kubelet", "I{kdate} {n} kubelet.go:2455] \"SyncLoop (PLEG): event for pod\" pod=\"shop/{pod}\" event={{\"Type\":\"ContainerStarted\"}}"),
    ("kubelet", "E{kdate} {n} pod_workers.go:1301] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" with CrashLoopBackOff\" pod=\"shop/{pod}\""),
    ("kubelet", "I{kdate} {n} prober.go:107] \"Probe failed\" probeType=\"Readiness\" pod=\"shop/{pod}\" containerName=\"app\""),
    ("chronyd", "Selected source 10.0.0.{c} (ntp.internal)"),
    ("systemd-resolved", "Clock change detected. Flushing caches."),
    ("rsyslogd", "[origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"{n}\"] rsyslogd was HUPed"),
)
APP_ROUTES = (
    ("GET", "/api/v1/products/{id}"), ("GET", "/api/v1/products"), ("POST", "/api/v1/cart/items"),
    ("GET", "/api/v1/cart"), ("POST", "/api/v1/checkout"), ("GET", "/api/v2/users/{id}"),
    ("PUT", "/api/v2/users/{id}"), ("GET", "/api/v1/orders/{id}"), ("POST", "/api/v1/payments"),
    ("GET", "/api/v1/search"), ("DELETE", "/api/v1/cart/items/{id}"), ("GET", "/api/v1/recommendations"),
)
DB_TABLES = ("orders", "users", "products", "payments", "sessions", "inventory", "carts", "coupons")
UPSTREAMS = ("payments", "inventory", "pricing", "users", "auth", "tax", "shipping", "fraud")
ERRORS = ("context deadline exceeded", "connection refused", "upstream returned 503",
          "pq: canceling statement due to statement timeout", "redis: connection pool timeout",
          "card declined: insufficient funds", "invalid token signature")


def _json_escape(text: str) -> str:
    """The corpus has no control characters; quotes and backslashes are all that JSON strings need escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


# --- generating one chunk (runs in worker processes) -------------------------------------------------------------


_WORKER: dict = {}


def _init_worker(seed: int, start_s: int, batch_bytes: int) -> None:
    streams = build_streams()
    _WORKER.update(seed=seed, start_s=start_s, batch_bytes=batch_bytes, streams=streams,
                   table=stream_table(streams, seed))
    _WORKER["loki_labels"] = ["{" + ",".join(f'"{k}":"{v}"' for k, v in s.labels.items()) + "}" for s in streams]
    _WORKER["otlp_resources"] = [
        '{"attributes":[' + ",".join(f'{{"key":"{k}","value":{{"stringValue":"{v}"}}}}'
                                     for k, v in (s.resource or {}).items()) + "]}" for s in streams]


def generate_chunk(chunk: Chunk, incidents: frozenset) -> dict:
    """Lines of one chunk, in time order, and the request bodies replaying them (batches of about `batch_bytes`
    raw bytes, each one Loki push body and one OTLP body)."""
    seed, start_s, batch_bytes = _WORKER["seed"], _WORKER["start_s"], _WORKER["batch_bytes"]
    streams, table = _WORKER["streams"], _WORKER["table"]
    loki_labels, otlp_resources = _WORKER["loki_labels"], _WORKER["otlp_resources"]
    rng = random.Random(f"{seed}:chunk:{chunk.number}")
    bits, rand, randrange = rng.getrandbits, rng.random, rng.randrange

    raw_parts: list[str] = []
    frames: list[tuple[bytes, int, int, bytes]] = []
    loki_batch: dict[int, list[str]] = {}
    otlp_batch: dict[int, list[str]] = {}
    counts = {"nginx": 0, "app": 0, "syslog": 0, "otlp": 0, "loki": 0, "regex": 0, "json_5xx": 0, "word": 0}
    statuses: set[int] = set()
    batch_raw = 0
    loki_raw = loki_lines = otlp_raw = otlp_lines = 0
    requests: dict[int, list] = {}  # app stream -> [trace id, lines left, method, route, user]
    pids: dict[int, dict[str, int]] = {}
    needle = None
    needle_after = sum(end - first for _, first, end, _ in chunk.segments) // 2 if chunk.needle else -1
    needle_count = 0
    emitted = 0
    second = -1
    nginx_time = syslog_time = iso_second = kube_time = ""

    def flush_batch() -> None:
        nonlocal batch_raw, loki_raw, loki_lines, otlp_raw, otlp_lines
        if loki_batch:
            body = ('{"streams":[' + ",".join(
                '{"stream":' + loki_labels[s] + ',"values":[' + ",".join(values) + "]}"
                for s, values in loki_batch.items()) + "]}").encode()
            frames.append((LOKI, loki_lines, loki_raw, body))
        if otlp_batch:
            body = ('{"resourceLogs":[' + ",".join(
                '{"resource":' + otlp_resources[s] + ',"scopeLogs":[{"scope":{"name":"shop.logging","version":'
                '"2.4.1"},"logRecords":[' + ",".join(records) + "]}]}"
                for s, records in otlp_batch.items()) + "]}").encode()
            frames.append((OTLP, otlp_lines, otlp_raw, body))
        loki_batch.clear()
        otlp_batch.clear()
        batch_raw = loki_raw = loki_lines = otlp_raw = otlp_lines = 0

    for minute, first, end, of in chunk.segments:
        incident = minute in incidents
        minute_ns = (start_s + minute * 60) * 1_000_000_000
        spacing = 60_000_000_000 // of
        for position in range(first, end):
            # Strictly increasing and never on a whole minute, where the count queries' 1m windows meet.
            ts = minute_ns + position * 60_000_000_000 // of + 1 + (bits(20) % (spacing - 1) if spacing > 2 else 0)
            sec = ts // 1_000_000_000
            if sec != second:
                second = sec
                t = time.gmtime(sec)
                nginx_time = f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
                syslog_time = f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
                iso_second = f"{t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
                kube_time = f"{t.tm_mon:02d}{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            s = table[bits(16)]
            stream = streams[s]
            kind = stream.kind
            if kind == "nginx":
                r = rand()
                if r < 0.30:
                    path = STATIC[bits(3) % len(STATIC)]
                    method, size = "GET", 2000 + bits(17)
                elif r < 0.42:
                    path, method, size = f"/api/v1/users/{randrange(1, 200000)}", "GET", 300 + bits(10)
                    counts["regex"] += 1  # GET /api/v[12]/users/[0-9]+ followed by a space
                elif r < 0.47:
                    path, method, size = f"/api/v2/users/{randrange(1, 200000)}", "GET", 400 + bits(10)
                    counts["regex"] += 1
                elif r < 0.49:
                    path, method, size = f"/api/v2/users/{randrange(1, 200000)}", "PUT", 60 + bits(6)
                elif r < 0.64:
                    path, method, size = f"/api/v1/products/{randrange(1, 50000)}", "GET", 800 + bits(12)
                elif r < 0.72:
                    path = f"/api/v1/search?q={WORDS[bits(5) % len(WORDS)]}&page={1 + bits(2)}"
                    method, size = "GET", 1500 + bits(13)
                elif r < 0.80:
                    path, method, size = "/api/v1/cart/items", "POST", 120 + bits(8)
                elif r < 0.84:
                    path, method, size = "/api/v1/checkout", "POST", 200 + bits(9)
                elif r < 0.94:
                    path, method, size = "/healthz", "GET", 2
                else:
                    path, method, size = f"/api/v1/orders/{randrange(1, 10**7)}", "GET", 500 + bits(11)
                r = rand()
                bad = 0.15 if incident else 0.006
                if r < bad:
                    status, size = (500, 502, 503, 504)[bits(2)], 150 + bits(6)
                elif r < bad + 0.02:
                    status, size = 404, 150
                elif r < bad + 0.03:
                    status, size = (400, 401, 403, 499)[bits(2)], 50 + bits(6)
                elif r < bad + 0.05 and method == "GET":
                    status, size = 304, 0
                else:
                    status = 201 if method == "POST" and r > 0.9 else 200
                statuses.add(status)
                client = bits(16)
                line = (f"10.{client >> 11}.{(client >> 4) & 127}.{client & 15 | 16} - - [{nginx_time}] "
                        f'"{method} {path} HTTP/1.1" {status} {size} "{REFERERS[bits(4) % len(REFERERS)]}" '
                        f'"{USER_AGENTS[bits(5) % len(USER_AGENTS)]}" {bits(10) / 1000 + (0.8 if incident else 0):.3f}')
            elif kind == "app":
                request = requests.get(s)
                if request is None or request[1] == 0:
                    route = APP_ROUTES[bits(4) % len(APP_ROUTES)]
                    request = [f"{bits(128):032x}", (1, 2, 2, 3, 3, 4, 1, 2)[bits(3)], route[0],
                               route[1].replace("{id}", str(randrange(1, 100000))), f"u-{randrange(100000, 999999)}"]
                    requests[s] = request
                    if needle is None and emitted >= needle_after >= 0 and stream.otlp \
                            and stream.service in NEEDLE_SERVICES and request[1] >= 2:
                        needle = {"trace_id": request[0], "service": stream.service, "instance": stream.instance}
                request[1] -= 1
                trace_id, method, route, user = request[0], request[2], request[3], request[4]
                prefix = (f'{{"ts":"{iso_second}.{ts // 1_000_000 % 1000:03d}Z","level":"')
                span_id = f"{bits(64):016x}"
                middle = (f'","service":"{stream.service}","instance":"{stream.instance}",'
                          f'"trace_id":"{trace_id}","span_id":"{span_id}","msg":"')
                if request[1] == 0:
                    failed = rand() < (0.12 if incident else 0.01)
                    if failed:
                        level = "error"
                        counts["json_5xx"] += 1  # every status of a failed request is 5xx
                        line = (f'{prefix}error{middle}request failed","method":"{method}","route":"{route}",'
                                f'"status":{(500, 502, 503, 504)[bits(2)]},"duration_ms":{bits(14) / 4:.2f},'
                                f'"error":"{ERRORS[bits(3) % len(ERRORS)]}","user_id":"{user}"}}')
                    else:
                        level = "info"
                        status = (200, 200, 200, 200, 201, 204, 400, 404)[bits(3)] if rand() < 0.3 else 200
                        line = (f'{prefix}info{middle}request completed","method":"{method}","route":"{route}",'
                                f'"status":{status},"duration_ms":{bits(10) / 8:.2f},"bytes":{bits(14)},'
                                f'"user_id":"{user}"}}')
                else:
                    r = rand()
                    if r < 0.35:
                        level = "debug"
                        line = (f'{prefix}debug{middle}db query","db":"postgres","table":"'
                                f'{DB_TABLES[bits(3)]}","rows":{bits(6)},"duration_ms":{bits(9) / 16:.2f}}}')
                    elif r < 0.6:
                        level = "info"
                        line = (f'{prefix}info{middle}request started","method":"{method}","route":"{route}",'
                                f'"user_id":"{user}","client_ip":"10.{bits(8)}.{bits(8)}.{bits(8)}"}}')
                    elif r < 0.8:
                        level = "debug"
                        line = (f'{prefix}debug{middle}cache {"hit" if bits(1) else "miss"}","cache":"redis",'
                                f'"key":"{route.split("/")[3]}:{bits(20)}"}}')
                    elif r < 0.95 or not incident:
                        level = "info" if r < 0.97 else "warn"
                        line = (f'{prefix}{level}{middle}upstream call","upstream":"{UPSTREAMS[bits(3)]}",'
                                f'"duration_ms":{bits(11) / 8:.2f},"attempt":{1 if r < 0.97 else 2}}}')
                    else:
                        level = "warn"
                        line = (f'{prefix}warn{middle}retrying upstream","upstream":"{UPSTREAMS[bits(3)]}",'
                                f'"error":"{ERRORS[bits(3) % len(ERRORS)]}","attempt":{2 + bits(1)}}}')
                if needle is not None and trace_id == needle["trace_id"]:
                    needle_count += 1
                if stream.service == WORD_SERVICE and "error" in line:
                    counts["word"] += 1
            else:
                program, template = SYSLOG_TEMPLATES[bits(5) % len(SYSLOG_TEMPLATES)]
                host_pids = pids.setdefault(s, {})
                pid = host_pids.get(program)
                if pid is None or program in ("CRON", "sshd") and bits(2) == 0:
                    pid = host_pids[program] = 1 if program == "systemd" else randrange(300, 4_000_000)
                if "{" in template:
                    key = f"{bits(64):016x}{bits(64):016x}"
                    message = template.format(
                        a=bits(8), b=bits(8), c=bits(8), port=randrange(1024, 65536), key=key, key8=key[:7],
                        n=randrange(1000, 99999), uptime=f"{(ts // 1000) % 10**9 / 1e6 + 86400:.6f}",
                        iso=f"{iso_second}.{ts % 1_000_000_000:09d}Z", kdate=f"{kube_time}.{ts // 1000 % 10**6:06d}",
                        pod=f"{APP_SERVICES[bits(5) % len(APP_SERVICES)]}-7d9f{bits(16):04x}-{bits(20):05x}")
                else:
                    message = template
                line = (f"{syslog_time} {stream.host} {program}: {message}" if program == "kernel"
                        else f"{syslog_time} {stream.host} {program}[{pid}]: {message}")
            size_bytes = len(line) + 1  # ASCII only
            raw_parts.append(line)
            counts[kind] += 1
            escaped = _json_escape(line)
            if stream.otlp:
                severity = {"debug": 5, "info": 9, "warn": 13, "error": 17}[level]
                otlp_batch.setdefault(s, []).append(
                    f'{{"timeUnixNano":"{ts}","severityNumber":{severity},"severityText":"{level.upper()}",'
                    f'"traceId":"{trace_id}","spanId":"{span_id}","body":{{"stringValue":"{escaped}"}}}}')
                otlp_raw += size_bytes
                otlp_lines += 1
                counts["otlp"] += 1
            else:
                loki_batch.setdefault(s, []).append(f'["{ts}","{escaped}"]')
                loki_raw += size_bytes
                loki_lines += 1
                counts["loki"] += 1
            batch_raw += size_bytes
            emitted += 1
            if batch_raw >= batch_bytes:
                flush_batch()
    flush_batch()
    raw = ("\n".join(raw_parts) + "\n").encode() if raw_parts else b""
    return {"number": chunk.number, "raw": raw, "frames": frames, "counts": counts, "statuses": statuses,
            "needle": dict(needle, count=needle_count) if needle else None}


# --- generating the corpus ---------------------------------------------------------------------------------------


def generate_corpus(directory: Path, lines: int, window_s: int, seed: int, batch_bytes: int, workers: int) -> dict:
    """Writes raw.log, bodies.bin and manifest.json into `directory`; returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    end_s = (int(time.time()) - 60) // 60 * 60  # on a whole minute, as the start: query steps align with it
    start_s = end_s - window_s
    minutes = window_s // 60
    counts, incidents = minute_schedule(lines, minutes, seed)
    chunk_lines = max(2000, batch_bytes * 4 // 220)
    chunks = plan_chunks(counts, chunk_lines)
    chunks[min(len(chunks) - 1, int(len(chunks) * 0.4))].needle = True
    streams = build_streams()
    totals = {"nginx": 0, "app": 0, "syslog": 0, "otlp": 0, "loki": 0, "regex": 0, "json_5xx": 0, "word": 0}
    statuses: set[int] = set()
    frame_counts = {"loki": 0, "otlp": 0}
    body_bytes = {"loki": 0, "otlp": 0}
    needle = None
    raw_bytes = 0
    started = time.monotonic()
    log(f"generating {lines:,} lines over {window_s / 3600:g} h in {len(chunks)} chunks"
        f" ({workers} worker processes) into {directory}")
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(seed, start_s, batch_bytes)) as pool, \
            open(directory / RAW_FILE, "wb") as raw_file, open(directory / BODIES_FILE, "wb") as bodies_file:
        work = [(chunk, frozenset(incidents)) for chunk in chunks]
        for done, result in enumerate(pool.imap(_generate_chunk_star, work, chunksize=1), 1):
            raw_file.write(result["raw"])
            raw_bytes += len(result["raw"])
            for kind, frame_lines, frame_raw, body in result["frames"]:
                bodies_file.write(FRAME_HEADER.pack(kind, frame_lines, frame_raw, len(body)))
                bodies_file.write(body)
                name = "loki" if kind == LOKI else "otlp"
                frame_counts[name] += 1
                body_bytes[name] += len(body)
            for key, value in result["counts"].items():
                totals[key] += value
            statuses |= result["statuses"]
            if result["needle"]:
                needle = result["needle"]
            if done % max(1, len(chunks) // 10) == 0:
                log(f"  {done}/{len(chunks)} chunks, {raw_bytes / 1e6:,.0f} MB raw")
    if needle is None or needle["count"] == 0:
        raise RuntimeError("no needle trace id was generated (too few lines? use --lines 20000 or more)")
    manifest = {
        "format": CORPUS_FORMAT, "seed": seed, "lines": lines, "raw_bytes": raw_bytes,
        "start_ns": start_s * 1_000_000_000, "end_ns": end_s * 1_000_000_000, "window_s": window_s,
        "streams": len(streams), "streams_by_kind": {kind: sum(s.kind == kind for s in streams) for kind in KIND_SHARE},
        "otlp_streams": sum(s.otlp for s in streams), "lines_by_kind": {k: totals[k] for k in KIND_SHARE},
        "lines_by_protocol": {"loki": totals["loki"], "otlp": totals["otlp"]},
        "bodies": frame_counts, "body_bytes": body_bytes, "batch_bytes": batch_bytes,
        "incident_minutes": incidents, "needle": needle, "word_service": WORD_SERVICE,
        # What the queries must find (see build_queries).
        "expected": {"word_in_service": totals["word"], "regex": totals["regex"], "json_5xx": totals["json_5xx"],
                     "nginx_statuses": sorted(statuses)},
        "generated_in_s": round(time.monotonic() - started, 1),
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"generated {lines:,} lines, {raw_bytes / 1e6:,.1f} MB raw, {frame_counts['loki']:,} Loki and"
        f" {frame_counts['otlp']:,} OTLP bodies in {manifest['generated_in_s']:.1f} s; needle trace id"
        f" {needle['trace_id']} ({needle['count']} lines, {needle['instance']})")
    return manifest


def _generate_chunk_star(item):
    return generate_chunk(*item)


def load_manifest(directory: Path) -> dict:
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    if manifest.get("format") != CORPUS_FORMAT:
        raise RuntimeError(f"{directory} holds a corpus of format {manifest.get('format')}, not {CORPUS_FORMAT}")
    return manifest


def read_frames(path: Path):
    """(kind, lines, raw bytes, body) for every frame of bodies.bin, in order."""
    with open(path, "rb") as bodies:
        while header := bodies.read(FRAME_HEADER.size):
            kind, lines, raw, length = FRAME_HEADER.unpack(header)
            body = bodies.read(length)
            if len(body) != length:
                raise RuntimeError(f"{path} is truncated")
            yield kind, lines, raw, body


# --- the server --------------------------------------------------------------------------------------------------


@dataclass
class OxeyeLogs(ingest.SystemUnderTest):
    """oxeye with a config file and a known OTLP/HTTP port (the ingest benchmark's command picks it unseen)."""

    config_path: Path | None = None
    otlp_http_port: int = 0

    def command(self, data_dir: Path, port: int, workdir: Path) -> list[str]:
        self.otlp_http_port = ingest.free_port()
        argv = [str(self.binary), "serve"]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return argv + ["--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
                       "--otlp-grpc-listen", f"127.0.0.1:{ingest.free_port()}",
                       "--otlp-http-listen", f"127.0.0.1:{self.otlp_http_port}"]


class Server(ingest.Server):
    """The ingest benchmark's server, started on an existing data directory if there is one (the restart)."""

    def __init__(self, system: OxeyeLogs, workdir: Path, log_name: str):
        super().__init__(system, workdir)
        self.log_path = workdir / log_name

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = self.system.command(self.data_dir, self.port, self.workdir)
        with open(self.workdir / "command.txt", "a") as commands:
            commands.write(" ".join(argv) + "\n")
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


# --- replay ------------------------------------------------------------------------------------------------------


def _check_answer(kind: bytes, status: int, body: bytes) -> str | None:
    """Why an answer is a failure, or None. Loki push answers 204; OTLP/HTTP 200, with `partialSuccess` when it
    refused records."""
    if not 200 <= status < 300:
        return f"HTTP {status}: {body[:500].decode(errors='replace')}"
    if kind == OTLP and body[:1] == b"{":
        answer = json.loads(body)
        partial = answer.get("partialSuccess") or answer.get("partial_success") or {}
        rejected = int(partial.get("rejectedLogRecords", partial.get("rejected_log_records", 0)) or 0)
        if rejected:
            return f"OTLP partial success: {rejected} records rejected: {partial}"
    return None


def replay(corpus: Path, manifest: dict, server: Server, concurrency: int) -> dict:
    """Sends every body of the corpus, in order, `concurrency` at a time over keep-alive connections (one to the
    main port for Loki push, one to the OTLP/HTTP port per worker). Fails on the first answer that is not a
    success. Returns wall time, request counts and latency percentiles."""
    frames: queue.Queue = queue.Queue(maxsize=2 * concurrency)
    stop = threading.Event()
    errors: list[str] = []
    latencies: dict[bytes, list[float]] = {LOKI: [], OTLP: []}
    lock = threading.Lock()
    targets = {LOKI: (server.port, "/loki/api/v1/push"), OTLP: (server.system.otlp_http_port, "/v1/logs")}

    def reader() -> None:
        try:
            for frame in read_frames(corpus / BODIES_FILE):
                while not stop.is_set():
                    try:
                        frames.put(frame, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except (OSError, RuntimeError) as error:
            with lock:
                errors.append(f"reading the bodies: {error}")
            stop.set()
        finally:
            for _ in range(concurrency):
                while True:
                    try:
                        frames.put(None, timeout=0.5)
                        break
                    except queue.Full:
                        if stop.is_set():
                            try:
                                frames.get_nowait()
                            except queue.Empty:
                                pass

    def sender() -> None:
        connections: dict[bytes, http.client.HTTPConnection] = {}
        try:
            while True:
                frame = frames.get()
                if frame is None or stop.is_set():
                    return
                kind, _lines, _raw, body = frame
                port, path = targets[kind]
                if kind not in connections:
                    connections[kind] = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
                connection = connections[kind]
                started = time.perf_counter()
                try:
                    connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                    response = connection.getresponse()
                    problem = _check_answer(kind, response.status, response.read())
                except (OSError, ValueError, http.client.HTTPException) as error:
                    problem = f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - started
                with lock:
                    if problem:
                        errors.append(f"POST {path}: {problem}")
                    else:
                        latencies[kind].append(elapsed)
                if problem:
                    stop.set()
                    return
        finally:
            for connection in connections.values():
                connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    started = time.monotonic()
    feeder = threading.Thread(target=reader, daemon=True)
    feeder.start()
    for thread in threads:
        thread.start()
    deadline = started + max(3600.0, manifest["raw_bytes"] / 1e6)  # a bound far beyond 1 MB/s
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        stop.set()
        errors.append("the replay did not finish in time")
    wall = time.monotonic() - started
    feeder.join(timeout=10)
    if errors:
        raise RuntimeError(f"replay failed: {errors[0]}\nserver log:\n{server.log_tail()}")
    sent = {LOKI: len(latencies[LOKI]), OTLP: len(latencies[OTLP])}
    expected = manifest["bodies"]
    if sent[LOKI] != expected["loki"] or sent[OTLP] != expected["otlp"]:
        raise RuntimeError(f"replay sent {sent[LOKI]} Loki and {sent[OTLP]} OTLP bodies, expected {expected}")

    def percentile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    return {"wall_seconds": wall, "loki_requests": sent[LOKI], "otlp_requests": sent[OTLP],
            "loki_latency_p50_ms": percentile(latencies[LOKI], 0.5),
            "loki_latency_p99_ms": percentile(latencies[LOKI], 0.99),
            "otlp_latency_p50_ms": percentile(latencies[OTLP], 0.5),
            "otlp_latency_p99_ms": percentile(latencies[OTLP], 0.99)}


# --- disk, zstd --------------------------------------------------------------------------------------------------


def measure_logs_dir(data_dir: Path) -> dict:
    """Bytes of every regular file under the tenant's logs directory, by first path component (blocks, wal, …)."""
    logs_dir = data_dir / "tenants" / "default" / "logs"
    usage = {"path": str(logs_dir), "total_bytes": 0, "allocated_bytes": 0, "by_part": {}, "blocks": 0}
    for root, _dirs, files in os.walk(logs_dir):
        relative = Path(root).relative_to(logs_dir).parts
        part = relative[0] if relative else "other files"
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            info = path.lstat()
            usage["total_bytes"] += info.st_size
            usage["allocated_bytes"] += info.st_blocks * 512
            usage["by_part"][part] = usage["by_part"].get(part, 0) + info.st_size
            usage["blocks"] += name.endswith(".olb")
    return usage


def run_zstd(raw: Path, out: Path) -> dict:
    """`zstd -3 -T1` of the raw file (one thread, like the server's single-threaded block writer per stream)."""
    binary = shutil.which("zstd")
    if binary is None:
        return {"error": "zstd not found on PATH"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with open(out, "wb") as sink:
        completed = subprocess.run([binary, "-3", "-T1", "-q", "-c", str(raw)], stdout=sink,
                                   stderr=subprocess.PIPE, timeout=ZSTD_TIMEOUT_S)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        return {"error": f"zstd exited {completed.returncode}: {completed.stderr[:300].decode(errors='replace')}"}
    size = out.stat().st_size
    out.unlink()
    return {"bytes": size, "wall_seconds": wall,
            "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


# --- queries -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogQuery:
    name: str
    expr: str
    what: str
    metric: bool = False  # a metric query (matrix, `step`), else a log query (streams, `limit`)
    needle: bool = False  # must return exactly the needle's lines
    expected_lines: str = ""  # key of manifest["expected"]: a log query returns min(limit, that many) lines
    expected_sum: str = ""  # key of manifest["expected"]: a count query's values add up to that
    step_s: int | None = None  # a fixed step (the count queries' 1m windows must tile the range)


REGEX = '|~ "GET /api/v[12]/users/[0-9]+ "'
JSON_5XX = "| json | status >= 500"
NGINX_STATUS = '| pattern `<_> - - [<_>] "<_> <_> <_>" <status> <_>`'


def build_queries(manifest: dict) -> list[LogQuery]:
    trace_id = manifest["needle"]["trace_id"]
    app = f'{{service_namespace="{NAMESPACE}"}}'
    return [
        LogQuery("needle", f'{{service_name=~".+"}} |= "{trace_id}"', needle=True,
                 what="one trace id over every stream and the whole window (compared with grep -F)"),
        LogQuery("needle-app", f'{app} |= "{trace_id}"', needle=True,
                 what="the same trace id over the application streams"),
        LogQuery("needle-metadata", f'{app} | trace_id="{trace_id}"', needle=True,
                 what="the trace id as structured metadata (the OTLP records' traceId)"),
        LogQuery("word-in-service", f'{{service_name="{manifest["word_service"]}"}} |= "error"',
                 expected_lines="word_in_service", what="a word filter within one service"),
        LogQuery("regex", f'{{job="nginx"}} {REGEX}', expected_lines="regex", what="a regex over the nginx lines"),
        LogQuery("json-status", f"{app} {JSON_5XX}", expected_lines="json_5xx",
                 what="json parser and a numeric field filter over the application lines"),
        LogQuery("rate-by-status", f'sum by (status) (rate({{job="nginx"}} {NGINX_STATUS} [5m]))', metric=True,
                 what="pattern parser, rate by status over every nginx line"),
        LogQuery("regex-count", f'sum(count_over_time({{job="nginx"}} {REGEX} [1m]))', metric=True, step_s=60,
                 expected_sum="regex", what="the regex over every nginx line, counted (no limit to stop early)"),
        LogQuery("json-status-count", f"sum(count_over_time({app} {JSON_5XX} [1m]))", metric=True, step_s=60,
                 expected_sum="json_5xx", what="json and the field filter over every application line, counted"),
    ]


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def query_once(base_url: str, params: dict[str, str], timeout_s: float) -> tuple[float, int, bytes]:
    """Seconds from sending the request to having read the whole answer, the HTTP status, and the body."""
    url = f"{base_url}/loki/api/v1/query_range?{urllib.parse.urlencode(params)}"
    started = time.perf_counter()
    try:
        with _OPENER.open(urllib.request.Request(url), timeout=timeout_s) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    return time.perf_counter() - started, status, body


def query_params(query: LogQuery, manifest: dict, limit: int, step_s: int) -> dict[str, str]:
    """The whole window: [start, end] on whole minutes, every line strictly inside."""
    params = {"query": query.expr, "start": str(manifest["start_ns"]), "end": str(manifest["end_ns"])}
    if query.metric:
        params["step"] = str(query.step_s or step_s)
    else:
        params["limit"] = str(limit)
    return params


def describe_answer(query: LogQuery, data: dict, manifest: dict, limit: int) -> tuple[dict, str]:
    """Counts of an answer's `data`, and why it is wrong (empty when it is right or not checked)."""
    result = data.get("result") or []
    kind = data.get("resultType")
    expected = manifest.get("expected", {})
    if kind == "streams":
        lines = [value[1] for row in result for value in row.get("values", [])]
        counts = {"streams": len(result), "lines": len(lines)}
    else:
        lines = []
        counts = {"series": len(result), "points": sum(len(row.get("values", [])) for row in result)}
    if kind != ("matrix" if query.metric else "streams"):
        return counts, f"resultType {kind}, expected {'matrix' if query.metric else 'streams'}"
    if query.needle:
        needle = manifest["needle"]
        if len(lines) != needle["count"] or not all(needle["trace_id"] in line for line in lines):
            return counts, f"{len(lines)} lines, expected the needle's {needle['count']} lines"
    if query.expected_lines and query.expected_lines in expected:
        want = min(limit, expected[query.expected_lines])
        if len(lines) != want:
            return counts, f"{len(lines)} lines, expected {want:,} (limit {limit}, {expected[query.expected_lines]:,} match)"
    if query.expected_sum and query.expected_sum in expected:
        total = sum(float(value) for row in result for _, value in row.get("values", []))
        counts["sum"] = round(total)
        if round(total) != expected[query.expected_sum]:
            return counts, f"counted {total:,.0f}, expected {expected[query.expected_sum]:,}"
    if query.name == "rate-by-status" and "nginx_statuses" in expected:
        seen = sorted(int(row.get("metric", {}).get("status", -1)) for row in result)
        if seen != expected["nginx_statuses"]:
            return counts, f"status series {seen}, expected {expected['nginx_statuses']}"
    return counts, ""


def run_queries(base_url: str, manifest: dict, runs: int, limit: int, step_s: int, timeout_s: float) -> dict:
    """Warm-up then `runs` timed runs of every query. {"available": False, …} when the endpoint answers 404."""
    probe = {"query": '{job="nginx"}', "start": str(manifest["start_ns"]), "end": str(manifest["end_ns"]),
             "limit": "1"}
    _, status, body = query_once(base_url, probe, timeout_s)
    if status == 404:
        log("GET /loki/api/v1/query_range answers 404: LogQL queries not available in this build; skipping them")
        return {"available": False, "reason": f"/loki/api/v1/query_range answered 404: {body[:200].decode(errors='replace')}",
                "queries": []}
    results = []
    for query in build_queries(manifest):
        params = query_params(query, manifest, limit, step_s)
        entry = {"name": query.name, "expr": query.expr, "what": query.what, "params": params, "runs_ms": [],
                 "error": "", "counts": {}, "response_bytes": 0, "check": "",
                 "checked": bool(query.needle or query.expected_lines or query.expected_sum
                                 or query.name == "rate-by-status")}
        results.append(entry)
        try:
            _, status, body = query_once(base_url, params, timeout_s)
            payload = json.loads(body) if body[:1] == b"{" else {"status": "error", "error": body[:300].decode()}
            if status != 200 or payload.get("status") != "success":
                entry["error"] = f"HTTP {status}: {payload.get('error', payload.get('message', body[:300]))}"[:400]
                log(f"query {query.name}: {entry['error']}")
                continue
            entry["counts"], entry["check"] = describe_answer(query, payload.get("data") or {}, manifest, limit)
            entry["response_bytes"] = len(body)
            for _ in range(runs):
                elapsed, status, _ = query_once(base_url, params, timeout_s)
                if status != 200:
                    entry["error"] = f"HTTP {status} in a timed run"
                    break
                entry["runs_ms"].append(elapsed * 1000)
        except (OSError, ValueError) as error:
            entry["error"] = f"{type(error).__name__}: {error}"[:400]
        entry["median_ms"] = statistics.median(entry["runs_ms"]) if entry["runs_ms"] and not entry["error"] else None
        log(f"query {query.name}: " + (entry["error"] or f"median {entry['median_ms']:.1f} ms {entry['counts']}"
                                       + (f" WRONG: {entry['check']}" if entry["check"] else "")))
    return {"available": True, "queries": results}


def run_grep(raw: Path, needle: dict, runs: int) -> dict:
    """`grep -F <trace id> raw.log` (C locale, output read through a pipe: GNU grep stops at the first match when
    its output is /dev/null): a warm-up, then `runs` timed runs."""
    argv = ["grep", "-F", "--", needle["trace_id"], str(raw)]
    env = dict(os.environ, LC_ALL="C")
    times: list[float] = []
    matched = 0
    for attempt in range(runs + 1):
        started = time.perf_counter()
        completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                   timeout=GREP_TIMEOUT_S)
        elapsed = time.perf_counter() - started
        if completed.returncode not in (0, 1):
            return {"error": f"grep exited {completed.returncode}: {completed.stderr[:300].decode(errors='replace')}"}
        matched = completed.stdout.count(b"\n")
        if attempt:
            times.append(elapsed * 1000)
    return {"argv": " ".join(argv[:-1] + [raw.name]), "runs_ms": times, "median_ms": statistics.median(times),
            "lines": matched, "check": "" if matched == needle["count"] else
            f"{matched} lines, expected {needle['count']}"}


# --- the run -----------------------------------------------------------------------------------------------------


def measure_ingest(system: OxeyeLogs, corpus: Path, manifest: dict, workdir: Path, concurrency: int) -> dict:
    """Starts oxeye on an empty data directory, replays the corpus, flushes, waits until it is idle, stops it and
    measures its log store."""
    result: dict = {}
    server = Server(system, workdir, "server-ingest.log")
    try:
        server.start()
        log(f"oxeye: started {system.binary} on {server.base_url}, OTLP/HTTP on 127.0.0.1:{system.otlp_http_port}")
        result["ready_seconds"] = server.wait_ready()
        time.sleep(1.0)
        cpu_ready = server.cpu_seconds()
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        log(f"oxeye: replaying {manifest['lines']:,} lines ({manifest['raw_bytes'] / 1e6:,.1f} MB raw),"
            f" {concurrency} requests in flight")
        result["replay"] = replay(corpus, manifest, server, concurrency)
        cpu_replayed = server.cpu_seconds()
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        result["client_cpu_seconds"] = (client_after.ru_utime + client_after.ru_stime
                                        - client_before.ru_utime - client_before.ru_stime)
        result["cpu_replay_seconds"] = cpu_replayed - cpu_ready
        result["peak_rss_replay_bytes"] = server.peak_rss_bytes()
        wall = result["replay"]["wall_seconds"]
        log(f"oxeye: replayed in {wall:.1f} s ({manifest['raw_bytes'] / 1e6 / wall:,.1f} MB/s),"
            f" server CPU {result['cpu_replay_seconds']:.1f} s")

        flush_started = time.monotonic()
        status, body = ingest.http_request(server.base_url + "/api/v1/admin/flush", method="POST",
                                           timeout=FLUSH_TIMEOUT_S)
        result["flush_seconds"] = time.monotonic() - flush_started
        if not 200 <= status < 300:
            raise RuntimeError(f"POST /api/v1/admin/flush answered {status}: {body.strip()[:500]}")
        result["settle_seconds"] = server.quiesce(max_seconds=SETTLE_MAX_S)
        cpu_settled = server.cpu_seconds()
        result["cpu_flush_seconds"] = cpu_settled - cpu_replayed
        result["peak_rss_bytes"] = server.peak_rss_bytes()
        log(f"oxeye: flushed in {result['flush_seconds']:.1f} s, idle after {result['settle_seconds']:.1f} s more;"
            f" CPU {result['cpu_flush_seconds']:.1f} s")
        server.stop()
        if server.final_rusage is not None:
            result["peak_rss_bytes"] = max(result["peak_rss_bytes"], server.final_rusage.ru_maxrss * 1024)
            result["cpu_shutdown_seconds"] = max(0.0, server.final_rusage.ru_utime + server.final_rusage.ru_stime
                                                 - cpu_settled)
        if server.killed:
            raise RuntimeError("oxeye had to be killed (SIGKILL) after SIGTERM; its disk state may be partial")
        result["disk"] = measure_logs_dir(server.data_dir)
    finally:
        server.stop()
    return result


def measure_queries(system: OxeyeLogs, manifest: dict, workdir: Path, args) -> dict:
    """Restarts oxeye on the data directory the ingest left and runs the queries."""
    server = Server(system, workdir, "server-query.log")
    try:
        server.start()
        ready = server.wait_ready()
        settled = server.quiesce(max_seconds=SETTLE_MAX_S)
        log(f"oxeye: restarted, ready in {ready:.1f} s, idle after {settled:.1f} s more")
        result = run_queries(server.base_url, manifest, args.runs, args.limit, args.step, args.timeout)
        result["restart_ready_seconds"] = ready
        result["peak_rss_bytes"] = server.peak_rss_bytes()
        return result
    finally:
        server.stop()


def build_report(manifest: dict, ingest_result: dict, zstd: dict, queries: dict, grep: dict | None) -> dict:
    raw_bytes, lines = manifest["raw_bytes"], manifest["lines"]
    report: dict = {"corpus": {key: value for key, value in manifest.items()}, "ingest": ingest_result,
                    "zstd": zstd, "queries": queries, "grep": grep, "goals": []}
    figures: dict = {}
    if ingest_result.get("replay"):
        wall = ingest_result["replay"]["wall_seconds"]
        cpu_replay = ingest_result["cpu_replay_seconds"]
        cpu_total = cpu_replay + ingest_result.get("cpu_flush_seconds", 0.0)
        figures.update({
            "wall_mb_per_s": raw_bytes / 1e6 / wall, "wall_lines_per_s": lines / wall,
            "mb_per_cpu_s": raw_bytes / 1e6 / cpu_total if cpu_total else None,
            "lines_per_cpu_s": lines / cpu_total if cpu_total else None,
            "mb_per_cpu_s_replay_only": raw_bytes / 1e6 / cpu_replay if cpu_replay else None,
            "lines_per_cpu_s_replay_only": lines / cpu_replay if cpu_replay else None,
        })
    disk = ingest_result.get("disk")
    if disk:
        figures["disk_vs_raw"] = disk["total_bytes"] / raw_bytes
        if zstd.get("bytes"):
            figures["disk_vs_zstd"] = disk["total_bytes"] / zstd["bytes"]
    if zstd.get("bytes"):
        figures["zstd_vs_raw"] = zstd["bytes"] / raw_bytes
    needle = next((q for q in queries.get("queries", []) if q["name"] == "needle"), None)
    if needle and needle.get("median_ms") and grep and grep.get("median_ms"):
        figures["needle_speedup_vs_grep"] = grep["median_ms"] / needle["median_ms"]
    report["figures"] = figures

    def goal(name: str, target: str, value, passed) -> None:
        report["goals"].append({"goal": name, "target": target, "measured": value, "passed": passed})

    value = figures.get("disk_vs_zstd")
    goal("bytes on disk / zstd -3 of the raw file", f"<= {GOAL_DISK_VS_ZSTD:g}", value,
         None if value is None else value <= GOAL_DISK_VS_ZSTD)
    value = figures.get("needle_speedup_vs_grep")
    if needle and needle.get("check"):
        value, passed = None, False  # a wrong answer fails the goal whatever its speed
    else:
        passed = None if value is None else value >= GOAL_NEEDLE_SPEEDUP
    goal("needle query speed-up over grep -F on the raw file", f">= {GOAL_NEEDLE_SPEEDUP:g}x", value, passed)
    value = figures.get("mb_per_cpu_s")
    goal("ingest MB/s per server CPU second (replay + flush)", f">= {GOAL_INGEST_MB_PER_CPU_S:g}", value,
         None if value is None else value >= GOAL_INGEST_MB_PER_CPU_S)
    return report


def _code(text: str) -> str:
    """`text` as inline code in a Markdown table cell (pipes escaped; double backticks if it has backticks)."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_report(report: dict) -> None:
    corpus, ingest_result, zstd, figures = report["corpus"], report["ingest"], report["zstd"], report["figures"]
    start = dt.datetime.fromtimestamp(corpus["start_ns"] / 1e9, dt.timezone.utc)
    end = dt.datetime.fromtimestamp(corpus["end_ns"] / 1e9, dt.timezone.utc)
    raw_mb = corpus["raw_bytes"] / 1e6
    by_kind = corpus["lines_by_kind"]
    print()
    print(f"corpus: {corpus['lines']:,} lines, {raw_mb:,.1f} MB raw ({corpus['raw_bytes'] / corpus['lines']:.0f} B/line),"
          f" {corpus['streams']} streams ({', '.join(f'{k} {v}' for k, v in corpus['streams_by_kind'].items())});"
          f" nginx {by_kind['nginx']:,}, app {by_kind['app']:,}, syslog {by_kind['syslog']:,} lines;"
          f" {start:%Y-%m-%d %H:%M}..{end:%H:%M} UTC; {corpus['lines_by_protocol']['loki']:,} lines in"
          f" {corpus['bodies']['loki']:,} Loki push bodies ({corpus['body_bytes']['loki'] / 1e6:,.1f} MB),"
          f" {corpus['lines_by_protocol']['otlp']:,} in {corpus['bodies']['otlp']:,} OTLP/HTTP JSON bodies"
          f" ({corpus['body_bytes']['otlp'] / 1e6:,.1f} MB, {corpus['otlp_streams']} streams)")
    print()
    print("### Ingest")
    print()
    print("| figure | value |")
    print("|---|---:|")
    replay_result = ingest_result.get("replay")
    if replay_result:
        cpu_replay, cpu_flush = ingest_result["cpu_replay_seconds"], ingest_result.get("cpu_flush_seconds", 0.0)
        rows = [
            ("replay wall time, s", _num(replay_result["wall_seconds"])),
            ("wall-clock MB/s (lines/s)", f"{_num(figures['wall_mb_per_s'])} ({_num(figures['wall_lines_per_s'], 0)})"),
            ("server CPU s: replay + flush and settle", f"{cpu_replay:.1f} + {cpu_flush:.1f}"),
            ("**MB/s per server CPU s** (replay + flush)", f"**{_num(figures['mb_per_cpu_s'])}**"),
            ("lines/s per server CPU s (replay + flush)", _num(figures["lines_per_cpu_s"], 0)),
            ("MB/s per server CPU s, replay only", _num(figures["mb_per_cpu_s_replay_only"])),
            ("lines/s per server CPU s, replay only", _num(figures["lines_per_cpu_s_replay_only"], 0)),
            ("flush s (then idle after s)", f"{ingest_result['flush_seconds']:.1f} ({ingest_result['settle_seconds']:.1f})"),
            ("peak RSS MiB", _num(ingest_result.get("peak_rss_bytes", 0) / 2**20)),
            ("request latency p50/p99 ms, Loki push", f"{replay_result['loki_latency_p50_ms']:.1f} / "
                                                     f"{replay_result['loki_latency_p99_ms']:.1f}"),
            ("request latency p50/p99 ms, OTLP", f"{replay_result['otlp_latency_p50_ms']:.1f} / "
                                                f"{replay_result['otlp_latency_p99_ms']:.1f}"),
            ("replay client CPU s (this script)", _num(ingest_result["client_cpu_seconds"])),
        ]
        for name, value in rows:
            print(f"| {name} | {value} |")
    else:
        first_line = (ingest_result.get("error") or "not run").splitlines()[0]
        print(f"| ingest | FAILED: {first_line[:300].replace('|', '/')} |")
    print()
    print("### Bytes")
    print()
    print("| what | MB | / raw | / zstd -3 |")
    print("|---|---:|---:|---:|")
    zstd_bytes = zstd.get("bytes")

    def size_row(name: str, size: int) -> None:
        print(f"| {name} | {size / 1e6:,.2f} | {size / corpus['raw_bytes']:.4f} |"
              f" {(f'{size / zstd_bytes:.3f}' if zstd_bytes else '-')} |")

    size_row("raw file", corpus["raw_bytes"])
    if zstd_bytes:
        size_row(f"`zstd -3 -T1` of the raw file ({zstd['wall_seconds']:.1f} s,"
                 f" {raw_mb / zstd['wall_seconds']:,.0f} MB/s)", zstd_bytes)
    else:
        print(f"| `zstd -3` | {zstd.get('error', 'not run')} | | |")
    disk = ingest_result.get("disk")
    if disk:
        size_row(f"**oxeye log store** ({disk['blocks']} blocks)", disk["total_bytes"])
        for part, size in sorted(disk["by_part"].items(), key=lambda item: -item[1]):
            size_row(f"&nbsp;&nbsp;{part}/", size)
    print()
    print("### Queries")
    print()
    queries, grep = report["queries"], report["grep"]
    if not queries.get("available"):
        print(f"LogQL queries: not available ({queries.get('reason', 'not run')}).")
    else:
        print("| query | LogQL | median ms | answer | check |")
        print("|---|---|---:|---|---|")
        for entry in queries["queries"]:
            counts = ", ".join(f"{value:,} {key}" for key, value in entry["counts"].items())
            check = "error" if entry["error"] else ("**WRONG**" if entry["check"] else
                                                    ("right" if entry["checked"] else ""))
            print(f"| `{entry['name']}` | {_code(entry['expr'])} | {_num(entry.get('median_ms'))} | {counts} |"
                  f" {check} |")
        if grep:
            print(f"| grep baseline | {_code('LC_ALL=C ' + grep.get('argv', 'grep -F'))} |"
                  f" {_num(grep.get('median_ms'))} | {grep.get('lines', 0):,} lines |"
                  f" {'**WRONG**' if grep.get('check') or grep.get('error') else 'right'} |")
        for entry in queries["queries"]:
            if entry["error"] or entry["check"]:
                print(f"\n- {entry['name']}: {entry['error'] or entry['check']}")
    print()
    print("### Goals (issue 4)")
    print()
    print("| goal | target | measured | result |")
    print("|---|---|---:|---|")
    for entry in report["goals"]:
        result = "not measured" if entry["passed"] is None else ("pass" if entry["passed"] else "**FAIL**")
        print(f"| {entry['goal']} | {entry['target']} | {_num(entry['measured'], 2)} | {result} |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000, help="log lines to generate (default 10,000,000)")
    parser.add_argument("--window", type=ingest.parse_duration, default=ingest.parse_duration("6h"),
                        help="time range of the corpus (whole minutes), ending on the minute at least a minute before"
                        " generation (default 6h)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-mb", type=float, default=2.0,
                        help="raw MB of lines per replay batch (one Loki push and one OTLP body; default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="replay requests in flight (default 4)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="processes generating the corpus (default: one per CPU)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query and of grep (default 5)")
    parser.add_argument("--limit", type=int, default=1000, help="limit of log queries (default 1000, as Grafana)")
    parser.add_argument("--step", type=int, default=60, help="step of the rate query, seconds (default 60)")
    parser.add_argument("--timeout", type=float, default=QUERY_TIMEOUT_S, help="seconds allowed per query request")
    parser.add_argument("--workdir", type=Path, help="where the corpus and data go (default: a new temp dir)")
    parser.add_argument("--corpus", type=Path, help="reuse a corpus generated earlier (a directory with manifest.json;"
                        " kept)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and data directory")
    parser.add_argument("--no-queries", action="store_true", help="stop after the ingest and disk measurements")
    parser.add_argument("--results-json", type=Path, help="also write every measurement to this JSON file")
    parser.add_argument("--oxeye-bin", help="default: ${CARGO_TARGET_DIR:-~/.cache/oxeye-target}/release/oxeye")
    args = parser.parse_args()
    if args.lines < 20_000:
        parser.error("--lines must be at least 20000")
    if args.window < 3600 or args.window > 6 * 86400 or args.window % 60:
        parser.error("--window must be whole minutes between 1h and 6d (oxeye keeps 7d by default)")

    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/oxeye-target"))
    binary = Path(args.oxeye_bin or target_dir / "release" / "oxeye")
    if not binary.is_file():
        log(f"{binary} not found; build it: cargo build --release -p oxeye")
        return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oxeye-bench-logs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"working directory {workdir}")
    oxeye_dir = workdir / "oxeye"
    corpus = args.corpus or workdir / "corpus"
    failed = False
    try:
        if args.corpus:
            manifest = load_manifest(corpus)
            age = time.time() - manifest["start_ns"] / 1e9
            if age > MAX_CORPUS_AGE_S:
                log(f"the corpus in {corpus} starts {age / 86400:.1f} days ago; oxeye would refuse or expire it")
                return 1
            log(f"reusing the corpus in {corpus} ({manifest['lines']:,} lines)")
        else:
            manifest = generate_corpus(corpus, args.lines, args.window, args.seed,
                                       int(args.batch_mb * 1e6), max(1, args.workers))
        if oxeye_dir.exists():
            shutil.rmtree(oxeye_dir)
        oxeye_dir.mkdir()
        config_path = oxeye_dir / "oxeye.yaml"
        config_path.write_text(OXEYE_CONFIG)
        system = OxeyeLogs(name="oxeye", binary=binary, ready_path="/ready", write_path="/loki/api/v1/push",
                           flush=("POST", "/api/v1/admin/flush"), disk_notes="", config_path=config_path)
        try:
            ingest_result = measure_ingest(system, corpus, manifest, oxeye_dir, args.concurrency)
        except (RuntimeError, OSError, ValueError) as error:
            log(f"ingest FAILED: {error}")
            ingest_result = {"error": str(error)}
            failed = True
        log("zstd -3 -T1 of the raw file")
        zstd = run_zstd(corpus / RAW_FILE, workdir / "raw.log.zst")
        if zstd.get("bytes"):
            log(f"zstd: {zstd['bytes'] / 1e6:,.1f} MB in {zstd['wall_seconds']:.1f} s")
        queries: dict = {"available": False, "reason": "not run", "queries": []}
        grep = None
        if not failed and not args.no_queries:
            try:
                queries = measure_queries(system, manifest, oxeye_dir, args)
            except (RuntimeError, OSError, ValueError) as error:
                log(f"queries FAILED: {error}")
                queries = {"available": False, "reason": f"failed: {error}", "queries": []}
                failed = True
            if queries.get("available"):
                log(f"grep -F over the raw file, {args.runs} timed runs")
                grep = run_grep(corpus / RAW_FILE, manifest["needle"], args.runs)
                if grep.get("check") or grep.get("error"):
                    failed = True
            failed = failed or any(q["error"] or q["check"] for q in queries.get("queries", []))
        report = build_report(manifest, ingest_result, zstd, queries, grep)
        report["args"] = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
        report["oxeye_bin"] = str(binary)
        print_report(report)
        if args.results_json:
            args.results_json.write_text(json.dumps(report, indent=2) + "\n")
            log(f"results written to {args.results_json}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(oxeye_dir, ignore_errors=True)
            if not args.corpus:
                shutil.rmtree(corpus, ignore_errors=True)
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
