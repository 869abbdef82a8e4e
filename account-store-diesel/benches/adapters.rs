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

use account_core::api_token::ApiTokenSecret;
use account_core::mail::MemoryMailer;
use account_core::model::NewAccount;
use account_core::random::OsRandom;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::testing::fixtures;
use account_core::token::OpaqueToken;
use account_core::{AccountConfig, Accounts};
use account_store_diesel::DieselStore;
use account_store_sqlx::testing::TestDatabase;
use account_store_sqlx::{Backend, SqlStore};
use chrono::Utc;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// 10 accounts with 100 tokens and 100 sessions each.
const ACCOUNTS: usize = 10;
const PER_ACCOUNT: usize = 100;

/// The secrets of what a store holds, in clear, to present them.
struct Loaded {
    tokens: Vec<ApiTokenSecret>,
    sessions: Vec<OpaqueToken>,
}

/// Writes the accounts with their tokens and sessions through `store`.
async fn populate(store: &dyn Store) -> Loaded {
    let now = Utc::now();
    let mut loaded = Loaded {
        tokens: Vec::new(),
        sessions: Vec::new(),
    };
    for n in 0..ACCOUNTS {
        let new: NewAccount =
            fixtures::new_account(&format!("user{n}"), &format!("user{n}@example.com"));
        store.insert_account(&new).await.expect("insert_account");
        for _ in 0..PER_ACCOUNT {
            let (record, secret) = fixtures::api_token_with_secret(new.account.id, now);
            store
                .insert_api_token(&record, u32::MAX)
                .await
                .expect("insert_api_token");
            loaded.tokens.push(secret);

            let token = OpaqueToken::generate(&OsRandom);
            let mut session = fixtures::session(new.account.id, now);
            session.token_digest = token.digest();
            session.absolute_expires_at = now + chrono::Duration::days(1);
            session.last_seen_at = now;
            store
                .insert_session(&session)
                .await
                .expect("insert_session");
            loaded.sessions.push(token);
        }
    }
    loaded
}

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
    loaded: &Arc<Loaded>,
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
        let loaded = Arc::new(runtime.block_on(populate(&sqlx)));
        let mut contenders: Vec<(&str, Accounts, Arc<Loaded>)> = vec![
            ("sqlx", services(Arc::new(sqlx)), Arc::clone(&loaded)),
            ("diesel", services(Arc::new(diesel)), loaded),
        ];
        if backend == Backend::Sqlite {
            // The baseline of the run: the same kind of rows in memory.
            let memory = Arc::new(MemoryStore::new());
            let loaded = Arc::new(runtime.block_on(populate(&*memory)));
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
