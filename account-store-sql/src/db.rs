//! The statements of `ops/` on a [`Driver`]: a statement in the shared SQL of
//! [`crate::dialect`] made the backend's own, run, and its rows decoded through
//! [`Row`]; the two changes that must say what they left (`RETURNING`, or MySQL's
//! lock-then-read), transactions, and the retry of work the database rolled back to break
//! a deadlock or to serialize it with other transactions.

use std::future::Future;

use account_core::model::AccountId;
use account_core::store::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Backend;
pub(crate) use crate::driver::{Arg, Args, args};
use crate::driver::{Columns, Driver, RolledBack, Transaction};
use crate::rows::corrupt;

/// A row, as the operations read it: by column name, whatever the driver.
pub(crate) type Row = dyn Columns;

/// A type a column can be read as.
pub(crate) trait Column: Sized {
    /// The value of `column` in `row`.
    fn read(row: &(impl Columns + ?Sized), column: &'static str) -> StoreResult<Self>;
}

/// Implements [`Column`] for a type and its `Option` with a method of [`Columns`]; a
/// null where the type has none is a corrupt value.
macro_rules! column {
    ($($ty:ty => $read:ident),* $(,)?) => {$(
        impl Column for Option<$ty> {
            fn read(row: &(impl Columns + ?Sized), column: &'static str) -> StoreResult<Self> {
                row.$read(column)
            }
        }
        impl Column for $ty {
            fn read(row: &(impl Columns + ?Sized), column: &'static str) -> StoreResult<Self> {
                row.$read(column)?.ok_or_else(|| corrupt(column, "null where a value was expected"))
            }
        }
    )*};
}

column!(
    Uuid => read_uuid,
    Vec<u8> => read_bytes,
    String => read_text,
    i64 => read_int,
    i32 => read_int32,
    i16 => read_int16,
    bool => read_bool,
    DateTime<Utc> => read_time,
);

/// Reading a row's columns as the operations do, on any row of any driver.
pub(crate) trait RowExt: Columns {
    /// The value of `column`; a missing column or one of another type is a
    /// [`StoreError::Backend`].
    fn get<T: Column>(&self, column: &'static str) -> StoreResult<T> {
        T::read(self, column)
    }

    /// A text column.
    fn text(&self, column: &'static str) -> StoreResult<String> {
        self.get(column)
    }

    /// A nullable text column.
    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
        self.get(column)
    }

    /// A point in time.
    fn time(&self, column: &'static str) -> StoreResult<DateTime<Utc>> {
        self.get(column)
    }

    /// A nullable point in time.
    fn opt_time(&self, column: &'static str) -> StoreResult<Option<DateTime<Utc>>> {
        self.get(column)
    }
}

impl<R: Columns + ?Sized> RowExt for R {}

/// Statements on a driver's connections. Each runs on its own, in a transaction of its
/// own (autocommit), and is run again when the database rolled it back to serialize it
/// with others or to break a deadlock ([`retry`]), as it is at `SERIALIZABLE` on
/// PostgreSQL and always on the distributed engines.
#[derive(Debug)]
pub(crate) struct Db<D> {
    pub(crate) driver: D,
}

impl<D: Driver> Db<D> {
    /// The backend the driver talks to.
    pub(crate) fn backend(&self) -> Backend {
        self.driver.backend()
    }

    /// The row `sql` finds, if any, as `decode` makes it.
    pub(crate) async fn read<T>(
        &self,
        sql: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let sql = self.backend().sql(sql);
        let row = retry(|| self.driver.fetch_optional(false, &sql, &args)).await?;
        row.as_ref().map(|row| decode(row)).transpose()
    }

    /// Every row `sql` finds, as `decode` makes it.
    pub(crate) async fn read_all<T>(
        &self,
        sql: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let sql = self.backend().sql(sql);
        let rows = retry(|| self.driver.fetch_all(&sql, &args)).await?;
        rows.iter().map(|row| decode(row)).collect()
    }

    /// Runs a change and returns how many rows it matched.
    pub(crate) async fn write(&self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        let sql = self.backend().sql(sql);
        retry(|| self.driver.execute(&sql, &args)).await
    }

    /// Runs a change that returns a row (`RETURNING`), on the writer.
    async fn write_returning<T>(
        &self,
        sql: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let sql = self.backend().sql(sql);
        let row = retry(|| self.driver.fetch_optional(true, &sql, &args)).await?;
        row.as_ref().map(|row| decode(row)).transpose()
    }

    /// Runs an upsert that reports the counter it left as the statement's last insert id
    /// (`LAST_INSERT_ID(expr)`): how MySQL returns a value from a write in one statement.
    pub(crate) async fn write_last_insert_id(&self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        let sql = self.backend().sql(sql);
        retry(|| self.driver.execute_last_insert_id(&sql, &args)).await
    }

    /// Starts a transaction. On SQLite it holds the write lock from its first statement
    /// (`BEGIN IMMEDIATE`), so what it reads stays true until it commits.
    pub(crate) async fn begin(&self) -> StoreResult<Tx<D::Tx>> {
        Ok(Tx {
            backend: self.backend(),
            inner: self.driver.begin().await?,
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
            return self.write_returning(&sql, args, decode).await;
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
            return self.write_returning(&sql, args, decode).await;
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
}

/// A transaction. Dropped without [`commit`](Tx::commit), it rolls back.
pub(crate) struct Tx<T> {
    backend: Backend,
    inner: T,
}

impl<T: Transaction> Tx<T> {
    /// The backend the transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// The row `sql` finds, if any.
    pub(crate) async fn read(&mut self, sql: &str, args: Args<'_>) -> StoreResult<Option<T::Row>> {
        let sql = self.backend.sql(sql);
        self.inner.fetch_optional(&sql, &args).await
    }

    /// Every row `sql` finds.
    pub(crate) async fn read_all(&mut self, sql: &str, args: Args<'_>) -> StoreResult<Vec<T::Row>> {
        let sql = self.backend.sql(sql);
        self.inner.fetch_all(&sql, &args).await
    }

    /// Runs a change and returns how many rows it matched.
    pub(crate) async fn write(&mut self, sql: &str, args: Args<'_>) -> StoreResult<u64> {
        let sql = self.backend.sql(sql);
        self.inner.execute(&sql, &args).await
    }

    /// Locks the account's row until the commit (see [`Backend::lock_account`]) and says
    /// whether the account exists.
    pub(crate) async fn lock_account(&mut self, account: AccountId) -> StoreResult<bool> {
        let lock = self.backend.lock_account();
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
    pub(crate) async fn change_returning<R>(
        &mut self,
        change: &str,
        args: Args<'_>,
        columns: &str,
        read: &str,
        read_args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<R>,
    ) -> StoreResult<Option<R>> {
        let row = if self.backend.has_returning() {
            self.read(&format!("{change} RETURNING {columns}"), args)
                .await?
        } else if self.write(change, args).await? == 0 {
            None
        } else {
            self.read(&format!("SELECT {columns} {read}"), read_args)
                .await?
        };
        row.as_ref().map(|row| decode(row)).transpose()
    }

    /// Deletes the row of `table` that `filter` finds inside the transaction and returns
    /// it, as [`Db::delete_returning`] does: with `DELETE ... RETURNING`, or on MySQL a
    /// `SELECT ... FOR UPDATE` and then the `DELETE`.
    pub(crate) async fn delete_returning<R>(
        &mut self,
        table: &str,
        columns: &str,
        filter: &str,
        args: Args<'_>,
        decode: impl Fn(&Row) -> StoreResult<R>,
    ) -> StoreResult<Option<R>> {
        let row = if self.backend.has_returning() {
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
        row.as_ref().map(|row| decode(row)).transpose()
    }

    /// Commits.
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.inner.commit().await
    }
}

/// How often work that the database rolled back to break a deadlock (or that failed to
/// serialize) is tried before its error is returned. At `SERIALIZABLE` fifty concurrent
/// increments of one counter each lose to another's commit several times over (the
/// conformance suite's concurrency cases do this); ten tries with the pauses of
/// [`pause`] (about half a second in all at most) see every one of them through.
const ATTEMPTS: u32 = 10;

/// Runs `attempt` again while it fails because the database rolled it back to break a
/// deadlock or a serialization failure ([`RolledBack`], `40P01` or `40001`). The victim's
/// work was rolled back whole, so doing it again is safe; any other error, a lost
/// connection above all (whose commit may have landed), is returned as it is. SQLite
/// never answers so: its transactions take the write lock first.
pub(crate) async fn retry<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < ATTEMPTS && is_retryable(&e) => {
                tracing::debug!(
                    attempt = tries,
                    "the database rolled the work back to serialize it; trying again"
                );
                tokio::time::sleep(pause(tries)).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// The pause after the `tries`th rolled-back attempt: growing (1–2 ms, then 2–4 ms,
/// doubling up to 64–128 ms), so that the winner of a conflict can finish first, and spread at random over
/// its upper half, so that the losers, who all failed at the same moment, do not all
/// come back at the same moment again.
fn pause(tries: u32) -> std::time::Duration {
    use std::hash::BuildHasher as _;
    let ceiling = 1000u64 << tries.min(7); // microseconds: 2 ms, 4 ms ... 128 ms
    // A new `RandomState` is keyed afresh each time: random enough to spread retries,
    // without a dependency on a random-number crate for it.
    let spread = std::hash::RandomState::new().hash_one(tries) % (ceiling / 2);
    std::time::Duration::from_micros(ceiling / 2 + spread)
}

fn is_retryable(error: &StoreError) -> bool {
    matches!(error, StoreError::Backend(inner) if inner.is::<RolledBack>())
}
