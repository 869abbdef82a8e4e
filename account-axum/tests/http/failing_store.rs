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
