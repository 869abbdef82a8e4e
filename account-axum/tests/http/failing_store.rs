//! Stores that fail as a database that went away would: listing sessions failing
//! (account-core's `FaultyStore`), and a database that cannot be reached while a switch is
//! on.

use std::sync::Arc;

use account_core::store::memory::MemoryStore;
use account_core::store::{Store, StoreError, StoreLayer, StoreResult};
use account_core::testing::{FailAt, Failure, FaultyStore};

/// What the failing method says: a detail that must reach the log and never a client.
pub const FAILURE: &str = "connection to 10.1.2.3:5432 reset by peer";

/// The store over `store` whose every listing of sessions fails with [`FAILURE`].
pub fn failing_sessions_of(store: Arc<MemoryStore>) -> Arc<dyn Store> {
    let failing = FaultyStore::new(store);
    failing.fail(FailAt::Method("sessions_of"), Failure::Backend(FAILURE));
    Arc::new(failing)
}

/// Whether [`UnreachableStore`]'s database is down, and how many calls reached it. Static
/// because `Options::wrap_store` takes a plain function; one test uses them.
pub static DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
pub static CALLS_WHILE_DOWN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A store whose database cannot be reached while [`DOWN`] is set: every call is
/// `StoreError::Unavailable`, as the SQL stores answer a refused connection or a pool
/// that gave up waiting.
#[derive(Debug)]
pub struct UnreachableStore(pub Arc<MemoryStore>);

impl StoreLayer for UnreachableStore {
    fn inner(&self) -> &dyn Store {
        &*self.0
    }

    fn before(&self, _method: &'static str) -> StoreResult<()> {
        use std::sync::atomic::Ordering;
        if DOWN.load(Ordering::SeqCst) {
            CALLS_WHILE_DOWN.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::unavailable(FAILURE));
        }
        Ok(())
    }
}
