//! The one place that talks to diesel to run statements: the driver of the shared
//! operations (`account-store-sql`). It binds a statement's arguments to diesel's
//! `sql_query` as each backend keeps them, runs it on a deadpool connection through
//! diesel-async, reads the rows it returns by column name, holds transactions, and turns
//! diesel's errors into store errors.
//!
//! Identifiers are `uuid` on PostgreSQL and 16 bytes elsewhere; times are integer
//! microseconds on SQLite, `timestamptz` on PostgreSQL and `DATETIME(6)` (UTC) on MySQL.
//! That is how the sqlx adapter keeps them too, so either adapter reads what the other
//! wrote. Nothing outside this file knows.

use std::fmt;

use account_core::store::{StoreError, StoreResult};
use account_store_sql::{Arg, Backend, Columns, Driver, Refusal, Transaction, corrupt};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::row::NamedRow;
use diesel::sql_types::{BigInt, Binary, Bool, HasSqlType, Integer, Nullable, SmallInt, Text};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::{AsyncConnectionCore, SimpleAsyncConnection};
use futures_util::{StreamExt as _, TryStreamExt as _};
use uuid::Uuid;

#[cfg(feature = "mysql")]
use diesel_async::AsyncMysqlConnection;
#[cfg(feature = "postgres")]
use diesel_async::AsyncPgConnection;

/// A SQLite connection for async code: diesel's, run on the blocking pool.
#[cfg(feature = "sqlite")]
pub type SqliteConnection =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>;

/// The connections of a store: readers, and on SQLite a pool of one writer, the only
/// writer SQLite allows at a time, so that writes queue for it instead of spinning on
/// SQLite's lock. Without a writer (PostgreSQL, MySQL, a SQLite pool the application
/// gave) the readers write too.
pub(crate) struct Conns<C: Conn> {
    pub(crate) reader: PoolOf<C>,
    pub(crate) writer: Option<PoolOf<C>>,
}

/// The deadpool pool of a connection type, and a connection it lends.
pub(crate) type PoolOf<C> = deadpool::managed::Pool<<C as Conn>::Manager>;
type Object<C> = deadpool::managed::Object<<C as Conn>::Manager>;

impl<C: Conn> Conns<C> {
    fn pool(&self, write: bool) -> &PoolOf<C> {
        match &self.writer {
            Some(writer) if write => writer,
            _ => &self.reader,
        }
    }

    /// A connection of the writer (`write`) or of the readers, or why there is none (see
    /// [`pool_error`]).
    ///
    /// The pool checks an idle connection before lending it (diesel-async's recycling,
    /// see `lib.rs`) and drops one found broken, then makes a new one; a new connection
    /// that the server refuses fails the call at once, since deadpool, unlike sqlx's
    /// pool, does not try again until its timeout. So while the server is down a call
    /// fails as fast as the refusal comes, and waits for the pool's timeouts only when
    /// every connection is busy or the server does not answer at all.
    async fn get(&self, write: bool) -> StoreResult<Object<C>> {
        self.pool(write).get().await.map_err(pool_error)
    }

    /// Connections open and idle, for `Debug`.
    fn sizes(&self) -> (usize, usize) {
        std::iter::once(&self.reader)
            .chain(&self.writer)
            .map(PoolOf::<C>::status)
            .fold((0, 0), |(open, idle), s| {
                (open + s.size, idle + s.available)
            })
    }
}

/// The database of a store, by backend.
pub(crate) enum Db {
    #[cfg(feature = "sqlite")]
    Sqlite(Conns<SqliteConnection>),
    #[cfg(feature = "postgres")]
    Postgres(Conns<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    MySql(Conns<AsyncMysqlConnection>),
}

/// Runs `$body` with `$conns` the [`Conns`] of whichever backend `$db` is: the same code,
/// compiled for each backend's connection type.
macro_rules! on_backend {
    ($db:expr, |$conns:ident| $body:expr) => {
        match $db {
            #[cfg(feature = "sqlite")]
            Db::Sqlite($conns) => $body,
            #[cfg(feature = "postgres")]
            Db::Postgres($conns) => $body,
            #[cfg(feature = "mysql")]
            Db::MySql($conns) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Runs `$body` with `$c` the connection of a transaction, whatever its backend.
macro_rules! on_tx {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            TxConn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            TxConn::Pg($c) => $body,
            #[cfg(feature = "mysql")]
            TxConn::MySql($c) => $body,
        }
    };
}

impl Db {
    /// Connections open and idle, for `Debug`.
    pub(crate) fn pool_sizes(&self) -> (usize, usize) {
        on_backend!(self, |conns| conns.sizes())
    }

    /// Closes the pools: new calls fail, and connections are closed as they come back.
    pub(crate) fn close(&self) {
        on_backend!(self, |conns| {
            conns.reader.close();
            if let Some(writer) = &conns.writer {
                writer.close();
            }
        })
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// How a backend binds each kind of [`Arg`]: the same SQL types everywhere, except
/// identifiers and times, which each backend keeps its own way.
pub(crate) trait Binds:
    diesel::backend::Backend
    + HasSqlType<Text>
    + HasSqlType<Binary>
    + HasSqlType<BigInt>
    + HasSqlType<Integer>
    + HasSqlType<SmallInt>
    + HasSqlType<Bool>
{
    /// `query` with `arg` bound to its next placeholder.
    fn bind<'f>(
        query: BoxedSqlQuery<'f, Self, SqlQuery>,
        arg: &'f Arg<'_>,
    ) -> BoxedSqlQuery<'f, Self, SqlQuery>;
}

/// Implements [`Binds`] for a backend, given how it binds an identifier and a time.
macro_rules! binds {
    ($db:ty, uuid: $uuid:ty = |$u:ident| $uuid_value:expr, time: $time:ty = |$t:ident| $time_value:expr) => {
        impl Binds for $db {
            fn bind<'f>(
                query: BoxedSqlQuery<'f, Self, SqlQuery>,
                arg: &'f Arg<'_>,
            ) -> BoxedSqlQuery<'f, Self, SqlQuery> {
                match arg {
                    Arg::Uuid(v) => {
                        query.bind::<Nullable<$uuid>, _>(v.as_ref().map(|$u| $uuid_value))
                    }
                    Arg::Text(v) => query.bind::<Nullable<Text>, _>(v.as_deref()),
                    Arg::Bytes(v) => query.bind::<Nullable<Binary>, _>(*v),
                    Arg::Int(v) => query.bind::<Nullable<BigInt>, _>(*v),
                    Arg::Int32(v) => query.bind::<Nullable<Integer>, _>(*v),
                    Arg::Int16(v) => query.bind::<Nullable<SmallInt>, _>(*v),
                    Arg::Bool(v) => query.bind::<Nullable<Bool>, _>(*v),
                    Arg::Time(v) => query.bind::<Nullable<$time>, _>(v.map(|$t| $time_value)),
                }
            }
        }
    };
}

#[cfg(feature = "sqlite")]
binds!(diesel::sqlite::Sqlite,
    uuid: Binary = |u| u.as_bytes().as_slice(),
    time: BigInt = |t| t.timestamp_micros());
#[cfg(feature = "postgres")]
binds!(diesel::pg::Pg,
    uuid: diesel::sql_types::Uuid = |u| *u,
    time: diesel::sql_types::Timestamptz = |t| t);
#[cfg(feature = "mysql")]
binds!(diesel::mysql::Mysql,
    uuid: Binary = |u| u.as_bytes().as_slice(),
    time: diesel::sql_types::Datetime = |t| t.naive_utc());

/// The statement `sql` with `args` bound in order.
fn statement<'f, DB: Binds>(sql: &str, args: &'f [Arg<'_>]) -> Prepared<'f, DB> {
    Prepared(
        args.iter()
            .fold(diesel::sql_query(sql).into_boxed(), DB::bind),
    )
}

/// A statement of the shared operations, which the connection prepares once and keeps
/// (by its text and the types of its arguments) for its next use. diesel keeps no
/// `sql_query` by default, since raw SQL may be built from anything; these statements
/// are the fixed texts of `account-store-sql`, whose values only ever travel as bound
/// arguments, so there are as many as there are statements in the code (times the
/// counts of recovery codes and filters), and preparing each once saves a round trip on
/// PostgreSQL and MySQL, and SQLite's parsing, on every call.
struct Prepared<'f, DB: diesel::backend::Backend>(BoxedSqlQuery<'f, DB, SqlQuery>);

impl<DB: diesel::backend::Backend> QueryFragment<DB> for Prepared<'_, DB>
where
    for<'f> BoxedSqlQuery<'f, DB, SqlQuery>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<DB: diesel::backend::Backend> QueryId for Prepared<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: diesel::backend::Backend> Query for Prepared<'_, DB> {
    type SqlType = diesel::sql_types::Untyped;
}

/// A connection type this driver runs statements on: diesel-async's, whose backend
/// binds [`Arg`]s and whose rows become [`Row`]s.
pub(crate) trait Conn: AsyncConnectionCore + SimpleAsyncConnection + Send + 'static {
    /// The backend.
    const BACKEND: Backend;

    /// What makes and checks the connections of its pool: diesel-async's manager.
    type Manager: deadpool::managed::Manager<Type = Self, Error = PoolError> + Send + Sync;

    /// A row of this connection's results, as a [`Row`].
    fn row(row: Self::Row<'_, '_>) -> Row;
}

/// Every row of `sql` on `conn`.
async fn fetch<C: Conn>(conn: &mut C, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>>
where
    C::Backend: Binds,
    for<'f> Prepared<'f, C::Backend>: QueryFragment<C::Backend>,
{
    let query = statement::<C::Backend>(sql, args);
    let rows = conn
        .load(query)
        .await
        .map_err(|e| store_error(C::BACKEND, e))?;
    rows.map(|row| row.map(C::row))
        .try_collect()
        .await
        .map_err(|e| store_error(C::BACKEND, e))
}

/// Runs `sql` on `conn` and returns how many rows it matched.
async fn execute<C: Conn>(conn: &mut C, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>
where
    C::Backend: Binds,
    for<'f> Prepared<'f, C::Backend>: QueryFragment<C::Backend>,
{
    let query = statement::<C::Backend>(sql, args);
    let count = conn
        .execute_returning_count(query)
        .await
        .map_err(|e| store_error(C::BACKEND, e))?;
    Ok(count as u64)
}

/// Implements [`Conn`] for a backend's connection type, whose rows are `$variant`s.
macro_rules! conn {
    ($feature:literal, $conn:ty, $backend:expr, $variant:ident) => {
        #[cfg(feature = $feature)]
        impl Conn for $conn {
            const BACKEND: Backend = $backend;
            type Manager = AsyncDieselConnectionManager<Self>;

            fn row(row: Self::Row<'_, '_>) -> Row {
                Row::$variant(row)
            }
        }
    };
}

conn!("sqlite", SqliteConnection, Backend::Sqlite, Sqlite);
conn!("postgres", AsyncPgConnection, Backend::Postgres, Pg);
conn!("mysql", AsyncMysqlConnection, Backend::MySql, MySql);

/// The row type of a connection type (diesel-async names them only so).
type RowOf<C> = <C as AsyncConnectionCore>::Row<'static, 'static>;

/// A row, as the backend returned it.
pub(crate) enum Row {
    #[cfg(feature = "sqlite")]
    Sqlite(RowOf<SqliteConnection>),
    #[cfg(feature = "postgres")]
    Pg(RowOf<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    MySql(RowOf<AsyncMysqlConnection>),
}

impl Row {
    /// The value of `column` as SQL type `ST` of the row's backend, read as `T`; a
    /// missing column or a value of another type is a [`StoreError::Backend`].
    fn get<ST, T>(&self, column: &str) -> StoreResult<Option<T>>
    where
        Option<T>: Reads<ST>,
    {
        <Option<T>>::read(self, column).map_err(|e| corrupt(column, e))
    }
}

/// A type every backend's row reads alike as SQL type `ST`.
trait Reads<ST>: Sized {
    fn read(row: &Row, column: &str) -> diesel::deserialize::Result<Self>;
}

/// Implements [`Reads`] for SQL types whose Rust type every backend reads alike.
macro_rules! reads {
    ($($st:ty => $ty:ty),* $(,)?) => {$(
        impl Reads<$st> for Option<$ty> {
            fn read(row: &Row, column: &str) -> diesel::deserialize::Result<Self> {
                match row {
                    #[cfg(feature = "sqlite")]
                    Row::Sqlite(r) => NamedRow::get::<Nullable<$st>, _>(r, column),
                    #[cfg(feature = "postgres")]
                    Row::Pg(r) => NamedRow::get::<Nullable<$st>, _>(r, column),
                    #[cfg(feature = "mysql")]
                    Row::MySql(r) => NamedRow::get::<Nullable<$st>, _>(r, column),
                }
            }
        }
    )*};
}

reads!(
    Binary => Vec<u8>,
    Text => String,
    BigInt => i64,
    Integer => i32,
    SmallInt => i16,
    Bool => bool,
);

impl Columns for Row {
    /// `uuid` on PostgreSQL, 16 bytes elsewhere.
    fn read_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        match self {
            #[cfg(feature = "postgres")]
            Row::Pg(row) => NamedRow::get::<Nullable<diesel::sql_types::Uuid>, _>(row, column)
                .map_err(|e| corrupt(column, e)),
            #[allow(unreachable_patterns)]
            _ => self
                .get::<Binary, Vec<u8>>(column)?
                .map(|bytes| Uuid::from_slice(&bytes).map_err(|e| corrupt(column, e)))
                .transpose(),
        }
    }

    fn read_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        self.get::<Binary, _>(column)
    }

    fn read_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.get::<Text, _>(column)
    }

    fn read_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.get::<BigInt, _>(column)
    }

    fn read_int32(&self, column: &str) -> StoreResult<Option<i32>> {
        self.get::<Integer, _>(column)
    }

    fn read_int16(&self, column: &str) -> StoreResult<Option<i16>> {
        self.get::<SmallInt, _>(column)
    }

    fn read_bool(&self, column: &str) -> StoreResult<Option<bool>> {
        self.get::<Bool, _>(column)
    }

    /// Integer microseconds on SQLite, `timestamptz` on PostgreSQL, a UTC `DATETIME` on
    /// MySQL.
    fn read_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        match self {
            #[cfg(feature = "sqlite")]
            Row::Sqlite(_) => self
                .get::<BigInt, i64>(column)?
                .map(|us| {
                    DateTime::from_timestamp_micros(us)
                        .ok_or_else(|| corrupt(column, "out of range"))
                })
                .transpose(),
            #[cfg(feature = "postgres")]
            Row::Pg(row) => {
                NamedRow::get::<Nullable<diesel::sql_types::Timestamptz>, _>(row, column)
                    .map_err(|e| corrupt(column, e))
            }
            #[cfg(feature = "mysql")]
            Row::MySql(row) => NamedRow::get::<
                Nullable<diesel::sql_types::Datetime>,
                Option<chrono::NaiveDateTime>,
            >(row, column)
            .map(|time| time.map(|t| t.and_utc()))
            .map_err(|e| corrupt(column, e)),
        }
    }
}

impl Driver for Db {
    type Row = Row;
    type Tx = Tx;

    fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Db::Sqlite(_) => Backend::Sqlite,
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "mysql")]
            Db::MySql(_) => Backend::MySql,
        }
    }

    async fn fetch_optional(
        &self,
        write: bool,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<Row>> {
        let rows = on_backend!(self, |conns| {
            let mut conn = conns.get(write).await?;
            let rows = fetch(&mut *conn, sql, args).await;
            settle(conn, rows)
        })?;
        Ok(rows.into_iter().next())
    }

    async fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        on_backend!(self, |conns| {
            let mut conn = conns.get(false).await?;
            let rows = fetch(&mut *conn, sql, args).await;
            settle(conn, rows)
        })
    }

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        on_backend!(self, |conns| {
            let mut conn = conns.get(true).await?;
            let count = execute(&mut *conn, sql, args).await;
            settle(conn, count)
        })
    }

    /// The change, then `LAST_INSERT_ID()` on the same connection, where it is the
    /// change's own: diesel-async does not report the insert id of a statement.
    async fn execute_last_insert_id(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        match self {
            #[cfg(feature = "mysql")]
            Db::MySql(conns) => {
                let mut conn = conns.get(true).await?;
                let rows = async {
                    execute(&mut *conn, sql, args).await?;
                    fetch(
                        &mut *conn,
                        "SELECT CAST(LAST_INSERT_ID() AS SIGNED) AS id",
                        &[],
                    )
                    .await
                }
                .await;
                let rows = settle(conn, rows)?;
                let id = rows.first().map(|row| row.read_int("id")).transpose()?;
                Ok(id
                    .flatten()
                    .and_then(|id| u64::try_from(id).ok())
                    .unwrap_or_default())
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = (sql, args);
                Err(StoreError::backend("LAST_INSERT_ID is MySQL's"))
            }
        }
    }

    /// On the writer; on SQLite with `BEGIN IMMEDIATE`, which takes the write lock at
    /// once, so that what the transaction reads stays true until it commits.
    async fn begin(&self) -> StoreResult<Tx> {
        let backend = self.backend();
        let begin = if backend == Backend::Sqlite {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        };
        let conn = on_backend!(self, |conns| TxConn::from(conns.get(true).await?));
        let mut tx = Tx {
            backend,
            conn: Some(conn),
        };
        let begun = on_tx!(tx.conn()?, |c| c.batch_execute(begin).await);
        tx.settle(begun.map_err(|e| store_error(backend, e)))?;
        Ok(tx)
    }
}

/// Passes on `result`, the outcome of a statement on `conn`, and gives `conn` back to
/// the pool unless the statement found it broken (see [`store_error`]): then it is closed
/// here, so that no later call is lent it. The pool's own check before lending would
/// find most such connections (see `lib.rs`), but not all: a PostgreSQL connection is
/// known closed only once tokio-postgres has read the end of its socket, which may come
/// just after the error that announced it.
fn settle<M: deadpool::managed::Manager, T>(
    conn: deadpool::managed::Object<M>,
    result: StoreResult<T>,
) -> StoreResult<T> {
    if let Err(StoreError::Unavailable(_)) = result {
        drop(deadpool::managed::Object::take(conn));
    }
    result
}

/// A transaction's connection, by backend. One per transaction, moved once into it:
/// the size of PostgreSQL's connection handle costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum TxConn {
    #[cfg(feature = "sqlite")]
    Sqlite(Object<SqliteConnection>),
    #[cfg(feature = "postgres")]
    Pg(Object<AsyncPgConnection>),
    #[cfg(feature = "mysql")]
    MySql(Object<AsyncMysqlConnection>),
}

/// `From` the pooled connection of each backend.
macro_rules! tx_conn_from {
    ($($feature:literal: $conn:ty => $variant:ident),*) => {$(
        #[cfg(feature = $feature)]
        impl From<Object<$conn>> for TxConn {
            fn from(conn: Object<$conn>) -> Self {
                TxConn::$variant(conn)
            }
        }
    )*};
}

tx_conn_from!(
    "sqlite": SqliteConnection => Sqlite,
    "postgres": AsyncPgConnection => Pg,
    "mysql": AsyncMysqlConnection => MySql
);

/// A transaction, holding its connection. Dropped without a commit, it is rolled back
/// (see `Drop`).
pub(crate) struct Tx {
    backend: Backend,
    conn: Option<TxConn>,
}

impl Tx {
    fn conn(&mut self) -> StoreResult<&mut TxConn> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::backend("the transaction has ended"))
    }

    /// Passes on `result`; when it says the connection broke, closes the connection
    /// (as [`settle`] does), which ends the transaction: the server rolls back what it
    /// held, and the drop has nothing left to roll back.
    fn settle<T>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if let Err(StoreError::Unavailable(_)) = result
            && let Some(conn) = self.conn.take()
        {
            on_tx!(conn, |c| drop(deadpool::managed::Object::take(c)));
        }
        result
    }
}

impl Transaction for Tx {
    type Row = Row;

    async fn fetch_optional(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<Row>> {
        Ok(self.fetch_all(sql, args).await?.into_iter().next())
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let rows = on_tx!(self.conn()?, |c| fetch(&mut **c, sql, args).await);
        self.settle(rows)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let count = on_tx!(self.conn()?, |c| execute(&mut **c, sql, args).await);
        self.settle(count)
    }

    /// A commit that fails leaves the connection in a state nobody knows: it is closed
    /// rather than returned to the pool (the server rolls back what it holds).
    async fn commit(mut self) -> StoreResult<()> {
        let backend = self.backend;
        let Some(mut conn) = self.conn.take() else {
            return Err(StoreError::backend("the transaction has ended"));
        };
        let done = on_tx!(&mut conn, |c| c.batch_execute("COMMIT").await);
        done.map_err(|e| {
            on_tx!(conn, |c| drop(deadpool::managed::Object::take(c)));
            store_error(backend, e)
        })
    }
}

/// A transaction dropped without a commit (an error on the way, or the request that ran
/// it was cancelled) is rolled back on its connection in a task of its own, since a
/// drop cannot wait; the connection goes back to the pool only if the rollback
/// succeeded, and is closed otherwise (the server then rolls back itself). Until then
/// the pool does not have it: on SQLite the next writer waits for the rollback.
impl Drop for Tx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            on_tx!(conn, |c| drop(deadpool::managed::Object::take(c)));
            return;
        };
        runtime.spawn(async move {
            on_tx!(conn, |c| roll_back(c).await);
        });
    }
}

/// Rolls back the transaction open on `conn`, or closes the connection.
async fn roll_back<M>(mut conn: deadpool::managed::Object<M>)
where
    M: deadpool::managed::Manager,
    M::Type: SimpleAsyncConnection + Send,
{
    if conn.batch_execute("ROLLBACK").await.is_err() {
        drop(deadpool::managed::Object::take(conn));
    }
}

/// The one place where diesel's errors become store errors, through the shared rule
/// ([`Backend::store_error`]): what the database refused, read from diesel's kind of
/// error. A foreign key's refusal is diesel's `ForeignKeyViolation` (SQLite's extended
/// code 787, PostgreSQL's `23503`, MySQL's 1452; 1451, a parent still referenced, never
/// happens with the schema's cascading keys). A serialization failure (`40001`) is
/// `SerializationFailure`; a deadlock's victim (PostgreSQL `40P01`, InnoDB's 1213) has no
/// kind of its own in diesel, and is known by the database's message.
///
/// A connection that failed (see [`connection_failed`]) is [`StoreError::Unavailable`],
/// as in the sqlx store: the database cannot be reached just now, and may be in a
/// moment.
fn store_error(backend: Backend, error: DieselError) -> StoreError {
    if connection_failed(backend, &error) {
        return StoreError::unavailable(error);
    }
    backend.store_error(error, |error| {
        let DieselError::DatabaseError(kind, info) = error else {
            return None;
        };
        let message = info.message();
        Some(Refusal {
            message,
            constraint: info.constraint_name(),
            unique_violation: matches!(kind, DatabaseErrorKind::UniqueViolation),
            missing_parent: matches!(kind, DatabaseErrorKind::ForeignKeyViolation),
            rolled_back: matches!(kind, DatabaseErrorKind::SerializationFailure)
                || message.to_ascii_lowercase().contains("deadlock"),
        })
    })
}

/// Why the pool lent no connection, as a store error. No connection came within the
/// wait timeout, or none could be made (refused, reset, a server starting up or shutting
/// down, which PostgreSQL answers `57P03`, or no answer within the create timeout): the
/// database cannot be reached (or every connection is busy), and may be in a moment, so
/// [`StoreError::Unavailable`], as the sqlx store answers its pool's timeout. A closed
/// pool (the store was closed) is a [`StoreError::Backend`].
fn pool_error(error: deadpool::managed::PoolError<PoolError>) -> StoreError {
    use deadpool::managed::PoolError as Pool;
    match error {
        Pool::Timeout(_) | Pool::Backend(_) => StoreError::unavailable(error),
        other => StoreError::backend(other),
    }
}

/// Whether `error` says the connection itself failed (rather than the statement), so
/// that the server cannot be reached through it and it must not be used again: the same
/// cases as the sqlx store's `connection_failed` (the socket failed, the server closed
/// the connection or said it was shutting the session down), read from what diesel-async
/// keeps of them.
///
/// diesel has kinds for a closed connection and for a command that could not be sent,
/// which is how diesel-async reports every failure of tokio-postgres that is not the
/// server's answer (a socket that failed or was closed, the connection's task gone). The
/// rest comes as `DatabaseErrorKind::Unknown` with nothing but a message: diesel's error
/// information has no SQLSTATE or error number, so these are known by their message,
/// the only thing that tells them apart (in English, the language of the servers'
/// messages unless an administrator chose another for PostgreSQL's `lc_messages`):
///
/// - PostgreSQL's `FATAL` errors that end a session, all "terminating connection …":
///   `57P01` (an administrator's command, which a fast shutdown sends every session),
///   `57P02` (a crash of another server process), the idle timeouts' `57P05` and
///   `25P03`. (`57P03`, a server starting up or shutting down, comes only when
///   connecting, and so from the pool.)
/// - mysql_async's own errors, which diesel-async passes on as their text: a socket that
///   failed ("Input/output error: …", as a broken pipe, a reset connection or an
///   unexpected end), and a connection the server closed (the driver's "Connection to
///   the server is closed."). Its other errors (parameters, packets) are a statement's
///   fault or a bug, and stay [`StoreError::Backend`].
/// - MySQL's and MariaDB's server errors whose SQLSTATE the sqlx store reads as a failed
///   connection: 1053 "Server shutdown in progress" (`08S01`) and MariaDB's 1927
///   "Connection was killed" (`70100`).
fn connection_failed(backend: Backend, error: &DieselError) -> bool {
    let DieselError::DatabaseError(kind, info) = error else {
        return false;
    };
    if matches!(
        kind,
        DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
    ) {
        return true;
    }
    let message = info.message();
    match backend {
        Backend::Postgres => message.starts_with("terminating connection "),
        Backend::MySql => {
            message.starts_with("Input/output error: ")
                || message.contains("Connection to the server is closed.")
                || message == "Server shutdown in progress"
                || message == "Connection was killed"
        }
        Backend::Sqlite => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as diesel-async gives what it has no kind for: its message only.
    fn unknown(message: &str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()))
    }

    fn unavailable(backend: Backend, error: DieselError) -> bool {
        matches!(store_error(backend, error), StoreError::Unavailable(_))
    }

    /// The errors a database restart gave the restart test (`tests/tests/restart.rs`),
    /// and their neighbours, as diesel-async reports them.
    #[test]
    fn a_failed_connection_is_unavailable() {
        for kind in [
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
                let error =
                    DieselError::DatabaseError(kind, Box::new("connection closed".to_owned()));
                assert!(unavailable(backend, error), "{backend:?}: {kind:?}");
            }
        }
        for message in [
            "terminating connection due to administrator command",
            "terminating connection because of crash of another server process",
            "terminating connection due to idle-session timeout",
        ] {
            assert!(
                unavailable(Backend::Postgres, unknown(message)),
                "{message}"
            );
        }
        for message in [
            "Input/output error: Input/output error: Broken pipe (os error 32)",
            "Input/output error: Input/output error: Connection reset by peer (os error 104)",
            "Input/output error: Input/output error: unexpected end of file",
            "Driver error: `Connection to the server is closed.'",
            "Server shutdown in progress",
            "Connection was killed",
        ] {
            assert!(unavailable(Backend::MySql, unknown(message)), "{message}");
        }
    }

    /// A statement the database refused, or a fault of the statement, is not an outage.
    #[test]
    fn a_refused_statement_is_not_unavailable() {
        for (backend, message) in [
            (Backend::Postgres, "syntax error at or near \"SELEC\""),
            (
                Backend::Postgres,
                "canceling statement due to statement timeout",
            ),
            (
                Backend::MySql,
                "Driver error: `Named and positional parameters mixed in one statement.'",
            ),
            (
                Backend::Sqlite,
                "terminating connection due to administrator command",
            ),
        ] {
            assert!(
                matches!(
                    store_error(backend, unknown(message)),
                    StoreError::Backend(_)
                ),
                "{backend:?}: {message}"
            );
        }
        let taken = DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("duplicate key value violates unique constraint".to_owned()),
        );
        assert!(!unavailable(Backend::Postgres, taken));
        assert!(!unavailable(Backend::Postgres, DieselError::NotFound));
    }

    /// The pool gave no connection: unavailable, unless the store was closed.
    #[test]
    fn a_pool_without_a_connection_is_unavailable() {
        use deadpool::managed::{PoolError as Pool, TimeoutType};

        for timeout in [TimeoutType::Wait, TimeoutType::Create] {
            assert!(matches!(
                pool_error(Pool::Timeout(timeout)),
                StoreError::Unavailable(_)
            ));
        }
        let refused = Pool::Backend(PoolError::ConnectionError(
            diesel::ConnectionError::BadConnection("Connection refused (os error 111)".into()),
        ));
        assert!(matches!(pool_error(refused), StoreError::Unavailable(_)));
        assert!(matches!(pool_error(Pool::Closed), StoreError::Backend(_)));
    }
}
