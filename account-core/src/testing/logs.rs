//! Every log line of a test process, from every thread: for the tests that prove no
//! secret reaches a log.
//!
//! Only a global subscriber (`set_global_default`) sees the events of every thread: the
//! blocking pool, where passwords are hashed and verified, avatars decoded and outbox
//! files written, as well as the runtime's own. A thread-local one (`set_default`) sees
//! the test's thread alone, so a secret logged by a blocking job would go unseen. A
//! process has one global subscriber, so a test that uses [`GlobalLogs`] belongs in a test
//! binary of its own: a second test there would share its buffer, and its lines could
//! satisfy the first one's checks that something was logged.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Every event the process logs at TRACE level and above, from any thread, as the text
/// the `fmt` subscriber writes.
#[derive(Clone, Default)]
pub struct GlobalLogs(Arc<Mutex<Vec<u8>>>);

impl GlobalLogs {
    /// Installs the capture as the process's global subscriber, and proves that it sees
    /// an event from the blocking pool and one from a thread of its own before handing it
    /// over.
    ///
    /// # Panics
    ///
    /// When the process has a global subscriber already (one test binary, one capture),
    /// or when the capture misses an event of another thread.
    #[allow(clippy::expect_used, clippy::panic)]
    pub async fn install() -> Self {
        let logs = Self::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
        tokio::task::spawn_blocking(|| tracing::trace!("canary from the blocking pool"))
            .await
            .expect("the blocking job runs");
        std::thread::spawn(|| tracing::trace!("canary from another thread"))
            .join()
            .expect("the thread runs");
        let canaries = logs.text();
        if !(canaries.contains("canary from the blocking pool")
            && canaries.contains("canary from another thread"))
        {
            panic!("the capture must see every thread at TRACE level, but saw: {canaries}");
        }
        logs
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The buffer; a panic elsewhere while it was held cannot leave it half-written, so a
    /// poisoned lock is still read.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for GlobalLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for GlobalLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The lines themselves may be what a test is looking for secrets in.
        f.debug_struct("GlobalLogs")
            .field("bytes", &self.lock().len())
            .finish()
    }
}
