//! A store that fails at chosen calls: for tests that show what an operation leaves
//! behind when the database fails half-way through it.
//!
//! [`FaultyStore`] wraps any store and forwards every call, recording each method's name
//! in order. A test learns an operation's calls from a run without faults
//! ([`FaultyStore::calls`]), then runs it again on a fresh store once per call with
//! that call failing ([`FailAt::Call`]), and checks the state each run leaves:
//!
//! ```
//! use std::sync::Arc;
//!
//! use account_core::store::memory::MemoryStore;
//! use account_core::store::{PolicyStore, StoreError};
//! use account_core::testing::{FailAt, Failure, FaultyStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = FaultyStore::new(Arc::new(MemoryStore::new()));
//! store.policy().await.unwrap();
//! assert_eq!(store.calls(), ["policy"]);
//!
//! // The second call from now fails, once; the list of calls starts again.
//! store.fail(FailAt::Call(1), Failure::Backend("disk full"));
//! assert!(store.policy().await.is_ok());
//! assert!(matches!(store.policy().await, Err(StoreError::Backend(_))));
//! assert!(store.policy().await.is_ok());
//! assert_eq!(store.failed(), Some((1, "policy")));
//! assert_eq!(store.calls(), ["policy", "policy", "policy"]);
//! # }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::{METHODS, Store, StoreError, StoreLayer, StoreResult};

/// Which calls a [`FaultyStore`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAt {
    /// The call with this index (0 for the first) among the calls made since
    /// [`FaultyStore::fail`], once; the calls after it pass.
    Call(usize),
    /// Every call to the store method of this name (as in [`METHODS`]).
    Method(&'static str),
    /// Every call: a database that cannot be reached at all.
    Every,
}

/// What a failed call answers: the error a database that failed would give, with a
/// detail for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// [`StoreError::Backend`]: the database failed the statement.
    Backend(&'static str),
    /// [`StoreError::Unavailable`]: the database could not be reached.
    Unavailable(&'static str),
}

impl Failure {
    fn error(self) -> StoreError {
        match self {
            Failure::Backend(detail) => StoreError::backend(detail),
            Failure::Unavailable(detail) => StoreError::unavailable(detail),
        }
    }
}

/// A store that forwards every call to the store it wraps, records the name of each call
/// in order, and fails the calls it is told to with the error it is told to, without
/// asking the wrapped store (so a failed call changes nothing, as a statement a database
/// rolled back).
///
/// See [the module documentation](self) for an example.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    calls: Vec<&'static str>,
    plan: Option<(FailAt, Failure)>,
    failed: Option<(usize, &'static str)>,
}

impl FaultyStore {
    /// Wraps `inner`, failing nothing.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            state: Mutex::new(State::default()),
        }
    }

    /// The wrapped store, to set up or inspect data without faults or records.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// Fails the calls `at` names with `failure` from now on, in place of any earlier
    /// plan, and starts the list of calls again.
    ///
    /// # Panics
    ///
    /// For a [`FailAt::Method`] that names no store method, so that a misspelt name fails
    /// the test instead of failing nothing.
    pub fn fail(&self, at: FailAt, failure: Failure) {
        if let FailAt::Method(name) = at {
            assert!(
                METHODS.contains(&name),
                "`{name}` is not a store method; see account_core::store::METHODS"
            );
        }
        let mut state = self.lock();
        *state = State {
            plan: Some((at, failure)),
            ..State::default()
        };
    }

    /// Fails nothing from now on, and starts the list of calls again.
    pub fn heal(&self) {
        *self.lock() = State::default();
    }

    /// The names of the calls made since the store was made or last told to
    /// [`fail`](Self::fail) or [`heal`](Self::heal), in order, the failed ones included.
    pub fn calls(&self) -> Vec<&'static str> {
        self.lock().calls.clone()
    }

    /// The index and name of the first call that was failed since the last
    /// [`fail`](Self::fail), if any was.
    pub fn failed(&self) -> Option<(usize, &'static str)> {
        self.lock().failed
    }

    /// The state; a panic elsewhere while it was held cannot leave it half-written, so a
    /// poisoned lock is still read.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FaultyStore")
            .field("plan", &state.plan)
            .field("calls", &state.calls.len())
            .field("failed", &state.failed)
            .finish_non_exhaustive()
    }
}

impl StoreLayer for FaultyStore {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    fn before(&self, method: &'static str) -> StoreResult<()> {
        let mut state = self.lock();
        let index = state.calls.len();
        state.calls.push(method);
        let Some((at, failure)) = state.plan else {
            return Ok(());
        };
        let fails = match at {
            FailAt::Call(i) => i == index,
            FailAt::Method(name) => name == method,
            FailAt::Every => true,
        };
        if !fails {
            return Ok(());
        }
        state.failed.get_or_insert((index, method));
        Err(failure.error())
    }
}
