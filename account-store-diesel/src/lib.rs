//! SQL storage for [`account_core`] through diesel and diesel-async, on the schema of
//! `account-schema`: SQLite (feature `sqlite`, the default, through diesel-async's
//! `SyncConnectionWrapper`), PostgreSQL (`postgres`, tokio-postgres) and MySQL/MariaDB
//! (`mysql`, mysql_async), all pure Rust.
//!
//! This is the start of the second adapter: [`DieselStore`] connects by URL and
//! [`migrate`](DieselStore::migrate)s, recording the migrations exactly as the sqlx store
//! does (`_sqlx_migrations`, the same checksums and locks), so that either adapter serves
//! a database the other migrated. The store traits come next; until then this crate does
//! not implement `account_core::store::Store`.

mod migrate;

use std::fmt;

use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;
#[cfg(feature = "sqlite")]
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;

#[cfg(feature = "sqlite")]
type SqliteConnection = SyncConnectionWrapper<diesel::SqliteConnection>;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite, a file (or memory) in the process.
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MySQL",
        })
    }
}

/// Why a store could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The URL names no database this crate knows (`sqlite:`, `postgres:`, `mysql:`).
    #[error("the database URL must start with sqlite:, postgres: or mysql:")]
    UnsupportedUrl,
    /// The URL names a backend whose feature this build does not have.
    #[error("this build of account-store-diesel has no {backend} support (enable its feature)")]
    BackendNotEnabled {
        /// The backend the URL names.
        backend: Backend,
    },
    /// No connection could be made.
    #[error("the database could not be reached: {0}")]
    Connect(String),
    /// A statement failed.
    #[error("the database refused a statement: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed part-way before (recorded with `success = false`).
    #[error("migration {0} failed earlier and left the schema dirty")]
    Dirty(i64),
    /// The database ran a migration this version of the crate does not know.
    #[error("the database ran migration {0}, which this version does not know")]
    UnknownMigration(i64),
    /// The text of a migration the database ran has changed since.
    #[error("migration {0} was changed after the database ran it")]
    ChangedMigration(i64),
}

enum Pools {
    #[cfg(feature = "sqlite")]
    Sqlite(Pool<SqliteConnection>),
    #[cfg(feature = "postgres")]
    Postgres(Pool<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    MySql(Pool<AsyncMysqlConnection>),
}

/// Every store trait of `account-core` over diesel-async (the traits are being added;
/// today: connecting and migrating).
pub struct DieselStore {
    pools: Pools,
}

impl fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DieselStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// The backend a URL names, by its scheme.
fn backend_of(url: &str) -> Result<Backend, SetupError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        "mysql" | "mariadb" => Ok(Backend::MySql),
        _ => Err(SetupError::UnsupportedUrl),
    }
}

/// A connection of the pool, or why there is none (a pool makes them when asked).
macro_rules! connection {
    ($pool:expr) => {
        $pool
            .get()
            .await
            .map_err(|e| SetupError::Connect(e.to_string()))
    };
}

impl DieselStore {
    /// Connects to the database at `url` (`sqlite://path/to/file.db`, `postgres://…`,
    /// `mysql://…`); a SQLite file is made when missing. The schema is not touched: call
    /// [`migrate`](Self::migrate).
    ///
    /// # Errors
    ///
    /// [`SetupError`] for a URL it cannot use or a database it cannot reach.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let backend = backend_of(url)?;
        let pools = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Pools::Sqlite(sqlite_pool(url)?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Pools::Postgres(
                Pool::builder(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
                    .build()
                    .map_err(|e| SetupError::Connect(e.to_string()))?,
            ),
            #[cfg(feature = "mysql")]
            Backend::MySql => Pools::MySql(
                Pool::builder(AsyncDieselConnectionManager::<AsyncMysqlConnection>::new(
                    url,
                ))
                .build()
                .map_err(|e| SetupError::Connect(e.to_string()))?,
            ),
            #[allow(unreachable_patterns)]
            backend => return Err(SetupError::BackendNotEnabled { backend }),
        };
        let store = Self { pools };
        // A pool makes its connections lazily: make one now, so that a wrong URL or a
        // server that is down is reported here and not at the first request.
        store.check().await?;
        Ok(store)
    }

    /// The backend of this store.
    pub fn backend(&self) -> Backend {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pools::MySql(_) => Backend::MySql,
        }
    }

    async fn check(&self) -> Result<(), SetupError> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool) => connection!(pool).map(drop),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => connection!(pool).map(drop),
            #[cfg(feature = "mysql")]
            Pools::MySql(pool) => connection!(pool).map(drop),
        }
    }

    /// Creates the schema, or brings it up to date, with the migrations of
    /// `account-schema`, recorded in `_sqlx_migrations` as the sqlx store records them:
    /// a database migrated by either adapter is up to date for both.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when a migration fails, or when the database holds a failed
    /// migration, one this version does not know, or one whose text changed.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool) => {
                let mut conn = connection!(pool)?;
                migrate::run(&mut *conn, account_schema::Dialect::Sqlite).await
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => {
                let mut conn = connection!(pool)?;
                migrate::run(&mut *conn, account_schema::Dialect::Postgres).await
            }
            #[cfg(feature = "mysql")]
            Pools::MySql(pool) => {
                let mut conn = connection!(pool)?;
                migrate::run(&mut *conn, account_schema::Dialect::MySql).await
            }
        }
    }
}

/// SQLite connections with what the schema needs on each: foreign keys enforced (they
/// carry the cascades of an account's deletion), and a busy timeout so that writers
/// wait for each other instead of failing.
#[cfg(feature = "sqlite")]
fn sqlite_pool(url: &str) -> Result<Pool<SqliteConnection>, SetupError> {
    use diesel_async::pooled_connection::ManagerConfig;
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};

    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|path: &str| {
        let path = path.to_owned();
        Box::pin(async move {
            let mut conn = SqliteConnection::establish(&path).await?;
            conn.batch_execute(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;",
            )
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<SqliteConnection>::new_with_config(path, config);
    Pool::builder(manager)
        .build()
        .map_err(|e| SetupError::Connect(e.to_string()))
}
