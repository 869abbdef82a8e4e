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
//!   backend, never a read and a write from Rust; see [the table](#atomic-operations).
//! - **Secrets** never reach the database: tokens are kept as SHA-256 digests (binary
//!   columns) and passwords as argon2 PHC strings; the traits hand the store nothing else.
//! - **Errors**: a taken username, address or id is a
//!   [`StoreError::Conflict`](account_core::store::StoreError::Conflict); anything else
//!   the database or the pool reports (an unreachable server, a lost connection, a pool
//!   timeout) is a [`StoreError::Backend`](account_core::store::StoreError::Backend),
//!   never a panic. Pools replace broken connections on their own, so a restarted
//!   database is used again without restarting the application.
//! - **Times** keep microseconds on every backend.
//!
//! - **SQLite concurrency**: readers use a small pool (WAL lets them read while a write
//!   goes on); writes of one process queue for a single writer connection, so they never
//!   spin on SQLite's lock, and transactions start with `BEGIN IMMEDIATE`.
//!
//! The schema is in `migrations/<backend>/` of this crate; each table is commented there.
//!
//! # Atomic operations
//!
//! | operation | SQLite | PostgreSQL | MySQL / MariaDB |
//! |---|---|---|---|
//! | `insert_account` | transaction (`BEGIN IMMEDIATE`): account row, then `usernames_taken` row | transaction: the same; a concurrent insert waits on the unique index, then gets the conflict | the same as PostgreSQL |
//! | `update_profile` | `UPDATE ... RETURNING` | `UPDATE ... RETURNING` | transaction: `UPDATE` (locks the row), then `SELECT` |
//! | `upgrade_password_hash` | `UPDATE ... WHERE password_hash = current` | the same | the same (binary collation: exact comparison) |
//! | `set_password_hash` | one `UPDATE` of hash and stamp | the same | the same |
//! | `rotate_session` | `UPDATE ... WHERE id = ? AND token_digest = current` | the same | the same, tried again when InnoDB makes it a deadlock victim on the unique token index |
//! | `insert_challenge` with `replace` | transaction: insert, delete the others | transaction: lock the account row (`FOR NO KEY UPDATE`), insert, delete the others | transaction: lock the account row (`FOR UPDATE`), insert, delete the others |
//! | `consume_challenge` | `DELETE ... RETURNING` | `DELETE ... RETURNING` | transaction: `SELECT ... FOR UPDATE`, then `DELETE` |
//! | `record_failure` | `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` | the same | transaction: `INSERT ... ON DUPLICATE KEY UPDATE` (locks the row), then `SELECT` |
//! | `hit_rate_limit` | `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` | the same | `INSERT ... ON DUPLICATE KEY UPDATE count = LAST_INSERT_ID(count + 1)`: the new count comes back as the statement's last insert id |
//! | `set_avatar` | transaction: the account's times, then the avatar row | the same | the same |
//! | `record_second_factor_attempt` | `UPDATE ... WHERE stage = 'second_factor_pending' RETURNING attempts` | the same | transaction: `UPDATE` (locks the row), then `SELECT` |
//! | `put_pending_totp` | `INSERT ... ON CONFLICT DO UPDATE ... WHERE confirmed_at IS NULL` | the same | transaction: lock the account row (`FOR UPDATE`), read the TOTP row, then upsert unless confirmed |
//! | `confirm_totp` | transaction: `UPDATE ... WHERE confirmed_at IS NULL`, then the recovery codes replaced | transaction: lock the account row (`FOR NO KEY UPDATE`), then the same | transaction: lock the account row (`FOR UPDATE`), then the same |
//! | `accept_totp_step` | `UPDATE ... WHERE confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < step)` | the same | the same |
//! | `replace_recovery_codes` | transaction: delete, insert | transaction: lock the account row, delete, insert | the same as PostgreSQL (`FOR UPDATE`) |
//! | `redeem_recovery_code` | one `DELETE`, checking the rows it deleted | the same | the same |
//! | `delete_passkey` | transaction (`BEGIN IMMEDIATE`): check the passkey, the other passkeys and the password, then delete | transaction: lock the account row (`FOR NO KEY UPDATE`), then the same | transaction: lock the account row (`FOR UPDATE`), then the same |
//! | `delete_authenticators` | transaction: TOTP, recovery codes, passkeys | the same | the same |
//! | `second_factors` | one `SELECT` of three subselects | the same | the same |
//! | `insert_api_token`, `insert_app_password`, `insert_ssh_key` (with a per-account limit) | transaction (`BEGIN IMMEDIATE`, on the single writer): count the clashes (SSH key: fingerprint first) and the account's rows, then `INSERT` unless at the limit | transaction: lock the account row (`FOR NO KEY UPDATE`, so that inserts for one account take turns), then the same; the unique indexes catch a clash with another account's concurrent insert | transaction: lock the account row (`FOR UPDATE`), then the same |
//! | `touch_api_token`, `touch_app_password` | `UPDATE ... WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)` | the same | the same |
//! | `replace_api_token_secret` | `UPDATE ... WHERE id = ? AND account_id = ? RETURNING` | the same | transaction: `UPDATE` (locks the row), then `SELECT` |
//! | `delete_api_token`, `delete_app_password`, `delete_ssh_key` | `DELETE ... RETURNING` | `DELETE ... RETURNING` | transaction: `SELECT ... FOR UPDATE`, then `DELETE` |
//!
//! MySQL has `RETURNING` nowhere (MariaDB only for `INSERT` and `DELETE`), hence its
//! transactions. On PostgreSQL and MySQL a transaction the server rolls back to break a
//! deadlock is tried again, a few times, since it left nothing behind.
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

mod common;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use account_core::avatar::Avatar;
use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    Account, AccountId, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId, AppPasswordRecord,
    Challenge, ChallengePurpose, EventPage, FailureKind, Failures, LimitedInsert, NewAccount,
    PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, SecondFactors, SecurityEvent,
    SecurityStamp, SessionId, SessionRecord, SessionRotation, SshKeyId, SshKeyRecord, TotpRecord,
    TotpSecret,
};
use account_core::password::PasswordHash;
use account_core::policy::Policy;
use account_core::store::{
    AccountStore, ApiTokenStore, AppPasswordStore, AuthenticatorStore, ChallengeStore,
    CredentialStore, PolicyStore, RateLimitStore, SecurityEventStore, SessionStore, SshKeyStore,
    StoreResult, ThrottleStore,
};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A database kind this crate can store accounts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (feature `sqlite`).
    Sqlite,
    /// PostgreSQL (feature `postgres`).
    Postgres,
    /// MySQL or MariaDB (feature `mysql`).
    MySql,
}

impl Backend {
    /// The backend a database URL names by its scheme (`sqlite:`, `postgres:` or
    /// `postgresql:`, `mysql:` or `mariadb:`), whether or not its feature is enabled.
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            _ => None,
        }
    }

    /// The feature of this crate that compiles the backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Whether this build has the backend.
    pub fn is_enabled(self) -> bool {
        match self {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            Backend::MySql => cfg!(feature = "mysql"),
        }
    }
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
    /// MySQL, 4 readers on SQLite (which always writes through one connection).
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
    inner: Inner,
    /// Drops a test database when the last clone goes.
    #[cfg(feature = "testing")]
    _test_database: Option<std::sync::Arc<testing::DropDatabase>>,
}

/// The backend stores, one per enabled feature.
#[derive(Clone)]
enum Inner {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgStore),
    #[cfg(feature = "mysql")]
    MySql(mysql::MySqlStore),
}

/// Runs `$call` with `$store` bound to the backend store, whichever it is.
macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match &$self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite($store) => $call,
            #[cfg(feature = "postgres")]
            Inner::Postgres($store) => $call,
            #[cfg(feature = "mysql")]
            Inner::MySql($store) => $call,
        }
    };
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
        let inner = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => Inner::Sqlite(sqlite::SqliteStore::connect(url, options).await?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Inner::Postgres(postgres::PgStore::connect(url, options).await?),
            #[cfg(feature = "mysql")]
            Backend::MySql => Inner::MySql(mysql::MySqlStore::connect(url, options).await?),
            #[allow(unreachable_patterns)]
            backend => return Err(SetupError::BackendNotEnabled { backend }),
        };
        Ok(Self::from_inner(inner))
    }

    /// A store over a SQLite pool the application set up itself. The pool should have
    /// foreign keys on (sqlx's default) and a busy timeout; this store reads and writes
    /// through it.
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Self {
        Self::from_inner(Inner::Sqlite(sqlite::SqliteStore::from_pool(pool)))
    }

    /// A store over a PostgreSQL pool the application set up itself.
    #[cfg(feature = "postgres")]
    pub fn from_postgres_pool(pool: sqlx::PgPool) -> Self {
        Self::from_inner(Inner::Postgres(postgres::PgStore::from_pool(pool)))
    }

    /// A store over a MySQL or MariaDB pool the application set up itself.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Self {
        Self::from_inner(Inner::MySql(mysql::MySqlStore::from_pool(pool)))
    }

    fn from_inner(inner: Inner) -> Self {
        Self {
            inner,
            #[cfg(feature = "testing")]
            _test_database: None,
        }
    }

    /// Creates the schema, or brings it up to date, with the migrations embedded in this
    /// crate for the store's backend.
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
        dispatch!(self, store => store.migrate().await)
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        match &self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Inner::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Inner::MySql(_) => Backend::MySql,
        }
    }

    /// Closes the pool: new calls fail with `StoreError::Backend`, and this waits until
    /// the connections in use are returned and closed. For a clean shutdown.
    pub async fn close(&self) {
        dispatch!(self, store => store.close().await);
    }
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (open, idle) = dispatch!(self, store => store.pool_sizes());
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .field("connections", &open)
            .field("idle", &idle)
            .finish_non_exhaustive()
    }
}

/// Implements store traits for [`SqlStore`] by handing each call to the backend store's
/// method of the same name.
macro_rules! delegate {
    ($(
        $trait:ident {
            $( fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty; )*
        }
    )*) => {
        $(
            #[async_trait]
            impl $trait for SqlStore {
                $(
                    async fn $method(&self $(, $arg: $ty)*) -> StoreResult<$ret> {
                        dispatch!(self, store => store.$method($($arg),*).await)
                    }
                )*
            }
        )*
    };
}

delegate! {
    AccountStore {
        fn insert_account(&self, new: &NewAccount) -> ();
        fn account_by_id(&self, id: AccountId) -> Option<Account>;
        fn account_by_username(&self, username: &Username) -> Option<Account>;
        fn account_by_email(&self, email: &EmailAddress) -> Option<Account>;
        fn update_profile(&self, id: AccountId, change: &ProfileChange, at: DateTime<Utc>)
            -> Option<Account>;
        fn set_email(&self, id: AccountId, email: &EmailAddress, verified: bool, at: DateTime<Utc>)
            -> bool;
        fn set_recovery_email(&self, id: AccountId, email: Option<&EmailAddress>, at: DateTime<Utc>)
            -> bool;
        fn set_account_state(&self, id: AccountId, state: AccountState) -> bool;
        fn set_avatar(&self, id: AccountId, avatar: Option<&Avatar>, at: DateTime<Utc>) -> bool;
        fn avatar(&self, id: AccountId) -> Option<Avatar>;
    }
    CredentialStore {
        fn password_hash(&self, id: AccountId) -> Option<PasswordHash>;
        fn set_password_hash(
            &self,
            id: AccountId,
            hash: &PasswordHash,
            stamp: &SecurityStamp,
            at: DateTime<Utc>,
        ) -> bool;
        fn upgrade_password_hash(
            &self,
            id: AccountId,
            current: &PasswordHash,
            upgraded: &PasswordHash,
        ) -> bool;
    }
    AuthenticatorStore {
        fn totp(&self, account: AccountId) -> Option<TotpRecord>;
        fn put_pending_totp(&self, account: AccountId, secret: &TotpSecret, at: DateTime<Utc>)
            -> bool;
        fn confirm_totp(
            &self,
            account: AccountId,
            step: i64,
            recovery_codes: &[TokenDigest],
            at: DateTime<Utc>,
        ) -> bool;
        fn accept_totp_step(&self, account: AccountId, step: i64) -> bool;
        fn delete_totp(&self, account: AccountId) -> bool;
        fn replace_recovery_codes(&self, account: AccountId, codes: &[TokenDigest], at: DateTime<Utc>)
            -> ();
        fn redeem_recovery_code(&self, account: AccountId, code: &TokenDigest) -> bool;
        fn insert_passkey(&self, passkey: &PasskeyRecord) -> ();
        fn passkeys_of(&self, account: AccountId) -> Vec<PasskeyRecord>;
        fn passkey_by_credential_id(&self, credential_id: &[u8]) -> Option<PasskeyRecord>;
        fn rename_passkey(&self, account: AccountId, id: PasskeyId, name: &str) -> bool;
        fn record_passkey_use(
            &self,
            id: PasskeyId,
            credential: &str,
            sign_count: u32,
            backup_state: bool,
            at: DateTime<Utc>,
        ) -> bool;
        fn delete_passkey(&self, account: AccountId, id: PasskeyId) -> PasskeyDeletion;
        fn delete_authenticators(&self, account: AccountId) -> u64;
        fn second_factors(&self, account: AccountId) -> SecondFactors;
    }
    ApiTokenStore {
        fn insert_api_token(&self, token: &ApiTokenRecord, limit: u32) -> LimitedInsert;
        fn api_token_by_digest(&self, digest: &TokenDigest) -> Option<ApiTokenRecord>;
        fn api_tokens_of(&self, account: AccountId) -> Vec<ApiTokenRecord>;
        fn touch_api_token(&self, id: ApiTokenId, at: DateTime<Utc>, ip: Option<IpAddr>) -> ();
        fn replace_api_token_secret(
            &self,
            account: AccountId,
            id: ApiTokenId,
            digest: &TokenDigest,
            last_four: &str,
        ) -> Option<ApiTokenRecord>;
        fn delete_api_token(&self, account: AccountId, id: ApiTokenId) -> Option<ApiTokenRecord>;
    }
    AppPasswordStore {
        fn insert_app_password(&self, password: &AppPasswordRecord, limit: u32) -> LimitedInsert;
        fn app_password_by_digest(&self, digest: &TokenDigest) -> Option<AppPasswordRecord>;
        fn app_passwords_of(&self, account: AccountId) -> Vec<AppPasswordRecord>;
        fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> ();
        fn delete_app_password(&self, account: AccountId, id: AppPasswordId)
            -> Option<AppPasswordRecord>;
    }
    SshKeyStore {
        fn insert_ssh_key(&self, key: &SshKeyRecord, limit: u32) -> LimitedInsert;
        fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> Option<SshKeyRecord>;
        fn ssh_keys_of(&self, account: AccountId) -> Vec<SshKeyRecord>;
        fn delete_ssh_key(&self, account: AccountId, id: SshKeyId) -> Option<SshKeyRecord>;
    }
    SessionStore {
        fn insert_session(&self, session: &SessionRecord) -> ();
        fn session_by_token(&self, digest: &TokenDigest) -> Option<SessionRecord>;
        fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> ();
        fn rotate_session(&self, id: SessionId, current: &TokenDigest, rotation: &SessionRotation)
            -> bool;
        fn sessions_of(&self, account: AccountId) -> Vec<SessionRecord>;
        fn record_second_factor_attempt(&self, id: SessionId) -> Option<u32>;
        fn delete_session(&self, account: AccountId, id: SessionId) -> bool;
        fn delete_sessions_of(&self, account: AccountId, keep: Option<SessionId>) -> u64;
        fn purge_expired_sessions(&self, now: DateTime<Utc>) -> u64;
    }
    ChallengeStore {
        fn insert_challenge(&self, challenge: &Challenge, replace: bool) -> ();
        fn find_challenge(
            &self,
            digest: &TokenDigest,
            purpose: ChallengePurpose,
            now: DateTime<Utc>,
        ) -> Option<Challenge>;
        fn consume_challenge(
            &self,
            digest: &TokenDigest,
            purpose: ChallengePurpose,
            now: DateTime<Utc>,
        ) -> Option<Challenge>;
        fn delete_challenges(&self, account: AccountId, purpose: ChallengePurpose) -> u64;
        fn purge_expired_challenges(&self, now: DateTime<Utc>) -> u64;
    }
    ThrottleStore {
        fn record_failure(&self, account: AccountId, kind: FailureKind, at: DateTime<Utc>)
            -> Failures;
        fn failures(&self, account: AccountId, kind: FailureKind) -> Failures;
        fn clear_failures(&self, account: AccountId, kind: FailureKind) -> ();
    }
    SecurityEventStore {
        fn record_event(&self, event: &SecurityEvent) -> ();
        fn events_of(&self, account: AccountId, page: EventPage) -> Vec<SecurityEvent>;
    }
    RateLimitStore {
        fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> u32;
        fn purge_rate_limits(&self, before: DateTime<Utc>) -> u64;
    }
    PolicyStore {
        fn policy(&self) -> Option<Policy>;
        fn put_policy(&self, policy: &Policy) -> ();
    }
}
