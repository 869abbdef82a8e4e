//! A closed store is a `StoreError::Backend` from the store call, and a database that
//! cannot be reached a `StoreError::Unavailable` (which the services answer 503), never a
//! panic; and a pool whose connections were cut off reconnects on its own.

// Test code: a failed expectation panics with its message; the helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used)]

use account_core::store::{AccountStore as _, Store, StoreError, StoreResult};
use account_core::testing::fixtures;
use account_store_sqlx::SqlStore;
use account_store_sqlx::testing::TestDatabase;

/// Panics unless `result` is a `StoreError::Backend` (`unavailable` false) or a
/// `StoreError::Unavailable` (true).
#[track_caller]
fn assert_fails<T: std::fmt::Debug>(result: StoreResult<T>, unavailable: bool, what: &str) {
    match (result, unavailable) {
        (Err(StoreError::Backend(e)), false) => eprintln!("{what}: Backend({e})"),
        (Err(StoreError::Unavailable(e)), true) => eprintln!("{what}: Unavailable({e})"),
        (other, _) => panic!("{what}: expected unavailable={unavailable}, got {other:?}"),
    }
}

/// A few calls of different traits on a closed store.
async fn check_closed(store: &dyn Store, what: &str) {
    check_calls(store, false, what).await;
}

/// A few calls of different traits on a store that cannot reach its database.
async fn check_unreachable(store: &dyn Store, what: &str) {
    check_calls(store, true, what).await;
}

async fn check_calls(store: &dyn Store, unavailable: bool, what: &str) {
    assert_fails(
        store.account_by_id(fixtures::account_id()).await,
        unavailable,
        &format!("{what}: account_by_id"),
    );
    assert_fails(
        store.session_by_token(&fixtures::digest()).await,
        unavailable,
        &format!("{what}: session_by_token"),
    );
    assert_fails(
        store
            .insert_account(&fixtures::new_account("alice", "alice@example.com"))
            .await,
        unavailable,
        &format!("{what}: insert_account (a transaction)"),
    );
    assert_fails(
        store
            .hit_rate_limit("login:203.0.113.7", fixtures::time(0))
            .await,
        unavailable,
        &format!("{what}: hit_rate_limit"),
    );
}

#[tokio::test]
async fn a_closed_sqlite_pool_is_a_backend_error() {
    let db = TestDatabase::sqlite().unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("{}?mode=rwc", db.url()))
        .await
        .unwrap();
    let store = SqlStore::from_sqlite_pool(pool.clone());
    store.migrate().await.unwrap();
    fixtures::insert_account(&store, "bob", "bob@example.com").await;

    pool.close().await;
    check_closed(&store, "SQLite after pool.close()").await;
}

#[tokio::test]
async fn a_closed_store_is_a_backend_error() {
    let db = TestDatabase::sqlite().unwrap();
    let store = db.store().await.unwrap();
    store.close().await;
    check_closed(&store, "SQLite after SqlStore::close").await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_unreachable_postgres_server_is_unavailable() {
    // Nothing listens on port 1; the pool connects lazily, so the store can be made and
    // each call finds out for itself.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/postgres")
        .unwrap();
    let store = SqlStore::from_postgres_pool(pool);
    check_unreachable(&store, "PostgreSQL on a closed port").await;

    let refused = SqlStore::connect_with(
        "postgres://postgres:hunter2@127.0.0.1:1/postgres",
        &account_store_sqlx::SqlStoreOptions::default()
            .acquire_timeout(std::time::Duration::from_millis(500)),
    )
    .await;
    let error = refused.expect_err("nothing listens on port 1");
    assert!(
        !error.to_string().contains("hunter2") && !format!("{error:?}").contains("hunter2"),
        "a connection error must not repeat the password: {error:?}"
    );
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn an_unreachable_mysql_server_is_unavailable() {
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("mysql://root@127.0.0.1:1/mysql")
        .unwrap();
    let store = SqlStore::from_mysql_pool(pool);
    check_unreachable(&store, "MySQL on a closed port").await;
}

/// Cuts every connection of the store from the server side, as a database restart or a
/// network failure would. Reads keep connections between calls (without the pool's ping):
/// the first read after the cut finds its kept connection broken and runs again on a fresh
/// one, so it works; so do writes, whose connections the pool checks before lending them.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_reconnects_after_its_connections_are_terminated() {
    use account_store_sqlx::{Backend, testing::fresh_database};
    use sqlx::{Connection as _, PgConnection};

    let Some(db) = fresh_database(Backend::Postgres).await else {
        return;
    };
    let store = db.store().await.unwrap();
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    // A read, so that a connection is kept for reads when the cut comes.
    assert!(store.account_by_id(alice.id).await.unwrap().is_some());

    let mut admin = PgConnection::connect(db.url()).await.unwrap();
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !terminated.is_empty(),
        "the store's pool must have had a connection to terminate"
    );

    check_reconnects(&store, alice.id).await;
}

/// The same with MySQL's `KILL`.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_reconnects_after_its_connections_are_killed() {
    use account_store_sqlx::{Backend, testing::fresh_database};
    use sqlx::{Connection as _, MySqlConnection};

    let Some(db) = fresh_database(Backend::MySql).await else {
        return;
    };
    let store = db.store().await.unwrap();
    let alice = fixtures::insert_account(&store, "alice", "alice@example.com").await;
    // A read, so that a connection is kept for reads when the cut comes.
    assert!(store.account_by_id(alice.id).await.unwrap().is_some());

    let mut admin = MySqlConnection::connect(db.url()).await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT ID FROM information_schema.PROCESSLIST \
         WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !ids.is_empty(),
        "the store's pool must have had a connection to kill"
    );
    for id in ids {
        sqlx::query(&format!("KILL {id}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }

    check_reconnects(&store, alice.id).await;
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn check_reconnects(store: &SqlStore, alice: account_core::model::AccountId) {
    let found = store
        .account_by_id(alice)
        .await
        .expect("a read after the cut runs again on a fresh connection");
    assert_eq!(found.map(|a| a.id), Some(alice));
    // And writes work again too.
    fixtures::insert_account(store, "bob", "bob@example.com").await;
}
