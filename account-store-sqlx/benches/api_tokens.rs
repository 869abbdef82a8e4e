//! Personal API token validation, the work behind every bearer-authenticated request:
//! parse and checksum, SHA-256 digest, one read by digest, the account. Measured with the
//! in-memory store and a SQLite file, next to two baselines from the same run: the bare
//! `api_token_by_digest` read, and the cookie path (session validation and the account,
//! what `CurrentAccount` does).
//!
//! ```sh
//! cargo bench -p account-store-sqlx --bench api_tokens
//! ```

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use account_core::api_token::ApiTokenSecret;
use account_core::mail::MemoryMailer;
use account_core::random::OsRandom;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::testing::fixtures::signed_in_accounts;
use account_core::{AccountConfig, Accounts};
use account_store_sqlx::testing::TestDatabase;
use criterion::{Criterion, criterion_group, criterion_main};

/// 10 accounts with 100 tokens and 100 sessions each.
const ACCOUNTS: usize = 10;
const PER_ACCOUNT: usize = 100;

fn token_validation(c: &mut Criterion) {
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
            Arc::new(
                runtime
                    .block_on(db.store())
                    .expect("a migrated SQLite store"),
            ),
        ),
    ];
    let ip: Option<IpAddr> = Some(IpAddr::from([192, 0, 2, 1]));

    {
        let secret = ApiTokenSecret::generate(&OsRandom);
        let text = secret.expose().to_owned();
        c.bench_function("api_token_parse_and_digest", |b| {
            b.iter(|| {
                let parsed = ApiTokenSecret::parse(black_box(&text)).expect("well formed");
                black_box(parsed.digest())
            });
        });
    }

    let mut group = c.benchmark_group("token_validation");
    for (name, store) in &stores {
        let loaded =
            Arc::new(runtime.block_on(signed_in_accounts(&**store, ACCOUNTS, PER_ACCOUNT)));
        let config = AccountConfig::new("http://localhost:8080".parse().expect("url"));
        let services =
            Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config).build();
        let next = AtomicUsize::new(0);

        group.bench_function(format!("api_token_by_digest/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % loaded.tokens.len();
                let digest = loaded.tokens[i].digest();
                let store = Arc::clone(store);
                async move { black_box(store.api_token_by_digest(&digest).await.expect("read")) }
            });
        });
        group.bench_function(format!("authenticate_api_token/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % loaded.tokens.len();
                let loaded = Arc::clone(&loaded);
                let services = services.clone();
                async move {
                    let access = services
                        .authenticate_api_token(loaded.tokens[i].expose(), ip)
                        .await
                        .expect("a valid token");
                    black_box(access)
                }
            });
        });
        group.bench_function(format!("session_and_account/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % loaded.sessions.len();
                let loaded = Arc::clone(&loaded);
                let services = services.clone();
                async move {
                    let session = services
                        .authenticate(loaded.sessions[i].expose())
                        .await
                        .expect("a valid session");
                    black_box(services.account_of(&session).await.expect("the account"))
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, token_validation);
criterion_main!(benches);
