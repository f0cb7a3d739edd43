//! Calls between services (CLIENT and SERVER spans over gRPC or HTTP) and the leaves of a trace (PostgreSQL, Redis,
//! external HTTP, internal work), with the failures they can inject and the exception text they report.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use rand::Rng;

use super::{Outcome, Request, Rpc};
use crate::topology::{Language, Protocol, ScopeKind, Svc, int, string};
use crate::trace_builder::MAX_DEPTH;

impl Request<'_> {
    /// A call from `caller_pod` (span `parent`) to a pod of `to`: a CLIENT span and, in the callee, a SERVER span
    /// whose children `handler` adds. The failure of the handler fails both spans.
    pub(super) fn call<F>(
        &mut self,
        parent: usize,
        caller_pod: usize,
        to: Svc,
        rpc: Rpc,
        start: u64,
        handler: F,
    ) -> Outcome
    where
        F: FnOnce(&mut Self, usize, usize, u64) -> Outcome,
    {
        let spec = to.spec();
        let callee_pod = self.shop.topology.pick_pod(self.rng, to);
        let caller_ip = self.shop.topology.pods[caller_pod].ip.clone();
        let caller_language = self.pod_language(caller_pod);
        let (client, server) = match &rpc {
            Rpc::Grpc(method) => {
                debug_assert_eq!(spec.protocol, Protocol::Grpc);
                let name = format!("{}/{method}", spec.rpc_service);
                let client = self.trace.open(
                    self.rng,
                    Some(parent),
                    caller_pod,
                    ScopeKind::Grpc,
                    SpanKind::Client,
                    name.clone(),
                    start,
                );
                for attribute in [
                    string("rpc.system", "grpc"),
                    string("rpc.service", spec.rpc_service),
                    string("rpc.method", method),
                    string("net.peer.name", spec.name),
                    int("net.peer.port", i64::from(spec.port)),
                ] {
                    self.trace.attr(client, attribute);
                }
                let server_start = start + self.network();
                let server = self.trace.open(
                    self.rng,
                    Some(client),
                    callee_pod,
                    ScopeKind::Grpc,
                    SpanKind::Server,
                    name,
                    server_start,
                );
                for attribute in [
                    string("rpc.system", "grpc"),
                    string("rpc.service", spec.rpc_service),
                    string("rpc.method", method),
                    string("net.sock.peer.addr", &caller_ip),
                    int("net.sock.peer.port", self.rng.random_range(32768..61000)),
                ] {
                    self.trace.attr(server, attribute);
                }
                (client, server)
            }
            Rpc::Http { method, route, target } => {
                let client = self.trace.open(
                    self.rng,
                    Some(parent),
                    caller_pod,
                    ScopeKind::HttpClient,
                    SpanKind::Client,
                    method.to_string(),
                    start,
                );
                for attribute in [
                    string("http.method", method),
                    string("http.url", &format!("http://{}:{}{target}", spec.name, spec.port)),
                    string("net.peer.name", spec.name),
                    int("net.peer.port", i64::from(spec.port)),
                ] {
                    self.trace.attr(client, attribute);
                }
                let server_start = start + self.network();
                let server = self.trace.open(
                    self.rng,
                    Some(client),
                    callee_pod,
                    ScopeKind::HttpServer,
                    SpanKind::Server,
                    format!("{method} {route}"),
                    server_start,
                );
                for attribute in [
                    string("http.method", method),
                    string("http.route", route),
                    string("http.target", target),
                    string("http.scheme", "http"),
                    string("net.host.name", spec.name),
                    int("net.host.port", i64::from(spec.port)),
                    string("net.sock.peer.addr", &caller_ip),
                    string("http.user_agent", http_client_agent(caller_language)),
                ] {
                    self.trace.attr(server, attribute);
                }
                (client, server)
            }
        };
        let server_start = self.trace.spans[server].span.start_time_unix_nano;
        let outcome = handler(self, server, callee_pod, server_start);
        let server_end = outcome.end.max(server_start) + self.work(0.05, 0.3);
        self.trace.close(server, server_end);
        let client_end = server_end + self.network();
        self.trace.close(client, client_end);
        match &rpc {
            Rpc::Grpc(_) => {
                let code = if outcome.failed { if self.rng.random_bool(0.5) { 14 } else { 13 } } else { 0 };
                self.trace.attr(server, int("rpc.grpc.status_code", code));
                self.trace.attr(client, int("rpc.grpc.status_code", code));
                if outcome.failed {
                    let message = if code == 14 {
                        "UNAVAILABLE: upstream request failed"
                    } else {
                        "INTERNAL: upstream request failed"
                    };
                    self.trace.set_error(server, message);
                    self.trace.set_error(client, message);
                }
                if caller_language == Language::Go {
                    // otelgrpc records the messages of unary calls.
                    let size = self.rng.random_range(20..2000);
                    self.trace.event(
                        client,
                        start + 20_000,
                        "message",
                        vec![
                            string("message.type", "SENT"),
                            int("message.id", 1),
                            int("message.uncompressed_size", size),
                        ],
                    );
                    let size = self.rng.random_range(20..4000);
                    self.trace.event(
                        client,
                        client_end - 10_000,
                        "message",
                        vec![
                            string("message.type", "RECEIVED"),
                            int("message.id", 1),
                            int("message.uncompressed_size", size),
                        ],
                    );
                }
            }
            Rpc::Http { .. } => {
                let code = if outcome.failed { [500, 502, 503][self.rng.random_range(0..3)] } else { 200 };
                self.trace.attr(server, int("http.status_code", code));
                self.trace.attr(client, int("http.status_code", code));
                if outcome.failed {
                    self.trace.set_error(server, "");
                    self.trace.set_error(client, "");
                }
            }
        }
        Outcome { end: client_end, failed: outcome.failed }
    }

    /// A PostgreSQL query (CLIENT span, `db.*` attributes); a failure point (statement timeout).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn postgres(
        &mut self,
        parent: usize,
        pod: usize,
        start: u64,
        operation: &str,
        table: &str,
        statement: &str,
        median_ms: f64,
    ) -> Outcome {
        debug_assert!(self.trace.depth(parent) < MAX_DEPTH);
        let span = self.trace.open(
            self.rng,
            Some(parent),
            pod,
            ScopeKind::Postgres,
            SpanKind::Client,
            format!("{operation} shop.{table}"),
            start,
        );
        let service = self.shop.topology.pods[pod].svc.spec().name;
        let replica = if operation == "SELECT" { "postgres-replica" } else { "postgres-primary" };
        for attribute in [
            string("db.system", "postgresql"),
            string("db.name", "shop"),
            string("db.user", service),
            string("db.statement", statement),
            string("db.operation", operation),
            string("db.sql.table", table),
            string("net.peer.name", &format!("{replica}.shop.svc.cluster.local")),
            int("net.peer.port", 5432),
        ] {
            self.trace.attr(span, attribute);
        }
        if self.trace.failure_point() {
            let end = start + self.work(1000.0, 0.05);
            let (exception_type, message) = db_exception(self.pod_language(pod));
            self.trace.set_error(span, message);
            let stack = stack(self.pod_language(pod), service, exception_type, message, "query");
            self.trace.exception(span, end, exception_type, message, stack);
            self.trace.close(span, end);
            return Outcome { end, failed: true };
        }
        let end = start + self.work(median_ms, 0.6);
        self.trace.close(span, end);
        Outcome { end, failed: false }
    }

    /// A Redis command (CLIENT span; `db.statement` holds the command and its key); a failure point (timeout).
    pub(super) fn redis(&mut self, parent: usize, pod: usize, start: u64, command: &str, arguments: String) -> Outcome {
        let span = self.trace.open(
            self.rng,
            Some(parent),
            pod,
            ScopeKind::Redis,
            SpanKind::Client,
            command.to_string(),
            start,
        );
        for attribute in [
            string("db.system", "redis"),
            string("db.statement", &format!("{command} {arguments}")),
            string("db.operation", command),
            int("db.redis.database_index", 0),
            string("net.peer.name", "redis.shop.svc.cluster.local"),
            int("net.peer.port", 6379),
        ] {
            self.trace.attr(span, attribute);
        }
        if self.trace.failure_point() {
            let end = start + self.work(500.0, 0.05);
            let language = self.pod_language(pod);
            let (exception_type, message) = redis_exception(language);
            let service = self.shop.topology.pods[pod].svc.spec().name;
            self.trace.set_error(span, message);
            self.trace.exception(
                span,
                end,
                exception_type,
                message,
                stack(language, service, exception_type, message, "cache"),
            );
            self.trace.close(span, end);
            return Outcome { end, failed: true };
        }
        let end = start + self.work(0.25, 0.5);
        self.trace.close(span, end);
        Outcome { end, failed: false }
    }

    /// A call to a system outside the cluster (CLIENT span, HTTP); a failure point (declined with 502).
    pub(super) fn external(
        &mut self,
        parent: usize,
        pod: usize,
        start: u64,
        method: &str,
        url: &str,
        median_ms: f64,
    ) -> Outcome {
        let span = self.trace.open(
            self.rng,
            Some(parent),
            pod,
            ScopeKind::HttpClient,
            SpanKind::Client,
            method.to_string(),
            start,
        );
        let host = url.split('/').nth(2).unwrap_or(url);
        for attribute in [
            string("http.method", method),
            string("http.url", url),
            string("net.peer.name", host),
            int("net.peer.port", 443),
        ] {
            self.trace.attr(span, attribute);
        }
        if self.trace.failure_point() {
            let end = start + self.work(median_ms * 2.0, 0.3);
            self.trace.attr(span, int("http.status_code", 502));
            let message = "Request failed with status code 502";
            self.trace.set_error(span, message);
            self.trace.exception(span, end, "AxiosError", message, node_stack("payment", "chargeCard"));
            self.trace.close(span, end);
            return Outcome { end, failed: true };
        }
        let end = start + self.work(median_ms, 0.35);
        self.trace.attr(span, int("http.status_code", 200));
        self.trace.close(span, end);
        Outcome { end, failed: false }
    }

    /// Work inside a service worth its own span (INTERNAL); never fails.
    pub(super) fn internal(&mut self, parent: usize, pod: usize, name: &str, start: u64, median_ms: f64) -> Outcome {
        let span =
            self.trace.open(self.rng, Some(parent), pod, ScopeKind::App, SpanKind::Internal, name.to_string(), start);
        let end = start + self.work(median_ms, 0.5);
        self.trace.close(span, end);
        Outcome { end, failed: false }
    }
}

fn http_client_agent(language: Language) -> &'static str {
    match language {
        Language::Go => "Go-http-client/1.1",
        Language::Java => "Java-http-client/21.0.5",
        Language::Node => "axios/1.7.7",
        Language::Python => "python-requests/2.32.3",
        Language::DotNet => "dotnet-httpclient/8.0",
        _ => "reqwest/0.12",
    }
}

fn db_exception(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Java => ("org.postgresql.util.PSQLException", "ERROR: canceling statement due to statement timeout"),
        Language::Go => ("*pgconn.PgError", "ERROR: canceling statement due to statement timeout (SQLSTATE 57014)"),
        Language::Node => ("error", "canceling statement due to statement timeout"),
        Language::DotNet => ("Npgsql.PostgresException", "57014: canceling statement due to statement timeout"),
        Language::Python => ("psycopg.errors.QueryCanceled", "canceling statement due to statement timeout"),
        _ => ("PgError", "canceling statement due to statement timeout"),
    }
}

fn redis_exception(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::DotNet => (
            "StackExchange.Redis.RedisTimeoutException",
            "Timeout performing HGETALL (500ms), inst: 1, qu: 0, qs: 12, aw: False, bw: SpinningDown, rs: ReadAsync, ws: Idle, in: 0",
        ),
        Language::Java => {
            ("io.lettuce.core.RedisCommandTimeoutException", "Command timed out after 500 millisecond(s)")
        }
        Language::Go => ("*net.OpError", "redis: i/o timeout: read tcp 10.42.3.17:45122->10.43.0.12:6379"),
        Language::Node => ("MaxRetriesPerRequestError", "Reached the max retries per request limit (which is 1)."),
        _ => ("redis.exceptions.TimeoutError", "Timeout reading from socket"),
    }
}

/// A stack trace in the style of `language`, naming the service's code.
fn stack(language: Language, service: &str, exception_type: &str, message: &str, what: &str) -> String {
    let module = service.replace('-', "");
    match language {
        Language::Java => format!(
            "{exception_type}: {message}\n\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2733)\n\tat org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2420)\n\tat org.postgresql.jdbc.PgPreparedStatement.executeQuery(PgPreparedStatement.java:134)\n\tat com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeQuery(HikariProxyPreparedStatement.java)\n\tat com.example.shop.{module}.{what}.Repository.find(Repository.java:88)\n\tat com.example.shop.{module}.Handler.handle(Handler.java:141)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)"
        ),
        Language::Go => format!(
            "goroutine 1337 [running]:\nruntime/debug.Stack()\n\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e\ngithub.com/example/shop/{module}/internal/{what}.(*Store).Get(0xc0001a2000, {{0x1c2e0a8, 0xc000ab2c30}})\n\t/app/internal/{what}/store.go:97 +0x2f4\ngithub.com/example/shop/{module}/internal/server.(*Server).Handle(0xc000128480, {{0x1c2e0a8, 0xc000ab2c30}})\n\t/app/internal/server/server.go:212 +0x1b8"
        ),
        Language::DotNet => format!(
            "{exception_type}: {message}\n   at StackExchange.Redis.ConnectionMultiplexer.ExecuteSyncImpl[T](Message message, ResultProcessor`1 processor, ServerEndPoint server)\n   at Shop.{module}.{what}.Store.GetAsync(String key) in /src/{what}/Store.cs:line 64\n   at Shop.{module}.Services.Handler.Handle(Request request, ServerCallContext context) in /src/Services/Handler.cs:line 37"
        ),
        Language::Python => format!(
            "Traceback (most recent call last):\n  File \"/app/{module}/{what}.py\", line 58, in fetch\n    rows = cursor.execute(query, params).fetchall()\n  File \"/usr/local/lib/python3.12/site-packages/psycopg/cursor.py\", line 732, in execute\n    raise ex.with_traceback(None)\n{exception_type}: {message}"
        ),
        _ => node_stack(service, what),
    }
}

pub(super) fn node_stack(service: &str, function: &str) -> String {
    format!(
        "Error: {function} failed\n    at {function} (/app/{service}/src/handlers.js:118:15)\n    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)\n    at async Promise.all (index 0)\n    at async /app/{service}/src/server.js:64:22"
    )
}
