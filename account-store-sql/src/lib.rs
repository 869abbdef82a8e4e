//! The store operations of [`account_core`] in SQL, written once for both adapters:
//! `account-store-sqlx` and `account-store-diesel` each give a [`Driver`] (their
//! connections, how they bind a value and read a column, how their errors look), and
//! [`SqlOps`] over that driver is every store trait, with the same statements on
//! SQLite, PostgreSQL and MySQL/MariaDB. That is what makes the two adapters
//! interchangeable on one database: they run the very same SQL on the very same schema
//! (`account-schema`).
//!
//! An application does not use this crate directly: it picks an adapter.
//!
//! # One implementation over a dialect
//!
//! Each store operation is written once (`src/ops/`), in one SQL that `src/dialect.rs`
//! turns into each backend's: placeholders, upserts, quoting, the account lock, and
//! which unique key means which taken value. The adapter's driver binds and reads values
//! the way each backend keeps them (`src/driver.rs` says what it must do). What stays
//! backend-specific is where the databases really behave differently, each place with its
//! reason beside it: MySQL's lack of `RETURNING`, SQLite's single writer, and the pools
//! each backend opens.
//!
//! # Atomic operations
//!
//! Every backend runs the same statements; the column "MySQL" says where it differs.
//! A transaction "takes the account's turn" by locking the account's row first
//! (PostgreSQL `FOR NO KEY UPDATE`, MySQL `FOR UPDATE`); on SQLite every transaction holds
//! the only write lock from its start (`BEGIN IMMEDIATE`), and a plain read finds the row.
//! Taking the turn also says whether the account exists: one that adds a row to an
//! account that is gone stops there with `NoSuchAccount`, before it counts or writes
//! anything. A single `INSERT` for a missing account is refused by its foreign key.
//!
//! | operation | how | MySQL |
//! |---|---|---|
//! | `insert_account` | transaction: the account row, then its `usernames_taken` row; a concurrent insert of the same username or address waits on the unique key, then gets the conflict | |
//! | `update_profile`, `record_second_factor_attempt`, `replace_api_token_secret` | `UPDATE ... RETURNING` | transaction: `UPDATE` (locks the row), then `SELECT` it back |
//! | `upgrade_password_hash`, `rotate_session`, `accept_totp_step`, `touch_*` | one conditional `UPDATE ... WHERE` (the current hash, the current token, an older step, an older time) | |
//! | `set_password_hash` | transaction: one `UPDATE` of hash and stamp, conditional on the stamp read (which locks the account's row); then the sessions but the one kept deleted | |
//! | `set_avatar` | transaction: the account's times (which lock its row), then the avatar replaced | |
//! | `insert_challenge` with `replace` | transaction: the account's turn, insert, delete the others | |
//! | `consume_challenge`, `delete_api_token`, `delete_app_password`, `delete_ssh_key` | `DELETE ... RETURNING` | transaction: `SELECT ... FOR UPDATE`, then `DELETE` |
//! | `record_failure` | `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` | `ON DUPLICATE KEY UPDATE` in a transaction, then `SELECT` |
//! | `hit_rate_limit` | `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` | one statement: `count = LAST_INSERT_ID(count + 1)` reports the new count |
//! | `put_pending_totp`, `confirm_totp`, `replace_recovery_codes` | transaction: the account's turn; then the TOTP row (left alone when confirmed) and the recovery codes replaced | |
//! | `redeem_recovery_code` | one `DELETE`, checking that it deleted a row | |
//! | `delete_passkey` | transaction: the account's turn; does the passkey exist, are there others or a password; then `DELETE` | |
//! | `delete_authenticators` | transaction: the account's turn; TOTP, recovery codes, passkeys | |
//! | `second_factors` | one `SELECT` of three counts (one snapshot) | |
//! | `insert_api_token`, `insert_app_password`, `insert_ssh_key` | transaction: the account's turn; count the clashes (SSH key: fingerprint first) and the account's rows; `INSERT` unless at the limit; the unique keys catch a clash with another account's concurrent insert | |
//! | `change_account` | transaction: lock the account's row and every active administrator's in one `SELECT ... ORDER BY id FOR NO KEY UPDATE` (SQLite: a plain read); refuse to leave no active administrator; `UPDATE ... RETURNING` of the fields given (a taken address fails on the unique key and rolls back); disabling deletes the sessions | the same lock `FOR UPDATE`; `UPDATE`, then `SELECT` it back |
//! | `delete_account` | transaction: the same lock, `FOR UPDATE` (a concurrent deletion waits, then finds no row); refuse the last active administrator; `DELETE ... RETURNING` the account, which cascades to every table of it but `usernames_taken` and `security_events`; delete its events; insert the deletion record | `SELECT ... FOR UPDATE`, then `DELETE` |
//!
//! On PostgreSQL and MySQL a transaction or a single statement that the server rolls back
//! to break a deadlock, or that fails to serialize (`40P01`, `40001`), is tried again,
//! up to ten times with growing, randomised pauses: it left nothing behind. At
//! `SERIALIZABLE`, which the distributed PostgreSQL engines (CockroachDB, YugabyteDB)
//! always use, that is how concurrent changes of one row take turns; the conformance
//! suite runs on PostgreSQL at that isolation too.
//!

mod db;
mod dialect;
mod driver;
mod ops;
mod rows;

use std::fmt;

pub use driver::{Arg, Args, Columns, Driver, Refusal, RolledBack, Transaction};
pub use rows::{CorruptValue, corrupt};

/// A database kind the adapters can store accounts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite (an adapter's feature `sqlite`).
    Sqlite,
    /// PostgreSQL (feature `postgres`).
    Postgres,
    /// MySQL or MariaDB (feature `mysql`).
    MySql,
}

impl Backend {
    /// The backend a database URL names by its scheme (`sqlite:`, `postgres:` or
    /// `postgresql:`, `mysql:` or `mariadb:`).
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            "mysql" | "mariadb" => Some(Backend::MySql),
            _ => None,
        }
    }

    /// The dialect of the schema's migration files for this backend.
    pub fn dialect(self) -> account_schema::Dialect {
        match self {
            Backend::Sqlite => account_schema::Dialect::Sqlite,
            Backend::Postgres => account_schema::Dialect::Postgres,
            Backend::MySql => account_schema::Dialect::MySql,
        }
    }

    /// The feature of an adapter that compiles the backend in (the same name in both).
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
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

/// Every store trait of `account-core` on a [`Driver`]'s database. An adapter's store
/// wraps it (as a [`StoreLayer`](account_core::store::StoreLayer)) and adds how it
/// connects and migrates.
#[derive(Debug)]
pub struct SqlOps<D> {
    db: db::Db<D>,
}

impl<D: Driver> SqlOps<D> {
    /// The store operations on `driver`'s database.
    pub fn new(driver: D) -> Self {
        Self {
            db: db::Db { driver },
        }
    }

    /// The driver.
    pub fn driver(&self) -> &D {
        &self.db.driver
    }
}
