//! One user request to the shop, as the trace its services would report.
//!
//! Every trace starts at `frontend` (an HTTP server span) on one of nine routes (product page, search, cart, add to
//! cart, checkout, order status, login, recommendations, profile). A call to another service is a CLIENT span in
//! the caller and a SERVER span in a pod of the callee (gRPC or HTTP, with `rpc.*` or `http.*` attributes); a
//! database call is a CLIENT span with `db.*` attributes (PostgreSQL with the SQL statement, Redis with the command
//! and its key); an order placed at checkout is published to Kafka and consumed by three services (PRODUCER and
//! CONSUMER spans). The call graph keeps every trace within [`MAX_DEPTH`] levels. Durations are log-normal per
//! operation, with a slow payment gateway now and then; user ids, session ids, order ids, product ids, client
//! addresses and Redis keys make high-cardinality attributes. In an error trace one failure point fails (a
//! database or Redis timeout, a declined gateway call): that span gets an exception event, and the error travels up
//! to the root with HTTP 5xx or gRPC status codes.

use std::collections::VecDeque;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use rand::Rng;
use rand::rngs::StdRng;

use crate::topology::{Language, ScopeKind, Svc, Topology, int, string};
use crate::trace_builder::{ErrorPlan, TraceBuilder};

use calls::node_stack;

mod calls;

/// Distinct users (`user.id`); about 80 % of requests are from a logged-in user.
const USERS: u32 = 400_000;
const PRODUCTS: usize = 5_000;
/// Orders remembered for the order-status route.
const RECENT_ORDERS: usize = 2_000;

#[derive(Clone, Copy)]
pub struct Outcome {
    pub end: u64,
    pub failed: bool,
}

/// The far end of a call.
enum Rpc {
    Grpc(&'static str),
    Http { method: &'static str, route: &'static str, target: String },
}

/// What [`Shop::request`] reports about the trace it built, besides its spans.
pub struct TraceFacts {
    pub route: &'static str,
    pub user_id: Option<String>,
    /// The order placed (checkout) or looked up (order status).
    pub order_id: Option<String>,
}

/// State that lives across requests.
pub struct Shop {
    pub topology: Topology,
    products: Vec<String>,
    recent_orders: VecDeque<String>,
}

/// One request in progress.
struct Request<'a> {
    shop: &'a mut Shop,
    rng: &'a mut StdRng,
    trace: TraceBuilder,
    user_id: Option<String>,
    order_id: Option<String>,
}

const ROUTES: [(&str, u32); 9] = [
    ("GET /api/products/{productId}", 28),
    ("GET /api/products", 12),
    ("GET /api/cart", 14),
    ("POST /api/cart/items", 10),
    ("POST /api/checkout", 8),
    ("GET /api/orders/{orderId}", 6),
    ("POST /api/login", 5),
    ("GET /api/recommendations", 10),
    ("GET /api/users/me", 7),
];

const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "ShopApp/5.12.1 (iOS 18.1; iPhone15,3)",
    "ShopApp/5.12.0 (Android 14; Pixel 8)",
];

const CURRENCIES: [&str; 6] = ["EUR", "USD", "GBP", "JPY", "CAD", "CHF"];
const SEARCH_WORDS: [&str; 10] =
    ["shoes", "jacket", "lamp", "coffee", "phone", "charger", "desk", "chair", "socks", "watch"];

impl Shop {
    pub fn new(rng: &mut StdRng) -> Shop {
        let topology = Topology::new(rng);
        let products = (0..PRODUCTS)
            .map(|_| {
                (0..10).map(|_| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[rng.random_range(0..36)] as char).collect()
            })
            .collect();
        Shop { topology, products, recent_orders: VecDeque::with_capacity(RECENT_ORDERS) }
    }

    /// Builds the trace of one request starting at `start_ns`; `error` makes it an error trace.
    pub fn request(&mut self, rng: &mut StdRng, start_ns: u64, error: bool) -> (TraceBuilder, TraceFacts) {
        let trace_id: [u8; 16] = rng.random::<u128>().max(1).to_be_bytes();
        let error_plan = error.then(|| ErrorPlan { countdown: rng.random_range(0..6), fired: false });
        let mut request =
            Request { shop: self, rng, trace: TraceBuilder::new(trace_id, error_plan), user_id: None, order_id: None };
        let route = request.root(start_ns);
        let facts = TraceFacts { route, user_id: request.user_id.take(), order_id: request.order_id.take() };
        (request.trace, facts)
    }
}

impl Request<'_> {
    // --- timing ----------------------------------------------------------------------------------------------

    /// A log-normal duration in ns with the given median (ms) and spread.
    fn work(&mut self, median_ms: f64, sigma: f64) -> u64 {
        let u1: f64 = self.rng.random::<f64>().max(1e-12);
        let u2: f64 = self.rng.random();
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (median_ms * (sigma * normal).exp() * 1e6) as u64
    }

    /// Network time between a client span and its server span.
    fn network(&mut self) -> u64 {
        self.rng.random_range(60_000..450_000)
    }

    fn pod_language(&self, pod: usize) -> Language {
        self.shop.topology.pods[pod].svc.spec().language
    }

    // --- the root ----------------------------------------------------------------------------------------------

    fn root(&mut self, start: u64) -> &'static str {
        let total: u32 = ROUTES.iter().map(|(_, weight)| weight).sum();
        let mut pick = self.rng.random_range(0..total);
        let mut route_index = 0;
        while pick >= ROUTES[route_index].1 {
            pick -= ROUTES[route_index].1;
            route_index += 1;
        }
        let route = ROUTES[route_index].0;
        let (method, path) = route.split_once(' ').unwrap_or(("GET", route));
        let pod = self.shop.topology.pick_pod(self.rng, Svc::Frontend);
        let root =
            self.trace.open(self.rng, None, pod, ScopeKind::HttpServer, SpanKind::Server, route.to_string(), start);
        let logged_in = route == "POST /api/login" || self.rng.random_bool(0.8);
        if logged_in {
            self.user_id = Some(format!("u{:07}", self.rng.random_range(1..=USERS)));
        }
        let product = self.product();
        let target = match route_index {
            0 => format!("/api/products/{product}"),
            1 => format!(
                "/api/products?q={}&page={}",
                SEARCH_WORDS[self.rng.random_range(0..SEARCH_WORDS.len())],
                self.rng.random_range(1..4)
            ),
            5 => {
                let order = self.existing_order();
                let target = format!("/api/orders/{order}");
                self.order_id = Some(order);
                target
            }
            _ => path.to_string(),
        };
        let user_agent = USER_AGENTS[self.rng.random_range(0..USER_AGENTS.len())];
        let client_ip = format!(
            "{}.{}.{}.{}",
            self.rng.random_range(31..220),
            self.rng.random_range(0..256),
            self.rng.random_range(0..256),
            self.rng.random_range(1..255)
        );
        let session = format!("{:032x}", self.rng.random::<u128>());
        for attribute in [
            string("http.method", method),
            string("http.route", path),
            string("http.target", &target),
            string("http.scheme", "https"),
            string("http.flavor", "1.1"),
            string("net.host.name", "shop.example.com"),
            int("net.host.port", 443),
            string("http.user_agent", user_agent),
            string("http.client_ip", &client_ip),
            string("session.id", &session),
        ] {
            self.trace.attr(root, attribute);
        }
        if let Some(user) = self.user_id.clone() {
            self.trace.attr(root, string("user.id", &user));
        }

        let mut t = start + self.work(0.4, 0.5);
        if logged_in && route_index != 6 {
            let outcome = self.validate_session(root, pod, t, &session);
            t = outcome.end;
            if outcome.failed {
                self.finish_root(root, t, true, 200);
                return route;
            }
        }
        let outcome = match route_index {
            0 => self.product_page(root, pod, t, product),
            1 => self.search(root, pod, t),
            2 => self.view_cart(root, pod, t),
            3 => self.add_to_cart(root, pod, t, product),
            4 => self.checkout(root, pod, t),
            5 => self.order_status(root, pod, t),
            6 => self.login(root, pod, t),
            7 => self.recommendations(root, pod, t),
            _ => self.profile(root, pod, t),
        };
        let mut failed = outcome.failed;
        if !failed && self.trace.error_plan.as_ref().is_some_and(|plan| !plan.fired) {
            // An error trace whose planned failure point was never reached fails in the frontend itself.
            self.trace.failure_point();
            failed = true;
            self.trace.exception(
                root,
                outcome.end,
                "TypeError",
                "Cannot read properties of undefined (reading 'priceUsd')",
                node_stack("frontend", "renderPage"),
            );
        }
        let status = match route_index {
            3 | 4 => 201,
            6 if self.rng.random_bool(0.06) => 401,
            0 if self.rng.random_bool(0.01) => 404,
            _ => 200,
        };
        let end = outcome.end + self.work(0.8, 0.6);
        self.finish_root(root, end, failed, status);
        route
    }

    fn finish_root(&mut self, root: usize, end: u64, failed: bool, status: i64) {
        if failed {
            self.trace.attr(root, int("http.status_code", 500));
            self.trace.set_error(root, "Internal Server Error");
            if self.trace.spans[root].span.events.is_empty() {
                let message = "upstream request failed";
                self.trace.exception(root, end, "Error", message, node_stack("frontend", "handleRequest"));
            }
        } else {
            self.trace.attr(root, int("http.status_code", status));
        }
        self.trace.close(root, end);
    }

    // --- routes (frontend handlers) ----------------------------------------------------------------------------

    fn product_page(&mut self, root: usize, pod: usize, t: u64, product: String) -> Outcome {
        let got = self.call(root, pod, Svc::Catalog, Rpc::Grpc("GetProduct"), t, |r, span, callee, start| {
            r.get_product(span, callee, start, &product)
        });
        if got.failed {
            return got;
        }
        // Price, recommendations, ads and (for a logged-in user) the cart badge in parallel.
        let t = got.end + self.work(0.2, 0.4);
        let badge = if self.user_id.is_some() {
            let items = self.rng.random_range(0..4);
            self.get_cart(root, pod, t, items)
        } else {
            Outcome { end: t, failed: false }
        };
        let price = self.convert_currency(root, pod, t);
        let recommended =
            self.call(root, pod, Svc::Recommendation, Rpc::Grpc("ListRecommendations"), t, |r, span, callee, start| {
                r.list_recommendations(span, callee, start)
            });
        let ads = self.call(root, pod, Svc::Ad, Rpc::Grpc("GetAds"), t, |r, span, callee, start| {
            let lookup = r.internal(span, callee, "ad.lookup", start + 50_000, 0.6);
            Outcome { end: lookup.end + r.work(0.2, 0.3), failed: false }
        });
        let end = price.end.max(recommended.end).max(ads.end).max(badge.end);
        let failed = badge.failed || price.failed || recommended.failed || ads.failed;
        if failed {
            return Outcome { end, failed };
        }
        self.internal(root, pod, "render product page", end, 2.0)
    }

    fn search(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let word = SEARCH_WORDS[self.rng.random_range(0..SEARCH_WORDS.len())];
        let found = self.call(root, pod, Svc::Catalog, Rpc::Grpc("SearchProducts"), t, |r, span, callee, start| {
            r.trace.attr(span, string("app.search.query", word));
            let slow = if r.rng.random_bool(0.01) { 25.0 } else { 4.0 };
            let statement = "SELECT id, name, description, picture, price_usd FROM products WHERE name ILIKE $1 OR description ILIKE $1 ORDER BY popularity DESC LIMIT 20";
            let query = r.postgres(span, callee, start + 100_000, "SELECT", "products", statement, slow);
            Outcome { end: query.end + r.work(0.3, 0.4), failed: query.failed }
        });
        if found.failed {
            return found;
        }
        let results = self.rng.random_range(3..11);
        self.trace.attr(root, int("app.search.results", results));
        let mut t = found.end;
        for _ in 0..results {
            let price = self.convert_currency(root, pod, t);
            t = price.end;
            if price.failed {
                return price;
            }
        }
        self.internal(root, pod, "render search results", t, 1.5)
    }

    fn view_cart(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let items = self.rng.random_range(1..6);
        let cart = self.get_cart(root, pod, t, items);
        if cart.failed {
            return cart;
        }
        let mut t = cart.end;
        for _ in 0..items {
            let product = self.product();
            let got = self.call(root, pod, Svc::Catalog, Rpc::Grpc("GetProduct"), t, |r, span, callee, start| {
                r.get_product(span, callee, start, &product)
            });
            if got.failed {
                return got;
            }
            let price = self.convert_currency(root, pod, got.end);
            t = price.end;
            if price.failed {
                return price;
            }
        }
        let quote = self.shipping_quote(root, pod, t, items);
        if quote.failed {
            return quote;
        }
        self.internal(root, pod, "render cart", quote.end, 1.2)
    }

    fn add_to_cart(&mut self, root: usize, pod: usize, t: u64, product: String) -> Outcome {
        let got = self.call(root, pod, Svc::Catalog, Rpc::Grpc("GetProduct"), t, |r, span, callee, start| {
            r.get_product(span, callee, start, &product)
        });
        if got.failed {
            return got;
        }
        let user = self.user_key();
        self.call(root, pod, Svc::Cart, Rpc::Grpc("AddItem"), got.end, |r, span, callee, start| {
            r.trace.attr(span, string("app.product.id", &product));
            r.trace.attr(span, int("app.product.quantity", r.rng.random_range(1..4)));
            let set = r.redis(span, callee, start + 80_000, "HSET", format!("cart:{user} {product}"));
            if set.failed {
                return set;
            }
            let expire = r.redis(span, callee, set.end + 30_000, "EXPIRE", format!("cart:{user} 3600"));
            Outcome { end: expire.end + r.work(0.1, 0.3), failed: expire.failed }
        })
    }

    fn checkout(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let order_id = format!("ORD-{:012X}", self.rng.random::<u64>() & 0xffff_ffff_ffff);
        self.order_id = Some(order_id.clone());
        self.trace.attr(root, string("order.id", &order_id));
        let items = self.rng.random_range(1..6);
        let outcome = self.call(root, pod, Svc::Checkout, Rpc::Grpc("PlaceOrder"), t, |r, span, callee, start| {
            r.place_order(span, callee, start, &order_id, items)
        });
        if !outcome.failed {
            if self.shop.recent_orders.len() == RECENT_ORDERS {
                self.shop.recent_orders.pop_front();
            }
            self.shop.recent_orders.push_back(order_id);
        }
        outcome
    }

    fn order_status(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let order_id = self.order_id.clone().unwrap_or_default();
        let target = format!("/orders/{order_id}");
        self.call(
            root,
            pod,
            Svc::Order,
            Rpc::Http { method: "GET", route: "/orders/{orderId}", target },
            t,
            |r, span, callee, start| {
                r.trace.attr(span, string("order.id", &order_id));
                let order = r.postgres(
                    span,
                    callee,
                    start + 150_000,
                    "SELECT",
                    "orders",
                    "SELECT id, user_id, status, total_cents, currency, created_at FROM orders WHERE id = ?",
                    1.2,
                );
                if order.failed {
                    return order;
                }
                let lines = r.postgres(
                    span,
                    callee,
                    order.end + 50_000,
                    "SELECT",
                    "order_items",
                    "SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = ?",
                    1.0,
                );
                if lines.failed {
                    return lines;
                }
                let tracking = format!("/shipping/status/{:010}", r.rng.random_range(0..10_000_000_000u64));
                let status = r.call(
                    span,
                    callee,
                    Svc::Shipping,
                    Rpc::Http { method: "GET", route: "/shipping/status/{trackingId}", target: tracking },
                    lines.end,
                    |r, span, callee, start| {
                        let lookup = r.internal(span, callee, "carrier status lookup", start + 40_000, 3.0);
                        Outcome { end: lookup.end + r.work(0.1, 0.3), failed: false }
                    },
                );
                Outcome { end: status.end + r.work(0.3, 0.4), failed: status.failed }
            },
        )
    }

    fn login(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let target = "/auth/login".to_string();
        self.call(
            root,
            pod,
            Svc::Auth,
            Rpc::Http { method: "POST", route: "/auth/login", target },
            t,
            |r, span, callee, start| {
                let user = r.call(
                    span,
                    callee,
                    Svc::User,
                    Rpc::Http { method: "GET", route: "/users/by-email", target: "/users/by-email".to_string() },
                    start + 100_000,
                    |r, span, callee, start| {
                        let query = r.postgres(
                            span,
                            callee,
                            start + 100_000,
                            "SELECT",
                            "users",
                            "SELECT id, email, password_hash, status FROM users WHERE email = ?",
                            1.0,
                        );
                        Outcome { end: query.end + r.work(0.3, 0.3), failed: query.failed }
                    },
                );
                if user.failed {
                    return user;
                }
                let verify = r.internal(span, callee, "bcrypt.CompareHashAndPassword", user.end, 45.0);
                let session = format!("session:{:032x} EX 86400", r.rng.random::<u128>());
                let stored = r.redis(span, callee, verify.end + 20_000, "SET", session);
                Outcome { end: stored.end + r.work(0.2, 0.3), failed: stored.failed }
            },
        )
    }

    fn recommendations(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let recommended =
            self.call(root, pod, Svc::Recommendation, Rpc::Grpc("ListRecommendations"), t, |r, span, callee, start| {
                r.list_recommendations(span, callee, start)
            });
        if recommended.failed {
            return recommended;
        }
        self.call(root, pod, Svc::Ad, Rpc::Grpc("GetAds"), recommended.end, |r, span, callee, start| {
            let lookup = r.internal(span, callee, "ad.lookup", start + 50_000, 0.6);
            Outcome { end: lookup.end + r.work(0.2, 0.3), failed: false }
        })
    }

    fn profile(&mut self, root: usize, pod: usize, t: u64) -> Outcome {
        let user = self.user_key();
        let target = format!("/users/{user}");
        let got = self.call(
            root,
            pod,
            Svc::User,
            Rpc::Http { method: "GET", route: "/users/{userId}", target },
            t,
            |r, span, callee, start| {
                let cached = r.redis(span, callee, start + 60_000, "GET", format!("user:{user}"));
                if cached.failed || r.rng.random_bool(0.7) {
                    return Outcome { end: cached.end + r.work(0.2, 0.3), failed: cached.failed };
                }
                let query = r.postgres(
                    span,
                    callee,
                    cached.end + 30_000,
                    "SELECT",
                    "users",
                    "SELECT id, email, name, address, created_at FROM users WHERE id = ?",
                    1.0,
                );
                Outcome { end: query.end + r.work(0.2, 0.3), failed: query.failed }
            },
        );
        if got.failed {
            return got;
        }
        let target = format!("/orders?userId={user}&limit=10");
        self.call(root, pod, Svc::Order, Rpc::Http { method: "GET", route: "/orders", target }, got.end, |r, span, callee, start| {
            let query = r.postgres(span, callee, start + 100_000, "SELECT", "orders",
                "SELECT id, status, total_cents, created_at FROM orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 10", 2.0);
            Outcome { end: query.end + r.work(0.3, 0.3), failed: query.failed }
        })
    }

    // --- service handlers --------------------------------------------------------------------------------------

    fn validate_session(&mut self, parent: usize, pod: usize, t: u64, session: &str) -> Outcome {
        let target = "/auth/validate".to_string();
        let session_key = format!("session:{session}");
        self.call(
            parent,
            pod,
            Svc::Auth,
            Rpc::Http { method: "GET", route: "/auth/validate", target },
            t,
            |r, span, callee, start| {
                let got = r.redis(span, callee, start + 40_000, "GET", session_key);
                Outcome { end: got.end + r.work(0.1, 0.3), failed: got.failed }
            },
        )
    }

    fn get_product(&mut self, span: usize, pod: usize, start: u64, product: &str) -> Outcome {
        self.trace.attr(span, string("app.product.id", product));
        let cached = self.redis(span, pod, start + 50_000, "GET", format!("product:{product}"));
        if cached.failed || self.rng.random_bool(0.8) {
            return Outcome { end: cached.end + self.work(0.1, 0.3), failed: cached.failed };
        }
        let query = self.postgres(
            span,
            pod,
            cached.end + 20_000,
            "SELECT",
            "products",
            "SELECT id, name, description, picture, price_usd, categories FROM products WHERE id = $1",
            0.9,
        );
        if query.failed {
            return query;
        }
        let stored = self.redis(span, pod, query.end + 20_000, "SET", format!("product:{product} EX 600"));
        Outcome { end: stored.end + self.work(0.1, 0.3), failed: stored.failed }
    }

    fn list_recommendations(&mut self, span: usize, pod: usize, start: u64) -> Outcome {
        let listed =
            self.call(span, pod, Svc::Catalog, Rpc::Grpc("ListProducts"), start + 200_000, |r, span, callee, start| {
                let query = r.postgres(
                    span,
                    callee,
                    start + 60_000,
                    "SELECT",
                    "products",
                    "SELECT id, name, picture, price_usd FROM products WHERE category = ANY($1) LIMIT 50",
                    2.5,
                );
                Outcome { end: query.end + r.work(0.5, 0.4), failed: query.failed }
            });
        let count = self.rng.random_range(3..6);
        self.trace.attr(span, int("app.recommendations.count", count));
        Outcome { end: listed.end + self.work(1.5, 0.5), failed: listed.failed }
    }

    fn get_cart(&mut self, parent: usize, pod: usize, t: u64, items: i64) -> Outcome {
        let user = self.user_key();
        self.call(parent, pod, Svc::Cart, Rpc::Grpc("GetCart"), t, |r, span, callee, start| {
            r.trace.attr(span, string("app.user.id", &user));
            r.trace.attr(span, int("app.cart.items.count", items));
            let got = r.redis(span, callee, start + 60_000, "HGETALL", format!("cart:{user}"));
            Outcome { end: got.end + r.work(0.15, 0.3), failed: got.failed }
        })
    }

    fn convert_currency(&mut self, parent: usize, pod: usize, t: u64) -> Outcome {
        let to = CURRENCIES[self.rng.random_range(0..CURRENCIES.len())];
        self.call(parent, pod, Svc::Currency, Rpc::Grpc("Convert"), t, |r, span, _callee, start| {
            r.trace.attr(span, string("app.currency.conversion.from", "USD"));
            r.trace.attr(span, string("app.currency.conversion.to", to));
            Outcome { end: start + r.work(0.15, 0.4), failed: false }
        })
    }

    fn shipping_quote(&mut self, parent: usize, pod: usize, t: u64, items: i64) -> Outcome {
        let target = "/shipping/quote".to_string();
        self.call(
            parent,
            pod,
            Svc::Shipping,
            Rpc::Http { method: "POST", route: "/shipping/quote", target },
            t,
            |r, span, callee, start| {
                r.trace.attr(span, int("app.shipping.items.count", items));
                let quote = r.internal(span, callee, "calculate quote", start + 30_000, 0.4);
                Outcome { end: quote.end + r.work(0.1, 0.3), failed: false }
            },
        )
    }

    /// checkout's PlaceOrder: the largest trace shape.
    fn place_order(&mut self, span: usize, pod: usize, start: u64, order_id: &str, items: i64) -> Outcome {
        self.trace.attr(span, string("order.id", order_id));
        if let Some(user) = self.user_id.clone() {
            self.trace.attr(span, string("user.id", &user));
        }
        self.trace.attr(span, int("app.order.items.count", items));
        let mut t = start + self.work(0.3, 0.4);
        macro_rules! step {
            ($outcome:expr) => {{
                let outcome = $outcome;
                t = outcome.end;
                if outcome.failed {
                    return outcome;
                }
            }};
        }
        step!(self.get_cart(span, pod, t, items));
        for _ in 0..items {
            let product = self.product();
            step!(self.call(span, pod, Svc::Catalog, Rpc::Grpc("GetProduct"), t, |r, server, callee, start| {
                r.trace.attr(server, string("app.product.id", &product));
                let cached = r.redis(server, callee, start + 50_000, "GET", format!("product:{product}"));
                Outcome { end: cached.end + r.work(0.1, 0.3), failed: cached.failed }
            }));
            step!(self.convert_currency(span, pod, t));
        }
        step!(self.shipping_quote(span, pod, t, items));
        let amount = self.rng.random_range(500..50_000);
        let order = order_id.to_string();
        step!(self.call(span, pod, Svc::Payment, Rpc::Grpc("Charge"), t, |r, server, callee, start| {
            r.trace.attr(server, string("order.id", &order));
            r.trace.attr(server, int("app.payment.amount_cents", amount));
            r.trace.attr(server, string("app.payment.card_type", ["visa", "mastercard", "amex"][r.rng.random_range(0..3)]));
            let valid = r.internal(server, callee, "validate card", start + 40_000, 0.3);
            let slow = r.rng.random_bool(0.03);
            let gateway = r.external(server, callee, valid.end, "POST", "https://api.payments.example.net/v1/charges", if slow { 900.0 } else { 110.0 });
            if gateway.failed {
                return gateway;
            }
            let stored = r.postgres(server, callee, gateway.end + 30_000, "INSERT", "payments",
                "INSERT INTO payments (order_id, amount_cents, currency, status, gateway_ref) VALUES ($1, $2, $3, $4, $5)", 1.8);
            Outcome { end: stored.end + r.work(0.2, 0.3), failed: stored.failed }
        }));
        let order = order_id.to_string();
        step!(self.call(
            span,
            pod,
            Svc::Shipping,
            Rpc::Http { method: "POST", route: "/shipping/orders", target: "/shipping/orders".to_string() },
            t,
            |r, server, callee, start| {
                r.trace.attr(server, string("order.id", &order));
                let tracking = r.internal(server, callee, "create tracking id", start + 30_000, 0.2);
                Outcome { end: tracking.end + r.work(0.1, 0.3), failed: false }
            }
        ));
        let user = self.user_key();
        step!(self.call(span, pod, Svc::Cart, Rpc::Grpc("EmptyCart"), t, |r, server, callee, start| {
            let deleted = r.redis(server, callee, start + 40_000, "DEL", format!("cart:{user}"));
            Outcome { end: deleted.end + r.work(0.1, 0.3), failed: deleted.failed }
        }));
        step!(self.postgres(span, pod, t + 50_000, "INSERT", "orders",
            "INSERT INTO orders (id, user_id, status, total_cents, currency, created_at) VALUES ($1, $2, $3, $4, $5, now())", 2.0));
        step!(self.postgres(span, pod, t + 20_000, "INSERT", "order_items",
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])", 1.5));
        step!(self.publish_order(span, pod, t, order_id));
        Outcome { end: t + self.work(0.3, 0.3), failed: false }
    }

    /// checkout publishes the order to Kafka; accounting, fraud-detection and email consume it.
    fn publish_order(&mut self, parent: usize, pod: usize, t: u64, order_id: &str) -> Outcome {
        let producer = self.trace.open(
            self.rng,
            Some(parent),
            pod,
            ScopeKind::Kafka,
            SpanKind::Producer,
            "orders publish".to_string(),
            t,
        );
        let partition = self.rng.random_range(0..12);
        for attribute in [
            string("messaging.system", "kafka"),
            string("messaging.operation", "publish"),
            string("messaging.destination.name", "orders"),
            int("messaging.kafka.destination.partition", partition),
            string("messaging.kafka.message.key", order_id),
            string("order.id", order_id),
        ] {
            self.trace.attr(producer, attribute);
        }
        let sent = t + self.work(1.2, 0.4);
        self.trace.close(producer, sent);
        let offset = self.rng.random_range(1_000_000..90_000_000);
        for (svc, work) in [
            (Svc::Accounting, "store order"),
            (Svc::FraudDetection, "score order"),
            (Svc::Email, "render confirmation"),
        ] {
            let consumer_pod = self.shop.topology.pick_pod(self.rng, svc);
            let received = sent + self.work(4.0, 0.8);
            let consumer = self.trace.open(
                self.rng,
                Some(producer),
                consumer_pod,
                ScopeKind::Kafka,
                SpanKind::Consumer,
                "orders process".to_string(),
                received,
            );
            for attribute in [
                string("messaging.system", "kafka"),
                string("messaging.operation", "process"),
                string("messaging.destination.name", "orders"),
                string("messaging.kafka.consumer.group", svc.spec().name),
                int("messaging.kafka.source.partition", partition),
                int("messaging.kafka.message.offset", offset),
                string("order.id", order_id),
            ] {
                self.trace.attr(consumer, attribute);
            }
            let done = match svc {
                Svc::Accounting => self.postgres(consumer, consumer_pod, received + 100_000, "INSERT", "ledger_entries",
                    "INSERT INTO ledger_entries (order_id, account, amount_cents, booked_at) VALUES ($1, $2, $3, now())", 1.5).end,
                _ => self.internal(consumer, consumer_pod, work, received + 80_000, if svc == Svc::Email { 6.0 } else { 2.5 }).end,
            };
            let finished = done + self.work(0.2, 0.3);
            self.trace.close(consumer, finished);
        }
        Outcome { end: sent, failed: false }
    }

    fn product(&mut self) -> String {
        self.shop.products[self.rng.random_range(0..self.shop.products.len())].clone()
    }

    /// The user's id, or an anonymous cart key.
    fn user_key(&mut self) -> String {
        match &self.user_id {
            Some(user) => user.clone(),
            None => format!("anon-{:016x}", self.rng.random::<u64>()),
        }
    }

    /// An order placed earlier (most lookups), or one from before the simulated window.
    fn existing_order(&mut self) -> String {
        let recent = &self.shop.recent_orders;
        if !recent.is_empty() && self.rng.random_bool(0.9) {
            return recent[self.rng.random_range(0..recent.len())].clone();
        }
        format!("ORD-{:012X}", self.rng.random::<u64>() & 0xffff_ffff_ffff)
    }
}
