//! Throughput of `GET /api/account` through the whole router, authenticated by a
//! personal API token (`Authorization: Bearer`) next to the same request with the session
//! cookie, on the in-memory store and on a SQLite file, with the same request without
//! credentials (its 401) as the baseline of the same run. Each iteration sends a batch of
//! concurrent requests, so criterion's throughput line reads as requests per second.
//!
//! ```sh
//! cargo bench -p account-tests --bench http_auth
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use account_axum::{AccountRouter, HttpConfig, RateLimits};
use account_core::mail::MemoryMailer;
use account_core::password::HashingConfig;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::{AccountConfig, Accounts};
use account_store_sqlx::testing::TestDatabase;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Requests in flight per iteration.
const BATCH: usize = 32;

const PASSWORD: &str = "correct horse battery staple";

fn request(method: &str, path: &str, auth: Option<(&str, &str)>, body: Value) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some((name, value)) = auth {
        builder = builder.header(name, value);
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        Body::from(body.to_string())
    };
    let mut request = builder.body(body).expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    request
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        cookie,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A router over `store` with one account, its session cookie and a read token.
async fn setup(store: Arc<dyn Store>) -> (Router, String, String) {
    let mut config = AccountConfig::new("http://localhost:8080".parse().expect("url"));
    config.hashing = HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
        max_waiting: 1024,
    };
    let accounts = Accounts::builder(store, Arc::new(MemoryMailer::new()), config).build();
    let mut http = HttpConfig::default();
    http.rate_limits = RateLimits::none();
    let router = AccountRouter::new(accounts, http).into_router();

    let signup = json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD});
    let (status, _, _) = send(&router, request("POST", "/api/auth/signup", None, signup)).await;
    assert_eq!(status, StatusCode::CREATED);
    let login = json!({"login": "ada", "password": PASSWORD});
    let (status, cookie, _) = send(&router, request("POST", "/api/auth/login", None, login)).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.expect("a session cookie");
    let (status, _, created) = send(
        &router,
        request(
            "POST",
            "/api/account/tokens",
            Some(("cookie", &cookie)),
            json!({"name": "bench", "scope": "read"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("the token").to_owned();
    (router, cookie, format!("Bearer {token}"))
}

fn get_account(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let db = TestDatabase::sqlite().expect("a temporary SQLite database");
    let stores: [(&str, Arc<dyn Store>); 2] = [
        ("memory", Arc::new(MemoryStore::new())),
        (
            "sqlite_file",
            Arc::new(runtime.block_on(db.store()).expect("a migrated store")),
        ),
    ];

    let mut group = c.benchmark_group("get_account");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, store) in stores {
        let (router, cookie, bearer) = runtime.block_on(setup(store));
        for (how, credentials, expected) in [
            ("cookie", Some(("cookie", cookie.clone())), StatusCode::OK),
            (
                "bearer",
                Some(("authorization", bearer.clone())),
                StatusCode::OK,
            ),
            ("unauthenticated", None, StatusCode::UNAUTHORIZED),
        ] {
            group.bench_function(format!("{how}/{name}"), |b| {
                b.to_async(&runtime).iter(|| {
                    let router = router.clone();
                    let credentials = credentials.clone();
                    async move {
                        let mut batch = tokio::task::JoinSet::new();
                        for _ in 0..BATCH {
                            let router = router.clone();
                            let credentials = credentials.clone();
                            batch.spawn(async move {
                                let req = request(
                                    "GET",
                                    "/api/account",
                                    credentials.as_ref().map(|(h, v)| (*h, v.as_str())),
                                    Value::Null,
                                );
                                let response = router.oneshot(req).await.expect("infallible");
                                assert_eq!(response.status(), expected);
                            });
                        }
                        while let Some(done) = batch.join_next().await {
                            done.expect("a request task");
                        }
                    }
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, get_account);
criterion_main!(benches);
