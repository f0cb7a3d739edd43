//! The simulated shop: its services, their pods (OTLP resources) and the instrumentation scopes they report.
//!
//! Fifteen services in the style of the OpenTelemetry demo, written in different languages, each with a few pods
//! on a Kubernetes cluster. Every pod is one OTLP resource with the attributes an SDK plus the k8s detector report
//! (`service.*`, `telemetry.sdk.*`, `k8s.*`, `host.*`, `container.id`, `cloud.*`, `process.runtime.*`). Pod
//! counts follow each service's share of the spans, so that every pod's batch processor fills at a similar rate.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::Rng;
use rand::rngs::StdRng;

/// A service of the shop; the discriminant indexes [`SERVICES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Svc {
    Frontend,
    Checkout,
    Cart,
    Catalog,
    Currency,
    Recommendation,
    Ad,
    Payment,
    Shipping,
    Email,
    Accounting,
    FraudDetection,
    User,
    Auth,
    Order,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Go,
    Java,
    Node,
    Python,
    DotNet,
    Cpp,
    Ruby,
    Rust,
}

impl Language {
    fn sdk(self) -> (&'static str, &'static str, &'static str, &'static str) {
        // telemetry.sdk.language, telemetry.sdk.version, process.runtime.name, process.runtime.version
        match self {
            Language::Go => ("go", "1.32.0", "go", "go1.23.4"),
            Language::Java => ("java", "1.44.1", "OpenJDK Runtime Environment", "21.0.5+11-LTS"),
            Language::Node => ("nodejs", "1.28.0", "nodejs", "22.11.0"),
            Language::Python => ("python", "1.28.2", "cpython", "3.12.7"),
            Language::DotNet => ("dotnet", "1.10.0", ".NET", "8.0.11"),
            Language::Cpp => ("cpp", "1.17.0", "cpp", "gcc-13.2"),
            Language::Ruby => ("ruby", "1.4.1", "ruby", "3.3.6"),
            Language::Rust => ("rust", "0.27.1", "rustc", "1.83.0"),
        }
    }
}

/// How a service is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
    /// Only reached through Kafka.
    Kafka,
}

pub struct ServiceSpec {
    pub svc: Svc,
    pub name: &'static str,
    pub language: Language,
    pub protocol: Protocol,
    pub version: &'static str,
    pub pods: usize,
    /// gRPC service name (`rpc.service`) or the HTTP host name other services use.
    pub rpc_service: &'static str,
    pub port: u16,
}

pub const SERVICES: [ServiceSpec; 15] = [
    spec(Svc::Frontend, "frontend", Language::Node, Protocol::Http, "2.14.3", 6, "frontend", 8080),
    spec(Svc::Checkout, "checkout", Language::Go, Protocol::Grpc, "1.9.2", 3, "oteldemo.CheckoutService", 5050),
    spec(Svc::Cart, "cart", Language::DotNet, Protocol::Grpc, "3.2.0", 3, "oteldemo.CartService", 7070),
    spec(
        Svc::Catalog,
        "product-catalog",
        Language::Go,
        Protocol::Grpc,
        "4.0.1",
        6,
        "oteldemo.ProductCatalogService",
        3550,
    ),
    spec(Svc::Currency, "currency", Language::Cpp, Protocol::Grpc, "1.3.7", 4, "oteldemo.CurrencyService", 7001),
    spec(
        Svc::Recommendation,
        "recommendation",
        Language::Python,
        Protocol::Grpc,
        "2.5.0",
        2,
        "oteldemo.RecommendationService",
        9001,
    ),
    spec(Svc::Ad, "ad", Language::Java, Protocol::Grpc, "1.12.4", 2, "oteldemo.AdService", 9555),
    spec(Svc::Payment, "payment", Language::Node, Protocol::Grpc, "3.0.9", 1, "oteldemo.PaymentService", 50051),
    spec(Svc::Shipping, "shipping", Language::Rust, Protocol::Http, "1.6.0", 2, "shipping", 50050),
    spec(Svc::Email, "email", Language::Ruby, Protocol::Kafka, "1.1.3", 1, "email", 6060),
    spec(Svc::Accounting, "accounting", Language::DotNet, Protocol::Kafka, "1.4.0", 1, "accounting", 0),
    spec(Svc::FraudDetection, "fraud-detection", Language::Java, Protocol::Kafka, "2.0.2", 1, "fraud-detection", 0),
    spec(Svc::User, "user", Language::Java, Protocol::Http, "5.3.1", 2, "user", 8081),
    spec(Svc::Auth, "auth", Language::Go, Protocol::Http, "2.8.0", 3, "auth", 8082),
    spec(Svc::Order, "order", Language::Java, Protocol::Http, "3.7.2", 1, "order", 8083),
];

#[allow(clippy::too_many_arguments)]
const fn spec(
    svc: Svc,
    name: &'static str,
    language: Language,
    protocol: Protocol,
    version: &'static str,
    pods: usize,
    rpc_service: &'static str,
    port: u16,
) -> ServiceSpec {
    ServiceSpec { svc, name, language, protocol, version, pods, rpc_service, port }
}

impl Svc {
    pub fn spec(self) -> &'static ServiceSpec {
        let spec = &SERVICES[self as usize];
        debug_assert_eq!(spec.svc, self);
        spec
    }
}

/// What produced a span: one instrumentation scope per kind and language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKind {
    HttpServer,
    HttpClient,
    Grpc,
    Postgres,
    Redis,
    Kafka,
    /// Manual spans of the application (the tracer is named after the service).
    App,
}

pub fn scope(language: Language, kind: ScopeKind, service: &str) -> InstrumentationScope {
    let (name, version): (&str, &str) = match (language, kind) {
        (_, ScopeKind::App) => (service, ""),
        (Language::Go, ScopeKind::HttpServer | ScopeKind::HttpClient) => {
            ("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", "0.57.0")
        }
        (Language::Go, ScopeKind::Grpc) => {
            ("go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "0.57.0")
        }
        (Language::Go, ScopeKind::Postgres) => ("github.com/XSAM/otelsql", "0.35.0"),
        (Language::Go, ScopeKind::Redis) => ("github.com/redis/go-redis/extra/redisotel", "9.7.0"),
        (Language::Go, ScopeKind::Kafka) => ("github.com/IBM/sarama/otelsarama", "0.31.0"),
        (Language::Java, ScopeKind::HttpServer) => ("io.opentelemetry.tomcat-10.0", "2.10.0-alpha"),
        (Language::Java, ScopeKind::HttpClient) => ("io.opentelemetry.java-http-client", "2.10.0-alpha"),
        (Language::Java, ScopeKind::Grpc) => ("io.opentelemetry.grpc-1.6", "2.10.0-alpha"),
        (Language::Java, ScopeKind::Postgres) => ("io.opentelemetry.jdbc", "2.10.0-alpha"),
        (Language::Java, ScopeKind::Redis) => ("io.opentelemetry.lettuce-5.1", "2.10.0-alpha"),
        (Language::Java, ScopeKind::Kafka) => ("io.opentelemetry.kafka-clients-0.11", "2.10.0-alpha"),
        (Language::Node, ScopeKind::HttpServer | ScopeKind::HttpClient) => {
            ("@opentelemetry/instrumentation-http", "0.55.0")
        }
        (Language::Node, ScopeKind::Grpc) => ("@opentelemetry/instrumentation-grpc", "0.55.0"),
        (Language::Node, ScopeKind::Postgres) => ("@opentelemetry/instrumentation-pg", "0.49.0"),
        (Language::Node, ScopeKind::Redis) => ("@opentelemetry/instrumentation-ioredis", "0.45.0"),
        (Language::Node, ScopeKind::Kafka) => ("@opentelemetry/instrumentation-kafkajs", "0.5.0"),
        (Language::Python, ScopeKind::HttpServer | ScopeKind::HttpClient) => {
            ("opentelemetry.instrumentation.requests", "0.49b2")
        }
        (Language::Python, ScopeKind::Grpc) => ("opentelemetry.instrumentation.grpc", "0.49b2"),
        (Language::Python, ScopeKind::Postgres) => ("opentelemetry.instrumentation.psycopg", "0.49b2"),
        (Language::Python, ScopeKind::Redis) => ("opentelemetry.instrumentation.redis", "0.49b2"),
        (Language::Python, ScopeKind::Kafka) => ("opentelemetry.instrumentation.kafka", "0.49b2"),
        (Language::DotNet, ScopeKind::HttpServer) => ("Microsoft.AspNetCore", "8.0.0.0"),
        (Language::DotNet, ScopeKind::HttpClient) => ("System.Net.Http", "8.0.0.0"),
        (Language::DotNet, ScopeKind::Grpc) => ("OpenTelemetry.Instrumentation.GrpcNetClient", "1.10.0-beta.1"),
        (Language::DotNet, ScopeKind::Postgres) => ("Npgsql", "8.0.5"),
        (Language::DotNet, ScopeKind::Redis) => ("OpenTelemetry.Instrumentation.StackExchangeRedis", "1.10.0-beta.1"),
        (Language::DotNet, ScopeKind::Kafka) => ("Confluent.Kafka.Extensions.OpenTelemetry", "0.4.0"),
        (Language::Cpp | Language::Ruby | Language::Rust, other) => {
            let name = match other {
                ScopeKind::HttpServer | ScopeKind::HttpClient => "http",
                ScopeKind::Grpc => "grpc",
                ScopeKind::Postgres => "pg",
                ScopeKind::Redis => "redis",
                _ => "kafka",
            };
            return InstrumentationScope {
                name: format!("{}-{name}", service_sdk_prefix(language)),
                version: "1.0.0".to_string(),
                ..Default::default()
            };
        }
    };
    InstrumentationScope { name: name.to_string(), version: version.to_string(), ..Default::default() }
}

fn service_sdk_prefix(language: Language) -> &'static str {
    match language {
        Language::Cpp => "opentelemetry-cpp",
        Language::Ruby => "OpenTelemetry::Instrumentation",
        _ => "opentelemetry-rust",
    }
}

/// One pod: an OTLP resource and the address other spans see it at.
pub struct Pod {
    pub svc: Svc,
    pub resource: Resource,
    pub ip: String,
}

pub struct Topology {
    pub pods: Vec<Pod>,
    /// Index into `pods` of each service's first pod (pods of a service are contiguous).
    first_pod: Vec<usize>,
}

pub const NAMESPACE: &str = "shop";
const NODES: usize = 12;
const ZONES: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

impl Topology {
    pub fn new(rng: &mut StdRng) -> Topology {
        let mut pods = Vec::new();
        let mut first_pod = Vec::new();
        for service in &SERVICES {
            first_pod.push(pods.len());
            let replica_set = format!("{:010x}", rng.random::<u64>() & 0xff_ffff_ffff)[..9].to_string();
            for _ in 0..service.pods {
                let suffix: String =
                    (0..5).map(|_| b"bcdfghjklmnpqrstvwxz2456789"[rng.random_range(0..27)] as char).collect();
                let pod_name = format!("{}-{replica_set}-{suffix}", service.name);
                let node = rng.random_range(0..NODES);
                let ip = format!("10.42.{}.{}", node, rng.random_range(2..250));
                let (sdk_language, sdk_version, runtime, runtime_version) = service.language.sdk();
                let mut attributes = vec![
                    string("service.name", service.name),
                    string("service.namespace", NAMESPACE),
                    string("service.version", service.version),
                    string("service.instance.id", &uuid(rng)),
                    string("deployment.environment", "production"),
                    string("telemetry.sdk.name", "opentelemetry"),
                    string("telemetry.sdk.language", sdk_language),
                    string("telemetry.sdk.version", sdk_version),
                    string("process.runtime.name", runtime),
                    string("process.runtime.version", runtime_version),
                    int("process.pid", rng.random_range(1..64) as i64),
                    string("host.name", &pod_name),
                    string("host.arch", "amd64"),
                    string("os.type", "linux"),
                    string(
                        "container.id",
                        &format!(
                            "{:016x}{:016x}{:016x}{:016x}",
                            rng.random::<u64>(),
                            rng.random::<u64>(),
                            rng.random::<u64>(),
                            rng.random::<u64>()
                        ),
                    ),
                    string("k8s.cluster.name", "prod-eu-west-1"),
                    string("k8s.namespace.name", NAMESPACE),
                    string("k8s.deployment.name", service.name),
                    string("k8s.replicaset.name", &format!("{}-{replica_set}", service.name)),
                    string("k8s.pod.name", &pod_name),
                    string("k8s.pod.uid", &uuid(rng)),
                    string("k8s.pod.ip", &ip),
                    string(
                        "k8s.node.name",
                        &format!("ip-10-0-{}-{}.eu-west-1.compute.internal", node * 16 % 256, 10 + node),
                    ),
                    string("cloud.provider", "aws"),
                    string("cloud.platform", "aws_eks"),
                    string("cloud.region", "eu-west-1"),
                    string("cloud.availability_zone", ZONES[node % ZONES.len()]),
                ];
                if service.language == Language::Java {
                    attributes.push(string(
                        "process.runtime.description",
                        "Eclipse Adoptium OpenJDK 64-Bit Server VM 21.0.5+11-LTS",
                    ));
                }
                pods.push(Pod { svc: service.svc, resource: Resource { attributes, ..Default::default() }, ip });
            }
        }
        Topology { pods, first_pod }
    }

    /// A pod of `svc`, chosen as a load balancer would (uniformly).
    pub fn pick_pod(&self, rng: &mut StdRng, svc: Svc) -> usize {
        self.first_pod[svc as usize] + rng.random_range(0..svc.spec().pods)
    }
}

pub fn uuid(rng: &mut StdRng) -> String {
    let high: u64 = rng.random();
    let low: u64 = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        (low >> 48) & 0x3fff | 0x8000,
        low & 0xffff_ffff_ffff
    )
}

pub fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }),
        ..Default::default()
    }
}

pub fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..Default::default()
    }
}

pub fn boolean(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::BoolValue(value)) }),
        ..Default::default()
    }
}
