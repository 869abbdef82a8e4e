//! A database that cannot be reached is a `StoreError::Unavailable` from the store call
//! (which the services answer 503 with `Retry-After`), never a panic or a plain backend
//! error. Nothing listens on port 1, and the pools connect lazily, so each call finds out
//! for itself.

use std::time::Duration;

use account_core::store::{AccountStore as _, StoreError};
use account_core::testing::fixtures;
use account_store_diesel::DieselStore;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};

/// Panics unless a read and a transaction on `store` are `StoreError::Unavailable`.
async fn check_unavailable(store: &DieselStore, what: &str) {
    let read = store.account_by_id(fixtures::account_id()).await;
    assert!(
        matches!(read, Err(StoreError::Unavailable(_))),
        "{what}: a read: {read:?}"
    );
    let write = store
        .insert_account(&fixtures::new_account("alice", "alice@example.com"))
        .await;
    assert!(
        matches!(write, Err(StoreError::Unavailable(_))),
        "{what}: a transaction: {write:?}"
    );
}

/// A pool for `url` that waits at most half a second for a connection.
fn pool<C: PoolableConnection + 'static>(url: &str) -> Pool<C>
where
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    Pool::builder(AsyncDieselConnectionManager::<C>::new(url))
        .wait_timeout(Some(Duration::from_millis(500)))
        .create_timeout(Some(Duration::from_millis(500)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a pool")
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_unavailable() {
    let pool = pool::<AsyncPgConnection>("postgres://postgres@127.0.0.1:1/x");
    check_unavailable(&DieselStore::from_postgres_pool(pool), "PostgreSQL").await;
}

#[tokio::test]
async fn an_unreachable_mysql_server_is_unavailable() {
    let pool = pool::<AsyncMysqlConnection>("mysql://root@127.0.0.1:1/x");
    check_unavailable(&DieselStore::from_mysql_pool(pool), "MySQL").await;
}
