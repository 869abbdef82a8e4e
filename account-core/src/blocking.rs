//! Costly work for untrusted input on tokio's blocking pool, bounded before it starts.
//!
//! Password hashing and avatar decoding each take tens of milliseconds and, for an
//! avatar, tens of megabytes, for any client that asks. A [`BoundedWork`] runs at most
//! `running` jobs at once and lets at most `waiting` more wait for a turn; a job beyond
//! that is refused at once ([`Refused::Busy`]), which the HTTP layer answers 429 with
//! `Retry-After`, instead of being queued without bound (SECURITY.md M48).

use std::sync::Arc;

use tokio::sync::Semaphore;

/// A bound on jobs running and waiting. Cloning is cheap and clones share the bound.
#[derive(Clone, Debug)]
pub(crate) struct BoundedWork {
    /// One per job running.
    running: Arc<Semaphore>,
    /// Turns to run or to wait: `running + waiting`, taken without waiting.
    admission: Arc<Semaphore>,
}

/// Why a job did not run to its end.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Every turn is taken: the job was not started.
    Busy,
    /// The job panicked or was cancelled; the text says which, for the log.
    Failed(String),
}

impl BoundedWork {
    /// At most `running` jobs at once (at least one) and `waiting` more waiting.
    pub(crate) fn new(running: usize, waiting: usize) -> Self {
        let running = running.clamp(1, Semaphore::MAX_PERMITS);
        let admission = running.saturating_add(waiting).min(Semaphore::MAX_PERMITS);
        Self {
            running: Arc::new(Semaphore::new(running)),
            admission: Arc::new(Semaphore::new(admission)),
        }
    }

    /// Whether a job asked for now would be taken (run, or queued for a turn) rather than
    /// refused. A hint for refusing early, before any other work: the answer may change
    /// at once.
    pub(crate) fn has_room(&self) -> bool {
        self.admission.available_permits() > 0
    }

    /// How many more jobs could run at once now.
    pub(crate) fn free(&self) -> usize {
        self.running.available_permits()
    }

    /// Runs `job` on the blocking pool once a turn is free, or refuses it at once with
    /// [`Refused::Busy`] when the queue is full.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, Refused>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let turn = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| Refused::Busy)?;
        let permit = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Refused::Failed("the semaphore was closed".to_owned()))?;
        tokio::task::spawn_blocking(move || {
            // The permit lives in the job, not in the caller's future: when a caller gives
            // up (a dropped request), its job still runs to the end on the blocking pool,
            // and must keep counting against the limit until it does.
            let _permit = permit;
            let _turn = turn;
            job()
        })
        .await
        .map_err(|e| {
            Refused::Failed(
                if e.is_panic() {
                    "panicked"
                } else {
                    "was cancelled"
                }
                .to_owned(),
            )
        })
    }
}
