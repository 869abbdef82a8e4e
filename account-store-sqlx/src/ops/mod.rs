//! The store traits of `account-core` on [`SqlStore`](crate::SqlStore): each operation
//! written once, over [`Db`](crate::db::Db), for every backend. One file per group of
//! traits, named like the traits.

mod access;
mod accounts;
mod authenticators;
mod challenges;
mod counters;
mod events;
mod sessions;
