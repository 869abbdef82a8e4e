//! What the host configures: the public URL, the session cookie, trusted proxies, body
//! limits and the per-IP request limits.

use std::fmt;

use account_core::RateLimit;
use ipnet::IpNet;
use url::Url;

/// The HTTP side of the configuration.
///
/// Start from [`HttpConfig::default`] and change the fields that matter; every field has a
/// safe default.
///
/// ```
/// use account_axum::{CookieName, HttpConfig};
///
/// let mut config = HttpConfig::default();
/// config.trusted_proxies = vec!["10.0.0.0/8".parse().expect("a CIDR")];
/// config.cookie_name = CookieName::new("acct").expect("a cookie name");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The origin users reach the application at: the CSRF check compares `Origin` with
    /// it, and an `https` URL makes the cookie `__Host-` and `Secure` and turns HSTS on.
    /// `None` (the default) takes the public URL of the core configuration
    /// ([`AccountConfig::public_url`](account_core::AccountConfig::public_url)), which is
    /// also where links in mail point; set it only when the two must differ.
    pub public_url: Option<Url>,
    /// The session cookie's name (default `session`). Over https the cookie is sent as
    /// `__Host-<name>`.
    pub cookie_name: CookieName,
    /// The proxies whose forwarding headers (`X-Forwarded-For`, `Forwarded`) are
    /// believed. Empty by default: the client IP is the socket peer's.
    pub trusted_proxies: Vec<IpNet>,
    /// The largest JSON body accepted, in bytes (64 KiB).
    pub json_body_limit: usize,
    /// The largest avatar upload accepted, in bytes (1 MiB). The core refuses uploads
    /// over its own [`AvatarLimits::max_upload_bytes`](account_core::avatar::AvatarLimits)
    /// too, so raising this alone accepts nothing larger.
    pub avatar_body_limit: usize,
    /// The per-IP request limits on the routes that need no session.
    pub rate_limits: RateLimits,
}

impl HttpConfig {
    /// The defaults, for an application reached at `public_url` (usually the same URL as
    /// the core's [`AccountConfig::public_url`](account_core::AccountConfig::public_url)).
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url: Some(public_url),
            ..Self::default()
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            cookie_name: CookieName::default(),
            trusted_proxies: Vec::new(),
            json_body_limit: 64 * 1024,
            avatar_body_limit: 1024 * 1024,
            rate_limits: RateLimits::default(),
        }
    }
}

/// Per-IP request limits on the routes that need no session (and on failed app-password
/// sign-ins), counted in the store with
/// [`Accounts::check_rate_limit`](account_core::Accounts::check_rate_limit) so that every
/// app instance on one database shares them. `None` turns a limit off.
///
/// Clients are counted by IP address, IPv6 clients by their /64 network (one household or
/// one server usually holds a whole /64). A request whose IP is unknown (the server was
/// not started with `ConnectInfo`) counts against one shared `unknown` bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// `POST /api/auth/login` (20 a minute).
    pub login: Option<RateLimit>,
    /// `POST /api/auth/signup` (10 an hour).
    pub signup: Option<RateLimit>,
    /// `POST /api/auth/password/forgot` (10 an hour).
    pub forgot_password: Option<RateLimit>,
    /// `POST /api/auth/password/reset` (30 an hour).
    pub reset_password: Option<RateLimit>,
    /// `POST /api/auth/email/verify` (30 an hour).
    pub verify_email: Option<RateLimit>,
    /// Failed sign-ins with HTTP Basic and an app password, on the host's routes that use
    /// [`AppPasswordAuth`](crate::AppPasswordAuth) (10 a minute). Only failures count, so
    /// a mail client that polls with a good app password is never slowed down; past the
    /// limit a failure answers 429 instead of 401.
    pub app_password_failures: Option<RateLimit>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login: Some(RateLimit::per_minute(20)),
            signup: Some(RateLimit::per_hour(10)),
            forgot_password: Some(RateLimit::per_hour(10)),
            reset_password: Some(RateLimit::per_hour(30)),
            verify_email: Some(RateLimit::per_hour(30)),
            app_password_failures: Some(RateLimit::per_minute(10)),
        }
    }
}

impl RateLimits {
    /// No limits at all, for tests that log in many times.
    pub fn none() -> Self {
        Self {
            login: None,
            signup: None,
            forgot_password: None,
            reset_password: None,
            verify_email: None,
            app_password_failures: None,
        }
    }
}

/// A session cookie name: 1 to 64 ASCII letters, digits, `-` and `_`, not starting with
/// `__` (the `__Host-` prefix is added when the public URL is https).
#[derive(Clone, PartialEq, Eq)]
pub struct CookieName(String);

impl CookieName {
    /// Checks a cookie name.
    ///
    /// # Errors
    ///
    /// [`InvalidCookieName`] for an empty or long name, a character outside the allowed
    /// set, or a leading `__`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidCookieName> {
        let name = name.into();
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !name.starts_with("__");
        if ok {
            Ok(Self(name))
        } else {
            Err(InvalidCookieName)
        }
    }

    /// The name as configured, without a prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for CookieName {
    fn default() -> Self {
        Self("session".to_owned())
    }
}

impl fmt::Debug for CookieName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for CookieName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cookie name was refused by [`CookieName::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a cookie name is 1 to 64 ASCII letters, digits, '-' and '_', not starting with '__'")]
pub struct InvalidCookieName;

/// The configuration as the request handlers use it: derived values computed once.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The public origin, serialised (`https://example.com`), for the CSRF check.
    pub(crate) origin: String,
    /// Whether the public URL is https: `__Host-` + `Secure` cookie, HSTS.
    pub(crate) https: bool,
    /// The cookie's full name, with its prefix.
    pub(crate) cookie_name: String,
    /// The known-device cookie's name: the session cookie's with `-device` after it, so
    /// it has the same prefix (SECURITY.md M47).
    pub(crate) device_cookie_name: String,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) json_body_limit: usize,
    pub(crate) avatar_body_limit: usize,
    pub(crate) rate_limits: RateLimits,
}

impl Settings {
    pub(crate) fn new(config: HttpConfig, core_public_url: &Url) -> Self {
        let url = config.public_url.unwrap_or_else(|| core_public_url.clone());
        let https = url.scheme() == "https";
        let cookie_name = if https {
            format!("__Host-{}", config.cookie_name.as_str())
        } else {
            config.cookie_name.as_str().to_owned()
        };
        Self {
            origin: url.origin().ascii_serialization(),
            https,
            device_cookie_name: format!("{cookie_name}-device"),
            cookie_name,
            trusted_proxies: config.trusted_proxies,
            json_body_limit: config.json_body_limit,
            avatar_body_limit: config.avatar_body_limit,
            rate_limits: config.rate_limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_names_are_checked() {
        assert!(CookieName::new("session").is_ok());
        assert!(CookieName::new("my-app_sid2").is_ok());
        for bad in ["", "__Host-x", "a b", "a;b", "é", &"a".repeat(65)] {
            assert_eq!(CookieName::new(bad), Err(InvalidCookieName), "{bad:?}");
        }
    }

    #[test]
    fn https_gets_the_host_prefix_and_http_does_not() {
        let https = Settings::new(
            HttpConfig::default(),
            &"https://example.com/app/".parse().expect("url"),
        );
        assert_eq!(https.cookie_name, "__Host-session");
        assert_eq!(https.origin, "https://example.com");
        assert!(https.https);
        let http = Settings::new(
            HttpConfig::default(),
            &"http://127.0.0.1:8080".parse().expect("url"),
        );
        assert_eq!(http.cookie_name, "session");
        assert_eq!(http.origin, "http://127.0.0.1:8080");
        assert!(!http.https);
    }
}
