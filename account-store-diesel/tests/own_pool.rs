//! A `DieselStore` made from the application's own deadpool pool of diesel-async
//! connections: it migrates and stores through that pool, and the application goes on
//! using the same pool for its own queries. SQLite always; PostgreSQL and MySQL when their
//! servers are configured (as every database test here).

use std::time::Duration;

use account_core::store::AccountStore;
use account_core::testing::fixtures;
use account_store_diesel::DieselStore;
use account_store_sqlx::Backend;
use account_store_sqlx::testing::fresh_database;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};
use diesel_async::{SimpleAsyncConnection, pooled_connection::PoolableConnection};

/// The application's own query, on its own pool: how many accounts there are.
#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The application's own query on its own pool, after the store used it.
macro_rules! accounts_counted_by_the_application {
    ($pool:expr) => {{
        let mut conn = $pool.get().await.expect("the application's connection");
        let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM accounts")
            .get_result(&mut *conn)
            .await
            .expect("the application's own query");
        count.n
    }};
}

/// The application's pool, as an application sets one up: a size and a wait timeout.
fn pool<C: PoolableConnection + 'static>(manager: AsyncDieselConnectionManager<C>) -> Pool<C>
where
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    Pool::builder(manager)
        .max_size(4)
        .wait_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .expect("a pool")
}

/// Stores an account through `store` and reads it back.
async fn store_through(store: &DieselStore) {
    store
        .migrate()
        .await
        .expect("migrates through the application's pool");
    let account = fixtures::insert_account(store, "alice", "alice@example.com").await;
    let found = store.account_by_id(account.id).await.expect("a read");
    assert_eq!(found, Some(account));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_shares_the_applications_sqlite_pool() {
    let db = fresh_database(Backend::Sqlite)
        .await
        .expect("SQLite needs no server");
    let path = db.url().trim_start_matches("sqlite:").to_owned();
    // Foreign keys on, as the crate documentation asks of a SQLite pool.
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|path: &str| {
        let path = path.to_owned();
        Box::pin(async move {
            let mut conn = account_store_diesel::SqliteConnection::establish(&path).await?;
            conn.batch_execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let pool = pool(AsyncDieselConnectionManager::new_with_config(path, config));
    let store = DieselStore::from_sqlite_pool(pool.clone());
    store_through(&store).await;
    assert_eq!(accounts_counted_by_the_application!(pool), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_shares_the_applications_postgres_pool() {
    let Some(db) = fresh_database(Backend::Postgres).await else {
        return;
    };
    let pool = pool(AsyncDieselConnectionManager::<AsyncPgConnection>::new(
        db.url(),
    ));
    let store = DieselStore::from_postgres_pool(pool.clone());
    store_through(&store).await;
    assert_eq!(accounts_counted_by_the_application!(pool), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_shares_the_applications_mysql_pool() {
    let Some(db) = fresh_database(Backend::MySql).await else {
        return;
    };
    let pool = pool(AsyncDieselConnectionManager::<AsyncMysqlConnection>::new(
        db.url(),
    ));
    let store = DieselStore::from_mysql_pool(pool.clone());
    store_through(&store).await;
    assert_eq!(accounts_counted_by_the_application!(pool), 1);
}
