//! The services: one file per feature of the account-settings page, each an `impl` block
//! of [`Accounts`].
//!
//! | file | what it does |
//! |---|---|
//! | `accounts.rs` | sign-up, creation by an administrator, reading an account |
//! | `admin.rs` | the administrator's list of accounts, one account in detail, changing, disabling and enabling one, ending its sessions |
//! | `deletion.rs` | deleting an account, by its owner or by an administrator, with the host's hooks |
//! | `export.rs` | the account's own data, for its owner |
//! | `profile.rs` | display name, language, avatar |
//! | `email.rs` | email change, the recovery address, verification links |
//! | `password.rs` | changing the password |
//! | `password_reset.rs` | forgot password and reset |
//! | `login.rs` | login with a password, re-authentication |
//! | `directory.rs` | external-directory accounts: the password checked by the directory, the profile fields it manages refreshed and refused here |
//! | `passkeys.rs` | passkeys: registering, listing, removing; passwordless login; checking one as a second factor |
//! | `second_factor.rs` | finishing a login with a second factor; the admin's 2FA reset |
//! | `api_tokens.rs` | personal API tokens: creating, listing, regenerating, deleting, checking one |
//! | `app_passwords.rs` | app passwords: creating, listing, revoking, checking one with a login |
//! | `ssh_keys.rs` | SSH keys: adding, listing, removing, finding a key's owner |
//! | `sessions.rs` | validating sessions into `SignedInSession`, `EnrollingSession` or `PendingSession`; listing, revoking and rotating them; freshness |
//! | `totp.rs` | TOTP: enrolling an authenticator app, checking codes, disabling it |
//! | `recovery_codes.rs` | recovery codes: their format, regenerating, counting, using one |
//! | `security_log.rs` | the security log |
//! | `sign_in_notice.rs` | recording a login, and mailing a notice for a new device and network |
//! | `policy.rs` | the administrator's policy |
//! | `rate_limits.rs` | request limits per key, counted in the store |

mod accounts;
mod admin;
mod api_tokens;
mod app_passwords;
mod deletion;
mod directory;
mod email;
mod export;
mod login;
mod passkeys;
mod password;
mod password_reset;
mod policy;
mod profile;
mod rate_limits;
mod recovery_codes;
mod second_factor;
mod security_log;
mod sessions;
mod sign_in_notice;
mod ssh_keys;
mod totp;

pub use accounts::{NewAccountByAdmin, SignUp, SignUpOutcome};
pub use admin::{AccountChangeByAdmin, AccountDetails, AccountPage, MAX_ACCOUNT_PAGE};
pub use api_tokens::{
    API_TOKEN_MAX_NETWORKS, ApiTokenAccess, CreatedApiToken, NewApiToken, parse_network,
};
pub use app_passwords::{AppPasswordLogin, CreatedAppPassword};
pub use email::Verified;
pub use export::AccountExport;
pub use login::{LoginOutcome, SecondFactorMethod};
pub use passkeys::{PASSKEY_NAME_MAX, PasskeyAdded, PasskeyAssertion, PasskeyCeremony};
pub use profile::{EditableFields, FieldAccess};
pub use rate_limits::RateLimit;
pub use recovery_codes::RecoveryCodes;
#[doc(hidden)]
pub use recovery_codes::normalize as normalize_recovery_code;
pub use security_log::MAX_EVENT_PAGE;
pub use sessions::{
    EnrollingSession, EnrollmentSession, PendingSession, SessionView, SignedIn, SignedInSession,
};
pub use ssh_keys::SshKeyOwner;
#[doc(hidden)]
pub use totp::normalize_code as normalize_totp_code;
pub use totp::{TotpConfirmed, TotpEnrollment};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::clock::{Clock, SystemClock};
use crate::config::AccountConfig;
use crate::device::sanitize_user_agent;
use crate::directory::Directory;
use crate::domain::EmailAddress;
use crate::domain::Password;
use crate::error::Result;
use crate::hooks::{AccountHooks, NoHooks};
use crate::mail::{Mail, MailContext, Mailer, Message};
use crate::model::{AccountId, EventId, RequestInfo, SecurityEvent, SecurityEventKind};
use crate::password::{PasswordHash, PasswordHasher, Verification};
use crate::policy::Policy;
use crate::random::{OsRandom, SecureRandom};
use crate::store::Store;

/// The account services: everything a user and an administrator can do, over one store.
///
/// Cheap to clone (one `Arc`); share one value between all request handlers.
///
/// ```
/// # async fn demo() -> Result<(), account_core::Error> {
/// use std::sync::Arc;
/// use account_core::{AccountConfig, Accounts, RequestInfo, SignUp};
/// use account_core::mail::MemoryMailer;
/// use account_core::store::memory::MemoryStore;
///
/// let config = AccountConfig::new("https://accounts.example.com".parse().expect("a valid URL"));
/// let accounts =
///     Accounts::builder(Arc::new(MemoryStore::new()), Arc::new(MemoryMailer::new()), config)
///         .build();
/// let info = RequestInfo::default();
/// accounts
///     .sign_up(SignUp::parse("ada", "ada@example.com", "correct horse battery staple", None)?, &info)
///     .await?;
/// let outcome = accounts.login("ada", &"correct horse battery staple".into(), &info).await?;
/// # drop(outcome);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom>,
    hasher: PasswordHasher,
    /// Avatar decoding: `AvatarLimits::max_concurrent` at once, `max_waiting` more waiting.
    avatars: crate::blocking::BoundedWork,
    verifications: AtomicU64,
    mail: MailContext,
    relying_party: passkeys::RelyingParty,
    hooks: Arc<dyn AccountHooks>,
    config: AccountConfig,
    /// The external directories, by name.
    directories: BTreeMap<String, Arc<dyn Directory>>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("store", &self.inner.store)
            .field("mailer", &self.inner.mailer)
            .field("public_url", &self.inner.config.public_url.as_str())
            .field("directories", &self.inner.directories.keys())
            .finish_non_exhaustive()
    }
}

/// Builds [`Accounts`]: a store, a mailer and a configuration are required; the clock
/// and the randomness have production defaults.
#[derive(Debug)]
pub struct AccountsBuilder {
    store: Arc<dyn Store>,
    config: AccountConfig,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom>,
    hooks: Arc<dyn AccountHooks>,
    directories: BTreeMap<String, Arc<dyn Directory>>,
}

impl AccountsBuilder {
    /// The host's hooks into an account's lifecycle (none by default): see
    /// [`AccountHooks`].
    pub fn hooks(mut self, hooks: Arc<dyn AccountHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// The clock (the system clock by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The source of randomness (the operating system's CSPRNG by default).
    pub fn random(mut self, rng: Arc<dyn SecureRandom>) -> Self {
        self.rng = rng;
        self
    }

    /// An external directory, which checks the passwords of the accounts whose source
    /// names it ([`AccountSource::External`](crate::model::AccountSource::External)) and
    /// supplies the profile fields it manages. Several directories may be registered,
    /// each under its [`name`](Directory::name); a second one with a name already
    /// registered replaces the first.
    pub fn directory(mut self, directory: Arc<dyn Directory>) -> Self {
        self.directories
            .insert(directory.name().to_owned(), directory);
        self
    }

    /// The services.
    pub fn build(self) -> Accounts {
        let mail = MailContext {
            public_url: self.config.public_url.clone(),
            product_name: self.config.product_name.clone(),
            links: self.config.links.clone(),
        };
        let hasher = PasswordHasher::new(self.config.hashing.clone(), self.rng.clone());
        let avatars = crate::blocking::BoundedWork::new(
            self.config.avatar.max_concurrent,
            self.config.avatar.max_waiting,
        );
        Accounts {
            inner: Arc::new(Inner {
                // Every call of the services goes through the breaker, so that a
                // database outage is answered at once rather than after the pool's wait.
                store: Arc::new(crate::store::OutageBreaker::new(
                    self.store,
                    self.clock.clone(),
                )),
                mailer: self.mailer,
                clock: self.clock,
                rng: self.rng,
                hasher,
                avatars,
                verifications: AtomicU64::new(0),
                mail,
                relying_party: passkeys::RelyingParty::new(&self.config),
                hooks: self.hooks,
                config: self.config,
                directories: self.directories,
            }),
        }
    }
}

impl Accounts {
    /// Starts building the services over `store`, sending mail through `mailer`.
    pub fn builder(
        store: Arc<dyn Store>,
        mailer: Arc<dyn Mailer>,
        config: AccountConfig,
    ) -> AccountsBuilder {
        AccountsBuilder {
            store,
            config,
            mailer,
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRandom),
            hooks: Arc::new(NoHooks),
            directories: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AccountConfig {
        &self.inner.config
    }

    /// The password hasher: its configuration, and the argon2 memory it keeps
    /// ([`PasswordHasher::pooled_memory_bytes`]).
    pub fn password_hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The store, for adapters that need to reach it directly (rate limits, health checks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The current time from the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn rng(&self) -> &dyn SecureRandom {
        self.inner.rng.as_ref()
    }

    /// Records a security event. Details must never hold a secret.
    async fn record(
        &self,
        account: AccountId,
        kind: SecurityEventKind,
        info: &RequestInfo,
        details: &[(&str, String)],
    ) -> Result<()> {
        let at = self.now();
        let event = SecurityEvent {
            id: EventId::generate(at, self.rng()),
            account_id: account,
            at,
            kind,
            ip: info.ip,
            user_agent: info.user_agent.as_deref().and_then(sanitize_user_agent),
            details: details
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        };
        self.inner.store.record_event(&event).await?;
        Ok(())
    }

    /// Sends a message in the background. A failing mailer never fails the action that
    /// sent it, and sending off the request path keeps the answer's timing independent of
    /// whether mail was sent (no enumeration through latency).
    fn notify(&self, to: &EmailAddress, message: Message) {
        let mail = Mail::new(to.clone(), message, &self.inner.mail);
        let mailer = self.inner.mailer.clone();
        tokio::spawn(async move { crate::mail::send_or_log(mailer.as_ref(), &mail).await });
    }

    /// How many password verifications (real and dummy) these services have run: a
    /// metric, and the proof in tests that an unknown login costs as much as a known one.
    pub fn password_verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Verifies a password against a stored hash, counted.
    async fn verify_password(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> Result<Verification> {
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(self.inner.hasher.verify(password, hash).await?)
    }

    /// Spends one verification on nothing, so that a login without a hash to check (an
    /// unknown user, a throttled account) takes as long as one with, and is refused alike
    /// ([`Error::RateLimited`]) when every hasher is busy.
    async fn dummy_verify(&self, password: &Password) -> Result<()> {
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(self.inner.hasher.dummy_verify(password).await?)
    }

    /// Records an event and mails a notice to every address of the account: what every
    /// change to programmatic access does.
    async fn record_and_notify_access(
        &self,
        account: &crate::model::Account,
        kind: SecurityEventKind,
        info: &RequestInfo,
        details: &[(&str, String)],
        message: impl Fn(crate::domain::Username) -> Message,
    ) -> Result<()> {
        self.record(account.id, kind, info, details).await?;
        self.notify_all_addresses(account, message);
        Ok(())
    }

    /// Whether a use at `now` should be written, given the last one written: at most once
    /// per [`session_touch_interval`](AccountConfig::session_touch_interval), so that
    /// validating a session, a token or an app password stays a read.
    fn touch_due(&self, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        last.is_none_or(|last| now - last >= self.inner.config.session_touch_interval)
    }

    /// The policy in force: the stored one, or the configured default.
    pub async fn policy(&self) -> Result<Policy> {
        Ok(self
            .inner
            .store
            .policy()
            .await?
            .unwrap_or_else(|| self.inner.config.default_policy.clone()))
    }
}

/// The longest name a user may give a credential (a passkey, a personal API token, an app
/// password, an SSH key), in characters.
pub const CREDENTIAL_NAME_MAX: usize = 100;

/// A credential's name as its owner typed it: trimmed, 1 to [`CREDENTIAL_NAME_MAX`]
/// characters, no control characters.
fn parse_credential_name(input: &str) -> Result<String> {
    use crate::domain::{Field, Rule, ValidationError};
    let name = input.trim();
    let refuse = |rule| Err(ValidationError::new(Field::Name, rule).into());
    if name.is_empty() {
        return refuse(Rule::Empty);
    }
    if name.chars().count() > CREDENTIAL_NAME_MAX {
        return refuse(Rule::TooLong {
            max: CREDENTIAL_NAME_MAX,
        });
    }
    if name.chars().any(char::is_control) {
        return refuse(Rule::ControlCharacter);
    }
    Ok(name.to_owned())
}
