//! The conformance cases, one function each.
//!
//! Every case takes a fresh, empty store as `Arc<dyn Store>`, exercises one behaviour of
//! the [store traits](crate::store), and panics with a message naming the method and the
//! expectation when the store does not behave. The names group by trait: `account_*`,
//! `password_*`, `totp_*`, `recovery_codes_*`, `passkey_*`, `authenticators_*`,
//! `api_token_*`, `app_password_*`, `ssh_key_*`, `session_*` (and `session_stage_*`),
//! `challenge_*`, `throttle_*`, `events_*` (and `account_*` of the lifecycle: changes by
//! an administrator, deletion, the list of accounts), `policy_*`, `rate_limit_*`, and
//! `concurrent_*` for the atomic operations under contention.
//!
//! Run them through [`store_conformance_tests!`](crate::store_conformance_tests) or
//! [`run_all`](super::run_all); call one directly to debug it.

mod access;
mod accounts;
mod authenticators;
mod challenges;
mod concurrency;
mod credentials;
mod events;
mod lifecycle;
mod policy;
mod rate_limits;
mod sessions;
mod throttle;

pub use access::*;
pub use accounts::*;
pub use authenticators::*;
pub use challenges::*;
pub use concurrency::*;
pub use credentials::*;
pub use events::*;
pub use lifecycle::*;
pub use policy::*;
pub use rate_limits::*;
pub use sessions::*;
pub use throttle::*;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio::sync::Barrier;

use crate::store::{Conflict, StoreError, StoreResult};

/// Panics unless `result` is the conflict `want`.
#[track_caller]
fn assert_conflict<T: fmt::Debug>(result: StoreResult<T>, want: Conflict, what: &str) {
    match result {
        Err(StoreError::Conflict(got)) if got == want => {}
        other => panic!("{what}: expected Err(Conflict::{want:?}), got {other:?}"),
    }
}

/// The value of a store call that must succeed, or a panic naming the call.
#[track_caller]
fn ok<T>(result: StoreResult<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what} failed: {e} ({e:?})"),
    }
}

/// How long concurrent store calls may take before a case calls it a deadlock.
const DEADLINE: StdDuration = StdDuration::from_secs(60);

/// Runs `n` tasks made by `task(0..n)` on the runtime's workers, released together by a
/// barrier, and returns their outputs in task order.
async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let work = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let all = async {
        let mut outputs = Vec::with_capacity(n);
        for handle in handles {
            match handle.await {
                Ok(output) => outputs.push(output),
                Err(e) => panic!("a concurrent store call panicked or was cancelled: {e}"),
            }
        }
        outputs
    };
    match tokio::time::timeout(DEADLINE, all).await {
        Ok(outputs) => outputs,
        Err(_) => panic!(
            "{n} concurrent store calls did not finish within {DEADLINE:?}: a deadlock in the \
             store?"
        ),
    }
}
