//! The router, tested in memory through `oneshot`: every route's success and error paths,
//! and the rules of SECURITY.md that the HTTP layer enforces (tests named after them).

// The harness modules are shared by the test modules of this one binary.
#![allow(unreachable_pub)]

mod access;
mod account;
mod admin;
mod auth;
mod failing_store;
mod lifecycle;
mod openapi;
#[cfg(feature = "ui")]
mod pages;
mod second_factors;
mod security;
mod sessions;
mod support;
