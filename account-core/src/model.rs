//! The records the services work with and the stores keep.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::device::DeviceDetails;
use crate::domain::{DisplayName, EmailAddress, Language, Username};
use crate::password::PasswordHash;
use crate::random::{SecureRandom, bytes};
use crate::token::TokenDigest;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered identifier (UUID v7) from the given time and randomness.
            pub fn generate(at: DateTime<Utc>, rng: &dyn SecureRandom) -> Self {
                Self(uuid_v7(at, rng))
            }

            /// The identifier from its UUID, as read back from a store.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// The identifier of an account.
    AccountId
);
uuid_id!(
    /// The identifier of a session (not its secret token).
    SessionId
);
uuid_id!(
    /// The identifier of a security event.
    EventId
);
uuid_id!(
    /// The identifier of a passkey (not its WebAuthn credential id).
    PasskeyId
);
uuid_id!(
    /// The identifier of a personal API token (not the token).
    ApiTokenId
);
uuid_id!(
    /// The identifier of an app password (not the password).
    AppPasswordId
);
uuid_id!(
    /// The identifier of an SSH key on an account (not its fingerprint).
    SshKeyId
);

/// A UUID v7 from an injected clock and randomness, so tests are repeatable.
///
/// Identifiers made in one process are strictly increasing, even within one millisecond:
/// the 12 bits after the timestamp hold a counter (RFC 9562 §6.2, method 1), so a security
/// log ordered by time and then id lists events made in the same millisecond in the order
/// they happened.
fn uuid_v7(at: DateTime<Utc>, rng: &dyn SecureRandom) -> Uuid {
    static LAST: std::sync::Mutex<(u64, u16)> = std::sync::Mutex::new((0, 0));
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let (millis, counter) = {
        let mut last = LAST
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = if millis > last.0 {
            (millis, 0)
        } else if last.1 < 0x0fff {
            (last.0, last.1 + 1)
        } else {
            // The counter is spent: borrow the next millisecond, as RFC 9562 allows.
            (last.0 + 1, 0)
        };
        *last = next;
        next
    };
    let mut random = bytes::<10>(rng);
    let [hi, lo] = counter.to_be_bytes();
    random[0] = hi & 0x0f;
    random[1] = lo;
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// Where an account's profile and password are managed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccountSource {
    /// Managed here.
    Local,
    /// Managed by an external directory (LDAP, an identity provider): the password and
    /// the profile fields the directory manages cannot be changed here (see
    /// [`directory`](crate::directory)).
    External {
        /// The directory's name.
        directory: String,
    },
}

impl AccountSource {
    /// Whether the account is managed by an external directory.
    pub fn is_external(&self) -> bool {
        matches!(self, AccountSource::External { .. })
    }
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// The account may sign in.
    Active,
    /// An administrator disabled the account.
    Disabled,
}

impl AccountState {
    /// The stable name a store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Disabled => "disabled",
        }
    }

    /// The state from its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(AccountState::Active),
            "disabled" => Some(AccountState::Disabled),
            _ => None,
        }
    }
}

/// What an account may do beyond its own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A user: their own account only.
    User,
    /// An administrator: the admin routes too.
    Admin,
}

impl Role {
    /// The stable name a store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    /// The role from its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A random value that changes whenever an account's credentials change.
///
/// One-time tokens remember the stamp they were issued under and die when it changes, so a
/// reset link is dead once the password changes, without a sweep over the tokens.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecurityStamp(String);

impl SecurityStamp {
    /// A fresh stamp.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        Self(hex::encode(bytes::<16>(rng)))
    }

    /// The stamp as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stamp from its stored text.
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl fmt::Debug for SecurityStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityStamp(***)")
    }
}

/// An account as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The identifier.
    pub id: AccountId,
    /// The username; it never changes.
    pub username: Username,
    /// The name shown for the account.
    pub display_name: DisplayName,
    /// The primary address, used for notices and for logging in.
    pub email: EmailAddress,
    /// Whether the primary address was confirmed through a link.
    pub email_verified: bool,
    /// The verified password-recovery address, if one is set.
    pub recovery_email: Option<EmailAddress>,
    /// The preferred language, if one is set.
    pub language: Option<Language>,
    /// When the avatar was last set, if there is one (also a cache-busting version).
    pub avatar_updated_at: Option<DateTime<Utc>>,
    /// Where the account is managed.
    pub source: AccountSource,
    /// Whether it may sign in.
    pub state: AccountState,
    /// User or administrator.
    pub role: Role,
    /// Changes whenever a credential changes.
    pub security_stamp: SecurityStamp,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the profile last changed.
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// Where reset mail goes: the recovery address when one is set, else the primary.
    pub fn reset_address(&self) -> &EmailAddress {
        self.recovery_email.as_ref().unwrap_or(&self.email)
    }
}

/// A new account for [`AccountStore::insert_account`](crate::store::AccountStore::insert_account),
/// with its password hash if it has one.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account.
    pub account: Account,
    /// Its password hash; `None` for accounts that log in only otherwise.
    pub password_hash: Option<PasswordHash>,
}

/// A change to the profile fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// A new language, or `Some(None)` to clear it.
    pub language: Option<Option<Language>>,
}

impl ProfileChange {
    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.language.is_none()
    }
}

/// An administrator's change to an account, for
/// [`AccountStore::change_account`](crate::store::AccountStore::change_account); `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// A new primary address, stored unverified (its owner proves it through a link).
    pub email: Option<EmailAddress>,
    /// A new role.
    pub role: Option<Role>,
    /// A new state. Disabling ends every session in the same step.
    pub state: Option<AccountState>,
}

impl AccountChange {
    /// Whether the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none()
            && self.email.is_none()
            && self.role.is_none()
            && self.state.is_none()
    }
}

/// What [`AccountStore::change_account`](crate::store::AccountStore::change_account) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountUpdate {
    /// The account as it is now, and how many sessions the change ended (disabling ends
    /// them all).
    Changed {
        /// The account after the change.
        account: Box<Account>,
        /// How many sessions went.
        sessions_ended: u64,
    },
    /// There is no such account.
    NotFound,
    /// The change would leave no active administrator: nothing was changed.
    LastAdmin,
}

/// What [`AccountStore::delete_account`](crate::store::AccountStore::delete_account) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRemoval {
    /// The account and everything of it are gone; this is what it was.
    Removed(Box<Account>),
    /// There is no such account (or another deletion took it first).
    NotFound,
    /// It is the last active administrator: nothing was deleted.
    LastAdmin,
}

/// A position in the list of accounts, which is ordered by creation time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountCursor {
    /// The account's creation time.
    pub created_at: DateTime<Utc>,
    /// The account's id.
    pub id: AccountId,
}

impl Account {
    /// The cursor that continues after this account.
    pub fn cursor(&self) -> AccountCursor {
        AccountCursor {
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// Which kind of source an account listing keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Accounts managed here.
    Local,
    /// Accounts of any external directory.
    External,
}

impl SourceKind {
    /// The kind of this source.
    pub fn of(source: &AccountSource) -> Self {
        match source {
            AccountSource::Local => SourceKind::Local,
            AccountSource::External { .. } => SourceKind::External,
        }
    }
}

/// A page of the list of accounts an administrator sees, for
/// [`AccountStore::list_accounts`](crate::store::AccountStore::list_accounts): the accounts
/// that match every filter given, oldest first, strictly after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountQuery {
    /// A substring of the username, the primary address or the display name, compared
    /// case-insensitively. It must already be in lowercase (see [`AccountQuery::search`]).
    pub search: Option<String>,
    /// Only accounts in this state.
    pub state: Option<AccountState>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only local or only external accounts.
    pub source: Option<SourceKind>,
    /// The last account of the previous page, or `None` for the first page.
    pub after: Option<AccountCursor>,
    /// How many accounts at most.
    pub limit: u32,
}

impl AccountQuery {
    /// The search term as the store compares it: trimmed and in lowercase, `None` when
    /// nothing is left.
    pub fn search(term: &str) -> Option<String> {
        let term = term.trim().to_lowercase();
        (!term.is_empty()).then_some(term)
    }

    /// Whether `account` matches the filters (not the cursor): what a store's query
    /// decides, for stores that filter in memory.
    pub fn matches(&self, account: &Account) -> bool {
        self.search.as_ref().is_none_or(|term| {
            account.username.as_str().contains(term.as_str())
                || account.email.lookup_key().contains(term.as_str())
                || account
                    .display_name
                    .as_str()
                    .to_lowercase()
                    .contains(term.as_str())
        }) && self.state.is_none_or(|s| s == account.state)
            && self.role.is_none_or(|r| r == account.role)
            && self
                .source
                .is_none_or(|k| k == SourceKind::of(&account.source))
    }
}

/// How a session was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// The account's password.
    Password,
    /// A passkey.
    Passkey,
    /// A TOTP code.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// An external directory that the host application asked (LDAP, an identity provider).
    External,
}

impl AuthMethod {
    /// Whether this method is a second factor: a passkey, a TOTP code or a recovery code.
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            AuthMethod::Passkey | AuthMethod::Totp | AuthMethod::RecoveryCode
        )
    }
}

/// One authentication of a session: which method, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// The method.
    pub method: AuthMethod,
    /// When it succeeded.
    pub at: DateTime<Utc>,
}

/// Authenticator assurance level (NIST SP 800-63B): 1 for one factor, 2 for two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum AssuranceLevel {
    /// One factor.
    One,
    /// Two factors, or a multi-factor authenticator such as a passkey with user verification.
    Two,
}

impl From<AssuranceLevel> for u8 {
    fn from(l: AssuranceLevel) -> u8 {
        match l {
            AssuranceLevel::One => 1,
            AssuranceLevel::Two => 2,
        }
    }
}

impl TryFrom<u8> for AssuranceLevel {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(AssuranceLevel::One),
            2 => Ok(AssuranceLevel::Two),
            other => Err(format!("assurance level {other} does not exist")),
        }
    }
}

/// Where a request came from, for sessions and the security log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// The client's IP address, as the HTTP layer trusts it.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// User-Agent Client Hints, when the browser sent them.
    pub client_hints: crate::device::ClientHints,
    /// The known-device cookie the browser sent, if any (checked by the login that uses
    /// it).
    pub device_cookie: Option<crate::known_device::DeviceCookie>,
}

/// A personal API token with its account, as one store read gives them: what validating a
/// bearer token needs (DESIGN.md, "Performance targets").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenWithAccount {
    /// The token (never its secret).
    pub token: ApiTokenRecord,
    /// Its account, whatever its state.
    pub account: Account,
}

/// A session with its account and the account's second factors, as one store read gives
/// them: what validating a session token needs, so that an authenticated request costs
/// that one read in all (DESIGN.md, "Performance targets").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionWithAccount {
    /// The session.
    pub session: SessionRecord,
    /// Its account, whatever its state (the caller decides what a disabled one may do).
    pub account: Account,
    /// The account's second factors.
    pub second_factors: SecondFactors,
}

/// A session as the store keeps it. The token itself is never kept, only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The identifier, safe to show and to use in URLs.
    pub id: SessionId,
    /// The SHA-256 digest of the session token.
    pub token_digest: TokenDigest,
    /// The account.
    pub account_id: AccountId,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When the session was last used (written at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// How long the session may stay unused.
    pub idle_timeout: Duration,
    /// When the session ends however it is used.
    pub absolute_expires_at: DateTime<Utc>,
    /// The client's IP address when the session was created.
    pub ip: Option<IpAddr>,
    /// The client's user agent, sanitised.
    pub user_agent: Option<String>,
    /// Device details parsed from the user agent and client hints.
    pub device: DeviceDetails,
    /// The authentications of this session, the latest per method.
    pub authentications: Vec<Authentication>,
    /// The assurance level reached.
    pub assurance: AssuranceLevel,
    /// What the session may do: everything, only finish a login with a second factor, or
    /// only enrol one.
    pub stage: SessionStage,
}

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SessionStage {
    /// A full session.
    Full,
    /// The password was right and a second factor must finish the login. Only the
    /// second-factor routes accept such a session; it lives 5 minutes and allows a few
    /// attempts, counted in `attempts`.
    SecondFactorPending {
        /// Failed second-factor attempts made with this session.
        attempts: u32,
    },
    /// The policy requires a second factor and the account has none: the session may only
    /// enrol one.
    EnrollmentOnly,
}

impl SessionStage {
    /// The stable name a store keeps (the attempts are kept apart).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::SecondFactorPending { .. } => "second_factor_pending",
            SessionStage::EnrollmentOnly => "enrollment_only",
        }
    }

    /// The stage from its stored name and attempt count.
    pub fn parse(s: &str, attempts: u32) -> Option<Self> {
        match s {
            "full" => Some(SessionStage::Full),
            "second_factor_pending" => Some(SessionStage::SecondFactorPending { attempts }),
            "enrollment_only" => Some(SessionStage::EnrollmentOnly),
            _ => None,
        }
    }

    /// The attempts a store keeps beside the name.
    pub fn attempts(self) -> u32 {
        match self {
            SessionStage::SecondFactorPending { attempts } => attempts,
            _ => 0,
        }
    }
}

impl SessionRecord {
    /// When the session expires if it is not used again.
    pub fn expires_at(&self) -> DateTime<Utc> {
        (self.last_seen_at + self.idle_timeout).min(self.absolute_expires_at)
    }

    /// Whether the session is still valid at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at()
    }

    /// The latest authentication with any method.
    pub fn last_authenticated_at(&self) -> Option<DateTime<Utc>> {
        self.authentications.iter().map(|a| a.at).max()
    }
}

/// The security-relevant change of a session's authentication, written together with a
/// new token (the session id is renewed at every privilege change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRotation {
    /// The digest of the new token.
    pub token_digest: TokenDigest,
    /// The authentications after the change.
    pub authentications: Vec<Authentication>,
    /// The assurance level after the change.
    pub assurance: AssuranceLevel,
    /// The stage after the change.
    pub stage: SessionStage,
    /// When the rotation happened (also the new last-seen time).
    pub at: DateTime<Utc>,
}

/// What a one-time challenge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChallengePurpose {
    /// A password-reset link.
    PasswordReset,
    /// A link that verifies a primary address (at sign-up, or a new one on email change).
    VerifyEmail,
    /// A link that verifies a password-recovery address.
    VerifyRecoveryEmail,
    /// A WebAuthn registration ceremony (adding a passkey).
    PasskeyRegistration,
    /// A WebAuthn authentication ceremony with a known account: a passkey as the second
    /// factor, or re-authentication.
    PasskeyAuthentication,
    /// A WebAuthn authentication ceremony without a known account: passwordless login
    /// with a discoverable credential.
    PasskeyLogin,
}

impl ChallengePurpose {
    /// The stable name a store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengePurpose::PasswordReset => "password_reset",
            ChallengePurpose::VerifyEmail => "verify_email",
            ChallengePurpose::VerifyRecoveryEmail => "verify_recovery_email",
            ChallengePurpose::PasskeyRegistration => "passkey_registration",
            ChallengePurpose::PasskeyAuthentication => "passkey_authentication",
            ChallengePurpose::PasskeyLogin => "passkey_login",
        }
    }

    /// The purpose from its stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password_reset" => Some(ChallengePurpose::PasswordReset),
            "verify_email" => Some(ChallengePurpose::VerifyEmail),
            "verify_recovery_email" => Some(ChallengePurpose::VerifyRecoveryEmail),
            "passkey_registration" => Some(ChallengePurpose::PasskeyRegistration),
            "passkey_authentication" => Some(ChallengePurpose::PasskeyAuthentication),
            "passkey_login" => Some(ChallengePurpose::PasskeyLogin),
            _ => None,
        }
    }
}

/// A single-use secret with a purpose and an expiry: a reset or verification link, and
/// (later) a WebAuthn ceremony. Only the digest of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The SHA-256 digest of the secret.
    pub digest: TokenDigest,
    /// What it is for.
    pub purpose: ChallengePurpose,
    /// The account it belongs to, if any.
    pub account_id: Option<AccountId>,
    /// The account's security stamp when it was issued; a different stamp at use means the
    /// credentials changed since and the challenge is dead.
    pub security_stamp: Option<SecurityStamp>,
    /// Data for the purpose, such as the address being verified. Never a secret.
    pub payload: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it dies.
    pub expires_at: DateTime<Utc>,
}

/// What a login-failure counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// Wrong passwords.
    Password,
    /// Wrong second factors (TOTP codes, recovery codes, passkey assertions), counted per
    /// account across sessions.
    SecondFactor,
    /// Wrong passwords from browsers that have signed in to the account before (a valid
    /// known-device cookie): counted apart, so that a stranger's guesses cannot lock the
    /// owner out (see [`known_device`](crate::known_device)).
    KnownDevicePassword,
}

impl FailureKind {
    /// The stable name a store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Password => "password",
            FailureKind::SecondFactor => "second_factor",
            FailureKind::KnownDevicePassword => "known_device_password",
        }
    }
}

/// The state of a failure counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Consecutive failures since the last success.
    pub count: u32,
    /// When the last failure happened.
    pub last_at: Option<DateTime<Utc>>,
}

/// The kind of a security event. The string form is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEventKind {
    /// The account was created by sign-up.
    SignedUp,
    /// An administrator created the account.
    CreatedByAdmin,
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed.
    LoginFailed,
    /// Too many failures locked logins for a while.
    LoginLocked,
    /// The session was logged out.
    LoggedOut,
    /// The session re-authenticated.
    Reauthenticated,
    /// Display name or language changed, or the fields an external directory manages were
    /// refreshed from it at login (details `by=directory`).
    ProfileUpdated,
    /// An avatar was uploaded.
    AvatarChanged,
    /// The avatar was removed.
    AvatarRemoved,
    /// An email change was requested.
    EmailChangeRequested,
    /// The primary address changed.
    EmailChanged,
    /// The primary address was verified.
    EmailVerified,
    /// A recovery address was requested.
    RecoveryEmailChangeRequested,
    /// The recovery address changed.
    RecoveryEmailChanged,
    /// The recovery address was removed.
    RecoveryEmailRemoved,
    /// The password was changed.
    PasswordChanged,
    /// A reset link was requested.
    PasswordResetRequested,
    /// The password was reset through a link.
    PasswordReset,
    /// The stored password hash was upgraded to the current parameters.
    PasswordHashUpgraded,
    /// One session was revoked.
    SessionRevoked,
    /// All other sessions were revoked.
    OtherSessionsRevoked,
    /// An administrator changed the policy.
    PolicyChanged,
    /// TOTP was set up.
    TotpEnabled,
    /// TOTP was turned off.
    TotpDisabled,
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A recovery code was used.
    RecoveryCodeUsed,
    /// A passkey was added.
    PasskeyAdded,
    /// A passkey was renamed.
    PasskeyRenamed,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey's signature counter went backwards: the authenticator may be cloned.
    PasskeyCounterRegressed,
    /// A second factor was wrong after a right password.
    SecondFactorFailed,
    /// An administrator removed every second factor of an account.
    SecondFactorsReset,
    /// A personal API token was created.
    ApiTokenCreated,
    /// A personal API token got a new secret; the old one stopped working.
    ApiTokenRegenerated,
    /// A personal API token was deleted.
    ApiTokenDeleted,
    /// An app password was created.
    AppPasswordCreated,
    /// An app password was revoked.
    AppPasswordRevoked,
    /// An SSH key was added.
    SshKeyAdded,
    /// An SSH key was removed.
    SshKeyRemoved,
    /// The account was deleted. The only event kept of a deleted account: its id, its
    /// username (`username`), when, and by whom (`by`: `self` or the administrator's id).
    AccountDeleted,
    /// An administrator deleted another account (recorded on the administrator's log).
    DeletedAccount,
    /// An administrator changed the account's profile fields or role.
    ChangedByAdmin,
    /// An administrator disabled the account; its sessions ended.
    AccountDisabled,
    /// An administrator enabled the account again.
    AccountEnabled,
    /// An administrator ended every session of the account.
    SessionsRevokedByAdmin,
    /// A login came from a device and network not seen on the account before; its owner
    /// was told by mail.
    NewSignInNotified,
}

impl SecurityEventKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        use SecurityEventKind as K;
        match self {
            K::SignedUp => "signed_up",
            K::CreatedByAdmin => "created_by_admin",
            K::LoginSucceeded => "login_succeeded",
            K::LoginFailed => "login_failed",
            K::LoginLocked => "login_locked",
            K::LoggedOut => "logged_out",
            K::Reauthenticated => "reauthenticated",
            K::ProfileUpdated => "profile_updated",
            K::AvatarChanged => "avatar_changed",
            K::AvatarRemoved => "avatar_removed",
            K::EmailChangeRequested => "email_change_requested",
            K::EmailChanged => "email_changed",
            K::EmailVerified => "email_verified",
            K::RecoveryEmailChangeRequested => "recovery_email_change_requested",
            K::RecoveryEmailChanged => "recovery_email_changed",
            K::RecoveryEmailRemoved => "recovery_email_removed",
            K::PasswordChanged => "password_changed",
            K::PasswordResetRequested => "password_reset_requested",
            K::PasswordReset => "password_reset",
            K::PasswordHashUpgraded => "password_hash_upgraded",
            K::SessionRevoked => "session_revoked",
            K::OtherSessionsRevoked => "other_sessions_revoked",
            K::PolicyChanged => "policy_changed",
            K::TotpEnabled => "totp_enabled",
            K::TotpDisabled => "totp_disabled",
            K::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            K::RecoveryCodeUsed => "recovery_code_used",
            K::PasskeyAdded => "passkey_added",
            K::PasskeyRenamed => "passkey_renamed",
            K::PasskeyRemoved => "passkey_removed",
            K::PasskeyCounterRegressed => "passkey_counter_regressed",
            K::SecondFactorFailed => "second_factor_failed",
            K::SecondFactorsReset => "second_factors_reset",
            K::ApiTokenCreated => "api_token_created",
            K::ApiTokenRegenerated => "api_token_regenerated",
            K::ApiTokenDeleted => "api_token_deleted",
            K::AppPasswordCreated => "app_password_created",
            K::AppPasswordRevoked => "app_password_revoked",
            K::SshKeyAdded => "ssh_key_added",
            K::SshKeyRemoved => "ssh_key_removed",
            K::AccountDeleted => "account_deleted",
            K::DeletedAccount => "deleted_account",
            K::ChangedByAdmin => "changed_by_admin",
            K::AccountDisabled => "account_disabled",
            K::AccountEnabled => "account_enabled",
            K::SessionsRevokedByAdmin => "sessions_revoked_by_admin",
            K::NewSignInNotified => "new_sign_in_notified",
        }
    }

    /// Every kind, for stores that map names back.
    pub const ALL: &'static [SecurityEventKind] = &[
        Self::SignedUp,
        Self::CreatedByAdmin,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::LoggedOut,
        Self::Reauthenticated,
        Self::ProfileUpdated,
        Self::AvatarChanged,
        Self::AvatarRemoved,
        Self::EmailChangeRequested,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::RecoveryEmailChangeRequested,
        Self::RecoveryEmailChanged,
        Self::RecoveryEmailRemoved,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::PasswordHashUpgraded,
        Self::SessionRevoked,
        Self::OtherSessionsRevoked,
        Self::PolicyChanged,
        Self::TotpEnabled,
        Self::TotpDisabled,
        Self::RecoveryCodesRegenerated,
        Self::RecoveryCodeUsed,
        Self::PasskeyAdded,
        Self::PasskeyRenamed,
        Self::PasskeyRemoved,
        Self::PasskeyCounterRegressed,
        Self::SecondFactorFailed,
        Self::SecondFactorsReset,
        Self::ApiTokenCreated,
        Self::ApiTokenRegenerated,
        Self::ApiTokenDeleted,
        Self::AppPasswordCreated,
        Self::AppPasswordRevoked,
        Self::SshKeyAdded,
        Self::SshKeyRemoved,
        Self::AccountDeleted,
        Self::DeletedAccount,
        Self::ChangedByAdmin,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::SessionsRevokedByAdmin,
        Self::NewSignInNotified,
    ];

    /// The kind from its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// One entry of an account's security log. Details never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityEvent {
    /// The identifier (time-ordered).
    pub id: EventId,
    /// The account the event is about.
    pub account_id: AccountId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: SecurityEventKind,
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The client's user agent, sanitised.
    pub user_agent: Option<String>,
    /// Further facts, such as the method of a login or the session revoked.
    pub details: BTreeMap<String, String>,
}

/// A page of the security log: events strictly older than `before`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPage {
    /// The last event of the previous page, or `None` for the first page.
    pub before: Option<EventCursor>,
    /// How many events at most.
    pub limit: u32,
}

/// Which events a listing of the security log keeps: every filter given must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this account's events; every account's when `None` (an administrator's view).
    pub account: Option<AccountId>,
    /// Only events of this kind.
    pub kind: Option<SecurityEventKind>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// Every event of one account.
    pub fn account(account: AccountId) -> Self {
        Self {
            account: Some(account),
            ..Self::default()
        }
    }

    /// Whether `event` passes the filter: what a store's query decides, for stores that
    /// filter in memory.
    pub fn matches(&self, event: &SecurityEvent) -> bool {
        self.account.is_none_or(|a| a == event.account_id)
            && self.kind.is_none_or(|k| k == event.kind)
            && self.since.is_none_or(|t| event.at >= t)
    }
}

/// A position in the security log: events are ordered by time, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventCursor {
    /// The event's time.
    pub at: DateTime<Utc>,
    /// The event's id.
    pub id: EventId,
}

impl SecurityEvent {
    /// The cursor that continues after this event.
    pub fn cursor(&self) -> EventCursor {
        EventCursor {
            at: self.at,
            id: self.id,
        }
    }
}

/// A TOTP shared secret (RFC 6238): 160 random bits. A secret: `Debug` hides it and it is
/// wiped on drop.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// The length of a fresh secret, in bytes (160 bits, as RFC 4226 recommends).
    pub const LEN: usize = 20;

    /// A fresh secret.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        Self(bytes::<{ Self::LEN }>(rng).to_vec())
    }

    /// A secret from its bytes, as read back from a store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes, for the TOTP computation and for a store to keep.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// An account's TOTP authenticator as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// The shared secret.
    pub secret: TotpSecret,
    /// When enrolment was confirmed with a code; `None` while it is pending.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When enrolment started.
    pub created_at: DateTime<Utc>,
    /// The last time step accepted (each step is accepted at most once).
    pub last_step: Option<i64>,
}

/// A passkey as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The identifier shown in URLs.
    pub id: PasskeyId,
    /// The account.
    pub account_id: AccountId,
    /// The WebAuthn credential id (unique across all accounts, at most 1023 bytes).
    pub credential_id: Vec<u8>,
    /// The name the user gave it.
    pub name: String,
    /// The credential as the WebAuthn library serialises it (public key, counter, flags):
    /// opaque to stores, and no secret.
    pub credential: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// Whether the authenticator may back it up (sync it to other devices).
    pub backup_eligible: bool,
    /// Whether it is backed up now.
    pub backup_state: bool,
}

/// What [`AuthenticatorStore::delete_passkey`](crate::store::AuthenticatorStore::delete_passkey) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyDeletion {
    /// The passkey is gone.
    Deleted,
    /// The account has no such passkey.
    NotFound,
    /// It is the account's last way to log in (no password, no other passkey): kept.
    LastLoginMethod,
}

/// Which second factors an account has: what a settings page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SecondFactors {
    /// Whether a confirmed TOTP authenticator is set up.
    pub totp: bool,
    /// How many unused recovery codes remain.
    pub recovery_codes_left: u32,
    /// How many passkeys are registered.
    pub passkeys: u32,
}

impl SecondFactors {
    /// Whether the account has any second factor (recovery codes alone do not count:
    /// they back up another factor).
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// What a personal API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Safe methods only (`GET`, `HEAD`, `OPTIONS`): every other request is refused.
    Read,
    /// Reading and writing, except the account's security settings (password, addresses,
    /// factors, tokens, app passwords, SSH keys, deletion), which need a signed-in session.
    Write,
}

impl TokenScope {
    /// The stable name: `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }

    /// Whether the scope allows requests that change something.
    pub fn allows_writes(self) -> bool {
        self == TokenScope::Write
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(TokenScope::Read),
            "write" => Ok(TokenScope::Write),
            _ => Err(UnknownScope),
        }
    }
}

/// A scope name other than `read` or `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the scope is neither read nor write")]
pub struct UnknownScope;

/// A personal API token as the store keeps it: never the token itself, only its digest and
/// its last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// The identifier shown in URLs.
    pub id: ApiTokenId,
    /// The account the token acts for.
    pub account_id: AccountId,
    /// The name its owner gave it.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// The networks requests with it may come from; empty means anywhere. Each network
    /// is stored truncated to its prefix (`10.0.0.0/24`, never `10.0.0.5/24`).
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// The SHA-256 digest of the token (unique across all tokens).
    pub digest: TokenDigest,
    /// The token's last four characters, to help its owner recognise it.
    pub last_four: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of that use.
    pub last_used_ip: Option<IpAddr>,
}

impl ApiTokenRecord {
    /// Whether the token has expired at `now` (its expiry is at or before `now`).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether a request from `ip` may use the token: always when it has no networks,
    /// otherwise only from an address inside one of them (an unknown address never).
    pub fn admits(&self, ip: Option<IpAddr>) -> bool {
        if self.allowed_networks.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        // An IPv4 client seen through an IPv6 socket (`::ffff:10.0.0.5`) is the IPv4
        // address for the allowlist.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allowed_networks.iter().any(|net| net.contains(&ip))
    }
}

/// An app password as the store keeps it: only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordRecord {
    /// The identifier shown in URLs.
    pub id: AppPasswordId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The name its owner gave it (often the client it is for).
    pub name: String,
    /// The SHA-256 digest of the normalized password (unique across all app passwords).
    pub digest: TokenDigest,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An SSH public key on an account, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeyRecord {
    /// The identifier shown in URLs.
    pub id: SshKeyId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The name its owner gave it.
    pub name: String,
    /// The key type as OpenSSH names it, such as `ssh-ed25519`.
    pub algorithm: String,
    /// The key size in bits, as `ssh-keygen -l` prints it.
    pub bits: u32,
    /// The SHA-256 fingerprint as `ssh-keygen -lf` prints it (unique across all
    /// accounts).
    pub fingerprint: String,
    /// The key as one line without comment, `<type> <base64>`.
    pub public_key: String,
    /// The comment of the pasted line, cleaned.
    pub comment: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// What an insert that counts against a per-account limit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitedInsert {
    /// The record was added.
    Inserted,
    /// The account had the maximum number already; nothing was added.
    LimitReached,
}
