//! Workspace-level end-to-end tests of the account crates.
//!
//! The tests here will drive the starter server over real sockets with a cookie-keeping
//! HTTP client, on SQLite and, when their URLs are set, PostgreSQL and MySQL. They arrive
//! with the HTTP adapter; until then the crate holds no tests.
