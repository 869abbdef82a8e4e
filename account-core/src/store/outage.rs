//! Fast answers while the database cannot be reached.
//!
//! When the database is down, each call waits for the pool to give up (its acquire
//! timeout, seconds) before it fails, and every request of every client waits with it.
//! [`OutageBreaker`] remembers the failure instead: after a call fails with
//! [`StoreError::Unavailable`], every call for the next [`PAUSE`] is answered at once with
//! the same error (which the HTTP layer answers 503 with `Retry-After`). When the pause
//! is over, one call goes through to try the database again, with the pause started
//! afresh for the others: if it succeeds, calls go through again; if it fails, the pause
//! goes on. A probe that never answers (its request was dropped) only lets the next
//! pause's probe through, so the breaker never stays shut.
//!
//! It holds no data and caches nothing: a call that goes through is the inner store's.
//! SECURITY.md M50.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{Store, StoreError, StoreLayer, StoreResult};
use crate::clock::Clock;

/// How long calls are answered at once after the database was found unreachable.
pub(crate) const PAUSE: chrono::Duration = chrono::Duration::seconds(1);

/// A store that answers [`StoreError::Unavailable`] at once while its inner store's
/// database is known to be unreachable.
pub(crate) struct OutageBreaker {
    inner: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Until when (Unix milliseconds) calls are answered at once; 0 while the database
    /// answers.
    paused_until: AtomicI64,
}

impl std::fmt::Debug for OutageBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutageBreaker")
            .field("inner", &self.inner)
            .field("paused_until", &self.paused_until.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The detail of the answers given without asking the database.
#[derive(Debug, thiserror::Error)]
#[error("the database was unreachable moments ago; not asked again yet")]
struct Paused;

impl OutageBreaker {
    pub(crate) fn new(inner: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner,
            clock,
            paused_until: AtomicI64::new(0),
        }
    }

    fn now_millis(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

impl StoreLayer for OutageBreaker {
    fn inner(&self) -> &dyn Store {
        &*self.inner
    }

    fn before(&self, _method: &'static str) -> StoreResult<()> {
        let until = self.paused_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = self.now_millis();
        // Past the pause, the one call that moves it on is the probe.
        if now >= until
            && self
                .paused_until
                .compare_exchange(
                    until,
                    now + PAUSE.num_milliseconds(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
        {
            return Ok(());
        }
        Err(StoreError::unavailable(Paused))
    }

    fn after(&self, _method: &'static str, error: Option<&StoreError>) {
        match error {
            Some(StoreError::Unavailable(_)) => {
                let until = self.now_millis() + PAUSE.num_milliseconds();
                self.paused_until.fetch_max(until, Ordering::AcqRel);
            }
            // The database answered (an error it answered is an answer).
            _ => {
                if self.paused_until.load(Ordering::Acquire) != 0 {
                    self.paused_until.store(0, Ordering::Release);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::AccountId;
    use crate::store::AccountStore as _;
    use crate::store::memory::MemoryStore;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(chrono::Utc::now()))
    }

    fn some_id() -> AccountId {
        AccountId::from_uuid(uuid::Uuid::from_u128(7))
    }

    /// A store whose database is down while `down` is set, counting the calls that
    /// reach it.
    #[derive(Debug, Default)]
    struct Flaky {
        inner: MemoryStore,
        down: Mutex<bool>,
        calls: Mutex<u32>,
    }

    impl StoreLayer for Flaky {
        fn inner(&self) -> &dyn Store {
            &self.inner
        }

        fn before(&self, _method: &'static str) -> StoreResult<()> {
            *self.calls.lock().unwrap() += 1;
            if *self.down.lock().unwrap() {
                return Err(StoreError::unavailable("connection refused"));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_outage_is_answered_at_once_until_a_probe_finds_the_database_back() {
        let flaky = Arc::new(Flaky::default());
        let clock = clock();
        let store = OutageBreaker::new(flaky.clone(), clock.clone());
        let id = some_id();
        let calls = || *flaky.calls.lock().unwrap();

        assert!(store.account_by_id(id).await.unwrap().is_none());
        assert_eq!(calls(), 1);

        *flaky.down.lock().unwrap() = true;
        let first = store.account_by_id(id).await;
        assert!(
            matches!(first, Err(StoreError::Unavailable(_))),
            "{first:?}"
        );
        assert_eq!(calls(), 2);
        // Within the pause: answered without asking.
        for _ in 0..5 {
            let answer = store.account_by_id(id).await;
            assert!(
                matches!(answer, Err(StoreError::Unavailable(_))),
                "{answer:?}"
            );
        }
        assert_eq!(calls(), 2);

        // After the pause, one probe: still down, and the pause goes on.
        clock.advance(PAUSE);
        assert!(store.account_by_id(id).await.is_err());
        assert_eq!(calls(), 3);
        assert!(store.account_by_id(id).await.is_err());
        assert_eq!(calls(), 3);

        // The database is back: the next probe finds it, and calls go through again.
        *flaky.down.lock().unwrap() = false;
        clock.advance(PAUSE);
        assert!(store.account_by_id(id).await.unwrap().is_none());
        assert!(store.account_by_id(id).await.unwrap().is_none());
        assert_eq!(calls(), 5);
    }

    #[tokio::test]
    async fn a_probe_that_never_answers_leaves_the_next_pause_its_own_probe() {
        let flaky = Arc::new(Flaky::default());
        let clock = clock();
        let store = OutageBreaker::new(flaky.clone(), clock.clone());
        *flaky.down.lock().unwrap() = true;
        assert!(store.account_by_id(some_id()).await.is_err());
        clock.advance(PAUSE);
        // The probe's call is let through but never finishes (its request was dropped).
        assert!(store.before("account_by_id").is_ok());
        assert!(store.before("account_by_id").is_err());
        *flaky.down.lock().unwrap() = false;
        clock.advance(PAUSE);
        assert!(store.account_by_id(some_id()).await.unwrap().is_none());
    }
}
