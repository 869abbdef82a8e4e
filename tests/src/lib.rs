//! Workspace-level end-to-end tests of the account crates.
//!
//! `tests/scale.rs` runs two app instances on one database and shows they behave as one;
//! `tests/restart.rs` restarts a private PostgreSQL and MariaDB server under load and shows
//! that no acknowledged write is lost, that the outage is answered 503 at once and that the
//! server recovers by itself;
//! the README's Rust examples are compiled here as doctests, so they cannot rot. (The
//! starter's own journey test lives with the starter, where Cargo builds its binary.)

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
