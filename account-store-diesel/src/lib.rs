//! SQL storage for [`account_core`] through diesel and diesel-async: SQLite (feature
//! `sqlite`, the default, through diesel-async's `SyncConnectionWrapper`), PostgreSQL
//! (`postgres`, through tokio-postgres) and MySQL/MariaDB (`mysql`, through
//! mysql_async), all pure Rust: nothing to install, no libpq or libmysqlclient.
//!
//! [`DieselStore`] implements every store trait of `account-core` (the
//! [`Store`](account_core::store::Store) the services take), on a database a URL names or
//! on the deadpool pool of diesel-async connections your application already has.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use account_core::mail::MemoryMailer;
//! use account_core::{AccountConfig, Accounts};
//! use account_store_diesel::DieselStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // `sqlite:` creates the file if it is missing;
//! // `postgres://user:pass@host/db` and `mysql://user:pass@host/db` work the same way.
//! let store = DieselStore::connect("sqlite:data/accounts.db").await?;
//! store.migrate().await?;
//!
//! let config = AccountConfig::new("https://accounts.example.com".parse()?);
//! let accounts = Accounts::builder(Arc::new(store), Arc::new(MemoryMailer::new()), config)
//!     .build();
//! # let _ = accounts;
//! # Ok(())
//! # }
//! ```
//!
//! # Choosing an adapter
//!
//! This crate and `account-store-sqlx` are the same store: both run the statements of
//! `account-store-sql`, written once, on the schema of `account-schema`, and record their
//! migrations alike. Pick the one whose database stack your application already has, so
//! that it does not compile and pool a second one; a database written by either is read
//! and written by the other (tested both ways on every backend), so you can change your
//! mind later without moving data.
//!
//! # Using your own pool
//!
//! An application that runs on diesel-async already has a deadpool pool of its
//! connections (`diesel_async::pooled_connection::deadpool::Pool`); the store takes it as
//! it is, and shares its connections with the rest of the application:
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use diesel_async::AsyncPgConnection;
//! use diesel_async::pooled_connection::AsyncDieselConnectionManager;
//! use diesel_async::pooled_connection::deadpool::Pool;
//! use account_store_diesel::DieselStore;
//!
//! let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new("postgres://app@db/app");
//! let pool = Pool::builder(manager).max_size(16).build()?;
//! let store = DieselStore::from_postgres_pool(pool.clone());
//! store.migrate().await?;
//! # Ok(())
//! # }
//! ```
//!
//! deadpool is the one pool this crate takes (bb8 and mobc pools are not accepted):
//! diesel-async's deadpool pool checks a connection with a query before lending it and
//! drops one left inside a transaction, which is what the store needs. Give the pool a
//! wait timeout (`Pool::builder(..).wait_timeout(..)` with the Tokio runtime): without
//! one, a store call waits as long as the database is unreachable. A SQLite pool must
//! have foreign keys on (`PRAGMA foreign_keys = ON` in the manager's `custom_setup`): they
//! carry the deletion of an account's rows.
//!
//! # Migrations
//!
//! [`DieselStore::migrate`] runs the migration files of `account-schema` (embedded in the
//! binary) and records them in the table `_sqlx_migrations` exactly as sqlx does: the
//! same columns, the same checksums (SHA-384 of each file), the same lock while
//! migrating (PostgreSQL's advisory lock, MySQL's named lock, with sqlx's ids). So a
//! database migrated by either adapter is up to date for both, and instances of both
//! starting at once migrate one after the other. Your own diesel migrations keep their
//! own table (`__diesel_schema_migrations`) and never touch these tables; the account
//! tables are described in `account-schema`'s documentation.
//!
//! # Behaviour
//!
//! As `account-store-sqlx`, since the statements are the same (see the table of atomic
//! operations in `account-store-sql`): atomic operations are one conditional statement or
//! one transaction with the right lock, a taken value is a `StoreError::Conflict`, a row
//! for an account that is gone is `StoreError::NoSuchAccount`, a database that cannot be
//! reached (refused, lost or closed connections, a server shutting down, no connection
//! within the pool's timeouts) is a `StoreError::Unavailable`, which the services answer
//! 503 with `Retry-After`, anything else the database or the pool reports is a
//! `StoreError::Backend` (never a panic), and transactions a deadlock rolled back are
//! tried again. A connection found broken is closed, never lent again. SQLite reads go
//! through a pool of four connections and writes queue for one writer, whose
//! transactions start with `BEGIN IMMEDIATE`.
//!
//! # Feature flags
//!
//! | feature | what it does | default |
//! |---|---|---|
//! | `sqlite` | the SQLite backend, with SQLite compiled in | yes |
//! | `postgres` | the PostgreSQL backend (tokio-postgres) | no |
//! | `mysql` | the MySQL/MariaDB backend (mysql_async) | no |
//!
//! At least one backend must be enabled.

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "account-store-diesel needs at least one backend: enable the feature `sqlite`, `postgres` or `mysql`"
);

mod driver;
mod migrate;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use account_store_sql::{Driver as _, SqlOps};
use deadpool::managed::Timeouts;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;

pub use account_store_sql::Backend;
use driver::{Conns, Db, PoolOf, on_backend};

#[cfg(feature = "sqlite")]
pub use driver::SqliteConnection;

/// Why a store could not be opened or migrated.
///
/// No variant carries the database URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The URL names no database this crate knows.
    #[error("the database URL must start with sqlite:, postgres:, postgresql:, mysql: or mariadb:")]
    UnsupportedUrl,
    /// The URL names a backend whose feature this build does not have.
    #[error("{backend} support is not compiled in: enable the feature `{}` of account-store-diesel", backend.feature())]
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

/// How long a store call waits for a connection (a free one, or a new one to the
/// database) before it fails with `StoreError::Unavailable`. A server that refuses
/// connections fails the call at once, without this wait (see `driver.rs`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Account storage through diesel-async on SQLite, PostgreSQL or MySQL/MariaDB: every
/// store trait of `account-core`.
///
/// Cloning is cheap and clones share the pools. `Debug` shows the backend and the pools'
/// size, never the URL or its credentials.
#[derive(Clone)]
pub struct DieselStore {
    ops: Arc<SqlOps<Db>>,
}

impl DieselStore {
    /// Connects to the database at `url` (`sqlite:path/to/file.db`, `sqlite::memory:`,
    /// `postgres://…`, `mysql://…` or `mariadb://…`), with pools of diesel-async
    /// connections: 10 on PostgreSQL and MySQL; on SQLite 4 readers and one writer. A
    /// SQLite file is made when missing, in WAL mode with foreign keys on. One connection
    /// is made now, so that a wrong URL or a server that is down shows here and not at
    /// the first request. The schema is not touched: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    ///
    /// [`SetupError::UnsupportedUrl`], [`SetupError::BackendNotEnabled`], and
    /// [`SetupError::Connect`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        let backend = Backend::from_url(url).ok_or(SetupError::UnsupportedUrl)?;
        let db = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Db::Sqlite(sqlite_conns(url)?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Db::Postgres(Conns {
                reader: pool::<AsyncPgConnection>(postgres_manager(url), 10)?,
                writer: None,
            }),
            #[cfg(feature = "mysql")]
            Backend::MySql => Db::MySql(Conns {
                reader: pool::<AsyncMysqlConnection>(mysql_manager(url), 10)?,
                writer: None,
            }),
            #[allow(unreachable_patterns)]
            backend => return Err(SetupError::BackendNotEnabled { backend }),
        };
        let store = Self::from_db(db);
        // A pool makes its connections lazily: make one now.
        store.check().await?;
        Ok(store)
    }

    /// A store over the application's own SQLite pool, which reads and writes through
    /// it. Its connections must have foreign keys on (see [the crate
    /// documentation](crate#using-your-own-pool)).
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: Pool<SqliteConnection>) -> Self {
        Self::from_db(Db::Sqlite(Conns {
            reader: pool,
            writer: None,
        }))
    }

    /// A store over the application's own PostgreSQL pool.
    #[cfg(feature = "postgres")]
    pub fn from_postgres_pool(pool: Pool<AsyncPgConnection>) -> Self {
        Self::from_db(Db::Postgres(Conns {
            reader: pool,
            writer: None,
        }))
    }

    /// A store over the application's own MySQL or MariaDB pool.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(pool: Pool<AsyncMysqlConnection>) -> Self {
        Self::from_db(Db::MySql(Conns {
            reader: pool,
            writer: None,
        }))
    }

    fn from_db(db: Db) -> Self {
        Self {
            ops: Arc::new(SqlOps::new(db)),
        }
    }

    /// The backend of this store.
    pub fn backend(&self) -> Backend {
        self.ops.driver().backend()
    }

    async fn check(&self) -> Result<(), SetupError> {
        on_backend!(self.ops.driver(), |conns| conns
            .reader
            .get()
            .await
            .map(drop)
            .map_err(|e| SetupError::Connect(e.to_string())))
    }

    /// Creates the schema, or brings it up to date, with the migrations of
    /// `account-schema`, recorded in `_sqlx_migrations` as the sqlx store records them:
    /// a database migrated by either adapter is up to date for both (see [the crate
    /// documentation](crate#migrations)). Safe to call at every start and from several
    /// instances at once.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when a migration fails, or when the database holds a failed
    /// migration, one this version does not know, or one whose text changed.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        let dialect = self.backend().dialect();
        on_backend!(self.ops.driver(), |conns| {
            let pool = conns.writer.as_ref().unwrap_or(&conns.reader);
            let mut conn = pool
                .get()
                .await
                .map_err(|e| SetupError::Connect(e.to_string()))?;
            migrate::run(&mut *conn, dialect).await
        })
    }

    /// Closes the pools: new calls fail with `StoreError::Backend`, and connections are
    /// closed as they come back. For a clean shutdown.
    pub fn close(&self) {
        self.ops.driver().close();
    }
}

/// The store traits are the shared operations of `account-store-sql` on this crate's
/// driver, every call passed straight on.
impl account_core::store::StoreLayer for DieselStore {
    fn inner(&self) -> &dyn account_core::store::Store {
        &*self.ops
    }
}

impl fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (open, idle) = self.ops.driver().pool_sizes();
        f.debug_struct("DieselStore")
            .field("backend", &self.backend())
            .field("connections", &open)
            .field("idle", &idle)
            .finish_non_exhaustive()
    }
}

/// A pool of at most `size` connections that `manager` makes, which waits at most
/// [`ACQUIRE_TIMEOUT`] for one.
fn pool<C: driver::Conn>(manager: C::Manager, size: usize) -> Result<PoolOf<C>, SetupError> {
    PoolOf::<C>::builder(manager)
        .max_size(size)
        .timeouts(Timeouts {
            wait: Some(ACQUIRE_TIMEOUT),
            create: Some(ACQUIRE_TIMEOUT),
            recycle: Some(ACQUIRE_TIMEOUT),
        })
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| SetupError::Connect(e.to_string()))
}

/// PostgreSQL connections, lent without a query first: diesel-async sees a connection
/// that the server or the network closed without asking it (tokio-postgres knows its
/// socket is closed) and drops it instead of lending it, so a restarted server costs no
/// failed request, and a check by query would add a round trip to every store call,
/// which measured half again as slow as sqlx's store. MySQL's connections have no such
/// sign, so there the pool keeps diesel-async's check by query. On both, a connection a
/// statement found broken is closed by the driver and never comes back to the pool
/// (`settle` in `driver.rs`).
#[cfg(feature = "postgres")]
fn postgres_manager(url: &str) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};

    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    AsyncDieselConnectionManager::new_with_config(url, config)
}

/// MySQL connections in strict mode: a value too long for its column is an error, never
/// silently cut, on servers configured without strict mode too (as the sqlx store sets
/// it).
#[cfg(feature = "mysql")]
fn mysql_manager(url: &str) -> AsyncDieselConnectionManager<AsyncMysqlConnection> {
    use diesel_async::pooled_connection::ManagerConfig;
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};

    // mysql_async knows the scheme `mysql:` only; MariaDB speaks the same protocol.
    let url = match url.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mariadb:") => format!("mysql:{}", &url[8..]),
        _ => url.to_owned(),
    };
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url: &str| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn = AsyncMysqlConnection::establish(&url).await?;
            conn.batch_execute(
                "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')",
            )
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    AsyncDieselConnectionManager::new_with_config(url, config)
}

/// SQLite's readers and single writer, with what the schema needs on each connection:
/// foreign keys enforced (they carry the cascades of an account's deletion), a busy
/// timeout so that another process's writer is waited for, and WAL, so that readers
/// read while a write goes on. An in-memory database lives in its one connection, which
/// then reads and writes.
#[cfg(feature = "sqlite")]
fn sqlite_conns(url: &str) -> Result<Conns<SqliteConnection>, SetupError> {
    use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};

    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    let in_memory = path.is_empty() || path == ":memory:";
    if !in_memory
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| SetupError::Connect(e.to_string()))?;
    }
    let manager = || {
        let mut config = ManagerConfig::default();
        // SQLite connections live in this process and do not break the way network
        // connections do: no query to check one before lending it, which would be a
        // round trip to the blocking pool as dear as the statement it precedes.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(|path: &str| {
            let path = path.to_owned();
            Box::pin(async move {
                let mut conn = SqliteConnection::establish(&path).await?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL;",
                )
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
        AsyncDieselConnectionManager::<SqliteConnection>::new_with_config(path.clone(), config)
    };
    if in_memory {
        return Ok(Conns {
            reader: pool::<SqliteConnection>(manager(), 1)?,
            writer: None,
        });
    }
    Ok(Conns {
        reader: pool::<SqliteConnection>(manager(), 4)?,
        writer: Some(pool::<SqliteConnection>(manager(), 1)?),
    })
}
