//! SQL storage for [`account_core`] through sqlx.
//!
//! This crate will implement every store trait of `account-core` on SQLite (the embedded
//! default), PostgreSQL and MySQL/MariaDB, with per-backend migrations embedded in the
//! crate and run by a `migrate()` call, and it will pass the store conformance suite of
//! `account-core` on all three backends. The work is tracked by the issue that builds the
//! working product; until then the crate intentionally exports nothing.
