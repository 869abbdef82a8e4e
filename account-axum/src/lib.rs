//! The HTTP adapter of the account workspace, for axum.
//!
//! This crate will offer a router builder that mounts every route of the HTTP contract in
//! `DESIGN.md` over the services of [`account_core`]: extractors for the signed-in account,
//! session cookies, CSRF defence, per-IP rate limits counted in the store, problem+json
//! errors mapped in one place, and an OpenAPI document. Until that work lands the crate
//! intentionally exports nothing.
