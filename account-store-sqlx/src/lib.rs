//! SQL storage for [`account_core`] through sqlx: SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! [`SqlStore`] implements every store trait of `account-core` (the
//! [`Store`](account_core::store::Store) the services take) on the database a URL names.
//! The schema comes with the crate: [`SqlStore::migrate`] creates it, and brings it up to
//! date after an upgrade. SQLite needs nothing installed (the library is compiled in), so
//! a file next to the application is the zero-configuration default; PostgreSQL and
//! MySQL/MariaDB let any number of application instances share one database.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use account_core::mail::MemoryMailer;
//! use account_core::{AccountConfig, Accounts};
//! use account_store_sqlx::SqlStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // `sqlite:` creates the file (and its directory) if it is missing;
//! // `postgres://user:pass@host/db` and `mysql://user:pass@host/db` work the same way.
//! let store = SqlStore::connect("sqlite:data/accounts.db").await?;
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
//! # Choosing the database
//!
//! [`SqlStore::connect`] picks the backend from the URL's scheme:
//!
//! | scheme | backend | notes |
//! |---|---|---|
//! | `sqlite:` | SQLite | `sqlite:path/to/file.db`, `sqlite::memory:`; WAL journal, foreign keys on, 5 s busy timeout |
//! | `postgres:`, `postgresql:` | PostgreSQL | any version sqlx supports (tested on 15) |
//! | `mysql:`, `mariadb:` | MySQL 8, MariaDB 10.5+ | tested on MariaDB 10.11 |
//!
//! [`SqlStore::connect_with`] takes [`SqlStoreOptions`] (pool size, timeouts), and
//! `SqlStore::from_*_pool` wraps a pool the application configured itself.
//!
//! # Behaviour
//!
//! - **Atomic operations** are one conditional statement or one transaction on every
//!   backend, never a read and a write from Rust; see [the table](account_store_sql#atomic-operations).
//! - **Secrets** never reach the database: tokens are kept as SHA-256 digests (binary
//!   columns) and passwords as argon2 PHC strings; the traits hand the store nothing else.
//! - **Errors**: a taken username, address or id is a
//!   [`StoreError::Conflict`](account_core::store::StoreError::Conflict); a row for an
//!   account that does not exist (a foreign key's refusal) is
//!   [`StoreError::NoSuchAccount`](account_core::store::StoreError::NoSuchAccount); anything else
//!   the database or the pool reports (an unreachable server, a lost connection, a pool
//!   timeout) is a [`StoreError::Backend`](account_core::store::StoreError::Backend),
//!   never a panic. Pools replace broken connections on their own, so a restarted
//!   database is used again without restarting the application.
//! - **Times** keep microseconds on every backend.
//!
//! - **SQLite concurrency**: reads outside a transaction run on the calling thread, on
//!   connections of the same file that refuse writes (WAL lets them read the last commit
//!   while a write goes on; an indexed read takes microseconds, less than a hand-off to
//!   sqlx's connection thread would); writes of one process queue for a single writer
//!   connection, so they never spin on SQLite's lock, and transactions start with
//!   `BEGIN IMMEDIATE`. A database in memory, or the application's own pool, is read
//!   through sqlx.
//! - **PostgreSQL and MySQL reads**: sqlx's pool pings a connection when it lends it and
//!   when it takes it back, two round trips to the server around a one-row read. Reads
//!   outside a transaction therefore keep up to half of the pool's connections (yours
//!   too, with `from_*_pool`) between reads and use them without a ping; writes and
//!   transactions go through the pool and always find the other half. A kept connection
//!   found broken (a restarted server) is closed and the read runs once more on a fresh
//!   one: a read is safe to repeat, so a restart costs reads nothing.
//!
//! # The schema
//!
//! The tables come from the crate `account-schema`, which holds the migration files of
//! every dialect and describes each table, key and index; the diesel store embeds the
//! very same files, so either adapter serves a database the other migrated. sqlx keeps
//! the migrations it ran in `_sqlx_migrations`.
//!
//! # One implementation, shared with the diesel adapter
//!
//! Every store operation is written once, in the crate `account-store-sql`, in one SQL
//! for the three backends; its documentation has the table of how each atomic
//! operation is done. This crate gives it a driver: sqlx's pools, binding and rows.
//! `account-store-diesel` runs the very same statements through diesel, so either
//! adapter serves a database the other wrote.
//!
//! # Feature flags
//!
//! | feature | what it does | default |
//! |---|---|---|
//! | `sqlite` | the SQLite backend, with SQLite compiled in | yes |
//! | `postgres` | the PostgreSQL backend (pure-Rust driver) | no |
//! | `mysql` | the MySQL/MariaDB backend (pure-Rust driver) | no |
//! | `testing` | the module `testing`: fresh, self-dropping test databases for tests | no |
//!
//! At least one backend must be enabled.

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "account-store-sqlx needs at least one backend: enable the feature `sqlite`, `postgres` or `mysql`"
);

mod connect;
mod db;
#[cfg(feature = "sqlite")]
mod direct;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod kept;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::time::Duration;

pub use account_store_sql::Backend;
use account_store_sql::{Driver as _, SqlOps};

/// How [`SqlStore::connect_with`] sets up its connection pool.
///
/// ```
/// use std::time::Duration;
/// use account_store_sqlx::SqlStoreOptions;
///
/// let options = SqlStoreOptions::default()
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(2));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqlStoreOptions {
    /// The most connections the pool opens; `None` for the default: 10 on PostgreSQL and
    /// MySQL. SQLite always writes through one connection; in a file it reads on the
    /// calling thread and keeps this many reading connections open (at least one per
    /// core; 4 by default), in memory its readers share a pool of this many.
    pub max_connections: Option<u32>,
    /// How long a store call waits for a free connection before it fails with
    /// `StoreError::Backend` (default 5 seconds).
    pub acquire_timeout: Duration,
    /// SQLite only: how long a write waits while another process holds the write lock
    /// (default 5 seconds).
    pub sqlite_busy_timeout: Duration,
}

impl Default for SqlStoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqlStoreOptions {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Sets [`acquire_timeout`](Self::acquire_timeout).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`sqlite_busy_timeout`](Self::sqlite_busy_timeout).
    pub fn sqlite_busy_timeout(mut self, timeout: Duration) -> Self {
        self.sqlite_busy_timeout = timeout;
        self
    }
}

/// Why a store could not be opened or migrated.
///
/// No variant carries the database URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The URL's scheme names no database this crate knows.
    #[error("the database URL must start with sqlite:, postgres:, postgresql:, mysql: or mariadb:")]
    UnsupportedUrl,
    /// The URL names a backend that this build leaves out.
    #[error("{backend} support is not compiled in: enable the feature `{}` of account-store-sqlx", backend.feature())]
    BackendNotEnabled {
        /// The backend the URL names.
        backend: Backend,
    },
    /// The URL could not be read as connection options.
    #[error("the database URL is not valid: {0}")]
    InvalidUrl(#[source] sqlx::Error),
    /// The directory for a SQLite file could not be created.
    #[error("the directory for the SQLite database could not be created: {0}")]
    CreateDirectory(#[source] std::io::Error),
    /// The database could not be reached or refused the connection.
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The SQLite file could not be opened for the store's direct reads.
    #[error("the SQLite database could not be opened for reading: {0}")]
    OpenReaders(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The schema could not be created or brought up to date.
    #[error("the database schema could not be migrated: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Account storage on SQLite, PostgreSQL or MySQL/MariaDB: every store trait of
/// `account-core`.
///
/// Cloning is cheap and clones share the connection pool. `Debug` shows the backend and
/// the pool's size, never the URL or its credentials.
#[derive(Clone)]
pub struct SqlStore {
    ops: std::sync::Arc<SqlOps<db::Db>>,
    /// Drops a test database when the last clone goes.
    #[cfg(feature = "testing")]
    _test_database: Option<std::sync::Arc<testing::DropDatabase>>,
}

impl SqlStore {
    /// Connects to the database that `url` names, with the default
    /// [`SqlStoreOptions`]. See [`connect_with`](Self::connect_with).
    ///
    /// # Errors
    ///
    /// As [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        Self::connect_with(url, &SqlStoreOptions::default()).await
    }

    /// Connects to the database that `url` names, choosing the backend by the URL's
    /// scheme (see [the crate documentation](crate#choosing-the-database)).
    ///
    /// A SQLite file is created if it is missing, with its directory, and opened in WAL
    /// mode with foreign keys on. One connection is opened now, so that a wrong URL or
    /// password shows at start-up; the pool opens more as they are needed. The schema is
    /// not touched: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    ///
    /// [`SetupError::UnsupportedUrl`] for an unknown scheme,
    /// [`SetupError::BackendNotEnabled`] for a backend this build leaves out,
    /// [`SetupError::InvalidUrl`], [`SetupError::CreateDirectory`] (SQLite), and
    /// [`SetupError::Connect`] when the database cannot be reached.
    pub async fn connect_with(url: &str, options: &SqlStoreOptions) -> Result<Self, SetupError> {
        let backend = Backend::from_url(url).ok_or(SetupError::UnsupportedUrl)?;
        Ok(Self::from_pools(
            db::Db::connect(backend, url, options).await?.pools,
        ))
    }

    /// A store over a SQLite pool the application set up itself. The pool should have
    /// foreign keys on (sqlx's default) and a busy timeout; this store reads and writes
    /// through it.
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Self {
        Self::from_pools(db::Pools::Sqlite {
            reader: pool,
            writer: None,
            direct: None,
        })
    }

    /// A store over a PostgreSQL pool the application set up itself.
    #[cfg(feature = "postgres")]
    pub fn from_postgres_pool(pool: sqlx::PgPool) -> Self {
        Self::from_pools(db::Pools::Postgres(kept::Kept::new(pool)))
    }

    /// A store over a MySQL or MariaDB pool the application set up itself.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Self {
        Self::from_pools(db::Pools::MySql(kept::Kept::new(pool)))
    }

    fn from_pools(pools: db::Pools) -> Self {
        Self {
            ops: std::sync::Arc::new(SqlOps::new(db::Db { pools })),
            #[cfg(feature = "testing")]
            _test_database: None,
        }
    }

    /// Creates the schema, or brings it up to date, with the migrations of
    /// `account-schema` for the store's backend, embedded in the binary.
    ///
    /// Safe to call at every start and from several instances at once: migrations that
    /// ran are recorded in the table `_sqlx_migrations` and skipped, and on PostgreSQL and
    /// MySQL concurrent runs wait for each other on a lock.
    ///
    /// # Errors
    ///
    /// [`SetupError::Migrate`] when a migration fails, or when the database holds a
    /// migration this version of the crate does not know or one whose text changed.
    pub async fn migrate(&self) -> Result<(), SetupError> {
        self.ops.driver().migrate().await
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.ops.driver().backend()
    }

    /// Closes the pool: new calls fail with `StoreError::Backend`, and this waits until
    /// the connections in use are returned and closed. For a clean shutdown.
    pub async fn close(&self) {
        self.ops.driver().close().await;
    }
}

/// The store traits are the shared operations of `account-store-sql` on this crate's
/// driver, every call passed straight on.
impl account_core::store::StoreLayer for SqlStore {
    fn inner(&self) -> &dyn account_core::store::Store {
        &*self.ops
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (open, idle) = self.ops.driver().pool_sizes();
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .field("connections", &open)
            .field("idle", &idle)
            .finish_non_exhaustive()
    }
}
