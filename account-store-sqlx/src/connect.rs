//! Opening the pools, running the migrations, closing: the set-up each backend does its
//! own way.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use account_store_sql::Driver as _;

use crate::db::{Db, Pools};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::kept::Kept;
use crate::{Backend, SetupError, SqlStoreOptions};

impl Db {
    /// Connects to the database at `url`, whose scheme named `backend`.
    pub(crate) async fn connect(
        backend: Backend,
        url: &str,
        options: &SqlStoreOptions,
    ) -> Result<Self, SetupError> {
        let pools = match backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => sqlite(url, options).await?,
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let connect = sqlx::postgres::PgConnectOptions::from_str(url)
                    .map_err(SetupError::InvalidUrl)?;
                Pools::Postgres(Kept::new(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(options.max_connections.unwrap_or(10))
                        .acquire_timeout(options.acquire_timeout)
                        .connect_with(connect)
                        .await
                        .map_err(SetupError::Connect)?,
                ))
            }
            #[cfg(feature = "mysql")]
            Backend::MySql => mysql(url, options).await?,
            #[allow(unreachable_patterns)]
            backend => return Err(SetupError::BackendNotEnabled { backend }),
        };
        Ok(Db { pools })
    }

    /// Runs the migrations of `account-schema` for the backend. sqlx records them in
    /// `_sqlx_migrations` with the checksum of their text, as its `migrate!` would.
    pub(crate) async fn migrate(&self) -> Result<(), SetupError> {
        let migrator = Migrator::new(Embedded(self.backend()))
            .await
            .map_err(SetupError::Migrate)?;
        let done = match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, writer, .. } => {
                migrator.run(writer.as_ref().unwrap_or(reader)).await
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => migrator.run(kept.pool()).await,
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => migrator.run(kept.pool()).await,
        };
        done.map_err(SetupError::Migrate)
    }

    /// Closes the pools, waiting for the connections in use to come back.
    pub(crate) async fn close(&self) {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite {
                reader,
                writer,
                direct,
            } => {
                if let Some(direct) = direct {
                    direct.close();
                }
                if let Some(writer) = writer {
                    writer.close().await;
                }
                reader.close().await;
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => kept.close().await,
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => kept.close().await,
        }
    }

    /// Connections open and idle, for `Debug`.
    pub(crate) fn pool_sizes(&self) -> (u32, usize) {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, writer, .. } => writer
                .iter()
                .fold((reader.size(), reader.num_idle()), |(open, idle), w| {
                    (open + w.size(), idle + w.num_idle())
                }),
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => (kept.pool().size(), kept.pool().num_idle()),
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => (kept.pool().size(), kept.pool().num_idle()),
        }
    }
}

/// The migration files of `account-schema`, as sqlx's migrator takes them.
struct Embedded(Backend);

impl fmt::Debug for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} migrations of account-schema", self.0)
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = account_schema::migrations(self.0.dialect())
            .iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::Simple,
                    Cow::Borrowed(m.sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// Opens (and creates, with its directory) the SQLite database at `url`.
#[cfg(feature = "sqlite")]
async fn sqlite(url: &str, options: &SqlStoreOptions) -> Result<Pools, SetupError> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    // SQLite connections live in this process and do not break the way network
    // connections do, so the pools hand them out without a ping first: a ping is a round
    // trip to the connection's thread, as dear as the query it would precede.
    let pool_options = || {
        SqlitePoolOptions::new()
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
    };
    let readers = options.max_connections.unwrap_or(4);
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(SetupError::InvalidUrl)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(options.sqlite_busy_timeout);
    if url.contains(":memory:") || url.contains("mode=memory") {
        // An in-memory database lives as long as one of its connections: keep one open
        // for good, and let readers and writers share it.
        let pool = pool_options()
            .max_connections(readers)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(connect)
            .await
            .map_err(SetupError::Connect)?;
        return Ok(Pools::Sqlite {
            reader: pool,
            writer: None,
            direct: None,
        });
    }
    if let Some(dir) = connect.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(SetupError::CreateDirectory)?;
    }
    // The writer connects first, so that the file exists (and is in WAL mode) before any
    // reader opens it. Reads outside a transaction run directly on the calling thread
    // (see `direct`); the one sqlx pool is the writer, which transactions use.
    let writer = pool_options()
        .max_connections(1)
        .connect_with(connect.clone())
        .await
        .map_err(SetupError::Connect)?;
    // As many readers stay open as threads may read at once: the async workers.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let keep = usize::try_from(readers).unwrap_or(usize::MAX).max(workers);
    let direct = crate::direct::Readers::open(
        connect.get_filename().to_owned(),
        options.sqlite_busy_timeout,
        keep,
    )
    .map_err(|e| SetupError::OpenReaders(Box::new(e)))?;
    Ok(Pools::Sqlite {
        reader: writer,
        writer: None,
        direct: Some(std::sync::Arc::new(direct)),
    })
}

/// Connects a pool to the MySQL or MariaDB database at `url` (`mysql:` or `mariadb:`).
#[cfg(feature = "mysql")]
async fn mysql(url: &str, options: &SqlStoreOptions) -> Result<Pools, SetupError> {
    use sqlx::Executor as _;

    // sqlx knows the scheme `mysql:` only; MariaDB speaks the same protocol.
    let url = match url.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mariadb:") => format!("mysql:{}", &url[8..]),
        _ => url.to_owned(),
    };
    let connect =
        sqlx::mysql::MySqlConnectOptions::from_str(&url).map_err(SetupError::InvalidUrl)?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(10))
        .acquire_timeout(options.acquire_timeout)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // A value too long for its column is an error, never silently cut, on
                // servers configured without strict mode too.
                conn.execute(
                    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(connect)
        .await
        .map_err(SetupError::Connect)?;
    Ok(Pools::MySql(Kept::new(pool)))
}
