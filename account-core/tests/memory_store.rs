//! The in-memory store passes the store conformance suite, like every other adapter.
#![cfg(feature = "testing")]

account_core::store_conformance_tests!(|| async {
    account_core::store::memory::MemoryStore::new()
});
