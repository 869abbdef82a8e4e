//! `session_by_token`, the read on every authenticated request: a SQLite file store with
//! 1000 sessions, next to the in-memory store with the same sessions as the baseline.
//!
//! ```sh
//! cargo bench -p account-store-sqlx --bench sessions
//! ```
//!
//! DESIGN.md's targets: under 2 µs in memory, under 30 µs on SQLite.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use account_core::model::NewAccount;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::testing::fixtures;
use account_core::token::TokenDigest;
use account_store_sqlx::testing::TestDatabase;
use criterion::{Criterion, criterion_group, criterion_main};

/// 10 accounts with 100 sessions each: 1000 sessions per store.
const ACCOUNTS: usize = 10;
const SESSIONS_PER_ACCOUNT: i64 = 100;

/// Fills `store` with the accounts and their sessions, and returns the sessions' digests.
async fn populate(store: &dyn Store, accounts: &[NewAccount]) -> Vec<TokenDigest> {
    let mut digests = Vec::new();
    for new in accounts {
        store.insert_account(new).await.expect("insert_account");
        for i in 0..SESSIONS_PER_ACCOUNT {
            let session = fixtures::session(new.account.id, fixtures::time(i));
            store
                .insert_session(&session)
                .await
                .expect("insert_session");
            digests.push(session.token_digest);
        }
    }
    digests
}

fn session_by_token(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let accounts: Vec<NewAccount> = (0..ACCOUNTS)
        .map(|i| fixtures::new_account(&format!("user{i}"), &format!("user{i}@example.com")))
        .collect();

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

    let mut group = c.benchmark_group("session_by_token");
    for (name, store) in &stores {
        // Each store gets its own sessions; the lookups walk through all of them.
        let digests = runtime.block_on(populate(&**store, &accounts));
        let next = AtomicUsize::new(0);
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| {
                let i = next.fetch_add(1, Ordering::Relaxed) % digests.len();
                let digest = digests[i];
                let store = Arc::clone(store);
                async move {
                    let found = store.session_by_token(&digest).await.expect("a lookup");
                    black_box(found.expect("the session exists"))
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, session_by_token);
criterion_main!(benches);
