//! Request limits in fixed windows, counted in the store so that every app instance on the
//! same database shares them. The HTTP adapter uses them per client IP on the routes that
//! need no session.

use chrono::{DateTime, Duration, Utc};

use super::Accounts;
use crate::error::{Error, Result};

/// At most `requests` requests in each window of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window's length.
    pub window: Duration,
}

impl RateLimit {
    /// `requests` per minute.
    pub fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            window: Duration::minutes(1),
        }
    }

    /// `requests` per hour.
    pub fn per_hour(requests: u32) -> Self {
        Self {
            requests,
            window: Duration::hours(1),
        }
    }

    /// The start of the window that `now` falls in.
    fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let len = self.window.num_seconds().max(1);
        let start = now.timestamp().div_euclid(len) * len;
        DateTime::from_timestamp(start, 0).unwrap_or(now)
    }
}

impl Accounts {
    /// Counts one request against `key` (for example `login:203.0.113.7`) and refuses it
    /// when the window already holds `limit.requests`.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] with the seconds until the window ends.
    pub async fn check_rate_limit(&self, key: &str, limit: RateLimit) -> Result<()> {
        let now = self.now();
        let start = limit.window_start(now);
        let count = self.inner.store.hit_rate_limit(key, start).await?;
        if count == 1 {
            // The first hit of a new window is a good moment to forget windows long past.
            self.inner
                .store
                .purge_rate_limits(start - limit.window)
                .await?;
        }
        if count > limit.requests {
            let retry_after = (start + limit.window - now).num_seconds().max(1);
            return Err(Error::RateLimited {
                retry_after_secs: retry_after,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_their_length() {
        let limit = RateLimit::per_minute(5);
        let at = DateTime::from_timestamp(1_767_225_600 + 75, 0).expect("time");
        assert_eq!(
            limit.window_start(at),
            DateTime::from_timestamp(1_767_225_660, 0).expect("time")
        );
    }
}
