//! A mailer that keeps messages in memory, for tests.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Mail, MailError, Mailer};

/// How long [`MemoryMailer::wait_for`] waits at most, so that a test whose mail never
/// comes fails on its assertion instead of hanging.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A mailer that keeps every mail in memory, for tests.
///
/// Clones share the same mailbox, so a test can keep one clone and give another to the
/// service under test.
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sent: Mutex<Vec<Mail>>,
    changed: Notify,
    failing: bool,
}

impl MemoryMailer {
    /// An empty mailer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mailer whose every send fails, for tests that a failing mailer never fails the
    /// action that sent the mail. It keeps nothing.
    pub fn failing() -> Self {
        Self {
            inner: Arc::new(Inner {
                failing: true,
                ..Inner::default()
            }),
        }
    }

    /// Every mail sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.lock().clone()
    }

    /// The mail sent so far to `addr`, compared without regard to case.
    pub fn sent_to(&self, addr: &str) -> Vec<Mail> {
        let addr = addr.trim();
        self.lock()
            .iter()
            .filter(|m| m.to.as_str().eq_ignore_ascii_case(addr))
            .cloned()
            .collect()
    }

    /// Forgets every mail sent so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Waits until at least `count` mails were sent, then answers all of them.
    ///
    /// Mail may be sent from a spawned task after the call under test has returned, so a
    /// test waits here instead of looking at [`MemoryMailer::sent`] at once. After ten
    /// seconds it gives up and answers what there is, so the test's own assertion reports
    /// the failure.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            // Register for the wake-up before looking, so that a mail sent between the
            // look and the wait is not missed.
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let sent = self.sent();
            if sent.len() >= count {
                return sent;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.sent();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Mail>> {
        // A test that panicked while holding the lock leaves a usable list behind.
        self.inner
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if self.inner.failing {
            return Err(MailError::new("the test mailer is set to fail"));
        }
        self.lock().push(mail.clone());
        self.inner.changed.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::sample;

    #[tokio::test]
    async fn keeps_sent_mail_and_finds_it_by_address() {
        let mailer = MemoryMailer::new();
        let (mail, _) = sample("Example");
        mailer.send(&mail).await.expect("sent");
        assert_eq!(mailer.sent().len(), 1);
        assert_eq!(mailer.sent_to("alice@example.com").len(), 1);
        assert_eq!(mailer.sent_to(" ALICE@EXAMPLE.COM ").len(), 1);
        assert!(mailer.sent_to("bob@example.com").is_empty());

        let clone = mailer.clone();
        clone.send(&mail).await.expect("sent");
        assert_eq!(mailer.sent().len(), 2, "clones share the mailbox");
        mailer.clear();
        assert!(clone.sent().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wait_for_sees_mail_from_a_spawned_task() {
        let mailer = MemoryMailer::new();
        let sender = mailer.clone();
        let task = tokio::spawn(async move {
            let (mail, _) = sample("Example");
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                sender.send(&mail).await.expect("sent");
            }
        });
        let sent = mailer.wait_for(3).await;
        assert_eq!(sent.len(), 3);
        task.await.expect("the task ends");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_for_gives_up_after_the_safety_timeout() {
        let mailer = MemoryMailer::new();
        let (mail, _) = sample("Example");
        mailer.send(&mail).await.expect("sent");
        let started = tokio::time::Instant::now();
        let sent = mailer.wait_for(2).await;
        assert_eq!(sent.len(), 1);
        assert!(started.elapsed() >= WAIT_LIMIT);
    }

    #[tokio::test]
    async fn failing_mailer_fails_and_keeps_nothing() {
        let mailer = MemoryMailer::failing();
        let (mail, link) = sample("Example");
        let err = mailer.send(&mail).await.expect_err("fails");
        assert!(!err.to_string().contains(&link));
        assert!(mailer.sent().is_empty());
    }
}
