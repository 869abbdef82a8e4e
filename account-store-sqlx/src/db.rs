//! The one place that talks to sqlx: running statements on a pool or in a transaction,
//! binding arguments and reading columns the way each backend keeps them, and turning
//! driver errors into store errors.
//!
//! The store's operations (`ops/`) are written once over [`Db`] and [`Tx`], which take a
//! statement in the shared SQL of [`crate::dialect`] and a list of [`Arg`]s. A time is
//! bound and read as integer microseconds on SQLite and as a native time elsewhere; text
//! comes back from MySQL's binary collation as bytes. Nothing outside this file knows.

use std::future::Future;

use account_core::model::{
    AccountId, ApiTokenId, AppPasswordId, EventId, PasskeyId, SessionId, SshKeyId,
};
use account_core::store::{StoreError, StoreResult};
use account_core::token::TokenDigest;
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Row as _, Type};
use uuid::Uuid;

#[cfg(feature = "mysql")]
use sqlx::mysql::{MySql, MySqlConnection, MySqlPool, MySqlRow};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnection, PgPool, PgRow, Postgres};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};

use crate::Backend;
use crate::rows::corrupt;

/// The connection pools of a store.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// SQLite: readers share a small pool (WAL lets them read while a write goes on);
    /// writes queue for one writer connection, the only writer SQLite allows at a time,
    /// so they never spin on its lock. No writer of its own when the application gave one
    /// pool: it reads and writes.
    #[cfg(feature = "sqlite")]
    Sqlite {
        reader: SqlitePool,
        writer: Option<SqlitePool>,
    },
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
    #[cfg(feature = "mysql")]
    MySql(MySqlPool),
}

/// Statements on the store's pools: reads on SQLite's readers, writes on its writer.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) pools: Pools,
}

/// One argument of a statement. Each holds an `Option`, so that a null is bound with its
/// column's type.
#[derive(Debug, Clone)]
pub(crate) enum Arg<'a> {
    Uuid(Option<Uuid>),
    Text(Option<std::borrow::Cow<'a, str>>),
    Bytes(Option<&'a [u8]>),
    Int(Option<i64>),
    Int32(Option<i32>),
    Int16(Option<i16>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
}

/// A statement's arguments, in the order of its placeholders.
pub(crate) type Args<'a> = Vec<Arg<'a>>;

/// The arguments `args![a, b, c]` of a statement, each converted with `Arg::from`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { vec![$($crate::db::Arg::from($arg)),*] };
}
pub(crate) use args;

/// `From` conversions into [`Arg`]: each type as it and its `Option`.
macro_rules! arg_from {
    ($($variant:ident($ty:ty) => |$v:ident| $conv:expr;)*) => {$(
        impl<'a> From<$ty> for Arg<'a> {
            fn from($v: $ty) -> Self {
                Arg::$variant(Some($conv))
            }
        }
        impl<'a> From<Option<$ty>> for Arg<'a> {
            fn from(value: Option<$ty>) -> Self {
                Arg::$variant(value.map(|$v| $conv))
            }
        }
    )*};
}

arg_from! {
    Uuid(Uuid) => |v| v;
    Uuid(AccountId) => |v| v.as_uuid();
    Uuid(SessionId) => |v| v.as_uuid();
    Uuid(PasskeyId) => |v| v.as_uuid();
    Uuid(ApiTokenId) => |v| v.as_uuid();
    Uuid(AppPasswordId) => |v| v.as_uuid();
    Uuid(SshKeyId) => |v| v.as_uuid();
    Uuid(EventId) => |v| v.as_uuid();
    Text(&'a str) => |v| v.into();
    Text(String) => |v| v.into();
    Bytes(&'a [u8]) => |v| v;
    Bytes(&'a TokenDigest) => |v| &v.as_bytes()[..];
    Int(i64) => |v| v;
    Int32(i32) => |v| v;
    Int16(i16) => |v| v;
    Bool(bool) => |v| v;
    Time(DateTime<Utc>) => |v| v;
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
    let sql = backend.sql(sql);
    let found = on_conn!(conn, &sql, args, |query, exec| query
        .fetch_optional(exec)
        .await
        .map(|row| row.map(Row::from)));
    found.map_err(|e| store_error(backend, e))
}

async fn fetch_all(conn: Conn<'_>, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
    let backend = conn.backend();
    let sql = backend.sql(sql);
    let found = on_conn!(conn, &sql, args, |query, exec| query
        .fetch_all(exec)
        .await
        .map(|rows| rows.into_iter().map(Row::from).collect::<Vec<_>>()));
    found.map_err(|e| store_error(backend, e))
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
    /// The backend the pools talk to.
    pub(crate) fn backend(&self) -> Backend {
        match self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { .. } => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Pools::MySql(_) => Backend::MySql,
        }
    }

    fn reader(&self) -> Conn<'_> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, .. } => Conn::SqlitePool(reader),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => Conn::PgPool(pool),
            #[cfg(feature = "mysql")]
            Pools::MySql(pool) => Conn::MySqlPool(pool),
        }
    }

    fn writer(&self) -> Conn<'_> {
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, writer } => Conn::SqlitePool(writer.as_ref().unwrap_or(reader)),
            #[allow(unreachable_patterns)]
            _ => self.reader(),
        }
    }

    /// The row `sql` finds, if any, as `decode` makes it.
    pub(crate) async fn read<T>(
        &self,
        sql: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = fetch_optional(self.reader(), sql, &args).await?;
        row.as_ref().map(decode).transpose()
    }

    /// Every row `sql` finds, as `decode` makes it.
    pub(crate) async fn read_all<T>(
        &self,
        sql: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let rows = fetch_all(self.reader(), sql, &args).await?;
        rows.iter().map(decode).collect()
    }

    /// Runs a change and returns how many rows it matched.
    pub(crate) async fn write(&self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        execute(self.writer(), sql, &args).await
    }

    /// Runs a change that returns a row (`RETURNING`, `SELECT` of a write), on the writer.
    async fn write_returning(&self, sql: &str, args: Args<'_>) -> StoreResult<Option<Row>> {
        fetch_optional(self.writer(), sql, &args).await
    }

    /// Starts a transaction. On SQLite it holds the write lock from its first statement
    /// (`BEGIN IMMEDIATE`), so what it reads stays true until it commits.
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        let backend = self.backend();
        let conn = match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite { reader, writer } => writer
                .as_ref()
                .unwrap_or(reader)
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map(TxConn::Sqlite),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => pool.begin().await.map(TxConn::Pg),
            #[cfg(feature = "mysql")]
            Pools::MySql(pool) => pool.begin().await.map(TxConn::MySql),
        };
        Ok(Tx {
            conn: conn.map_err(|e| store_error(backend, e))?,
        })
    }

    /// Runs a change (`UPDATE`, or an upsert) and returns the row it left as `columns`,
    /// as `decode` makes it: with `RETURNING` where the backend has it. MySQL has not, so
    /// there it is a transaction: the change locks the row, and `read` (`FROM ... WHERE
    /// ...` with `read_args`) brings it back under that lock. `None` when the change
    /// matched no row.
    pub(crate) async fn change_returning<T>(
        &self,
        change: &str,
        args: Args<'_>,
        columns: &str,
        read: &str,
        read_args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        if self.backend().has_returning() {
            let sql = format!("{change} RETURNING {columns}");
            let row = self.write_returning(&sql, args).await?;
            return row.as_ref().map(decode).transpose();
        }
        retry(|| async {
            let mut tx = self.begin().await?;
            let found = tx
                .change_returning(
                    change,
                    args.clone(),
                    columns,
                    read,
                    read_args.clone(),
                    &decode,
                )
                .await?;
            tx.commit().await?;
            Ok(found)
        })
        .await
    }

    /// Deletes the row of `table` that `filter` finds and returns it as `columns`, as
    /// `decode` makes it: with `DELETE ... RETURNING` where the backend has it; on MySQL
    /// in a transaction that reads the row `FOR UPDATE` first, so that of concurrent
    /// deletes only one gets it.
    pub(crate) async fn delete_returning<T>(
        &self,
        table: &str,
        columns: &str,
        filter: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        if self.backend().has_returning() {
            let sql = format!("DELETE FROM {table} WHERE {filter} RETURNING {columns}");
            let row = self.write_returning(&sql, args).await?;
            return row.as_ref().map(decode).transpose();
        }
        retry(|| async {
            let mut tx = self.begin().await?;
            let found = tx
                .delete_returning(table, columns, filter, args.clone(), &decode)
                .await?;
            tx.commit().await?;
            Ok(found)
        })
        .await
    }

    /// Runs an upsert that reports the counter it left as the statement's last insert id
    /// (`LAST_INSERT_ID(expr)`): how MySQL returns a value from a write in one statement.
    #[cfg(feature = "mysql")]
    pub(crate) async fn write_last_insert_id(&self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        #[allow(irrefutable_let_patterns)]
        let Pools::MySql(pool) = &self.pools else {
            return Err(StoreError::backend("LAST_INSERT_ID is MySQL's"));
        };
        bind::<MySql>(sql, &args, false)
            .execute(pool)
            .await
            .map(|done| done.last_insert_id())
            .map_err(|e| store_error(Backend::MySql, e))
    }
}

/// A transaction. Dropped without [`commit`](Tx::commit), it rolls back.
pub(crate) struct Tx {
    conn: TxConn,
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
    /// The backend the transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
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

    /// The row `sql` finds, if any.
    pub(crate) async fn read(&mut self, sql: &str, args: Args<'_>) -> StoreResult<Option<Row>> {
        fetch_optional(self.conn(), sql, &args).await
    }

    /// Every row `sql` finds.
    pub(crate) async fn read_all(&mut self, sql: &str, args: Args<'_>) -> StoreResult<Vec<Row>> {
        fetch_all(self.conn(), sql, &args).await
    }

    /// Runs a change and returns how many rows it matched.
    pub(crate) async fn write(&mut self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        execute(self.conn(), sql, &args).await
    }

    /// Locks the account's row until the commit (see [`Backend::lock_account`]) and says
    /// whether the account exists.
    pub(crate) async fn lock_account(&mut self, account: AccountId) -> StoreResult<bool> {
        let lock = self.backend().lock_account();
        Ok(self.read(lock, args![account]).await?.is_some())
    }

    /// Locks the account's row until the commit, for a transaction that adds a row of
    /// the account: [`StoreError::NoSuchAccount`] when there is none, before anything is
    /// written or counted.
    pub(crate) async fn require_account(&mut self, account: AccountId) -> StoreResult<()> {
        if self.lock_account(account).await? {
            Ok(())
        } else {
            Err(StoreError::NoSuchAccount)
        }
    }

    /// Runs a change inside the transaction and returns the row it left, as
    /// [`Db::change_returning`] does: with `RETURNING`, or on MySQL the change (which
    /// locks the row) and then `SELECT {columns} {read}`. `None` when it matched no row.
    pub(crate) async fn change_returning<T>(
        &mut self,
        change: &str,
        args: Args<'_>,
        columns: &str,
        read: &str,
        read_args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = if self.backend().has_returning() {
            self.read(&format!("{change} RETURNING {columns}"), args)
                .await?
        } else if self.write(change, args).await? == 0 {
            None
        } else {
            self.read(&format!("SELECT {columns} {read}"), read_args)
                .await?
        };
        row.as_ref().map(decode).transpose()
    }

    /// Deletes the row of `table` that `filter` finds inside the transaction and returns
    /// it, as [`Db::delete_returning`] does: with `DELETE ... RETURNING`, or on MySQL a
    /// `SELECT ... FOR UPDATE` and then the `DELETE`.
    pub(crate) async fn delete_returning<T>(
        &mut self,
        table: &str,
        columns: &str,
        filter: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = if self.backend().has_returning() {
            let sql = format!("DELETE FROM {table} WHERE {filter} RETURNING {columns}");
            self.read(&sql, args).await?
        } else {
            let read = format!("SELECT {columns} FROM {table} WHERE {filter} FOR UPDATE");
            let row = self.read(&read, args.clone()).await?;
            if row.is_some() {
                let delete = format!("DELETE FROM {table} WHERE {filter}");
                self.write(&delete, args).await?;
            }
            row
        };
        row.as_ref().map(decode).transpose()
    }

    /// Commits.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        let backend = self.backend();
        let done = match self.conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite(tx) => tx.commit().await,
            #[cfg(feature = "postgres")]
            TxConn::Pg(tx) => tx.commit().await,
            #[cfg(feature = "mysql")]
            TxConn::MySql(tx) => tx.commit().await,
        };
        done.map_err(|e| store_error(backend, e))
    }
}

/// How often work that the database rolled back to break a deadlock (or that failed to
/// serialize) is tried before its error is returned.
const ATTEMPTS: u32 = 5;

/// Runs `attempt` again while it fails because the database rolled it back to break a
/// deadlock (PostgreSQL `40P01`) or a serialization failure (`40001`, which InnoDB also
/// uses for its deadlock victims). The victim's work was rolled back whole, so doing it
/// again is safe. SQLite never answers so: its transactions take the write lock first.
pub(crate) async fn retry<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < ATTEMPTS && is_retryable(&e) => {
                tracing::debug!(attempt = tries, "transaction lost a deadlock; trying again");
                // A short, growing pause lets the winner finish first.
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries) * 2)).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

fn is_retryable(error: &StoreError) -> bool {
    let StoreError::Backend(inner) = error else {
        return false;
    };
    inner
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// The one place where driver errors become store errors: a unique violation of a key
/// that means a taken value is [`StoreError::Conflict`]; a row refused by its foreign
/// key, whose account is gone, is [`StoreError::NoSuchAccount`]; anything else (a lost
/// connection, a pool timeout, a failed statement) is [`StoreError::Backend`], with the
/// driver's error inside for the log.
fn store_error(backend: Backend, error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation()
            && let Some(conflict) = backend.conflict(db.as_ref())
        {
            return StoreError::Conflict(conflict);
        }
        if backend.missing_parent(db.as_ref()) {
            return StoreError::NoSuchAccount;
        }
    }
    StoreError::backend(error)
}

/// A row, as the backend returned it.
pub(crate) enum Row {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteRow),
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

/// A type a column can be read as, on every backend.
pub(crate) trait Column: Sized {
    /// The value of `column` in `row`.
    fn read(row: &Row, column: &str) -> sqlx::Result<Self>;
}

/// Implements [`Column`] for types every backend decodes alike.
macro_rules! column {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn read(row: &Row, column: &str) -> sqlx::Result<Self> {
                match row {
                    #[cfg(feature = "sqlite")]
                    Row::Sqlite(r) => r.try_get(column),
                    #[cfg(feature = "postgres")]
                    Row::Pg(r) => r.try_get(column),
                    #[cfg(feature = "mysql")]
                    Row::MySql(r) => r.try_get(column),
                }
            }
        }
    )*};
}

column!(
    Uuid,
    Option<Uuid>,
    Vec<u8>,
    Option<Vec<u8>>,
    String,
    Option<String>,
    i64,
    Option<i64>,
    i32,
    i16,
    bool,
    Option<DateTime<Utc>>
);

impl Row {
    /// The value of `column`; a missing column or one of another type is a
    /// [`StoreError::Backend`].
    pub(crate) fn get<T: Column>(&self, column: &'static str) -> StoreResult<T> {
        T::read(self, column).map_err(StoreError::backend)
    }

    /// A text column.
    pub(crate) fn text(&self, column: &'static str) -> StoreResult<String> {
        self.opt_text(column)?
            .ok_or_else(|| corrupt(column, "null where text was expected"))
    }

    /// A nullable text column. MySQL's binary collation makes sqlx see binary strings,
    /// which it will not decode as text: they are read as bytes there.
    pub(crate) fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
        match self {
            #[cfg(feature = "mysql")]
            Row::MySql(_) => self
                .get::<Option<Vec<u8>>>(column)?
                .map(|bytes| String::from_utf8(bytes).map_err(|e| corrupt(column, e)))
                .transpose(),
            #[allow(unreachable_patterns)]
            _ => self.get(column),
        }
    }

    /// A point in time.
    pub(crate) fn time(&self, column: &'static str) -> StoreResult<DateTime<Utc>> {
        self.opt_time(column)?
            .ok_or_else(|| corrupt(column, "null where a time was expected"))
    }

    /// A nullable point in time: integer microseconds on SQLite, a native time elsewhere.
    pub(crate) fn opt_time(&self, column: &'static str) -> StoreResult<Option<DateTime<Utc>>> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(_) => self
                .get::<Option<i64>>(column)?
                .map(|us| {
                    DateTime::from_timestamp_micros(us)
                        .ok_or_else(|| corrupt(column, "out of range"))
                })
                .transpose(),
            #[allow(unreachable_patterns)]
            _ => self.get(column),
        }
    }
}
