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
    /// How often at most a session's last-seen time, and the last-used time of a personal
    /// API token or an app password, is written (one minute): validation stays a read.
    pub session_touch_interval: Duration,
    /// How many API tokens, app passwords and SSH keys one account may have.
    pub access_limits: AccessLimits,
    /// The policy that applies until an administrator stores one.
    pub default_policy: Policy,
    /// Passkeys: the WebAuthn relying party and ceremony rules.
    pub passkeys: PasskeyConfig,
    /// TOTP: what authenticator apps show for the account.
    pub totp: TotpConfig,
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
            access_limits: AccessLimits::default(),
            default_policy: Policy::default(),
            passkeys: PasskeyConfig::default(),
            totp: TotpConfig::default(),
        }
    }
}

/// How many credentials for programmatic access one account may have; the next one is
/// refused with [`Error::LimitReached`](crate::Error::LimitReached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessLimits {
    /// Personal API tokens (50).
    pub api_tokens: u32,
    /// App passwords (50).
    pub app_passwords: u32,
    /// SSH keys (50).
    pub ssh_keys: u32,
}

impl Default for AccessLimits {
    fn default() -> Self {
        Self {
            api_tokens: 50,
            app_passwords: 50,
            ssh_keys: 50,
        }
    }
}

/// TOTP (authenticator apps): what the app shows beside the codes.
///
/// The codes themselves follow fixed rules (SHA-1, 6 digits, 30 seconds), the only ones
/// every authenticator app supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TotpConfig {
    /// The issuer that authenticator apps show above the account name, such as `Example`.
    /// Empty (the default) means [`AccountConfig::product_name`], or `Account` if that is
    /// empty too. A colon, which the Key Uri Format forbids in it, becomes a space.
    pub issuer: String,
    /// Which name of the account the app shows ([`TotpAccountName::Username`]).
    pub account_name: TotpAccountName,
}

/// Which name of an account an authenticator app shows beside the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TotpAccountName {
    /// The username (the default): it never changes.
    #[default]
    Username,
    /// The primary email address at the time of enrolment.
    Email,
}

/// Passkeys (WebAuthn): the relying party and the rules of a ceremony.
///
/// By default the relying-party id is the host of [`AccountConfig::public_url`], the one
/// allowed origin is that URL's origin, and the relying-party name that authenticators
/// show is [`AccountConfig::product_name`]. WebAuthn needs a domain name: a public URL
/// whose host is an IP address (`http://127.0.0.1:8080`) leaves passkeys unavailable,
/// while `http://localhost:8080` works for development.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasskeyConfig {
    /// The relying-party id, when it must differ from the public URL's host: a registrable
    /// suffix of it, such as `example.com` for `https://accounts.example.com`, so that
    /// sibling sites share the passkeys. Passkeys are bound to it for good: changing it
    /// later makes every registered passkey useless.
    pub rp_id: Option<String>,
    /// Origins allowed besides the public URL's (another front end of the same relying
    /// party). Each must lie under the relying-party id.
    pub extra_origins: Vec<Url>,
    /// What a signature counter that goes backwards does ([`CounterPolicy::Refuse`]).
    pub counter_regression: CounterPolicy,
    /// How long a registration or authentication ceremony lives (5 minutes); also the
    /// timeout the browser is given.
    pub ceremony_ttl: Duration,
}

impl Default for PasskeyConfig {
    fn default() -> Self {
        Self {
            rp_id: None,
            extra_origins: Vec::new(),
            counter_regression: CounterPolicy::Refuse,
            ceremony_ttl: Duration::minutes(5),
        }
    }
}

/// What happens when a passkey's signature counter does not go up (WebAuthn
/// §6.1.1 "Signature Counter Considerations"): either counter is non-zero and the new one
/// is not above the stored one, a sign that the credential's key may have been copied.
///
/// Either way a `passkey_counter_regressed` event is recorded. Synced passkeys (the usual
/// platform ones) always report zero and never trip this; hardware keys count, and for
/// them a regression really does suggest a clone, hence the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CounterPolicy {
    /// Record the event and accept the authentication.
    Warn,
    /// Record the event and refuse the authentication (the default).
    #[default]
    Refuse,
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
