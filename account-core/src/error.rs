//! The one error type of the services, with stable codes.

use crate::avatar::AvatarError;
use crate::domain::ValidationError;
use crate::password::{HashError, PasswordRejection};
use crate::ssh_key::SshKeyError;
use crate::store::StoreError;

/// Why a service call failed.
///
/// Every variant has a stable [`code`](Error::code) that an HTTP adapter sends to clients
/// and that clients may match on. No variant carries a secret, and none repeats the input
/// that was refused, so an `Error` is always safe to log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input broke a rule; the error names the field and the rule.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A new password was refused by the password policy.
    #[error("the password was refused: {0}")]
    WeakPassword(#[from] PasswordRejection),
    /// An avatar upload was refused.
    #[error("the avatar was refused: {0}")]
    InvalidAvatar(#[from] AvatarError),
    /// The login and password do not match an account that may log in. The same answer is
    /// given for an unknown login, a wrong password, a disabled account and a throttled or
    /// locked one, so the answer reveals nothing.
    #[error("the login or the password is wrong")]
    InvalidCredentials,
    /// The current password given to confirm a change is wrong or missing.
    #[error("the current password is wrong")]
    CurrentPasswordIncorrect,
    /// There is no valid session: none was presented, or it expired or was revoked.
    #[error("not signed in")]
    Unauthenticated,
    /// The policy requires a second factor and the session may only enrol one (its account
    /// has none yet): [`Accounts::authenticate`](crate::Accounts::authenticate) refuses such
    /// a session, which [`Accounts::authenticate_enrolling`](crate::Accounts::authenticate_enrolling)
    /// accepts for the few enrolment steps.
    #[error("set up a second factor first: the policy requires one")]
    SecondFactorEnrollmentRequired,
    /// The action is sensitive and the session's last authentication is too old.
    #[error("this action needs a recent authentication")]
    ReauthenticationRequired,
    /// A link's token is unknown, used, expired or no longer valid.
    #[error("the link is invalid or has expired")]
    InvalidToken,
    /// Self sign-up is turned off by the policy.
    #[error("sign-up is disabled")]
    SignUpDisabled,
    /// The username is taken (usernames are public, so this is no secret).
    #[error("the username is taken")]
    UsernameTaken,
    /// The administrator has locked profiles: display name and addresses cannot change.
    #[error("profiles are locked by the administrator")]
    ProfileLocked,
    /// The account is managed by an external directory, which owns this field.
    #[error("this account is managed by an external directory")]
    ManagedExternally,
    /// The thing asked for does not exist (or is not the caller's).
    #[error("not found")]
    NotFound,
    /// Removing this credential would leave the account no way to log in (no password and
    /// no other passkey).
    #[error("this is the account's last way to log in")]
    LastLoginMethod,
    /// A passkey registration failed: the ceremony is unknown, used or expired, or the
    /// authenticator's answer did not verify (origin, relying party, challenge, signature).
    #[error("the passkey was refused")]
    PasskeyRejected,
    /// A TOTP code or recovery code was wrong, malformed or already used.
    #[error("the second factor is wrong")]
    InvalidSecondFactor,
    /// The account has a TOTP authenticator already (one per account).
    #[error("a TOTP authenticator is set up already")]
    AlreadyEnrolled,
    /// The action needs a second factor (TOTP or a passkey) and the account has none, such
    /// as regenerating recovery codes.
    #[error("the account has no second factor")]
    NoSecondFactor,
    /// A personal API token was used from an address outside the networks it allows.
    #[error("the token may not be used from this address")]
    NetworkNotAllowed,
    /// The account has as many credentials of this kind as the configuration allows.
    #[error("the account has the maximum number of {0}")]
    LimitReached(AccessKind),
    /// A pasted SSH public key was refused; the reason says why.
    #[error("the SSH key was refused: {0}")]
    InvalidSshKey(#[from] SshKeyError),
    /// The SSH key is on an account already (this one or another).
    #[error("this SSH key is in use")]
    SshKeyInUse,
    /// Too many requests; try again after the given number of seconds.
    #[error("too many requests; try again in {retry_after_secs} seconds")]
    RateLimited {
        /// Seconds until the limit's window ends.
        retry_after_secs: i64,
    },
    /// The administrator's policy failed its checks.
    #[error("the policy is invalid: {0}")]
    InvalidPolicy(String),
    /// The change would leave no active administrator: the last one can be neither
    /// disabled, demoted nor deleted.
    #[error("this is the last active administrator")]
    LastAdmin,
    /// An administrator may not disable, demote or delete their own account here (their
    /// own settings delete it).
    #[error("administrators cannot do this to their own account")]
    OwnAccount,
    /// The host application refused to let the account be deleted; the reason is its own
    /// words, for the user (such as "owns an organisation").
    #[error("the account cannot be deleted: {0}")]
    DeletionRefused(String),
    /// The external directory that checks this account's password could not be reached.
    #[error("the directory is unavailable")]
    DirectoryUnavailable,
    /// The store failed. Shown to clients as an opaque internal error.
    #[error("storage failed: {0}")]
    Storage(StoreError),
    /// The database cannot be reached just now (a [`StoreError::Unavailable`]): the
    /// request may work if sent again after `retry_after_secs`. The detail is for the log.
    #[error("storage unavailable: {source}")]
    StorageUnavailable {
        /// The store's error, for the log.
        source: StoreError,
        /// When to try again, in seconds.
        retry_after_secs: i64,
    },
    /// Something else failed inside; the message is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation_failed",
            Error::WeakPassword(_) => "weak_password",
            Error::InvalidAvatar(_) => "invalid_avatar",
            Error::InvalidCredentials => "invalid_credentials",
            Error::CurrentPasswordIncorrect => "current_password_incorrect",
            Error::Unauthenticated => "unauthenticated",
            Error::SecondFactorEnrollmentRequired => "second_factor_enrollment_required",
            Error::ReauthenticationRequired => "reauthentication_required",
            Error::InvalidToken => "invalid_token",
            Error::SignUpDisabled => "signup_disabled",
            Error::UsernameTaken => "username_taken",
            Error::ProfileLocked => "profile_locked",
            Error::ManagedExternally => "managed_by_directory",
            Error::NotFound => "not_found",
            Error::LastLoginMethod => "last_login_method",
            Error::PasskeyRejected => "passkey_rejected",
            Error::InvalidSecondFactor => "invalid_second_factor",
            Error::AlreadyEnrolled => "already_enrolled",
            Error::NoSecondFactor => "no_second_factor",
            Error::InvalidPolicy(_) => "invalid_policy",
            Error::NetworkNotAllowed => "network_not_allowed",
            Error::LimitReached(AccessKind::ApiTokens) => "too_many_api_tokens",
            Error::LimitReached(AccessKind::AppPasswords) => "too_many_app_passwords",
            Error::LimitReached(AccessKind::SshKeys) => "too_many_ssh_keys",
            Error::InvalidSshKey(_) => "invalid_ssh_key",
            Error::SshKeyInUse => "ssh_key_in_use",
            Error::RateLimited { .. } => "rate_limited",
            Error::LastAdmin => "last_admin",
            Error::OwnAccount => "own_account",
            Error::DeletionRefused(_) => "deletion_refused",
            Error::DirectoryUnavailable => "directory_unavailable",
            Error::StorageUnavailable { .. } => "storage_unavailable",
            Error::Storage(_) | Error::Internal(_) => "internal",
        }
    }

    /// A finer reason for the errors that have one (`too_short` for a validation error,
    /// `common` for a weak password, `avatar_too_large` for an avatar).
    pub fn reason(&self) -> Option<String> {
        match self {
            Error::Validation(e) => Some(e.code()),
            Error::WeakPassword(r) => Some(r.code().to_owned()),
            Error::InvalidAvatar(a) => Some(a.code().to_owned()),
            Error::InvalidSshKey(k) => Some(k.code().to_owned()),
            _ => None,
        }
    }
}

impl From<StoreError> for Error {
    /// A row refused because its account is gone means the caller's account was deleted
    /// while it worked: to the caller, it is no longer signed in.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchAccount => Error::Unauthenticated,
            // The pause during which an outage is answered at once, rounded up.
            source @ StoreError::Unavailable(_) => Error::StorageUnavailable {
                source,
                retry_after_secs: crate::store::outage::PAUSE.num_seconds().max(1),
            },
            other => Error::Storage(other),
        }
    }
}

impl From<HashError> for Error {
    fn from(e: HashError) -> Self {
        match e {
            HashError::TooLarge { max } => {
                Error::WeakPassword(PasswordRejection::TooLarge { max_bytes: max })
            }
            // Every hasher is taken and the queue is full: the client may come back in a
            // second, when a hash (tens of milliseconds) has made room many times over.
            HashError::Busy => Error::RateLimited {
                retry_after_secs: 1,
            },
            other => Error::Internal(other.to_string()),
        }
    }
}

/// The kinds of credential for programmatic access, each with a per-account limit
/// ([`AccessLimits`](crate::config::AccessLimits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessKind {
    /// Personal API tokens.
    ApiTokens,
    /// App passwords.
    AppPasswords,
    /// SSH keys.
    SshKeys,
}

impl std::fmt::Display for AccessKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AccessKind::ApiTokens => "personal API tokens",
            AccessKind::AppPasswords => "app passwords",
            AccessKind::SshKeys => "SSH keys",
        })
    }
}

/// The result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
