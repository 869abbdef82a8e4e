//! SQL storage for [`account_core`] through diesel and diesel-async.
//!
//! This crate will implement every store trait of `account-core` on SQLite, PostgreSQL and
//! MySQL/MariaDB with diesel's pure-Rust async drivers and embedded migrations, and it will
//! pass the same store conformance suite as every other adapter. Until that work lands the
//! crate intentionally exports nothing.
