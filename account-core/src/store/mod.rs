//! The storage traits: what a database adapter implements.
//!
//! One small async trait per aggregate — [`AccountStore`], [`CredentialStore`],
//! [`AuthenticatorStore`], [`ApiTokenStore`], [`AppPasswordStore`], [`SshKeyStore`],
//! [`SessionStore`], [`ChallengeStore`], [`ThrottleStore`], [`SecurityEventStore`],
//! [`PolicyStore`] and [`RateLimitStore`] — combined by the [`Store`] supertrait that the
//! services take as `Arc<dyn Store>`. Every type that implements all of them is a `Store` automatically.
//!
//! # Atomicity
//!
//! Operations that must not race are store operations, never a read followed by a write
//! in a service: consuming a one-time challenge, bumping a failure counter, rotating a
//! session token, swapping a password hash only if it is still the one that was read.
//! Each method's documentation says what must be atomic. SQL adapters implement them
//! with one conditional statement (`UPDATE ... WHERE`, `DELETE ... RETURNING`) or a
//! transaction with the right lock; the in-memory store holds one lock for the whole
//! operation.
//!
//! # Rows of an account that is gone
//!
//! A row that belongs to an account (a session, a challenge of an account, a passkey, a
//! pending TOTP, recovery codes, an API token, an app password, an SSH key, a failure
//! counter) is never added to an account that does not exist: the insert fails with
//! [`StoreError::NoSuchAccount`] and writes nothing. An account deleted while a login or
//! a settings change is under way therefore leaves nothing behind that authenticates (SQL
//! adapters get this from their foreign keys). The security log is the exception: it
//! outlives its accounts, as [`AccountStore::delete_account`] says.
//!
//! # Secrets
//!
//! A store never sees a secret: tokens arrive as [`TokenDigest`]s and passwords as PHC
//! strings ([`PasswordHash`]).
//!
//! # Writing an adapter
//!
//! Implement the traits, then run the conformance suite from the `testing` feature
//! ([`crate::testing`]), which checks every method, including the atomic ones under
//! concurrency. The in-memory store in [`memory`] is a complete, small reference.
//!
//! # Wrapping a store
//!
//! A type that wraps another store and sees every call on its way (counting calls,
//! failing some on purpose, measuring) implements [`StoreLayer`]: two methods, and every
//! store trait comes with them. The traits are written once, as one list of methods in
//! this module, and the forwarding is made from that list, so a new store method needs
//! nothing in any wrapper.

mod layer;
#[cfg(feature = "memory")]
pub mod memory;
pub(crate) mod outage;

pub use layer::StoreLayer;
pub(crate) use outage::OutageBreaker;

use std::fmt;
use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::avatar::Avatar;
use crate::domain::{EmailAddress, Username};
use crate::model::{
    Account, AccountChange, AccountId, AccountQuery, AccountRemoval, AccountUpdate, ApiTokenId,
    ApiTokenRecord, ApiTokenWithAccount, AppPasswordId, AppPasswordRecord, Challenge,
    ChallengePurpose, EventFilter, EventPage, FailureKind, Failures, LimitedInsert, NewAccount,
    PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, SecondFactors, SecurityEvent,
    SecurityStamp, SessionId, SessionRecord, SessionRotation, SessionWithAccount, SshKeyId,
    SshKeyRecord, TotpRecord, TotpSecret,
};
use crate::password::PasswordHash;
use crate::policy::Policy;
use crate::token::TokenDigest;

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A unique value that is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// The username is taken, or was taken by an account since deleted (usernames are
    /// never reused).
    Username,
    /// The address is another account's primary address.
    Email,
    /// The identifier (or a secret's digest, which is as unique) already exists.
    Id,
    /// The SSH key (compared by fingerprint) is on an account already.
    SshKey,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value is taken.
    #[error("a unique value is already taken: {0:?}")]
    Conflict(Conflict),
    /// The account a new row would belong to does not exist: it was deleted while the
    /// caller was working with it. Nothing was written.
    #[error("the account does not exist")]
    NoSuchAccount,
    /// The database failed. The detail is for the log only.
    #[error("storage backend error: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The database could not be reached: no connection could be made or lent in time,
    /// or the connection broke (a server restarting, a network failure). The call may
    /// work if tried again shortly; whether a change whose connection broke was written
    /// is unknown. The detail is for the log only.
    #[error("storage unavailable: {0}")]
    Unavailable(Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A backend error from anything that is an error.
    pub fn backend(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend(err.into())
    }

    /// An [`Unavailable`](StoreError::Unavailable) error from anything that is an error.
    pub fn unavailable(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError::Unavailable(err.into())
    }
}

/// Defines the store traits from one list of methods, and from the same list what every
/// method needs once more: the forwarding of each call through a [`StoreLayer`], and the
/// names in [`METHODS`]. A new store method is written in the list; its forwarding comes
/// with it.
macro_rules! store_traits {
    ($(
        $(#[$trait_attr:meta])*
        pub trait $trait:ident {
            $(
                $(#[$attr:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    )*) => {
        $(
            $(#[$trait_attr])*
            #[async_trait]
            pub trait $trait: Send + Sync {
                $(
                    $(#[$attr])*
                    async fn $method(&self $(, $arg: $ty)*) -> $ret;
                )*
            }

            #[async_trait]
            impl<L: StoreLayer> $trait for L {
                $(
                    async fn $method(&self $(, $arg: $ty)*) -> $ret {
                        self.before(stringify!($method))?;
                        let result = self.inner().$method($($arg),*).await;
                        self.after(stringify!($method), result.as_ref().err());
                        result
                    }
                )*
            }
        )*

        /// The name of every store method, trait by trait in the order of this module.
        pub const METHODS: &[&str] = &[$($(stringify!($method),)*)*];
    };
}

store_traits! {
    /// Accounts and their profile fields.
    pub trait AccountStore {
        /// Adds an account with its password hash, atomically.
        ///
        /// # Errors
        ///
        /// [`Conflict::Username`] when the username is or ever was taken (case-insensitively);
        /// [`Conflict::Email`] when the address (compared by
        /// [`EmailAddress::lookup_key`]) is another account's primary address.
        async fn insert_account(&self, new: &NewAccount) -> StoreResult<()>;

        /// The account with this id.
        async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>>;

        /// The account with this username.
        async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>>;

        /// The account whose primary address is this one (compared by lookup key).
        async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>>;

        /// Changes the profile fields that are `Some`, sets `updated_at`, and returns the
        /// account after the change, or `None` if it does not exist.
        async fn update_profile(
            &self,
            id: AccountId,
            change: &ProfileChange,
            at: DateTime<Utc>,
        ) -> StoreResult<Option<Account>>;

        /// Sets the primary address and its verified flag, and `updated_at` to `at`. Returns
        /// `false` if the account does not exist (whether or not the address is taken).
        ///
        /// # Errors
        ///
        /// [`Conflict::Email`] when another account has this address.
        async fn set_email(
            &self,
            id: AccountId,
            email: &EmailAddress,
            verified: bool,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// Sets or clears the (verified) recovery address, and `updated_at` to `at`. Returns
        /// `false` if the account does not exist.
        async fn set_recovery_email(
            &self,
            id: AccountId,
            email: Option<&EmailAddress>,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// An administrator's change: the fields of `change` that are `Some` (a new address
        /// is stored unverified), with `updated_at` set to `at`, in one atomic step. Setting
        /// the state to [`AccountState::Disabled`](crate::model::AccountState::Disabled) deletes every session of the account in
        /// the same step, so that no request after it is still signed in.
        ///
        /// Refuses with [`AccountUpdate::LastAdmin`], changing nothing, when the change would
        /// demote or disable the last active administrator; the check holds under
        /// concurrency (two administrators demoting each other at once leave one).
        ///
        /// # Errors
        ///
        /// [`Conflict::Email`] when another account has the new address; nothing changes.
        async fn change_account(
            &self,
            id: AccountId,
            change: &AccountChange,
            at: DateTime<Utc>,
        ) -> StoreResult<AccountUpdate>;

        /// Deletes the account and everything that belongs to it, in one atomic step: its
        /// password, passkeys, TOTP, recovery codes, sessions, API tokens, app passwords,
        /// SSH keys, challenges (pending links and ceremonies), failure counters, avatar and
        /// security log. Its username stays taken for ever ([`Conflict::Username`]); its
        /// address is free. `record` (an [`SecurityEventKind::AccountDeleted`](crate::model::SecurityEventKind::AccountDeleted)
        /// event of this account, without personal data) replaces the account's log in the
        /// same step, so the log keeps that the account existed and was deleted.
        ///
        /// Of concurrent deletions of one account exactly one gets
        /// [`AccountRemoval::Removed`]. Refuses with [`AccountRemoval::LastAdmin`], deleting
        /// nothing, for the last active administrator, under concurrency as
        /// [`change_account`](AccountStore::change_account).
        async fn delete_account(
            &self,
            id: AccountId,
            record: &SecurityEvent,
        ) -> StoreResult<AccountRemoval>;

        /// A page of accounts that match `query`, oldest first (by `created_at`, then id),
        /// strictly after its cursor: an administrator's list.
        async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>>;

        /// Stores the avatar and sets `avatar_updated_at` and `updated_at` to `at`; with
        /// `None`, removes it and clears `avatar_updated_at`. Returns `false` if the account does
        /// not exist.
        async fn set_avatar(
            &self,
            id: AccountId,
            avatar: Option<&Avatar>,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// The account's avatar, if it has one.
        async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>>;
    }

    /// The password. The other authenticators have traits of their own.
    pub trait CredentialStore {
        /// The account's password hash, if it has a password.
        async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>>;

        /// Sets a new password: the hash, the new security stamp and `updated_at` (to `at`),
        /// and deletes every session of the account except `keep`, in one atomic step, only
        /// if the account's security stamp is still `current` (the stamp the caller read, or
        /// the one a reset link was issued under). Returns `false`, changing nothing, when
        /// the account does not exist or its stamp is no longer `current`: of concurrent
        /// changes from one stamp exactly one happens.
        ///
        /// One step, because a new password with the old sessions still signed in is the
        /// state a password change exists to end: no failure may leave it halfway.
        async fn set_password_hash(
            &self,
            id: AccountId,
            hash: &PasswordHash,
            stamp: &SecurityStamp,
            current: &SecurityStamp,
            keep: Option<SessionId>,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// Replaces the hash only if it is still `current`: a hash upgrade at login must never
        /// overwrite a password changed meanwhile. The security stamp stays (the password did
        /// not change). Returns whether the swap happened.
        async fn upgrade_password_hash(
            &self,
            id: AccountId,
            current: &PasswordHash,
            upgraded: &PasswordHash,
        ) -> StoreResult<bool>;
    }

    /// Authenticators beyond the password: TOTP, recovery codes and passkeys.
    pub trait AuthenticatorStore {
        /// The account's TOTP authenticator, pending or confirmed.
        async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>>;

        /// Starts a TOTP enrolment: stores `secret` unconfirmed, replacing any earlier pending
        /// one, atomically. Returns `false` and changes nothing when a confirmed TOTP exists
        /// (one TOTP per account).
        async fn put_pending_totp(
            &self,
            account: AccountId,
            secret: &TotpSecret,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// Confirms the pending TOTP with the step of the code that proved it, and replaces
        /// the account's recovery codes with `recovery_codes` (digests), in one atomic step.
        /// Returns `false` and changes nothing when there is no pending TOTP.
        async fn confirm_totp(
            &self,
            account: AccountId,
            step: i64,
            recovery_codes: &[TokenDigest],
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// Accepts a time step of the confirmed TOTP only if it is newer than the last one
        /// accepted, recording it, atomically: of two concurrent calls with the same step at
        /// most one gets `true`, and a step never counts twice.
        async fn accept_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool>;

        /// Deletes the account's TOTP (pending or confirmed). Returns whether there was one.
        async fn delete_totp(&self, account: AccountId) -> StoreResult<bool>;

        /// Replaces every recovery code of the account with `codes` (digests), atomically.
        async fn replace_recovery_codes(
            &self,
            account: AccountId,
            codes: &[TokenDigest],
            at: DateTime<Utc>,
        ) -> StoreResult<()>;

        /// Uses up the recovery code with this digest, atomically: of any number of
        /// concurrent calls at most one gets `true`.
        async fn redeem_recovery_code(
            &self,
            account: AccountId,
            code: &TokenDigest,
        ) -> StoreResult<bool>;

        /// Adds a passkey.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when the id or the credential id exists already (on any account).
        async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()>;

        /// The account's passkeys, oldest first.
        async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>>;

        /// The passkey with this WebAuthn credential id, on whatever account.
        async fn passkey_by_credential_id(
            &self,
            credential_id: &[u8],
        ) -> StoreResult<Option<PasskeyRecord>>;

        /// Renames one of the account's passkeys. Returns whether it exists.
        async fn rename_passkey(
            &self,
            account: AccountId,
            id: PasskeyId,
            name: &str,
        ) -> StoreResult<bool>;

        /// Records a use of a passkey: the updated credential, counter and backup state, and
        /// `last_used_at`. Returns whether it exists.
        async fn record_passkey_use(
            &self,
            id: PasskeyId,
            credential: &str,
            sign_count: u32,
            backup_state: bool,
            at: DateTime<Utc>,
        ) -> StoreResult<bool>;

        /// Deletes one of the account's passkeys unless it is the account's last way to log
        /// in (the account has no password and no other passkey), deciding and deleting in one
        /// atomic step.
        async fn delete_passkey(
            &self,
            account: AccountId,
            id: PasskeyId,
        ) -> StoreResult<PasskeyDeletion>;

        /// Deletes the account's TOTP, recovery codes and passkeys in one atomic step (an
        /// administrator's 2FA reset). Returns how many went, counting the TOTP, each unused
        /// recovery code and each passkey as one.
        async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64>;

        /// Which second factors the account has, in one read.
        async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors>;
    }

    /// Personal API tokens, looked up by the digest of the token.
    pub trait ApiTokenStore {
        /// Adds a token unless the account has `limit` tokens already, deciding and inserting
        /// in one atomic step: of concurrent inserts that would pass the limit, the ones over
        /// it get [`LimitedInsert::LimitReached`].
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when the id or the digest exists already.
        async fn insert_api_token(
            &self,
            token: &ApiTokenRecord,
            limit: u32,
        ) -> StoreResult<LimitedInsert>;

        /// The token with this digest, on whatever account, expired or not: the one read on
        /// every token-authenticated request, so it must be a single indexed read.
        async fn api_token_by_digest(
            &self,
            digest: &TokenDigest,
        ) -> StoreResult<Option<ApiTokenRecord>>;

        /// The token with this digest and its account, in one statement: the read of every
        /// token-authenticated request, one lookup by the unique digest index.
        async fn api_token_with_account(
            &self,
            digest: &TokenDigest,
        ) -> StoreResult<Option<ApiTokenWithAccount>>;

        /// The account's tokens, oldest first (by `created_at`, then id).
        async fn api_tokens_of(&self, account: AccountId) -> StoreResult<Vec<ApiTokenRecord>>;

        /// Records a use: sets `last_used_at` to `at` and `last_used_ip` to `ip`, only if `at`
        /// is later than the recorded use (or there is none), so the record only moves forward.
        async fn touch_api_token(
            &self,
            id: ApiTokenId,
            at: DateTime<Utc>,
            ip: Option<IpAddr>,
        ) -> StoreResult<()>;

        /// Gives one of the account's tokens a new secret: replaces its digest and last four
        /// characters in one atomic step, so the old secret stops working at once. Returns
        /// the token after the change, or `None` if the account has no such token.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when another token has the new digest.
        async fn replace_api_token_secret(
            &self,
            account: AccountId,
            id: ApiTokenId,
            digest: &TokenDigest,
            last_four: &str,
        ) -> StoreResult<Option<ApiTokenRecord>>;

        /// Deletes one of the account's tokens and returns it, or `None` if there is none.
        async fn delete_api_token(
            &self,
            account: AccountId,
            id: ApiTokenId,
        ) -> StoreResult<Option<ApiTokenRecord>>;
    }

    /// App passwords, looked up by the digest of the password.
    pub trait AppPasswordStore {
        /// Adds an app password unless the account has `limit` already, deciding and inserting
        /// in one atomic step (as [`ApiTokenStore::insert_api_token`]).
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when the id or the digest exists already.
        async fn insert_app_password(
            &self,
            password: &AppPasswordRecord,
            limit: u32,
        ) -> StoreResult<LimitedInsert>;

        /// The app password with this digest, on whatever account: a single indexed read.
        async fn app_password_by_digest(
            &self,
            digest: &TokenDigest,
        ) -> StoreResult<Option<AppPasswordRecord>>;

        /// The account's app passwords, oldest first (by `created_at`, then id).
        async fn app_passwords_of(&self, account: AccountId) -> StoreResult<Vec<AppPasswordRecord>>;

        /// Sets `last_used_at` to `at`, only moving it forward.
        async fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> StoreResult<()>;

        /// Deletes one of the account's app passwords and returns it, or `None` if there is
        /// none.
        async fn delete_app_password(
            &self,
            account: AccountId,
            id: AppPasswordId,
        ) -> StoreResult<Option<AppPasswordRecord>>;
    }

    /// SSH public keys, unique by fingerprint across all accounts.
    pub trait SshKeyStore {
        /// Adds a key unless the account has `limit` keys already, deciding and inserting in
        /// one atomic step (as [`ApiTokenStore::insert_api_token`]).
        ///
        /// # Errors
        ///
        /// [`Conflict::SshKey`] when a key with this fingerprint is on any account (checked
        /// before the limit); [`Conflict::Id`] when the id exists already.
        async fn insert_ssh_key(&self, key: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert>;

        /// The key with this fingerprint, on whatever account: what an SSH server asks.
        async fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SshKeyRecord>>;

        /// The account's keys, oldest first (by `created_at`, then id).
        async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>>;

        /// Deletes one of the account's keys and returns it, or `None` if there is none.
        async fn delete_ssh_key(
            &self,
            account: AccountId,
            id: SshKeyId,
        ) -> StoreResult<Option<SshKeyRecord>>;
    }

    /// Sessions, looked up by the digest of their token.
    pub trait SessionStore {
        /// Adds a session.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when the id or the token digest exists already.
        async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;

        /// The session with this token digest: the one read on every authenticated request,
        /// so it must be a single indexed read.
        async fn session_by_token(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>>;

        /// The session with this token digest, with its account and that account's second
        /// factors, in one statement (one snapshot): the read of every authenticated request,
        /// so it must be a single read by the unique token index, whatever else it joins.
        async fn session_with_account(
            &self,
            digest: &TokenDigest,
        ) -> StoreResult<Option<SessionWithAccount>>;

        /// Sets `last_seen_at`, only moving it forward.
        async fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> StoreResult<()>;

        /// Replaces the token digest and the authentication state, atomically and only if the
        /// session still has the token `current`: of two concurrent rotations exactly one wins.
        /// Also sets `last_seen_at` to the rotation time. Returns whether it happened.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when another session has the new digest.
        async fn rotate_session(
            &self,
            id: SessionId,
            current: &TokenDigest,
            rotation: &SessionRotation,
        ) -> StoreResult<bool>;

        /// The account's sessions, newest first (by `created_at`, then id), expired ones
        /// included (callers filter).
        async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>>;

        /// Counts one failed second-factor attempt on a session whose stage is
        /// [`SessionStage::SecondFactorPending`](crate::model::SessionStage), atomically, and
        /// returns the attempts after it; `None` when there is no such pending session.
        async fn record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>>;

        /// Deletes one session of this account. Returns whether it existed.
        async fn delete_session(&self, account: AccountId, id: SessionId) -> StoreResult<bool>;

        /// Deletes every session of the account except `keep`, returning how many went.
        async fn delete_sessions_of(
            &self,
            account: AccountId,
            keep: Option<SessionId>,
        ) -> StoreResult<u64>;

        /// Deletes sessions expired at `now` (idle or absolute expiry at or before `now`, the
        /// same boundary as [`SessionRecord::is_live`]), returning how many went.
        async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    }

    /// One-time challenges: reset, setup and verification links, and WebAuthn ceremonies.
    pub trait ChallengeStore {
        /// Adds a challenge. With `replace`, every other challenge of the same account and
        /// purpose is deleted in the same atomic step, so a newer link kills the older ones; a
        /// challenge of no account replaces nothing. Two replacing inserts that race may both
        /// survive on a backend whose isolation lets them; the newer one always does.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] when the digest exists already.
        async fn insert_challenge(&self, challenge: &Challenge, replace: bool) -> StoreResult<()>;

        /// The challenge with this digest and purpose if it has not expired at `now`, without
        /// using it up: for checks that must pass before a challenge is spent.
        async fn find_challenge(
            &self,
            digest: &TokenDigest,
            purpose: ChallengePurpose,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<Challenge>>;

        /// Removes and returns the challenge with this digest and purpose if it has not expired
        /// at `now`, atomically: of any number of concurrent calls, at most one gets it.
        /// An expired challenge is removed and `None` returned.
        async fn consume_challenge(
            &self,
            digest: &TokenDigest,
            purpose: ChallengePurpose,
            now: DateTime<Utc>,
        ) -> StoreResult<Option<Challenge>>;

        /// Deletes the account's challenges of this purpose, returning how many went.
        async fn delete_challenges(
            &self,
            account: AccountId,
            purpose: ChallengePurpose,
        ) -> StoreResult<u64>;

        /// Deletes challenges expired at `now` (expiry at or before `now`), returning how many
        /// went.
        async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    }

    /// Failure counters, shared by every app instance on the same store.
    pub trait ThrottleStore {
        /// Adds one failure and returns the counter after it, atomically: concurrent bumps are
        /// never lost. `last_at` becomes the later of its old value and `at`.
        async fn record_failure(
            &self,
            account: AccountId,
            kind: FailureKind,
            at: DateTime<Utc>,
        ) -> StoreResult<Failures>;

        /// The counter as it stands.
        async fn failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<Failures>;

        /// Resets the counter after a success.
        async fn clear_failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<()>;
    }

    /// The security log.
    pub trait SecurityEventStore {
        /// Appends an event.
        ///
        /// # Errors
        ///
        /// [`Conflict::Id`] may be returned for an id that exists already (ids are unique).
        async fn record_event(&self, event: &SecurityEvent) -> StoreResult<()>;

        /// A page of the events that pass `filter` (one account's, or every account's for
        /// an administrator), newest first (by time, then id), strictly older than the
        /// page's cursor.
        async fn events(
            &self,
            filter: &EventFilter,
            page: EventPage,
        ) -> StoreResult<Vec<SecurityEvent>>;
    }

    /// Request counters in fixed time windows, shared by every app instance on the same store:
    /// the per-IP limits of the HTTP adapter live here.
    pub trait RateLimitStore {
        /// Counts one request against `key` in the window that starts at `window_start` and
        /// returns the count in that window including this one, atomically: concurrent hits
        /// are never lost. Keys are at most 200 bytes of ASCII.
        async fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u32>;

        /// Deletes the counters of windows that started before `before`, returning how many
        /// went.
        async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    }

    /// The administrator's policy, one value per store.
    pub trait PolicyStore {
        /// The stored policy, or `None` if none was ever stored (the defaults apply).
        async fn policy(&self) -> StoreResult<Option<Policy>>;

        /// Replaces the policy.
        async fn put_policy(&self, policy: &Policy) -> StoreResult<()>;
    }
}

/// Everything the services need from storage.
pub trait Store:
    AccountStore
    + CredentialStore
    + AuthenticatorStore
    + ApiTokenStore
    + AppPasswordStore
    + SshKeyStore
    + SessionStore
    + ChallengeStore
    + ThrottleStore
    + SecurityEventStore
    + PolicyStore
    + RateLimitStore
    + fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: AccountStore
        + CredentialStore
        + AuthenticatorStore
        + ApiTokenStore
        + AppPasswordStore
        + SshKeyStore
        + SessionStore
        + ChallengeStore
        + ThrottleStore
        + SecurityEventStore
        + PolicyStore
        + RateLimitStore
        + fmt::Debug
        + Send
        + Sync
        + 'static
{
}
