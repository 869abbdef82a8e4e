//! The store conformance suite of account-core on the diesel store, on every backend,
//! exactly as the sqlx store runs it: each test in a database of its own, dropped
//! afterwards (the sqlx store's `testing` module makes them). SQLite always runs, on a
//! file and in memory; PostgreSQL and MySQL run when `ACCOUNT_TEST_POSTGRES_URL` and
//! `ACCOUNT_TEST_MYSQL_URL` name a server, and fail under `CI=true` when they do not.

use account_core::store::{Store, StoreLayer};
use account_store_diesel::DieselStore;
use account_store_sqlx::Backend;
use account_store_sqlx::testing::{TestDatabase, fresh_database};

/// A diesel store on a test database, which lives as long as the store.
#[derive(Debug)]
struct InTestDatabase {
    store: DieselStore,
    _database: TestDatabase,
}

impl StoreLayer for InTestDatabase {
    fn inner(&self) -> &dyn Store {
        &self.store
    }
}

/// A migrated diesel store in a fresh database of `backend`; `None` when the backend's
/// server is not configured (the sqlx store's `fresh_database` notes the skip, or fails
/// under `CI=true`).
async fn fresh_store(backend: Backend) -> Option<InTestDatabase> {
    Some(store_on(fresh_database(backend).await?).await)
}

/// A migrated diesel store on `database`.
async fn store_on(database: TestDatabase) -> InTestDatabase {
    let store = DieselStore::connect(database.url())
        .await
        .expect("the diesel store connects to a fresh database");
    store.migrate().await.expect("the diesel store migrates");
    InTestDatabase {
        store,
        _database: database,
    }
}

/// The suite on one backend (see the sqlx store's `tests/conformance.rs` for why the
/// factory expression may `return`).
macro_rules! conformance {
    ($backend:expr) => {
        account_core::store_conformance_tests!(match crate::fresh_store($backend).await {
            Some(store) => move || std::future::ready(store),
            None => return,
        });
    };
}

mod sqlite {
    conformance!(account_store_sqlx::Backend::Sqlite);
}

/// SQLite in memory: one connection that reads and writes.
mod sqlite_in_memory {
    account_core::store_conformance_tests!(|| async {
        let store = account_store_diesel::DieselStore::connect("sqlite::memory:")
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
/// them (see the sqlx store's `tests/conformance.rs`).
#[cfg(feature = "postgres")]
mod postgres_serializable {
    account_core::store_conformance_tests!(
        match account_store_sqlx::testing::fresh_serializable_database().await {
            Some(database) => {
                let store = crate::store_on(database).await;
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
