//! Stores that wrap a store.

use std::fmt;

use super::{Store, StoreError, StoreResult};

/// A store that wraps another and sees every call on its way. Implementing it makes the
/// type a [`Store`]: each store method calls [`before`](StoreLayer::before) with the
/// method's name, then the same method of [`inner`](StoreLayer::inner), then
/// [`after`](StoreLayer::after) with how it went.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use account_core::store::memory::MemoryStore;
/// use account_core::store::{SessionStore, Store, StoreLayer, StoreResult};
///
/// /// Counts how often sessions are read.
/// #[derive(Debug)]
/// struct SessionReads {
///     inner: MemoryStore,
///     reads: AtomicU64,
/// }
///
/// impl StoreLayer for SessionReads {
///     fn inner(&self) -> &dyn Store {
///         &self.inner
///     }
///
///     fn before(&self, method: &'static str) -> StoreResult<()> {
///         if method == "session_by_token" {
///             self.reads.fetch_add(1, Ordering::Relaxed);
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = SessionReads { inner: MemoryStore::new(), reads: AtomicU64::new(0) };
/// let digest = account_core::token::TokenDigest::from_bytes([7; 32]);
/// assert!(store.session_by_token(&digest).await.unwrap().is_none());
/// assert_eq!(store.reads.load(Ordering::Relaxed), 1);
/// let _: Arc<dyn Store> = Arc::new(store);
/// # }
/// ```
pub trait StoreLayer: fmt::Debug + Send + Sync + 'static {
    /// The store every call goes on to.
    fn inner(&self) -> &dyn Store;

    /// Runs before every call with the name of the store method (as in
    /// [`METHODS`](super::METHODS)); an error is the call's answer, and the inner store
    /// is not asked. Passes everything by default.
    ///
    /// # Errors
    ///
    /// Whatever the layer decides to answer instead of the inner store.
    fn before(&self, method: &'static str) -> StoreResult<()> {
        let _ = method;
        Ok(())
    }

    /// Runs after every call the inner store answered, with the method's name and the
    /// error if it failed. Does nothing by default.
    fn after(&self, method: &'static str, error: Option<&StoreError>) {
        let _ = (method, error);
    }
}
