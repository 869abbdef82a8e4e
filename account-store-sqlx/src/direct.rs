//! SQLite reads on the calling thread, for a database in a file.
//!
//! sqlx runs each SQLite connection on a thread of its own and sends every statement
//! there and its rows back: two hand-offs between threads per read, which cost more than
//! the read itself (an indexed lookup in a WAL database takes a few microseconds). The
//! read of every authenticated request is such a lookup, so reads outside a transaction
//! run here instead: on connections of the same file that refuse writes, opened with the same
//! bundled SQLite, on the thread that asks. Writes and transactions stay on sqlx's single
//! writer.
//!
//! Running on an async worker is sound because a read in WAL mode does not wait for the
//! writer: it reads the last committed state while a write goes on. It waits only where
//! SQLite itself must (a reader arriving while the write-ahead log is being recovered after
//! a crash), bounded by the busy timeout.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use account_core::store::{StoreError, StoreResult};
use account_store_sql::{Arg, Backend, Columns};
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

/// How many prepared statements each connection keeps: more than the store has reads.
const STATEMENTS_PER_CONNECTION: usize = 128;

/// Connections to one SQLite file that only read, lent to one read at a time.
pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    /// The connections not in use. A read takes one (or opens one when none is free) and
    /// gives it back; at most `keep` stay open, which covers every thread that reads at
    /// once in a server (its async workers).
    idle: Mutex<Vec<Reader>>,
    keep: usize,
    /// Set by [`Readers::close`]: no read runs after it, like sqlx's closed pool.
    closed: std::sync::atomic::AtomicBool,
}

/// A connection, with the column names of each statement it has run, so that a read
/// does not copy them again.
struct Reader {
    conn: Connection,
    names: HashMap<String, Arc<[Box<str>]>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("idle", &self.lock().len())
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl Readers {
    /// Readers of the database file at `path`, which must exist already (the writer
    /// creates it). One connection is opened now, so that a file that cannot be read
    /// fails at start-up rather than at the first request.
    pub(crate) fn open(
        path: PathBuf,
        busy_timeout: Duration,
        keep: usize,
    ) -> rusqlite::Result<Self> {
        let readers = Self {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
            closed: std::sync::atomic::AtomicBool::new(false),
        };
        let first = readers.connect()?;
        readers.lock().push(first);
        Ok(readers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> rusqlite::Result<Reader> {
        // Opened for reading and writing but refusing every write (`query_only`): a
        // connection opened read-only could not recreate the write-ahead log's index when
        // every other connection has closed it.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_PER_CONNECTION);
        Ok(Reader {
            conn,
            names: HashMap::new(),
        })
    }

    /// Closes the idle connections and refuses every later read; a read under way
    /// finishes and closes its connection.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.lock().clear();
    }

    /// Runs `read` on a free connection.
    fn with_reader<T>(
        &self,
        read: impl FnOnce(&mut Reader) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::backend("the store is closed"));
        }
        let taken = self.lock().pop();
        let mut reader = match taken {
            Some(reader) => reader,
            None => self.connect().map_err(read_error)?,
        };
        let result = read(&mut reader);
        let mut idle = self.lock();
        if idle.len() < self.keep && !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            idle.push(reader);
        }
        result.map_err(read_error)
    }

    /// The first row `sql` finds, if any.
    pub(crate) fn fetch_optional(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<Row>> {
        self.with_reader(|reader| {
            let mut rows = reader.query(sql, args, 1)?;
            Ok(rows.pop())
        })
    }

    /// Every row `sql` finds.
    pub(crate) fn fetch_all(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        self.with_reader(|reader| reader.query(sql, args, usize::MAX))
    }
}

impl Reader {
    /// Up to `limit` rows of `sql` with `args` bound.
    fn query(&mut self, sql: &str, args: &[Arg<'_>], limit: usize) -> rusqlite::Result<Vec<Row>> {
        let sql = Backend::Sqlite.sql(sql);
        let mut statement = self.conn.prepare_cached(&sql)?;
        for (at, arg) in args.iter().enumerate() {
            statement.raw_bind_parameter(at + 1, value_of(arg))?;
        }
        let names = match self.names.get(sql.as_ref()) {
            Some(names) => Arc::clone(names),
            None => {
                let names: Arc<[Box<str>]> = statement
                    .column_names()
                    .into_iter()
                    .map(Box::from)
                    .collect();
                self.names.insert(sql.into_owned(), Arc::clone(&names));
                names
            }
        };
        let width = names.len();
        let mut rows = statement.raw_query();
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(row) = rows.next()? else { break };
            let mut values = Vec::with_capacity(width);
            for at in 0..width {
                values.push(Value::from(row.get_ref(at)?));
            }
            found.push(Row {
                names: Arc::clone(&names),
                values: std::cell::RefCell::new(values),
                next: std::sync::atomic::AtomicUsize::new(0),
            });
        }
        Ok(found)
    }
}

/// An argument as SQLite keeps it: identifiers as 16 bytes, times as microseconds.
fn value_of(arg: &Arg<'_>) -> Value {
    fn or_null<T>(value: Option<T>, into: impl FnOnce(T) -> Value) -> Value {
        value.map_or(Value::Null, into)
    }
    match arg {
        Arg::Uuid(v) => or_null(*v, |v| Value::Blob(v.as_bytes().to_vec())),
        Arg::Text(v) => or_null(v.as_deref(), |v| Value::Text(v.to_owned())),
        Arg::Bytes(v) => or_null(*v, |v| Value::Blob(v.to_vec())),
        Arg::Int(v) => or_null(*v, Value::Integer),
        Arg::Int32(v) => or_null(*v, |v| Value::Integer(v.into())),
        Arg::Int16(v) => or_null(*v, |v| Value::Integer(v.into())),
        Arg::Bool(v) => or_null(*v, |v| Value::Integer(v.into())),
        Arg::Time(v) => or_null(*v, |v| Value::Integer(v.timestamp_micros())),
    }
}

/// A column of another type than the schema's: a backend error naming the column and the
/// type found, never the value.
fn unexpected(column: &str, value: &Value) -> StoreError {
    StoreError::backend(format!(
        "column {column:?} holds {} where another type was expected",
        value.data_type()
    ))
}

/// A failed read: a backend error, with SQLite's message (it never holds a value).
fn read_error(error: rusqlite::Error) -> StoreError {
    StoreError::backend(format!("SQLite read failed: {error}"))
}

/// A row read by a [`Readers`] connection: its values, read by column name. Text and
/// bytes are handed over, not copied: the shared mappers read each column once.
pub(crate) struct Row {
    names: Arc<[Box<str>]>,
    values: std::cell::RefCell<Vec<Value>>,
    /// Where the next lookup starts: columns are mostly read in the order they were
    /// selected, so a lookup usually matches at its first comparison.
    next: std::sync::atomic::AtomicUsize,
}

impl Row {
    /// Where `column` is; a missing column is a backend error.
    fn position(&self, column: &str) -> StoreResult<usize> {
        use std::sync::atomic::Ordering::Relaxed;
        let width = self.names.len();
        let start = self.next.load(Relaxed);
        let at = (0..width)
            .map(|i| (start + i) % width)
            .find(|&i| *self.names[i] == *column)
            .ok_or_else(|| StoreError::backend(format!("no column {column:?} in the row")))?;
        self.next.store(at + 1, Relaxed);
        Ok(at)
    }

    /// The value of `column` converted by `read`, `None` for a null; any other type is a
    /// backend error naming the column.
    fn read<T>(
        &self,
        column: &str,
        read: impl FnOnce(&Value) -> Option<T>,
    ) -> StoreResult<Option<T>> {
        let at = self.position(column)?;
        let values = self.values.borrow();
        match &values[at] {
            Value::Null => Ok(None),
            value => read(value)
                .map(Some)
                .ok_or_else(|| unexpected(column, value)),
        }
    }

    /// The text or bytes of `column`, handed over: a second read of it finds a null.
    fn take(&self, column: &str) -> StoreResult<Value> {
        let at = self.position(column)?;
        Ok(std::mem::replace(
            &mut self.values.borrow_mut()[at],
            Value::Null,
        ))
    }

    fn int<T: TryFrom<i64>>(&self, column: &str) -> StoreResult<Option<T>> {
        self.read(column, |v| match v {
            Value::Integer(i) => T::try_from(*i).ok(),
            _ => None,
        })
    }
}

impl Columns for Row {
    fn read_uuid(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.read(column, |v| match v {
            Value::Blob(bytes) => Uuid::from_slice(bytes).ok(),
            _ => None,
        })
    }

    fn read_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Blob(bytes) => Ok(Some(bytes)),
            other => Err(unexpected(column, &other)),
        }
    }

    fn read_text(&self, column: &str) -> StoreResult<Option<String>> {
        match self.take(column)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text)),
            other => Err(unexpected(column, &other)),
        }
    }

    fn read_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.int(column)
    }

    fn read_int32(&self, column: &str) -> StoreResult<Option<i32>> {
        self.int(column)
    }

    fn read_int16(&self, column: &str) -> StoreResult<Option<i16>> {
        self.int(column)
    }

    fn read_bool(&self, column: &str) -> StoreResult<Option<bool>> {
        self.read(column, |v| match v {
            Value::Integer(i) => Some(*i != 0),
            _ => None,
        })
    }

    fn read_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        match self.int::<i64>(column)? {
            None => Ok(None),
            Some(us) => DateTime::from_timestamp_micros(us)
                .map(Some)
                .ok_or_else(|| account_store_sql::corrupt(column, "out of range")),
        }
    }
}
