//! Fresh databases for tests, each dropped when the test is done with it.
//!
//! Tests must never see each other's rows, so every test gets a database of its own: a
//! new SQLite file in a new temporary directory, or a new database on a PostgreSQL or
//! MySQL server (`CREATE DATABASE acct_sqlx_<time>_<random>`), migrated and ready.
//!
//! ```no_run
//! use account_store_sqlx::testing::TestDatabase;
//!
//! # async fn run() -> Result<(), account_store_sqlx::SetupError> {
//! let db = TestDatabase::sqlite()?;
//! let store = db.store().await?; // connected and migrated
//! drop(db); // the database lives on while `store` (or a clone) does
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! # Cleaning up
//!
//! A database goes when the last of its [`TestDatabase`] and the stores made from it is
//! dropped: a SQLite directory is removed there and then; a server database is dropped
//! (`DROP DATABASE`, forcing out open connections on PostgreSQL) by a short-lived thread
//! with its own runtime and connection, which the drop waits for, since `Drop` cannot
//! await and the test's runtime may already be winding down.
//!
//! A test process that is killed leaves its databases behind. So the first database of
//! each backend that a process creates also sweeps: every `acct_sqlx_*` database on the
//! server (or directory in the temporary directory) whose name says it is more than an
//! hour old is dropped.
//!
//! # Servers
//!
//! The PostgreSQL and MySQL tests of this workspace find their servers in the
//! environment variables [`POSTGRES_URL_VAR`] and [`MYSQL_URL_VAR`]: URLs of a user
//! that may create and drop databases, such as `postgres://postgres@127.0.0.1:5432/postgres`
//! and `mysql://root@127.0.0.1:3306/mysql`. The database a URL names is only used to
//! connect; the tests work in databases of their own.
//!
//! # Skipping, and CI
//!
//! This module is the one place that decides whether a server test runs:
//! [`TestDatabase::for_backend`] (and [`fresh_database`] and [`fresh_store`] on top of
//! it). When a backend's variable is not set:
//!
//! - on a developer's machine the test returns early and passes, and the first such test
//!   of each backend in a test binary writes a note to the process's standard error,
//!   such as `note: the PostgreSQL tests in conformance are skipped:
//!   ACCOUNT_TEST_POSTGRES_URL is not set`. The note is written to the stderr handle
//!   itself rather than through `eprintln!`, because the test harness captures
//!   `eprintln!` of a passing test and shows it to no one;
//! - when the environment variable [`CI_VAR`] is `true` (or `1`), the test fails with a
//!   message naming the variable, so that a CI run can never be green without the
//!   server suites.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Backend, SetupError, SqlStore};

/// The environment variable naming a PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "ACCOUNT_TEST_POSTGRES_URL";

/// The environment variable naming a MySQL or MariaDB server for tests.
pub const MYSQL_URL_VAR: &str = "ACCOUNT_TEST_MYSQL_URL";

/// The environment variable that, when `true` (or `1`), makes a missing server URL fail
/// the test instead of skipping it. CI services set it (GitHub Actions, GitLab CI and
/// others set `CI=true`), and so does `.ci/run`.
pub const CI_VAR: &str = "CI";

/// What every test database's name starts with.
pub const NAME_PREFIX: &str = "acct_sqlx_";

/// How old a leftover test database must be before a sweep drops it.
const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// A fresh, empty database that is dropped when it and every store made from it are.
///
/// `Debug` shows the backend and the database's name, not the URL (which may hold the
/// server's password).
pub struct TestDatabase {
    backend: Backend,
    url: String,
    cleanup: Arc<DropDatabase>,
}

impl TestDatabase {
    /// A new SQLite file in a new temporary directory, removed on drop.
    ///
    /// # Errors
    ///
    /// [`SetupError::CreateDirectory`] when the directory cannot be made.
    pub fn sqlite() -> Result<Self, SetupError> {
        let name = unique_name();
        let temp = std::env::temp_dir();
        if first_sweep(Backend::Sqlite) {
            sweep_directories(&temp);
        }
        let dir = temp.join(&name);
        std::fs::create_dir_all(&dir).map_err(SetupError::CreateDirectory)?;
        let url = format!("sqlite:{}", dir.join("accounts.db").display());
        Ok(Self {
            backend: Backend::Sqlite,
            url,
            cleanup: Arc::new(DropDatabase(Cleanup::Directory(dir))),
        })
    }

    /// A new database on the PostgreSQL server at `server_url`.
    ///
    /// # Errors
    ///
    /// [`SetupError::InvalidUrl`] for a URL that is not a PostgreSQL URL,
    /// [`SetupError::Connect`] when the server cannot be reached or refuses to create the
    /// database.
    #[cfg(feature = "postgres")]
    pub async fn postgres(server_url: &str) -> Result<Self, SetupError> {
        Self::on_server(Backend::Postgres, server_url).await
    }

    /// A new database on the MySQL or MariaDB server at `server_url`.
    ///
    /// # Errors
    ///
    /// As `postgres`.
    #[cfg(feature = "mysql")]
    pub async fn mysql(server_url: &str) -> Result<Self, SetupError> {
        Self::on_server(Backend::MySql, server_url).await
    }

    /// A new database for `backend`: a SQLite file, or a database on the server that the
    /// backend's environment variable names. `None` when that variable is not set, so the
    /// caller can skip its test; the first skip of each backend in a process writes a note
    /// saying so to the process's standard error (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// As [`sqlite`](Self::sqlite) and `postgres`, and
    /// [`SetupError::BackendNotEnabled`] for a backend this build leaves out.
    ///
    /// # Panics
    ///
    /// When the variable is not set and [`CI_VAR`] is `true`: a CI run must not skip.
    pub async fn for_backend(backend: Backend) -> Option<Result<Self, SetupError>> {
        let Some(var) = url_var(backend) else {
            return Some(Self::sqlite());
        };
        let Some(server_url) = server_url(var) else {
            skip(backend, var);
            return None;
        };
        Some(Self::on_server(backend, &server_url).await)
    }

    async fn on_server(backend: Backend, server_url: &str) -> Result<Self, SetupError> {
        let name = unique_name();
        let url = database_url(server_url, &name)?;
        create_database(backend, server_url, &name).await?;
        Ok(Self {
            backend,
            url,
            cleanup: Arc::new(DropDatabase(Cleanup::Server {
                backend,
                server_url: server_url.to_owned(),
                name,
            })),
        })
    }

    /// The database's URL, for a process of its own (a server under test) to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A store connected to this database and migrated. The database stays until this
    /// value and every such store (and its clones) are dropped.
    ///
    /// # Errors
    ///
    /// As [`SqlStore::connect`] and [`SqlStore::migrate`].
    pub async fn store(&self) -> Result<SqlStore, SetupError> {
        let mut store = SqlStore::connect(&self.url).await?;
        store.migrate().await?;
        store._test_database = Some(Arc::clone(&self.cleanup));
        Ok(store)
    }
}

/// A fresh database of `backend` for a test; `None` when the backend's server is not
/// configured, so the test can skip (as [`TestDatabase::for_backend`], which says so).
///
/// ```no_run
/// # async fn test() {
/// use account_store_sqlx::{Backend, testing};
///
/// let Some(db) = testing::fresh_database(Backend::Postgres).await else {
///     return; // ACCOUNT_TEST_POSTGRES_URL is not set, and CI is not `true`
/// };
/// let store = db.store().await.expect("migrated");
/// # let _ = store;
/// # }
/// ```
///
/// # Panics
///
/// When the database cannot be created (a test cannot go on without it), and as
/// [`TestDatabase::for_backend`] in CI.
#[allow(clippy::panic)]
pub async fn fresh_database(backend: Backend) -> Option<TestDatabase> {
    match TestDatabase::for_backend(backend).await? {
        Ok(db) => Some(db),
        Err(e) => panic!("a fresh {backend} test database could not be created: {e}"),
    }
}

/// A fresh PostgreSQL database in which every transaction is `SERIALIZABLE`
/// (`ALTER DATABASE ... SET default_transaction_isolation = 'serializable'`), as the
/// PostgreSQL-compatible distributed engines (CockroachDB, YugabyteDB) run them all: a
/// transaction that cannot be ordered with the others fails with `40001` and must be
/// tried again. The conformance suite runs on it to show that the store does so. `None`
/// when `ACCOUNT_TEST_POSTGRES_URL` is not set (as [`fresh_database`]).
///
/// # Panics
///
/// As [`fresh_database`], and when the setting cannot be made.
#[cfg(feature = "postgres")]
#[allow(clippy::panic)]
pub async fn fresh_serializable_database() -> Option<TestDatabase> {
    let db = fresh_database(Backend::Postgres).await?;
    if let Err(e) = postgres::make_serializable(&db.url).await {
        panic!("the fresh PostgreSQL test database could not be made serializable: {e}");
    }
    Some(db)
}

/// A migrated store in a fresh database of `backend`, for a conformance-suite factory;
/// `None` when the backend's server is not configured (as [`fresh_database`]).
///
/// # Panics
///
/// When the database cannot be created or migrated: a test cannot go on without it; and
/// as [`TestDatabase::for_backend`] in CI.
#[allow(clippy::panic)]
pub async fn fresh_store(backend: Backend) -> Option<SqlStore> {
    let db = fresh_database(backend).await?;
    match db.store().await {
        Ok(store) => Some(store),
        Err(e) => panic!("the fresh {backend} test database could not be migrated: {e}"),
    }
}

/// The server URL in `var`, if it is set and not empty.
pub fn server_url(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The environment variable naming `backend`'s test server; `None` for SQLite, which
/// needs no server.
pub fn url_var(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(POSTGRES_URL_VAR),
        Backend::MySql => Some(MYSQL_URL_VAR),
    }
}

/// Whether this is a CI run, which must not skip a server test: [`CI_VAR`] is `true` or
/// `1` (in any case, spaces around ignored). Anything else, or nothing, is a developer's
/// run.
pub fn ci_requires_servers() -> bool {
    std::env::var(CI_VAR).is_ok_and(|v| is_ci_value(&v))
}

fn is_ci_value(value: &str) -> bool {
    let value = value.trim();
    value.eq_ignore_ascii_case("true") || value == "1"
}

/// Decides what a test does when `var`, the URL of `backend`'s server, is not set: in CI
/// it fails; elsewhere it goes on to skip, and the first skip of `backend` in this
/// process says so where a person sees it.
#[allow(clippy::panic)]
fn skip(backend: Backend, var: &str) {
    if ci_requires_servers() {
        panic!(
            "{var} is not set, and {CI_VAR}=true: a CI run must not skip the {backend} tests. \
             Set {var} to the URL of a {backend} server where the tests may create and drop \
             databases (.ci/run does), or run without {CI_VAR}=true to skip them"
        );
    }
    if first_time(&SKIP_NOTED, backend) {
        note(&format!(
            "note: the {backend} tests in {} are skipped: {var} is not set \
             (set it to a server URL to run them; with {CI_VAR}=true they fail instead)",
            test_binary()
        ));
    }
}

/// Writes one line to the process's standard error through the handle itself. libtest
/// captures what `eprintln!` prints in a test and shows it only for a failing test, so
/// the note of a passing, skipped test would never be seen; a write to the handle is not
/// captured.
fn note(line: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    // A note that cannot be written changes nothing about the test, so the error is
    // dropped.
    let _ = writeln!(stderr, "{line}");
}

/// The name of the running test binary without cargo's hash (`conformance` for
/// `conformance-0123abcd`), to say which binary skipped; `this binary` when unknown.
fn test_binary() -> String {
    let stem = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()));
    match stem {
        None => "this binary".to_owned(),
        Some(stem) => match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        },
    }
}

/// `acct_sqlx_<unix seconds>_<random>`: unique, and old ones can be told by their name.
fn unique_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The last 16 digits of a UUID v7 are random (its first ones are the time).
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!("{NAME_PREFIX}{secs}_{}", &random[16..])
}

/// Whether a database with this name is a test database older than [`LEFTOVER_AGE`].
fn is_leftover(name: &str) -> bool {
    let Some(secs) = name
        .strip_prefix(NAME_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok())
    else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now.saturating_sub(secs) > LEFTOVER_AGE.as_secs()
}

/// `server_url` with its path replaced by `/name`.
fn database_url(server_url: &str, name: &str) -> Result<String, SetupError> {
    let mut url = url::Url::parse(server_url)
        .map_err(|e| SetupError::InvalidUrl(sqlx::Error::Configuration(Box::new(e))))?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// One flag per backend, for what is done once per process and backend.
type PerBackend = [AtomicBool; 3];

/// The backends this process has swept for leftovers.
static SWEPT: PerBackend = [const { AtomicBool::new(false) }; 3];

/// The backends this process has written its skip note for.
static SKIP_NOTED: PerBackend = [const { AtomicBool::new(false) }; 3];

/// Whether this process has swept `backend` for leftovers yet (from now on, it has).
fn first_sweep(backend: Backend) -> bool {
    first_time(&SWEPT, backend)
}

/// `true` the first time it is called for `flags` and `backend` in this process.
fn first_time(flags: &PerBackend, backend: Backend) -> bool {
    let index = match backend {
        Backend::Sqlite => 0,
        Backend::Postgres => 1,
        Backend::MySql => 2,
    };
    !flags[index].swap(true, Ordering::SeqCst)
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("backend", &self.backend)
            .field("name", &self.cleanup.name())
            .finish_non_exhaustive()
    }
}

/// Removes the SQLite test directories in `temp` that a killed test process left behind.
fn sweep_directories(temp: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_leftover)
            && let Err(e) = std::fs::remove_dir_all(entry.path())
        {
            eprintln!("could not remove the leftover test database {name:?}: {e}");
        }
    }
}

/// Removes a test database when the last reference to it goes.
pub(crate) struct DropDatabase(Cleanup);

impl DropDatabase {
    /// The database's name (or the SQLite directory's).
    fn name(&self) -> String {
        match &self.0 {
            Cleanup::Directory(dir) => dir.display().to_string(),
            Cleanup::Server { name, .. } => name.clone(),
        }
    }
}

enum Cleanup {
    Directory(PathBuf),
    Server {
        backend: Backend,
        server_url: String,
        name: String,
    },
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        match &self.0 {
            Cleanup::Directory(dir) => {
                if let Err(e) = std::fs::remove_dir_all(dir) {
                    eprintln!("the test database {} was not removed: {e}", dir.display());
                }
            }
            Cleanup::Server {
                backend,
                server_url,
                name,
            } => {
                let (backend, server_url, name) = (*backend, server_url.clone(), name.clone());
                // `Drop` cannot await, and the runtime that made the database may be
                // shutting down: a thread with a runtime of its own does the work.
                let dropper = std::thread::spawn(move || -> Result<(), String> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime
                        .block_on(drop_database(backend, &server_url, &name))
                        .map_err(|e| format!("{name}: {e}"))
                });
                match dropper.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("a test database was not dropped: {e}"),
                    Err(_) => eprintln!("dropping a test database panicked"),
                }
            }
        }
    }
}

#[allow(clippy::unused_async)]
async fn create_database(backend: Backend, server_url: &str, name: &str) -> Result<(), SetupError> {
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres::create(server_url, name).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => mysql::create(server_url, name).await,
        #[allow(unreachable_patterns)]
        backend => {
            let _ = (server_url, name);
            Err(SetupError::BackendNotEnabled { backend })
        }
    }
}

#[allow(clippy::unused_async)]
async fn drop_database(backend: Backend, server_url: &str, name: &str) -> Result<(), sqlx::Error> {
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres::drop(server_url, name).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => mysql::drop(server_url, name).await,
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (server_url, name);
            Ok(())
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use sqlx::{Connection as _, PgConnection};

    use super::{NAME_PREFIX, is_leftover};
    use crate::{Backend, SetupError};

    pub(super) async fn create(server_url: &str, name: &str) -> Result<(), SetupError> {
        let mut conn = PgConnection::connect(server_url)
            .await
            .map_err(SetupError::Connect)?;
        if super::first_sweep(Backend::Postgres) {
            sweep(&mut conn).await;
        }
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .map_err(SetupError::Connect)?;
        conn.close().await.map_err(SetupError::Connect)
    }

    /// Makes `SERIALIZABLE` the isolation of every transaction that later connections
    /// to the database at `url` begin, their single statements included.
    pub(super) async fn make_serializable(url: &str) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(url).await?;
        let name: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await?;
        sqlx::query(&format!(
            "ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'"
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await
    }

    pub(super) async fn drop(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(server_url).await?;
        // FORCE ends the connections of pools that are still open.
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        conn.close().await
    }

    async fn sweep(conn: &mut PgConnection) {
        let names: Vec<String> = match sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
        )
        .bind(NAME_PREFIX)
        .fetch_all(&mut *conn)
        .await
        {
            Ok(names) => names,
            Err(e) => {
                eprintln!("could not look for leftover test databases: {e}");
                return;
            }
        };
        for name in names.iter().filter(|n| is_leftover(n)) {
            if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *conn)
                .await
            {
                eprintln!("could not drop the leftover test database {name}: {e}");
            }
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use sqlx::{Connection as _, MySqlConnection};

    use super::{NAME_PREFIX, is_leftover};
    use crate::{Backend, SetupError};

    pub(super) async fn create(server_url: &str, name: &str) -> Result<(), SetupError> {
        let mut conn = MySqlConnection::connect(server_url)
            .await
            .map_err(SetupError::Connect)?;
        if super::first_sweep(Backend::MySql) {
            sweep(&mut conn).await;
        }
        sqlx::query(&format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .execute(&mut conn)
        .await
        .map_err(SetupError::Connect)?;
        conn.close().await.map_err(SetupError::Connect)
    }

    pub(super) async fn drop(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
        let mut conn = MySqlConnection::connect(server_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
            .execute(&mut conn)
            .await?;
        conn.close().await
    }

    async fn sweep(conn: &mut MySqlConnection) {
        let names: Vec<String> = match sqlx::query_scalar(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE LEFT(SCHEMA_NAME, ?) = ?",
        )
        .bind(i64::try_from(NAME_PREFIX.len()).unwrap_or(i64::MAX))
        .bind(NAME_PREFIX)
        .fetch_all(&mut *conn)
        .await
        {
            Ok(names) => names,
            Err(e) => {
                eprintln!("could not look for leftover test databases: {e}");
                return;
            }
        };
        for name in names.iter().filter(|n| is_leftover(n)) {
            if let Err(e) = sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
                .execute(&mut *conn)
                .await
            {
                eprintln!("could not drop the leftover test database {name}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let name = unique_name();
        assert!(name.starts_with(NAME_PREFIX));
        assert_ne!(name, unique_name());
    }

    #[test]
    fn old_names_are_leftovers() {
        let name = unique_name();
        assert!(!is_leftover(&name), "a database made now is not a leftover");
        assert!(is_leftover("acct_sqlx_1000_0123456789abcdef"));
        assert!(!is_leftover("acct_sqlx_template"));
        assert!(!is_leftover("someone_elses_database"));
    }

    #[test]
    fn ci_means_true_or_one() {
        for value in ["true", "TRUE", " True ", "1"] {
            assert!(is_ci_value(value), "{value:?}");
        }
        for value in ["", "false", "0", "yes", "no"] {
            assert!(!is_ci_value(value), "{value:?}");
        }
    }

    #[test]
    fn each_backend_is_noted_once() {
        static FLAGS: PerBackend = [const { AtomicBool::new(false) }; 3];
        assert!(first_time(&FLAGS, Backend::Postgres));
        assert!(!first_time(&FLAGS, Backend::Postgres));
        assert!(first_time(&FLAGS, Backend::MySql));
    }

    #[test]
    fn binary_names_lose_their_hash() {
        // The unit tests run in `account_store_sqlx-<hash>`.
        assert_eq!(test_binary(), "account_store_sqlx");
    }

    #[test]
    fn database_urls_replace_the_path_only() {
        assert_eq!(
            database_url(
                "postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable",
                "x"
            )
            .unwrap(),
            "postgres://postgres:pw@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            database_url("mysql://root@127.0.0.1:3306/mysql", "y").unwrap(),
            "mysql://root@127.0.0.1:3306/y"
        );
    }
}
