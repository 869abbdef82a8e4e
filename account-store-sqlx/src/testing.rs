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

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Backend, SetupError, SqlStore};

/// The environment variable naming a PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "ACCOUNT_TEST_POSTGRES_URL";

/// The environment variable naming a MySQL or MariaDB server for tests.
pub const MYSQL_URL_VAR: &str = "ACCOUNT_TEST_MYSQL_URL";

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
    /// backend's environment variable names. `None`, after printing why to stderr, when
    /// that variable is not set, so the caller can skip its test.
    ///
    /// # Errors
    ///
    /// As [`sqlite`](Self::sqlite) and `postgres`, and
    /// [`SetupError::BackendNotEnabled`] for a backend this build leaves out.
    pub async fn for_backend(backend: Backend) -> Option<Result<Self, SetupError>> {
        let var = match backend {
            Backend::Sqlite => return Some(Self::sqlite()),
            Backend::Postgres => POSTGRES_URL_VAR,
            Backend::MySql => MYSQL_URL_VAR,
        };
        let Some(server_url) = server_url(var) else {
            eprintln!("skipping: {var} is not set, so there is no {backend} server to test on");
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

/// A migrated store in a fresh database of `backend`, for a conformance-suite factory;
/// `None`, after printing why, when the backend's server is not configured.
///
/// # Panics
///
/// When the database cannot be created or migrated: a test cannot go on without it.
#[allow(clippy::panic)]
pub async fn fresh_store(backend: Backend) -> Option<SqlStore> {
    let db = match TestDatabase::for_backend(backend).await? {
        Ok(db) => db,
        Err(e) => panic!("a fresh {backend} test database could not be created: {e}"),
    };
    match db.store().await {
        Ok(store) => Some(store),
        Err(e) => panic!("the fresh {backend} test database could not be migrated: {e}"),
    }
}

/// The server URL in `var`, if it is set and not empty.
pub fn server_url(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
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

/// Whether this process has swept `backend` for leftovers yet.
fn first_sweep(backend: Backend) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SQLITE: AtomicBool = AtomicBool::new(false);
    static POSTGRES: AtomicBool = AtomicBool::new(false);
    static MYSQL: AtomicBool = AtomicBool::new(false);
    let flag = match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
        Backend::MySql => &MYSQL,
    };
    !flag.swap(true, Ordering::SeqCst)
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
