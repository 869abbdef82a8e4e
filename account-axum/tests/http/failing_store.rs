//! A store that delegates to a [`MemoryStore`] but fails listing sessions, as a database
//! that went away would.

use std::sync::Arc;

use account_core::store::memory::MemoryStore;
use account_core::store::{Store, StoreError, StoreLayer, StoreResult};

/// What the failing method says: a detail that must reach the log and never a client.
pub const FAILURE: &str = "connection to 10.1.2.3:5432 reset by peer";

#[derive(Debug)]
pub struct FailingStore(pub Arc<MemoryStore>);

impl StoreLayer for FailingStore {
    fn inner(&self) -> &dyn Store {
        &*self.0
    }

    fn before(&self, method: &'static str) -> StoreResult<()> {
        match method {
            "sessions_of" => Err(StoreError::backend(FAILURE)),
            _ => Ok(()),
        }
    }
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
