//! What an adapter gives: a [`Driver`] that runs a statement with its [`Arg`]s on a
//! database and hands back rows it can read by column name ([`Columns`]), and a
//! [`Transaction`]. The statements arrive already in the backend's own SQL (see
//! [`Backend::sql`](crate::Backend)); a driver binds, runs, reads and maps errors, and
//! decides nothing.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use account_core::model::{
    AccountId, ApiTokenId, AppPasswordId, EventId, PasskeyId, SessionId, SshKeyId,
};
use account_core::store::StoreResult;
use account_core::token::TokenDigest;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Backend;

/// One argument of a statement. Each holds an `Option`, so that a null is bound with its
/// column's type.
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    /// An identifier: `uuid` on PostgreSQL, 16 bytes elsewhere.
    Uuid(Option<Uuid>),
    /// Text.
    Text(Option<Cow<'a, str>>),
    /// Bytes (digests, credentials).
    Bytes(Option<&'a [u8]>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A 32-bit integer.
    Int32(Option<i32>),
    /// A 16-bit integer.
    Int16(Option<i16>),
    /// A boolean.
    Bool(Option<bool>),
    /// A point in time: integer microseconds on SQLite, a native time elsewhere.
    Time(Option<DateTime<Utc>>),
}

/// A statement's arguments, in the order of its placeholders.
pub type Args<'a> = Vec<Arg<'a>>;

/// The arguments `args![a, b, c]` of a statement, each converted with `Arg::from`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { vec![$($crate::driver::Arg::from($arg)),*] };
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

/// A row a driver returned, read by column name. Each method gives the column's value
/// as the type the schema keeps there (`None` for a null); a missing column or a value
/// of another type is a [`StoreError::Backend`](account_core::store::StoreError::Backend). Identifiers are 16 bytes on SQLite and
/// MySQL, times integer microseconds on SQLite; text may come back from MySQL's binary
/// collation as bytes. The driver hides all of that.
pub trait Columns: Send {
    /// An identifier.
    fn read_uuid(&self, column: &str) -> StoreResult<Option<Uuid>>;
    /// Bytes.
    fn read_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Text.
    fn read_text(&self, column: &str) -> StoreResult<Option<String>>;
    /// A 64-bit integer (also what `COUNT(*)` gives).
    fn read_int(&self, column: &str) -> StoreResult<Option<i64>>;
    /// A 32-bit integer.
    fn read_int32(&self, column: &str) -> StoreResult<Option<i32>>;
    /// A 16-bit integer.
    fn read_int16(&self, column: &str) -> StoreResult<Option<i16>>;
    /// A boolean.
    fn read_bool(&self, column: &str) -> StoreResult<Option<bool>>;
    /// A point in time.
    fn read_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
}

/// Statements on a database, as an adapter runs them. The `sql` a method gets is the
/// backend's own (placeholders numbered on PostgreSQL, MySQL's upserts), with `args`
/// bound in order. Every error is a [`StoreError`](account_core::store::StoreError), made with
/// [`Backend::store_error`](crate::Backend::store_error) for the database's refusals.
pub trait Driver: fmt::Debug + Send + Sync + 'static {
    /// A row of a result.
    type Row: Columns + 'static;
    /// A transaction, holding its connection.
    type Tx: Transaction<Row = Self::Row>;

    /// The backend the driver talks to.
    fn backend(&self) -> Backend;

    /// The row a query finds, if any. `write` when the query writes (`RETURNING`), for a
    /// backend that reads and writes through different connections (SQLite's single
    /// writer).
    fn fetch_optional(
        &self,
        write: bool,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;

    /// Every row a read finds.
    fn fetch_all(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    /// Runs a change and returns how many rows it matched (on MySQL: found, not only
    /// changed).
    fn execute(&self, sql: &str, args: &[Arg<'_>])
    -> impl Future<Output = StoreResult<u64>> + Send;

    /// Runs a change and returns the statement's last insert id, for MySQL's
    /// `LAST_INSERT_ID(expr)`, which reports `expr` that way.
    fn execute_last_insert_id(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Starts a transaction; on SQLite with `BEGIN IMMEDIATE`, so that it holds the write
    /// lock from its first statement. Dropped without a commit, it rolls back.
    fn begin(&self) -> impl Future<Output = StoreResult<Self::Tx>> + Send;
}

/// A transaction of a [`Driver`]: the same statements on its one connection.
pub trait Transaction: Send {
    /// A row of a result.
    type Row: Columns + 'static;

    /// The row a statement finds, if any.
    fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Option<Self::Row>>> + Send;

    /// Every row a statement finds.
    fn fetch_all(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<Vec<Self::Row>>> + Send;

    /// Runs a change and returns how many rows it matched.
    fn execute(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Commits.
    fn commit(self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// What a driver knows of an error the database answered, for
/// [`Backend::store_error`](crate::Backend::store_error).
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    /// The database's message.
    pub message: &'a str,
    /// The constraint it names, where the driver reports it (PostgreSQL).
    pub constraint: Option<&'a str>,
    /// A unique key was violated.
    pub unique_violation: bool,
    /// A foreign key found no parent row (an account that is gone).
    pub missing_parent: bool,
    /// The database rolled the transaction back to break a deadlock (PostgreSQL
    /// `40P01`, InnoDB's victims) or because it failed to serialize (`40001`): the work
    /// left nothing behind and may be done again.
    pub rolled_back: bool,
}

/// A transaction the database rolled back to break a deadlock or a serialization
/// conflict (see [`Refusal::rolled_back`]); the store tries such work again a few times.
#[derive(Debug, thiserror::Error)]
#[error("the database rolled the transaction back (deadlock or serialization conflict): {0}")]
pub struct RolledBack(#[source] pub Box<dyn std::error::Error + Send + Sync>);
