//! The services of the simulated fleet: their HTTP routes (handler, method, status codes, traffic, latency) and
//! job queues. Hosts run an instance of one service each, round robin.

/// One HTTP route of a service: its handler pattern, method, the status codes it answers with (the first is the
/// success code, which takes what the others leave), its average request rate per instance and median latency.
pub struct RouteSpec {
    pub handler: &'static str,
    pub method: &'static str,
    pub codes: &'static [&'static str],
    pub requests_per_second: f64,
    pub median_latency_seconds: f64,
}

/// A service that several hosts run an instance of.
pub struct ServiceSpec {
    pub job: &'static str,
    pub routes: &'static [RouteSpec],
    pub queues: &'static [&'static str],
}

const fn route(
    method: &'static str,
    handler: &'static str,
    codes: &'static [&'static str],
    requests_per_second: f64,
    median_latency_seconds: f64,
) -> RouteSpec {
    RouteSpec { handler, method, codes, requests_per_second, median_latency_seconds }
}

/// The services hosts are assigned to, round robin.
pub const SERVICES: [ServiceSpec; 3] = [
    ServiceSpec {
        job: "storefront-api",
        routes: &[
            route("GET", "/api/v1/products", &["200", "304", "400", "500"], 40.0, 0.018),
            route("GET", "/api/v1/products/{id}", &["200", "304", "404", "500"], 120.0, 0.009),
            route("GET", "/api/v1/cart", &["200", "401", "500"], 30.0, 0.012),
            route("POST", "/api/v1/cart/items", &["201", "400", "409", "500"], 8.0, 0.035),
            route("DELETE", "/api/v1/cart/items/{id}", &["204", "404", "500"], 2.0, 0.03),
            route("GET", "/api/v1/search", &["200", "400", "500", "503"], 25.0, 0.085),
            route("POST", "/api/v1/orders", &["201", "400", "402", "500", "503"], 1.5, 0.32),
            route("GET", "/api/v1/orders/{id}", &["200", "404", "500"], 4.0, 0.021),
            route("GET", "/healthz", &["200"], 0.2, 0.0008),
        ],
        queues: &["email", "order-events", "thumbnails"],
    },
    ServiceSpec {
        job: "payments",
        routes: &[
            route("POST", "/v2/charges", &["201", "400", "402", "409", "500", "502"], 3.0, 0.41),
            route("GET", "/v2/charges/{id}", &["200", "404", "500"], 6.0, 0.015),
            route("POST", "/v2/refunds", &["201", "400", "404", "500"], 0.3, 0.38),
            route("POST", "/v2/webhooks/{provider}", &["200", "400", "401", "500"], 5.0, 0.028),
            route("GET", "/v2/customers/{id}/methods", &["200", "404", "500"], 4.0, 0.022),
            route("PUT", "/v2/customers/{id}", &["200", "400", "404", "500"], 0.8, 0.045),
            route("GET", "/healthz", &["200"], 0.2, 0.0007),
            route("GET", "/readyz", &["200", "503"], 0.1, 0.0011),
        ],
        queues: &["settlement", "webhook-retries", "ledger"],
    },
    ServiceSpec {
        job: "identity",
        routes: &[
            route("POST", "/oauth/token", &["200", "400", "401", "429", "500"], 35.0, 0.052),
            route("GET", "/oauth/userinfo", &["200", "401", "500"], 60.0, 0.006),
            route("POST", "/v1/sessions", &["201", "400", "401", "429", "500"], 6.0, 0.11),
            route("DELETE", "/v1/sessions/{id}", &["204", "404", "500"], 2.0, 0.014),
            route("GET", "/v1/users/{id}", &["200", "404", "500"], 20.0, 0.011),
            route("PATCH", "/v1/users/{id}", &["200", "400", "404", "409", "500"], 0.6, 0.04),
            route("GET", "/.well-known/jwks.json", &["200", "304"], 3.0, 0.0015),
            route("GET", "/healthz", &["200"], 0.2, 0.0006),
        ],
        queues: &["audit-log", "password-reset-mail"],
    },
];
