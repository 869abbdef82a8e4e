//! The store conformance suite of account-core, on every backend.
//!
//! Each backend gets a module with one test per case of the suite, named like
//! `sqlite::session_rotate` or `postgres::concurrent_consume_challenge`, and each test
//! works in a database of its own that is dropped afterwards
//! ([`account_store_sqlx::testing`]). SQLite always runs. PostgreSQL and MySQL run when
//! `ACCOUNT_TEST_POSTGRES_URL` and `ACCOUNT_TEST_MYSQL_URL` name a server; without one,
//! every test of that backend passes without running and the binary writes one note per
//! backend saying so, unless `CI=true`, where each of them fails. SQLite runs twice: on a
//! file, as applications use it, and in memory.

/// The suite on one backend.
///
/// The suite's factory cannot fail and has no way to skip, so the factory expression
/// does it: it makes the database first, and when the backend's server is not
/// configured it leaves the generated test with `return` (`fresh_store` decides: it
/// notes the skip, or fails the test under `CI=true`) before a store is needed.
macro_rules! conformance {
    ($backend:expr) => {
        account_core::store_conformance_tests!(match account_store_sqlx::testing::fresh_store(
            $backend
        )
        .await
        {
            Some(store) => move || std::future::ready(store),
            None => return,
        });
    };
}

mod sqlite {
    conformance!(account_store_sqlx::Backend::Sqlite);
}

/// SQLite in memory (`sqlite::memory:`, a new database each time): one pool of shared-cache
/// connections instead of a file's reader pool and writer connection.
mod sqlite_in_memory {
    account_core::store_conformance_tests!(|| async {
        let store = account_store_sqlx::SqlStore::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        store.migrate().await.expect("the schema");
        store
    });
}

#[cfg(feature = "postgres")]
mod postgres {
    conformance!(account_store_sqlx::Backend::Postgres);
}

/// PostgreSQL with every transaction `SERIALIZABLE`, as CockroachDB and YugabyteDB run
/// them: the concurrency cases then meet serialization failures (`40001`), which the store
/// must try again rather than return.
#[cfg(feature = "postgres")]
mod postgres_serializable {
    account_core::store_conformance_tests!(
        match account_store_sqlx::testing::fresh_serializable_database().await {
            Some(db) => {
                let store = db
                    .store()
                    .await
                    .expect("the serializable database migrates");
                move || std::future::ready(store)
            }
            None => return,
        }
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    conformance!(account_store_sqlx::Backend::MySql);
}
