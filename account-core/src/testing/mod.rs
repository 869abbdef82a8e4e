//! The store conformance suite: one set of tests that every store adapter runs.
//!
//! The services trust the store to keep the promises written on the
//! [store traits](crate::store): lookups that ignore the case of an address, unique
//! values that stay unique, single-use challenges that are used once, counters that lose
//! no bump. This module checks those promises, so that a behaviour that matters is
//! tested once here and every backend (the in-memory store, SQLite, PostgreSQL, MySQL,
//! any adapter of your own) inherits the test. Enable it with the `testing` feature.
//!
//! # Running it
//!
//! In an integration test of the adapter crate (say `tests/conformance.rs`), give
//! [`store_conformance_tests!`](crate::store_conformance_tests) a factory: an async
//! closure or function that returns a fresh, empty store.
//!
//! ```
//! // tests/memory_store.rs of account-core itself.
//! account_core::store_conformance_tests!(|| async {
//!     account_core::store::memory::MemoryStore::new()
//! });
//! # fn main() {}
//! ```
//!
//! The macro writes one `#[tokio::test]` function per case, named after the case (see
//! [`CASES`]), so each case is its own test: run in parallel, reported by name, and
//! selectable with `cargo test session_rotate`. Each test calls the factory once and
//! hands the store to the case as `Arc<dyn Store>`.
//!
//! The generated tests use the `tokio` crate by its own name, so the adapter crate needs
//! it as a dev-dependency with a multi-threaded runtime, and `account-core` with the
//! suite:
//!
//! ```toml
//! [dev-dependencies]
//! account-core = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! To run the suite against several databases from one crate, put each call in its own
//! module so the test names do not clash:
//!
//! ```ignore
//! mod sqlite {
//!     account_core::store_conformance_tests!(|| async { my_store::testing::fresh_sqlite().await });
//! }
//! mod postgres {
//!     account_core::store_conformance_tests!(|| async { my_store::testing::fresh_postgres().await });
//! }
//! ```
//!
//! If one test function suits better (to share an expensive setup, or in a custom
//! harness), [`run_all`] runs every case in turn, each with a store of its own, and
//! names the case that failed:
//!
//! ```
//! use account_core::store::memory::MemoryStore;
//!
//! #[tokio::main(flavor = "multi_thread", worker_threads = 4)]
//! async fn main() {
//!     account_core::testing::run_all(|| async { MemoryStore::new() }).await;
//! }
//! ```
//!
//! # A fresh store for every case
//!
//! Every case expects an empty store: the policy case checks that there is no policy
//! yet, and the cases use fixed usernames such as `alice`. So the factory must make a
//! new store each time it is called, never hand out a shared one. For a database that
//! means a new database, schema or file per call (cheap for SQLite in memory or in a
//! temporary file; for PostgreSQL and MySQL, `CREATE DATABASE` with a random name, then
//! the migrations). The factory gets no arguments and cannot fail: panic with a clear
//! message if the database cannot be set up.
//!
//! A store that must clean up after itself (drop the database, delete the file) does it
//! in its `Drop`, or wraps the real store in a small type of the test crate that does,
//! and implements the traits by delegating. Every case drops its store before it ends.
//! A complete factory for a hypothetical PostgreSQL adapter:
//!
//! ```ignore
//! // tests/conformance.rs of a crate `pg_store`.
//! use pg_store::PgStore;
//!
//! async fn fresh_store() -> PgStore {
//!     let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL names a test server");
//!     let name = format!("conformance_{}", uuid::Uuid::now_v7().simple());
//!     pg_store::testing::create_database(&admin_url, &name)
//!         .await
//!         .expect("the test database can be created");
//!     // The store drops its database in its `Drop` when it was opened `for_tests`.
//!     PgStore::connect_for_tests(&admin_url, &name)
//!         .await
//!         .expect("the new database can be migrated")
//! }
//!
//! account_core::store_conformance_tests!(fresh_store);
//! ```
//!
//! # A multi-threaded runtime
//!
//! The `concurrent_*` cases start their tasks with `tokio::spawn`, release them together
//! with a barrier, and need the tasks to run in parallel to mean anything. The generated
//! tests run on a multi-threaded runtime with four workers; a caller of [`run_all`] must
//! provide one too (with the time driver enabled, as `#[tokio::test]` and
//! `#[tokio::main]` do). A `concurrent_*` case whose calls deadlock fails after a minute
//! instead of hanging the test run.
//!
//! # What the suite checks
//!
//! Every method of every trait, on its success path and on each documented error or edge
//! (the list of cases, each documented, is in [`cases`]):
//!
//! - **Round trips.** Every field of every record reads back equal to what was written:
//!   accounts with every optional field set and with none, sessions with IPv4, IPv6 and
//!   no address, every device detail and every authentication method, challenges with
//!   and without an account, events with their details, the policy, avatars with every
//!   byte value. Times must keep at least millisecond precision and durations whole
//!   seconds (the fixtures use nothing finer); text is UTF-8 and may hold quotes.
//! - **Lookups.** Addresses are found by [`EmailAddress::lookup_key`], so
//!   `alice@example.com` finds the account stored as `Alice@Example.com`, which keeps its
//!   case; a recovery address finds nothing; unknown ids, names, addresses and digests
//!   find nothing and are not errors.
//! - **Unique values.** A taken username, address (in any case) or id fails with the
//!   matching [`Conflict`], and a refused write leaves nothing behind: the refused
//!   account's other values stay free.
//! - **Order.** `sessions_of` lists newest first by creation time; `events_of` lists
//!   newest first by time and then by id, strictly older than the page's cursor, and a
//!   walk through every page returns each event exactly once.
//! - **Expiry.** A challenge is live strictly before its `expires_at`; a session expires
//!   at the earlier of `last_seen_at + idle_timeout` and `absolute_expires_at`, as
//!   [`SessionRecord::expires_at`] computes it.
//! - **Atomic operations**, each also under contention:
//!
//! | Operation | What must hold | Under contention |
//! |---|---|---|
//! | `insert_account` | all unique values checked and written together | 10 inserts of one username: one `Ok`, nine [`Conflict::Username`]; the same for one address in ten cases |
//! | `upgrade_password_hash` | swaps only while the stored hash is still `current`; the stamp stays | 10 upgrades from one hash: exactly one `true` |
//! | `set_password_hash` | the hash and the security stamp change together, with the account's other sessions ended, only from the stamp given | 10 changes from one stamp: exactly one `true` |
//! | `rotate_session` | swaps digest and authentication state only while the token is still `current` | 20 rotations from one digest: exactly one `true`, only its digest finds the session |
//! | `insert_challenge` with `replace` | the older challenges of the account and purpose go in the same step; a refused insert deletes nothing | |
//! | `consume_challenge` | removes and returns in one step; expired ones are removed and not returned | 20 consumers of one challenge: exactly one `Some` |
//! | `record_failure` | increments and returns the new count in one step | 50 bumps: the counter ends at 50 and the calls returned 1 to 50, each once |
//! | `confirm_totp` | confirms the pending TOTP and replaces the recovery codes together; refuses without a pending one | |
//! | `accept_totp_step` | accepts only a step newer than the last accepted, and records it | 20 calls with one step: exactly one `true` |
//! | `redeem_recovery_code` | removes the code in one step | 20 redemptions of one code: exactly one `true` |
//! | `record_second_factor_attempt` | increments a pending session's attempts and returns them | 10 attempts: the calls returned 1 to 10, each once |
//! | `delete_passkey` | decides whether it is the last way to log in and deletes in one step | the two passkeys of a password-less account: one `Deleted`, one `LastLoginMethod` |
//! | `delete_authenticators` | removes TOTP, recovery codes and passkeys together | |
//! | `insert_api_token`, `insert_app_password`, `insert_ssh_key` | count against the account's limit for that kind and insert in one step; a taken id, digest or fingerprint is refused | 20 inserts for one account with a limit of 5: five `Inserted`, fifteen `LimitReached`; one SSH fingerprint on ten accounts: one `Inserted`, nine [`Conflict::SshKey`] |
//! | `replace_api_token_secret` | swaps the digest and the last four characters together, so the old digest stops working at once | |
//!
//! A SQL adapter gets these from one conditional statement each (`UPDATE ... WHERE
//! hash = $current`, `DELETE ... RETURNING`, `INSERT ... ON CONFLICT DO UPDATE SET
//! count = count + 1 RETURNING count`) or from a transaction that takes the right lock;
//! the unique values need unique indexes (the address on its lowercase form). Note that
//! SQLite answers concurrent writers with `SQLITE_BUSY` unless a busy timeout is set;
//! the suite counts such an error as a failure.
//!
//! Rows always refer to an existing account: each case inserts its accounts before the
//! sessions, challenges, counters and events that belong to them, so stores with foreign
//! keys pass. Lookups of unknown accounts must still answer (nothing) rather than fail.
//!
//! # Debugging one case
//!
//! The cases are plain async functions in [`cases`]; call one directly from a test of
//! your own to step through it. [`fixtures`] builds the records they use.
//!
//! [`EmailAddress::lookup_key`]: crate::domain::EmailAddress::lookup_key
//! [`Conflict`]: crate::store::Conflict
//! [`Conflict::Username`]: crate::store::Conflict::Username
//! [`Conflict::SshKey`]: crate::store::Conflict::SshKey
//! [`SessionRecord::expires_at`]: crate::model::SessionRecord::expires_at

// This module is test code that ships in the library so that other crates can run it:
// a failed expectation must panic with a message, which is what `expect` and `panic!`
// are for here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cases;
pub mod counting;
pub mod directory;
pub mod faults;
pub mod fixtures;
pub mod logs;
pub mod passkey;

pub use counting::{CountingStore, UnknownMethod};
pub use directory::MemoryDirectory;
pub use faults::{FailAt, Failure, FaultyStore};

use std::future::Future;
use std::sync::Arc;

use crate::store::Store;

/// The names of every case, in the order [`run_all`] runs them; each is a function in
/// [`cases`] and a test written by [`store_conformance_tests!`](crate::store_conformance_tests).
pub const CASES: &[&str] = crate::__store_conformance!(@cases names);

/// Runs every case in turn, each with a fresh store from `make`, and panics naming the
/// first case that fails.
///
/// Prefer [`store_conformance_tests!`](crate::store_conformance_tests), which makes each
/// case its own test. This is for callers that want one test, or a harness of their own.
/// It must run on a multi-threaded Tokio runtime with the time driver enabled.
///
/// # Panics
///
/// When a case fails; the case's own message is printed above.
pub async fn run_all<S, F, Fut>(make: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    crate::__store_conformance!(@cases run_all make);
}

/// Runs one case on its own task, so a panic is reported with the case's name.
async fn run_case<S, C, Fut>(name: &'static str, store: S, case: C)
where
    S: Store,
    C: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(case(Arc::new(store))).await {
        Ok(()) => {}
        Err(e) if e.is_panic() => {
            panic!("store conformance case `{name}` failed; its message is above")
        }
        Err(e) => panic!("store conformance case `{name}` did not finish: {e}"),
    }
}

/// Writes one `#[tokio::test]` per conformance case, each running the case against a
/// fresh store from the factory.
///
/// The argument is an expression that can be called with no arguments and returns a
/// future of a store: an async closure such as `|| async { MyStore::new() }`, or the
/// name of an `async fn() -> MyStore`. The store type must implement
/// [`Store`](crate::store::Store). Each test is
///
/// ```ignore
/// #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
/// async fn session_rotate() {
///     let store = (factory)().await;
///     account_core::testing::cases::session_rotate(std::sync::Arc::new(store)).await;
/// }
/// ```
///
/// so the calling crate needs `tokio` with the `macros` and `rt-multi-thread` features
/// among its dev-dependencies. See [the module documentation](crate::testing) for the
/// requirements on the store and a complete example.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__store_conformance!(@cases tests $factory);
    };
}

/// The one list of cases, and what is made from it. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance {
    (@cases $($then:tt)*) => {
        $crate::__store_conformance! { @expand [$($then)*]
            account_insert_and_read_back
            account_unknown_lookups_find_nothing
            account_insert_conflict_username
            account_insert_conflict_email
            account_insert_conflict_id
            account_update_profile
            account_set_email
            account_set_email_conflict
            account_set_recovery_email
            account_avatar
            account_change_fields
            account_change_email_conflict
            account_disable_ends_sessions
            account_last_admin
            account_delete_removes_everything
            account_delete_unknown
            account_rows_of_missing_account
            account_list
            password_set_and_read
            password_upgrade
            totp_put_pending
            totp_confirm
            totp_put_pending_after_confirmation
            totp_accept_step
            totp_delete
            totp_accounts_independent
            recovery_codes_replace_and_redeem
            recovery_codes_of_another_account
            recovery_codes_replace_voids_old
            passkey_insert_and_read_back
            passkey_insert_conflict
            passkey_rename
            passkey_record_use
            passkey_delete_not_found
            passkey_delete_last_login_method
            passkey_delete_two_without_password
            authenticators_second_factors
            authenticators_delete_all
            api_token_insert_and_read_back
            api_token_with_account_read_back
            api_token_insert_conflict
            api_token_limit
            api_token_list_of_account
            api_token_touch
            api_token_replace_secret
            api_token_delete
            app_password_insert_and_read_back
            app_password_insert_conflict
            app_password_limit
            app_password_list_of_account
            app_password_touch
            app_password_delete
            ssh_key_insert_and_read_back
            ssh_key_insert_conflict
            ssh_key_limit
            ssh_key_list_of_account
            ssh_key_delete
            session_insert_and_read_back
            session_with_account_read_back
            session_insert_conflict
            session_touch
            session_rotate
            session_list_of_account
            session_delete
            session_delete_all_of_account
            session_purge_expired
            session_stage_read_back
            session_stage_second_factor_attempts
            session_stage_rotate
            challenge_insert_find_consume
            challenge_wrong_purpose
            challenge_expired
            challenge_insert_conflict
            challenge_replace
            challenge_delete_of_account
            challenge_purge_expired
            throttle_count_and_clear
            events_record_and_list
            events_paging
            events_same_time_ordered_by_id
            events_of_every_account
            policy_put_and_get
            rate_limit_counts_per_key_and_window
            concurrent_consume_challenge
            concurrent_set_password_hash
            concurrent_record_failure
            concurrent_rotate_session
            concurrent_insert_account_same_username
            concurrent_insert_account_same_email
            concurrent_upgrade_password_hash
            concurrent_rate_limit_hits
            concurrent_accept_totp_step
            concurrent_redeem_recovery_code
            concurrent_record_second_factor_attempt
            concurrent_delete_last_passkeys
            concurrent_insert_api_token_limit
            concurrent_insert_app_password_limit
            concurrent_insert_ssh_key_limit
            concurrent_insert_ssh_key_same_fingerprint
            concurrent_delete_account
            concurrent_last_admin
            concurrent_delete_while_in_use
        }
    };
    (@expand [names] $($case:ident)*) => {
        &[$(stringify!($case)),*]
    };
    (@expand [tests $factory:expr] $($case:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store = ($factory)().await;
                $crate::testing::cases::$case(::std::sync::Arc::new(store)).await;
            }
        )*
    };
    (@expand [run_all $make:ident] $($case:ident)*) => {
        $(
            $crate::testing::run_case(stringify!($case), $make().await, $crate::testing::cases::$case)
                .await;
        )*
    };
}
