//! Workspace-level end-to-end tests of the account crates.
//!
//! `tests/scale.rs` runs two app instances on one database and shows they behave as one;
//! the README's Rust examples are compiled here as doctests, so they cannot rot. (The
//! starter's own journey test lives with the starter, where Cargo builds its binary.)

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
