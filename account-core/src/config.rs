//! The configuration a host application gives the services at start-up.

use chrono::Duration;
use url::Url;

use crate::avatar::AvatarLimits;
use crate::domain::ReservedNames;
use crate::mail::LinkPaths;
use crate::password::HashingConfig;
use crate::policy::Policy;

/// Everything the services need to know that is not in the store.
///
/// Build one with [`AccountConfig::new`] and change the fields that matter; every field
/// has a safe default except the public URL, which the host must know.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountConfig {
    /// The origin users reach the application at. Links in mail are built from it, never
    /// from a request's `Host` header.
    pub public_url: Url,
    /// The product's name, used in mail subjects.
    pub product_name: String,
    /// The paths of the pages that links in mail open.
    pub links: LinkPaths,
    /// Password hashing parameters and concurrency.
    pub hashing: HashingConfig,
    /// Login throttling.
    pub login_throttle: LoginThrottle,
    /// Names self sign-up may not take.
    pub reserved_usernames: ReservedNames,
    /// Avatar upload limits.
    pub avatar: AvatarLimits,
    /// How long a password-reset link lives (30 minutes).
    pub reset_token_ttl: Duration,
    /// How long an email-verification link lives (24 hours).
    pub verification_token_ttl: Duration,
    /// How often at most a session's last-seen time is written (one minute).
    pub session_touch_interval: Duration,
    /// The policy that applies until an administrator stores one.
    pub default_policy: Policy,
}

impl AccountConfig {
    /// The defaults, for an application reached at `public_url`.
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            product_name: "Account".to_owned(),
            links: LinkPaths::default(),
            hashing: HashingConfig::default(),
            login_throttle: LoginThrottle::default(),
            reserved_usernames: ReservedNames::default(),
            avatar: AvatarLimits::default(),
            reset_token_ttl: Duration::minutes(30),
            verification_token_ttl: Duration::hours(24),
            session_touch_interval: Duration::minutes(1),
            default_policy: Policy::default(),
        }
    }
}

/// How failed logins slow an account down.
///
/// Failures are counted per account in the store, whatever IP they come from. From
/// `delay_after` consecutive failures on, each new attempt must wait a delay that starts
/// at `first_delay` and doubles with each failure up to `max_delay`; from `lock_after`
/// failures on, the account refuses password logins for `lock_duration` after the last
/// failure (a password reset still works, and clears the counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures allowed before delays begin (5).
    pub delay_after: u32,
    /// The first delay (30 seconds).
    pub first_delay: Duration,
    /// The longest delay (1 hour).
    pub max_delay: Duration,
    /// Failures after which logins are locked (100).
    pub lock_after: u32,
    /// How long a lock lasts after the last failure (24 hours).
    pub lock_duration: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            delay_after: 5,
            first_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
            lock_after: 100,
            lock_duration: Duration::hours(24),
        }
    }
}

impl LoginThrottle {
    /// How long after the last failure the next attempt must wait, given `count`
    /// consecutive failures; zero when no wait is due.
    pub fn wait_after(&self, count: u32) -> Duration {
        if count >= self.lock_after {
            return self.lock_duration;
        }
        if count < self.delay_after {
            return Duration::zero();
        }
        let doublings = (count - self.delay_after).min(30);
        let factor = 1i32.checked_shl(doublings).unwrap_or(i32::MAX);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_from_the_fifth_failure_and_lock_at_the_hundredth() {
        let t = LoginThrottle::default();
        assert_eq!(t.wait_after(4), Duration::zero());
        assert_eq!(t.wait_after(5), Duration::seconds(30));
        assert_eq!(t.wait_after(6), Duration::seconds(60));
        assert_eq!(t.wait_after(11), Duration::seconds(30 * 64));
        assert_eq!(t.wait_after(12), Duration::hours(1));
        assert_eq!(t.wait_after(99), Duration::hours(1));
        assert_eq!(t.wait_after(100), Duration::hours(24));
    }
}
