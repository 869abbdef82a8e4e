//! Session and API-token validation through each adapter, side by side on each backend:
//! the sqlx store and the diesel store open the same database with the same rows, and
//! the in-memory store with the same rows is the baseline of the same run. Each
//! measurement is the whole validation a request pays (`Accounts::authenticate` for a
//! session cookie's token, `Accounts::authenticate_api_token` for a bearer token), not
//! only the store read.
//!
//! ```sh
//! cargo bench -p account-store-diesel --all-features --bench adapters
//! ```
//!
//! SQLite always; PostgreSQL and MySQL when `ACCOUNT_TEST_POSTGRES_URL` and
//! `ACCOUNT_TEST_MYSQL_URL` name a server.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use account_core::mail::MemoryMailer;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::testing::fixtures::{SignedIn, signed_in_accounts};
use account_core::{AccountConfig, Accounts};
use account_store_diesel::DieselStore;
use account_store_sqlx::testing::TestDatabase;
use account_store_sqlx::{Backend, SqlStore};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// 10 accounts with 100 tokens and 100 sessions each.
const ACCOUNTS: usize = 10;
const PER_ACCOUNT: usize = 100;

/// The services over `store`.
fn services(store: Arc<dyn Store>) -> Accounts {
    let config = AccountConfig::new("http://localhost:8080".parse().expect("url"));
    Accounts::builder(store, Arc::new(MemoryMailer::new()), config).build()
}

/// What is validated.
#[derive(Clone, Copy)]
enum Kind {
    /// A session cookie's token.
    Session,
    /// A personal API token.
    Token,
}

/// Measures one validation of `kind` through `services`, named `name`, in `group`.
fn validate(
    runtime: &tokio::runtime::Runtime,
    group: &mut BenchmarkGroup<'_, WallTime>,
    kind: Kind,
    name: &str,
    services: &Accounts,
    loaded: &Arc<SignedIn>,
) {
    let ip: Option<IpAddr> = Some(IpAddr::from([192, 0, 2, 1]));
    let next = AtomicUsize::new(0);
    group.bench_function(name, |b| {
        b.to_async(runtime).iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let loaded = Arc::clone(loaded);
            let services = services.clone();
            async move {
                match kind {
                    Kind::Session => {
                        let token = &loaded.sessions[n % loaded.sessions.len()];
                        let session = services.authenticate(token.expose()).await;
                        black_box(session.expect("a valid session"));
                    }
                    Kind::Token => {
                        let token = &loaded.tokens[n % loaded.tokens.len()];
                        let access = services.authenticate_api_token(token.expose(), ip).await;
                        black_box(access.expect("a valid token"));
                    }
                }
            }
        });
    });
}

fn adapters(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");

    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        // `None` (with a note) when the backend's server is not configured.
        let Some(db) = runtime.block_on(TestDatabase::for_backend(backend)) else {
            continue;
        };
        let db = db.expect("a fresh test database");
        let (sqlx, diesel) = runtime.block_on(async {
            let sqlx = SqlStore::connect(db.url()).await.expect("sqlx connects");
            sqlx.migrate().await.expect("migrated");
            let diesel = DieselStore::connect(db.url())
                .await
                .expect("diesel connects");
            (sqlx, diesel)
        });
        // The rows are written once; both adapters read the very same ones.
        let loaded = Arc::new(runtime.block_on(signed_in_accounts(&sqlx, ACCOUNTS, PER_ACCOUNT)));
        let mut contenders: Vec<(&str, Accounts, Arc<SignedIn>)> = vec![
            ("sqlx", services(Arc::new(sqlx)), Arc::clone(&loaded)),
            ("diesel", services(Arc::new(diesel)), loaded),
        ];
        if backend == Backend::Sqlite {
            // The baseline of the run: the same kind of rows in memory.
            let memory = Arc::new(MemoryStore::new());
            let loaded =
                Arc::new(runtime.block_on(signed_in_accounts(&*memory, ACCOUNTS, PER_ACCOUNT)));
            contenders.push(("memory", services(memory), loaded));
        }
        for (kind, what) in [
            (Kind::Session, "session_validation"),
            (Kind::Token, "token_validation"),
        ] {
            let mut group = c.benchmark_group(format!("{what}/{backend}"));
            group
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3));
            for (name, services, loaded) in &contenders {
                validate(&runtime, &mut group, kind, name, services, loaded);
            }
            group.finish();
        }
    }
}

criterion_group!(benches, adapters);
criterion_main!(benches);
