//! A store that counts the calls made to it: for tests that prove how much an operation
//! costs the store, or that it never reached it.
//!
//! [`CountingStore`] wraps any store, forwards every call unchanged and counts calls per
//! method name. A test builds the services over it, resets the counts, runs the operation
//! and asserts on [`CountingStore::calls`] or [`CountingStore::total`]:
//!
//! ```
//! use std::sync::Arc;
//!
//! use account_core::api_token::ApiTokenSecret;
//! use account_core::mail::MemoryMailer;
//! use account_core::random::OsRandom;
//! use account_core::store::memory::MemoryStore;
//! use account_core::testing::CountingStore;
//! use account_core::{AccountConfig, Accounts, Error};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
//! let config = AccountConfig::new("https://accounts.example.com".parse().unwrap());
//! let accounts = Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config).build();
//!
//! // A token that is not even well formed is refused before any lookup.
//! let refused = accounts.authenticate_api_token("acct_mistyped", None).await;
//! assert!(matches!(refused, Err(Error::Unauthenticated)));
//! assert_eq!(store.total(), 0);
//!
//! // A well-formed but unknown one costs exactly one read by digest.
//! let unknown = ApiTokenSecret::generate(&OsRandom);
//! let refused = accounts.authenticate_api_token(unknown.expose(), None).await;
//! assert!(matches!(refused, Err(Error::Unauthenticated)));
//! assert_eq!(store.calls("api_token_with_account"), 1);
//! assert_eq!(store.total(), 1);
//!
//! store.reset();
//! assert_eq!(store.total(), 0);
//! # }
//! ```
//!
//! The names are the trait methods' names, such as `"api_token_by_digest"`; all of them
//! are in [`CountingStore::METHODS`], and asking for any other name panics, so a typo in a
//! test cannot pass as "zero calls".

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::{Store, StoreLayer, StoreResult};

/// A store that forwards every call to the store it wraps and counts the calls per method.
///
/// It implements every store trait, so it is a [`Store`] and can be handed to
/// [`Accounts::builder`](crate::Accounts::builder) as `Arc<CountingStore>`. The counts are
/// shared by every clone of that `Arc`: keep one to read them. A call is counted when it
/// is made, whether it succeeds or fails.
///
/// `Debug` prints only the counts, never the wrapped store or anything passed through it.
///
/// See [the module documentation](self) for an example.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

/// A name given to [`CountingStore::try_calls`] that no store method has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a store method")]
pub struct UnknownMethod(pub String);

impl CountingStore {
    /// The name of every store method ([`crate::store::METHODS`]): the names
    /// [`calls`](Self::calls) accepts.
    pub const METHODS: &'static [&'static str] = crate::store::METHODS;

    /// Wraps `inner`, with every count at zero.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The wrapped store, to set up or inspect data without counting.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// How many times `method` (a store method's name, such as `"api_token_by_digest"`)
    /// was called since the store was made or last [`reset`](Self::reset).
    ///
    /// # Panics
    ///
    /// When `method` is not in [`METHODS`](Self::METHODS), so that a misspelt name fails
    /// the test instead of reading as zero calls ([`try_calls`](Self::try_calls) answers
    /// with an error instead).
    pub fn calls(&self, method: &str) -> u64 {
        self.try_calls(method)
            .unwrap_or_else(|e| panic!("{e}; see CountingStore::METHODS"))
    }

    /// As [`calls`](Self::calls), with an error for a name that is not a store method.
    pub fn try_calls(&self, method: &str) -> Result<u64, UnknownMethod> {
        if !Self::METHODS.contains(&method) {
            return Err(UnknownMethod(method.to_owned()));
        }
        Ok(self.lock().get(method).copied().unwrap_or(0))
    }

    /// How many calls were made to any method since the store was made or last
    /// [`reset`](Self::reset).
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// The calls per method since the store was made or last [`reset`](Self::reset),
    /// listing only the methods that were called: for a failure message.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.lock().clone()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn count(&self, method: &'static str) {
        *self.lock().entry(method).or_insert(0) += 1;
    }

    /// The counts; a panic elsewhere while they were held cannot leave them half-written,
    /// so a poisoned lock is still read.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("calls", &*self.lock())
            .finish_non_exhaustive()
    }
}

impl StoreLayer for CountingStore {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    fn before(&self, method: &'static str) -> StoreResult<()> {
        self.count(method);
        Ok(())
    }
}
