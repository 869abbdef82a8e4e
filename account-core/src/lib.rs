//! The heart of the account workspace: accounts, profiles, passwords, sessions and the
//! security log, with no database and no HTTP.
//!
//! A host application gives [`Accounts`] a store, a mailer and a configuration, and calls
//! its methods from its own request handlers (or mounts the routes of `account-axum`,
//! which does exactly that).
//!
//! ```
//! use std::sync::Arc;
//! use account_core::mail::MemoryMailer;
//! use account_core::store::memory::MemoryStore;
//! use account_core::{AccountConfig, Accounts, LoginOutcome, RequestInfo, SignUp};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = AccountConfig::new("https://accounts.example.com".parse()?);
//! let mailer = MemoryMailer::new();
//! let accounts = Accounts::builder(Arc::new(MemoryStore::new()), Arc::new(mailer.clone()), config)
//!     .build();
//!
//! // The HTTP layer fills this from the request: client IP, user agent, client hints.
//! let info = RequestInfo::default();
//! let form = SignUp::parse("ada", "ada@example.com", "correct horse battery staple", None)?;
//! accounts.sign_up(form, &info).await?;
//!
//! let LoginOutcome::SignedIn(signed_in) =
//!     accounts.login("ada", &"correct horse battery staple".into(), &info).await?
//! else {
//!     unreachable!("ada has no second factor")
//! };
//! // Give signed_in.token to the client; each request presents it again:
//! let session = accounts.authenticate(signed_in.token.expose()).await?;
//! assert_eq!(accounts.sessions(session.account_id, Some(session.id)).await?.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Where things are
//!
//! | module | what it holds |
//! |---|---|
//! | [`domain`] | values that parse, not validate: usernames, addresses, passwords |
//! | [`model`] | the records services and stores exchange |
//! | [`store`] | the storage traits; [`store::memory`] is the in-memory store |
//! | [`password`] | argon2id hashing and the password policy |
//! | [`mail`] | typed messages and the mailers |
//! | [`config`], [`policy`] | start-up configuration; the administrator's run-time policy |
//! | [`directory`] | external directories (LDAP, an identity provider) that check passwords and own profile fields |
//! | [`testing`] | the store conformance suite (feature `testing`) |
//!
//! # Feature flags
//!
//! | feature | what it does | default |
//! |---|---|---|
//! | `memory` | the in-memory store | yes |
//! | `testing` | the store conformance suite and a seeded random source for tests | no |
//! | `smtp` | [`mail::SmtpMailer`], sending through lettre | no |
//!
//! # Security
//!
//! Every rule of the project's security checklist that the core enforces is tested by a
//! test named after it. Secrets (`Password`, tokens, hashes, mail bodies) never appear in
//! `Debug`, `Display`, errors or logs.

pub mod api_token;
pub mod avatar;
mod blocking;
pub mod clock;
pub mod config;
pub mod device;
pub mod directory;
pub mod domain;
pub mod error;
pub mod hooks;
pub mod known_device;
pub mod mail;
pub mod model;
pub mod password;
pub mod policy;
pub mod random;
mod service;
pub mod ssh_key;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;

pub use config::{AccessLimits, AccountConfig, CounterPolicy, LoginThrottle, PasskeyConfig};
pub use config::{TotpAccountName, TotpConfig};
pub use error::{AccessKind, Error, Result};
pub use ipnet;
pub use model::RequestInfo;
pub use service::{
    API_TOKEN_MAX_NETWORKS, ApiTokenAccess, AppPasswordLogin, CREDENTIAL_NAME_MAX, CreatedApiToken,
    CreatedAppPassword, NewApiToken, SshKeyOwner, parse_network,
};
pub use service::{
    AccountChangeByAdmin, AccountDetails, AccountExport, AccountPage, MAX_ACCOUNT_PAGE,
};
pub use service::{
    Accounts, AccountsBuilder, LoginOutcome, MAX_EVENT_PAGE, NewAccountByAdmin, RateLimit,
    SecondFactorMethod, SessionView, SignUp, SignUpOutcome, SignedIn, Verified,
};
pub use service::{EditableFields, FieldAccess};
pub use service::{EnrollingSession, EnrollmentSession, PendingSession, SignedInSession};
pub use service::{PASSKEY_NAME_MAX, PasskeyAdded, PasskeyAssertion, PasskeyCeremony};
pub use service::{RecoveryCodes, TotpConfirmed, TotpEnrollment};
// The parsers of typed second-factor codes, for the fuzz targets in `fuzz/` only.
#[doc(hidden)]
pub use service::{normalize_recovery_code, normalize_totp_code};
