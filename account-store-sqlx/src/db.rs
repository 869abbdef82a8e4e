//! The one place that talks to sqlx to run statements: the driver of the shared
//! operations (`account-store-sql`), which runs a statement on a pool or in a
//! transaction, binds arguments and reads columns the way each backend keeps them, and
//! turns driver errors into store errors.
//!
//! A time is bound and read as integer microseconds on SQLite and as a native time
//! elsewhere; text comes back from MySQL's binary collation as bytes. Nothing outside
//! this file knows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use account_core::store::{StoreError, StoreResult};
use account_store_sql::{Arg, Backend, Columns, Driver, Refusal, Transaction};
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Row as _, Type};
use uuid::Uuid;

#[cfg(any(feature = "postgres", feature = "mysql"))]
use crate::kept::Kept;

#[cfg(feature = "mysql")]
use sqlx::mysql::{MySql, MySqlConnection, MySqlPool, MySqlRow};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};

/// The connection pools of a store.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// SQLite: writes queue for one writer connection, the only writer SQLite allows at a
    /// time, so they never spin on its lock. Reads outside a transaction run directly
    /// (`direct`, on the calling thread) for a database in a file, which this store
    /// opened; otherwise (in memory, or the application's pool) on `reader`. No writer of
    /// its own when the application gave one pool: it reads and writes.
    #[cfg(feature = "sqlite")]
    Sqlite {
        reader: SqlitePool,
        writer: Option<SqlitePool>,
        direct: Option<std::sync::Arc<crate::direct::Readers>>,
    },
    /// PostgreSQL and MySQL: reads outside a transaction on connections kept out of the
    /// pool (see `kept`), the rest on the pool.
    #[cfg(feature = "postgres")]
    Postgres(Kept<Postgres>),
    #[cfg(feature = "mysql")]
    MySql(Kept<MySql>),
}

/// How long a statement on the pool runs before the store checks that the server still
/// takes connections (see `Db::on_pool`): far longer than a statement or a connection to
/// a server that answers takes, far shorter than the pool's acquire timeout.
const PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Statements on the store's pools: reads on SQLite's readers, writes on its writer.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) pools: Pools,
}

/// Where a statement runs: a pool, which lends it a connection, or the connection of a
/// transaction.
enum Conn<'c> {
    #[cfg(feature = "sqlite")]
    SqlitePool(&'c SqlitePool),
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut SqliteConnection),
    #[cfg(feature = "postgres")]
    PgPool(&'c PgPool),
    #[cfg(feature = "postgres")]
    Pg(&'c mut PgConnection),
    #[cfg(feature = "mysql")]
    MySqlPool(&'c MySqlPool),
    #[cfg(feature = "mysql")]
    MySql(&'c mut MySqlConnection),
}

/// Runs `$run` with `$query`, the statement with its arguments bound for the backend of
/// `$conn`, and `$exec`, what it runs on. SQLite keeps times as microseconds.
macro_rules! on_conn {
    ($conn:expr, $sql:expr, $args:expr, |$query:ident, $exec:ident| $run:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            Conn::SqlitePool($exec) => {
                let $query = bind::<Sqlite>($sql, $args, true);
                $run
            }
            #[cfg(feature = "sqlite")]
            Conn::Sqlite($exec) => {
                let $query = bind::<Sqlite>($sql, $args, true);
                $run
            }
            #[cfg(feature = "postgres")]
            Conn::PgPool($exec) => {
                let $query = bind::<Postgres>($sql, $args, false);
                $run
            }
            #[cfg(feature = "postgres")]
            Conn::Pg($exec) => {
                let $query = bind::<Postgres>($sql, $args, false);
                $run
            }
            #[cfg(feature = "mysql")]
            Conn::MySqlPool($exec) => {
                let $query = bind::<MySql>($sql, $args, false);
                $run
            }
            #[cfg(feature = "mysql")]
            Conn::MySql($exec) => {
                let $query = bind::<MySql>($sql, $args, false);
                $run
            }
        }
    };
}

/// The statement `sql` with `args` bound: times as microseconds when `micros`.
fn bind<'q, DB: Database>(
    sql: &'q str,
    args: &'q [Arg<'q>],
    micros: bool,
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    Option<Uuid>: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
    Option<i16>: Encode<'q, DB> + Type<DB>,
    Option<bool>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    args.iter().fold(sqlx::query(sql), |query, arg| match arg {
        Arg::Uuid(v) => query.bind(*v),
        Arg::Text(v) => query.bind(v.as_deref()),
        Arg::Bytes(v) => query.bind(*v),
        Arg::Int(v) => query.bind(*v),
        Arg::Int32(v) => query.bind(*v),
        Arg::Int16(v) => query.bind(*v),
        Arg::Bool(v) => query.bind(*v),
        Arg::Time(v) if micros => query.bind(v.map(|t| t.timestamp_micros())),
        Arg::Time(v) => query.bind(*v),
    })
}

impl Conn<'_> {
    fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Conn::SqlitePool(_) | Conn::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::PgPool(_) | Conn::Pg(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Conn::MySqlPool(_) | Conn::MySql(_) => Backend::MySql,
        }
    }
}

// The three ways to run a statement: each takes it in the shared SQL, makes it the
// backend's own, and turns a driver error into a store error.

async fn fetch_optional(conn: Conn<'_>, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<Row>> {
    let backend = conn.backend();
    try_fetch_optional(conn, sql, args)
        .await
        .map_err(|e| store_error(backend, e))
}

async fn fetch_all(conn: Conn<'_>, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
    let backend = conn.backend();
    try_fetch_all(conn, sql, args)
        .await
        .map_err(|e| store_error(backend, e))
}

// The two reads with sqlx's error, which kept connections look at.

async fn try_fetch_optional(
    conn: Conn<'_>,
    sql: &str,
    args: &[Arg<'_>],
) -> sqlx::Result<Option<Row>> {
    let sql = conn.backend().sql(sql);
    on_conn!(conn, &sql, args, |query, exec| query
        .fetch_optional(exec)
        .await
        .map(|row| row.map(Row::from)))
}

async fn try_fetch_all(conn: Conn<'_>, sql: &str, args: &[Arg<'_>]) -> sqlx::Result<Vec<Row>> {
    let sql = conn.backend().sql(sql);
    on_conn!(conn, &sql, args, |query, exec| query
        .fetch_all(exec)
        .await
        .map(|rows| rows.into_iter().map(Row::from).collect::<Vec<_>>()))
}

async fn execute(conn: Conn<'_>, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
    let backend = conn.backend();
    let sql = backend.sql(sql);
    let done = on_conn!(conn, &sql, args, |query, exec| query
        .execute(exec)
        .await
        .map(|done| done.rows_affected()));
    done.map_err(|e| store_error(backend, e))
}

impl Db {
    fn reader(&self) -> Conn<'_> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, .. } => Conn::SqlitePool(reader),
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => Conn::PgPool(kept.pool()),
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => Conn::MySqlPool(kept.pool()),
        }
    }

    /// SQLite's direct readers, where reads run on the calling thread.
    #[cfg(feature = "sqlite")]
    fn direct(&self) -> Option<&crate::direct::Readers> {
        match &self.pools {
            Pools::Sqlite { direct, .. } => direct.as_deref(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Runs `op`, a statement on the pool or the start of a transaction, unless the
    /// server is known to refuse connections (then the call fails at once, see `kept`),
    /// and marks the server lost when `op` finds it unreachable. SQLite has no server.
    ///
    /// A call already waiting for the pool when the server went away would wait out the
    /// pool's acquire timeout (sqlx retries a refused connection until then), so a call
    /// that takes longer than [`PATIENCE`] asks the server once itself, and fails at once
    /// when it refuses; a server that answers (a pool merely busy) leaves the call waiting
    /// as before.
    async fn on_pool<T>(&self, op: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.ready().await?;
        let mut op = std::pin::pin!(op);
        let result = match tokio::time::timeout(PATIENCE, &mut op).await {
            Ok(result) => result,
            Err(_slow) => {
                if let Some(lost) = self.lost() {
                    lost.store(true, Ordering::Release);
                }
                self.ready().await?;
                op.await
            }
        };
        mark_lost(self.lost(), &result);
        result
    }

    /// Fails at once while the server is marked lost and refuses connections (see `kept`).
    async fn ready(&self) -> StoreResult<()> {
        match &self.pools {
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => kept
                .ready()
                .await
                .map_err(|e| store_error(Backend::Postgres, e)),
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => kept
                .ready()
                .await
                .map_err(|e| store_error(Backend::MySql, e)),
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }

    /// The mark of a lost server (see `kept`); none on SQLite.
    fn lost(&self) -> Option<&Arc<AtomicBool>> {
        match &self.pools {
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => Some(kept.lost()),
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => Some(kept.lost()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    fn writer(&self) -> Conn<'_> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, writer, .. } => {
                Conn::SqlitePool(writer.as_ref().unwrap_or(reader))
            }
            #[allow(unreachable_patterns)]
            _ => self.reader(),
        }
    }
}

/// Returns `$read(conn, ...)` run on a kept connection of PostgreSQL or MySQL (once more
/// on a fresh one when the kept one was broken); on SQLite, does nothing.
macro_rules! read_kept {
    ($db:expr, $read:ident($($arg:expr),*)) => {
        match &$db.pools {
            #[cfg(feature = "postgres")]
            Pools::Postgres(kept) => return read_kept!(@on $db, kept, Pg, Backend::Postgres, $read($($arg),*)),
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => return read_kept!(@on $db, kept, MySql, Backend::MySql, $read($($arg),*)),
            #[allow(unreachable_patterns)]
            _ => {}
        }
    };
    (@on $db:expr, $kept:expr, $variant:ident, $backend:expr, $read:ident($($arg:expr),*)) => {
        $db.on_pool(async {
            async {
                let mut lent = $kept.lend().await?;
                loop {
                    let result = $read(Conn::$variant(lent.conn()), $($arg),*).await;
                    match lent.done(result).await {
                        Ok(result) => break result,
                        Err(fresh) => lent = fresh,
                    }
                }
            }
            .await
            .map_err(|e| store_error($backend, e))
        })
        .await
    };
}

impl Driver for Db {
    type Row = Row;
    type Tx = Tx;

    fn backend(&self) -> Backend {
        match self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { .. } => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pools::MySql(_) => Backend::MySql,
        }
    }

    async fn fetch_optional(
        &self,
        write: bool,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<Row>> {
        #[cfg(feature = "sqlite")]
        if let (false, Some(direct)) = (write, self.direct()) {
            return Ok(direct.fetch_optional(sql, args)?.map(Row::Direct));
        }
        if !write {
            read_kept!(self, try_fetch_optional(sql, args));
        }
        let conn = if write { self.writer() } else { self.reader() };
        self.on_pool(fetch_optional(conn, sql, args)).await
    }

    async fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        #[cfg(feature = "sqlite")]
        if let Some(direct) = self.direct() {
            let rows = direct.fetch_all(sql, args)?;
            return Ok(rows.into_iter().map(Row::Direct).collect());
        }
        read_kept!(self, try_fetch_all(sql, args));
        self.on_pool(fetch_all(self.reader(), sql, args)).await
    }

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.on_pool(execute(self.writer(), sql, args)).await
    }

    async fn execute_last_insert_id(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        match &self.pools {
            #[cfg(feature = "mysql")]
            Pools::MySql(kept) => {
                self.on_pool(async {
                    bind::<MySql>(sql, args, false)
                        .execute(kept.pool())
                        .await
                        .map(|done| done.last_insert_id())
                        .map_err(|e| store_error(Backend::MySql, e))
                })
                .await
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (sql, args);
                Err(StoreError::backend("LAST_INSERT_ID is MySQL's"))
            }
        }
    }

    /// On SQLite the transaction holds the write lock from its first statement (`BEGIN
    /// IMMEDIATE`), so what it reads stays true until it commits.
    async fn begin(&self) -> StoreResult<Tx> {
        let backend = self.backend();
        let begin = async {
            match &self.pools {
                #[cfg(feature = "sqlite")]
                Pools::Sqlite { reader, writer, .. } => writer
                    .as_ref()
                    .unwrap_or(reader)
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map(TxConn::Sqlite),
                #[cfg(feature = "postgres")]
                Pools::Postgres(kept) => kept.pool().begin().await.map(TxConn::Pg),
                #[cfg(feature = "mysql")]
                Pools::MySql(kept) => kept.pool().begin().await.map(TxConn::MySql),
            }
            .map_err(|e| store_error(backend, e))
        };
        Ok(Tx {
            conn: self.on_pool(begin).await?,
            lost: self.lost().cloned(),
        })
    }
}

/// A transaction. Dropped without a commit, sqlx rolls it back.
pub(crate) struct Tx {
    conn: TxConn,
    /// The store's mark of a lost server (see `kept`), set when a statement finds the
    /// connection failed; none on SQLite.
    lost: Option<Arc<AtomicBool>>,
}

enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    #[cfg(feature = "postgres")]
    Pg(sqlx::Transaction<'static, Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, MySql>),
}

impl Tx {
    fn backend(&self) -> Backend {
        match self.conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            TxConn::Pg(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            TxConn::MySql(_) => Backend::MySql,
        }
    }

    fn conn(&mut self) -> Conn<'_> {
        match &mut self.conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => Conn::Sqlite(tx),
            #[cfg(feature = "postgres")]
            TxConn::Pg(tx) => Conn::Pg(tx),
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => Conn::MySql(tx),
        }
    }
}

impl Transaction for Tx {
    type Row = Row;

    async fn fetch_optional(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<Row>> {
        let result = fetch_optional(self.conn(), sql, args).await;
        mark_lost(self.lost.as_ref(), &result);
        result
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let result = fetch_all(self.conn(), sql, args).await;
        mark_lost(self.lost.as_ref(), &result);
        result
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let result = execute(self.conn(), sql, args).await;
        mark_lost(self.lost.as_ref(), &result);
        result
    }

    async fn commit(self) -> StoreResult<()> {
        let backend = self.backend();
        let done = match self.conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            TxConn::Pg(tx) => tx.commit().await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => tx.commit().await,
        };
        let result = done.map_err(|e| store_error(backend, e));
        mark_lost(self.lost.as_ref(), &result);
        result
    }
}

/// Marks the server lost (see `kept`) when `result` says it could not be reached.
fn mark_lost<T>(lost: Option<&Arc<AtomicBool>>, result: &StoreResult<T>) {
    if let (Some(lost), Err(StoreError::Unavailable(_))) = (lost, result) {
        lost.store(true, Ordering::Release);
    }
}

/// The one place where sqlx's errors become store errors, through the shared rule
/// ([`Backend::store_error`]): what the database refused, read from its answer. A
/// foreign key's refusal is SQLSTATE `23503` on PostgreSQL and the extended code 787
/// (`SQLITE_CONSTRAINT_FOREIGNKEY`) on SQLite. MySQL's SQLSTATE (`23000`) is shared by
/// every integrity error, so there it is the error number: 1452
/// (`ER_NO_REFERENCED_ROW_2`) is the missing parent, where 1451 would be a parent still
/// referenced, which the cascading keys never report. A deadlock's victim is `40P01`, a
/// serialization failure `40001` (which InnoDB also uses for its deadlock victims).
///
/// A database that cannot be reached (no connection lent within the pool's timeout, or
/// the connection failed) is [`StoreError::Unavailable`].
fn store_error(backend: Backend, error: sqlx::Error) -> StoreError {
    if connection_failed(&error) || matches!(error, sqlx::Error::PoolTimedOut) {
        return StoreError::unavailable(error);
    }
    backend.store_error(error, |error| {
        let db = error.as_database_error()?;
        let code = db.code();
        let code = code.as_deref();
        Some(Refusal {
            message: db.message(),
            constraint: db.constraint(),
            unique_violation: db.is_unique_violation(),
            missing_parent: match backend {
                Backend::Sqlite => code == Some("787"),
                Backend::Postgres => code == Some("23503"),
                #[cfg(feature = "mysql")]
                Backend::MySql => db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == 1452),
                #[allow(unreachable_patterns)]
                _ => false,
            },
            rolled_back: matches!(code, Some("40001" | "40P01")),
        })
    })
}

/// Whether `error` says the connection itself failed (rather than the statement), so
/// that it must not be used again: the socket failed, or the server said so before
/// closing it: SQLSTATE class `08` (connection exception), `57P` (PostgreSQL shut the
/// session down: `57P01` when an administrator terminated it, a restart's `57P02` and
/// `57P03`), or `70100` (MariaDB's "connection was killed").
pub(crate) fn connection_failed(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "70100"
        }),
        _ => false,
    }
}

/// A row, as the backend returned it.
pub(crate) enum Row {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteRow),
    /// A row of SQLite's direct reads, which read their own columns.
    #[cfg(feature = "sqlite")]
    Direct(crate::direct::Row),
    #[cfg(feature = "postgres")]
    Pg(PgRow),
    #[cfg(feature = "mysql")]
    MySql(MySqlRow),
}

/// `From` the row of each backend.
macro_rules! row_from {
    ($($feature:literal: $row:ty => $variant:ident),*) => {$(
        #[cfg(feature = $feature)]
        impl From<$row> for Row {
            fn from(row: $row) -> Self {
                Row::$variant(row)
            }
        }
    )*};
}

row_from!("sqlite": SqliteRow => Sqlite, "postgres": PgRow => Pg, "mysql": MySqlRow => MySql);

impl Row {
    /// The value of `column` as sqlx decodes `T` on the row's backend; a missing column
    /// or one of another type is a [`StoreError::Backend`].
    fn get<T>(&self, column: &str) -> StoreResult<Option<T>>
    where
        Option<T>: Decodes,
    {
        <Option<T>>::decode(self, column).map_err(StoreError::backend)
    }
}

/// A type every backend's row decodes alike.
trait Decodes: Sized {
    fn decode(row: &Row, column: &str) -> sqlx::Result<Self>;
}

/// Implements [`Decodes`] for types every backend decodes alike.
macro_rules! decodes {
    ($($ty:ty),*) => {$(
        impl Decodes for Option<$ty> {
            fn decode(row: &Row, column: &str) -> sqlx::Result<Self> {
                match row {
                    #[cfg(feature = "sqlite")]
                    Row::Sqlite(r) => r.try_get(column),
                    // Never asked: `Columns` hands a direct row its own reading.
                    #[cfg(feature = "sqlite")]
                    Row::Direct(_) => Err(sqlx::Error::ColumnNotFound(column.to_owned())),
                    #[cfg(feature = "postgres")]
                    Row::Pg(r) => r.try_get(column),
                    #[cfg(feature = "mysql")]
                    Row::MySql(r) => r.try_get(column),
                }
            }
        }
    )*};
}

decodes!(Uuid, Vec<u8>, String, i64, i32, i16, bool, DateTime<Utc>);

/// Hands a direct row its own reading of a column.
macro_rules! direct {
    ($row:expr, $read:ident($column:expr)) => {
        #[cfg(feature = "sqlite")]
        if let Row::Direct(row) = $row {
            return row.$read($column);
        }
    };
}

impl Columns for Row {
    fn read_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        direct!(self, read_uuid(column));
        self.get(column)
    }

    fn read_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        direct!(self, read_bytes(column));
        self.get(column)
    }

    /// MySQL's binary collation makes sqlx see binary strings, which it will not decode
    /// as text: they are read as bytes there.
    fn read_text(&self, column: &str) -> StoreResult<Option<String>> {
        direct!(self, read_text(column));
        match self {
            #[cfg(feature = "mysql")]
            Row::MySql(_) => self
                .get::<Vec<u8>>(column)?
                .map(|bytes| {
                    String::from_utf8(bytes).map_err(|e| account_store_sql::corrupt(column, e))
                })
                .transpose(),
            #[allow(unreachable_patterns)]
            _ => self.get(column),
        }
    }

    fn read_int(&self, column: &str) -> StoreResult<Option<i64>> {
        direct!(self, read_int(column));
        self.get(column)
    }

    fn read_int32(&self, column: &str) -> StoreResult<Option<i32>> {
        direct!(self, read_int32(column));
        self.get(column)
    }

    fn read_int16(&self, column: &str) -> StoreResult<Option<i16>> {
        direct!(self, read_int16(column));
        self.get(column)
    }

    fn read_bool(&self, column: &str) -> StoreResult<Option<bool>> {
        direct!(self, read_bool(column));
        self.get(column)
    }

    /// Integer microseconds on SQLite, a native time elsewhere.
    fn read_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        direct!(self, read_time(column));
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(_) => self
                .get::<i64>(column)?
                .map(|us| {
                    DateTime::from_timestamp_micros(us)
                        .ok_or_else(|| account_store_sql::corrupt(column, "out of range"))
                })
                .transpose(),
            #[allow(unreachable_patterns)]
            _ => self.get(column),
        }
    }
}
