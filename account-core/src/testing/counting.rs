//! A store that counts the calls made to it: for tests that prove how much an operation
//! costs the store, or that it never reached it.
//!
//! [`CountingStore`] wraps any store, forwards every call unchanged and counts calls per
//! method name. A test builds the services over it, resets the counts, runs the operation
//! and asserts on [`CountingStore::calls`] or [`CountingStore::total`]:
//!
//! ```
//! use std::sync::Arc;
//!
//! use account_core::api_token::ApiTokenSecret;
//! use account_core::mail::MemoryMailer;
//! use account_core::random::OsRandom;
//! use account_core::store::memory::MemoryStore;
//! use account_core::testing::CountingStore;
//! use account_core::{AccountConfig, Accounts, Error};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
//! let config = AccountConfig::new("https://accounts.example.com".parse().unwrap());
//! let accounts = Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config).build();
//!
//! // A token that is not even well formed is refused before any lookup.
//! let refused = accounts.authenticate_api_token("acct_mistyped", None).await;
//! assert!(matches!(refused, Err(Error::Unauthenticated)));
//! assert_eq!(store.total(), 0);
//!
//! // A well-formed but unknown one costs exactly one read by digest.
//! let unknown = ApiTokenSecret::generate(&OsRandom);
//! let refused = accounts.authenticate_api_token(unknown.expose(), None).await;
//! assert!(matches!(refused, Err(Error::Unauthenticated)));
//! assert_eq!(store.calls("api_token_by_digest"), 1);
//! assert_eq!(store.total(), 1);
//!
//! store.reset();
//! assert_eq!(store.total(), 0);
//! # }
//! ```
//!
//! The names are the trait methods' names, such as `"api_token_by_digest"`; all of them
//! are in [`CountingStore::METHODS`], and asking for any other name panics, so a typo in a
//! test cannot pass as "zero calls".

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::avatar::Avatar;
use crate::domain::{EmailAddress, Username};
use crate::model::{
    Account, AccountId, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId, AppPasswordRecord,
    Challenge, ChallengePurpose, EventPage, FailureKind, Failures, LimitedInsert, NewAccount,
    PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, SecondFactors, SecurityEvent,
    SecurityStamp, SessionId, SessionRecord, SessionRotation, SshKeyId, SshKeyRecord, TotpRecord,
    TotpSecret,
};
use crate::password::PasswordHash;
use crate::policy::Policy;
use crate::store::{
    AccountStore, ApiTokenStore, AppPasswordStore, AuthenticatorStore, ChallengeStore,
    CredentialStore, PolicyStore, RateLimitStore, SecurityEventStore, SessionStore, SshKeyStore,
    Store, StoreResult, ThrottleStore,
};
use crate::token::TokenDigest;

/// A store that forwards every call to the store it wraps and counts the calls per method.
///
/// It implements every store trait, so it is a [`Store`] and can be handed to
/// [`Accounts::builder`](crate::Accounts::builder) as `Arc<CountingStore>`. The counts are
/// shared by every clone of that `Arc`: keep one to read them. A call is counted when it
/// is made, whether it succeeds or fails.
///
/// `Debug` prints only the counts, never the wrapped store or anything passed through it.
///
/// See [the module documentation](self) for an example.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

/// Forwards `$method($args)` to the wrapped store, counting it under the method's name.
macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* $(,)? )) => {{
        $self.count(stringify!($method));
        $self.inner.$method($($arg),*).await
    }};
}

/// A name given to [`CountingStore::try_calls`] that no store method has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a store method")]
pub struct UnknownMethod(pub String);

impl CountingStore {
    /// The name of every store method, in the order of the traits in
    /// [`crate::store`]: the names [`calls`](Self::calls) accepts.
    pub const METHODS: &'static [&'static str] = &[
        // AccountStore
        "insert_account",
        "account_by_id",
        "account_by_username",
        "account_by_email",
        "update_profile",
        "set_email",
        "set_recovery_email",
        "set_account_state",
        "set_avatar",
        "avatar",
        // CredentialStore
        "password_hash",
        "set_password_hash",
        "upgrade_password_hash",
        // AuthenticatorStore
        "totp",
        "put_pending_totp",
        "confirm_totp",
        "accept_totp_step",
        "delete_totp",
        "replace_recovery_codes",
        "redeem_recovery_code",
        "insert_passkey",
        "passkeys_of",
        "passkey_by_credential_id",
        "rename_passkey",
        "record_passkey_use",
        "delete_passkey",
        "delete_authenticators",
        "second_factors",
        // ApiTokenStore
        "insert_api_token",
        "api_token_by_digest",
        "api_tokens_of",
        "touch_api_token",
        "replace_api_token_secret",
        "delete_api_token",
        // AppPasswordStore
        "insert_app_password",
        "app_password_by_digest",
        "app_passwords_of",
        "touch_app_password",
        "delete_app_password",
        // SshKeyStore
        "insert_ssh_key",
        "ssh_key_by_fingerprint",
        "ssh_keys_of",
        "delete_ssh_key",
        // SessionStore
        "insert_session",
        "session_by_token",
        "touch_session",
        "rotate_session",
        "sessions_of",
        "record_second_factor_attempt",
        "delete_session",
        "delete_sessions_of",
        "purge_expired_sessions",
        // ChallengeStore
        "insert_challenge",
        "find_challenge",
        "consume_challenge",
        "delete_challenges",
        "purge_expired_challenges",
        // ThrottleStore
        "record_failure",
        "failures",
        "clear_failures",
        // SecurityEventStore
        "record_event",
        "events_of",
        // RateLimitStore
        "hit_rate_limit",
        "purge_rate_limits",
        // PolicyStore
        "policy",
        "put_policy",
    ];

    /// Wraps `inner`, with every count at zero.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The wrapped store, to set up or inspect data without counting.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// How many times `method` (a store method's name, such as `"api_token_by_digest"`)
    /// was called since the store was made or last [`reset`](Self::reset).
    ///
    /// # Panics
    ///
    /// When `method` is not in [`METHODS`](Self::METHODS), so that a misspelt name fails
    /// the test instead of reading as zero calls ([`try_calls`](Self::try_calls) answers
    /// with an error instead).
    pub fn calls(&self, method: &str) -> u64 {
        self.try_calls(method)
            .unwrap_or_else(|e| panic!("{e}; see CountingStore::METHODS"))
    }

    /// As [`calls`](Self::calls), with an error for a name that is not a store method.
    pub fn try_calls(&self, method: &str) -> Result<u64, UnknownMethod> {
        if !Self::METHODS.contains(&method) {
            return Err(UnknownMethod(method.to_owned()));
        }
        Ok(self.lock().get(method).copied().unwrap_or(0))
    }

    /// How many calls were made to any method since the store was made or last
    /// [`reset`](Self::reset).
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// The calls per method since the store was made or last [`reset`](Self::reset),
    /// listing only the methods that were called: for a failure message.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.lock().clone()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.lock().clear();
    }

    fn count(&self, method: &'static str) {
        debug_assert!(
            Self::METHODS.contains(&method),
            "CountingStore::METHODS lacks `{method}`"
        );
        *self.lock().entry(method).or_insert(0) += 1;
    }

    /// The counts; a panic elsewhere while they were held cannot leave them half-written,
    /// so a poisoned lock is still read.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("calls", &*self.lock())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl AccountStore for CountingStore {
    async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        forward!(self.insert_account(new))
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        forward!(self.account_by_id(id))
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        forward!(self.account_by_username(username))
    }

    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        forward!(self.account_by_email(email))
    }

    async fn update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        forward!(self.update_profile(id, change, at))
    }

    async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.set_email(id, email, verified, at))
    }

    async fn set_recovery_email(
        &self,
        id: AccountId,
        email: Option<&EmailAddress>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.set_recovery_email(id, email, at))
    }

    async fn set_account_state(&self, id: AccountId, state: AccountState) -> StoreResult<bool> {
        forward!(self.set_account_state(id, state))
    }

    async fn set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.set_avatar(id, avatar, at))
    }

    async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        forward!(self.avatar(id))
    }
}

#[async_trait]
impl CredentialStore for CountingStore {
    async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        forward!(self.password_hash(id))
    }

    async fn set_password_hash(
        &self,
        id: AccountId,
        hash: &PasswordHash,
        stamp: &SecurityStamp,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.set_password_hash(id, hash, stamp, at))
    }

    async fn upgrade_password_hash(
        &self,
        id: AccountId,
        current: &PasswordHash,
        upgraded: &PasswordHash,
    ) -> StoreResult<bool> {
        forward!(self.upgrade_password_hash(id, current, upgraded))
    }
}

#[async_trait]
impl AuthenticatorStore for CountingStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        forward!(self.totp(account))
    }

    async fn put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.put_pending_totp(account, secret, at))
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.confirm_totp(account, step, recovery_codes, at))
    }

    async fn accept_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        forward!(self.accept_totp_step(account, step))
    }

    async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        forward!(self.delete_totp(account))
    }

    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        forward!(self.replace_recovery_codes(account, codes, at))
    }

    async fn redeem_recovery_code(
        &self,
        account: AccountId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        forward!(self.redeem_recovery_code(account, code))
    }

    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()> {
        forward!(self.insert_passkey(passkey))
    }

    async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>> {
        forward!(self.passkeys_of(account))
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        forward!(self.passkey_by_credential_id(credential_id))
    }

    async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<bool> {
        forward!(self.rename_passkey(account, id, name))
    }

    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        forward!(self.record_passkey_use(id, credential, sign_count, backup_state, at))
    }

    async fn delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        forward!(self.delete_passkey(account, id))
    }

    async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64> {
        forward!(self.delete_authenticators(account))
    }

    async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors> {
        forward!(self.second_factors(account))
    }
}

#[async_trait]
impl ApiTokenStore for CountingStore {
    async fn insert_api_token(
        &self,
        token: &ApiTokenRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        forward!(self.insert_api_token(token, limit))
    }

    async fn api_token_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        forward!(self.api_token_by_digest(digest))
    }

    async fn api_tokens_of(&self, account: AccountId) -> StoreResult<Vec<ApiTokenRecord>> {
        forward!(self.api_tokens_of(account))
    }

    async fn touch_api_token(
        &self,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        forward!(self.touch_api_token(id, at, ip))
    }

    async fn replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        forward!(self.replace_api_token_secret(account, id, digest, last_four))
    }

    async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        forward!(self.delete_api_token(account, id))
    }
}

#[async_trait]
impl AppPasswordStore for CountingStore {
    async fn insert_app_password(
        &self,
        password: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        forward!(self.insert_app_password(password, limit))
    }

    async fn app_password_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        forward!(self.app_password_by_digest(digest))
    }

    async fn app_passwords_of(&self, account: AccountId) -> StoreResult<Vec<AppPasswordRecord>> {
        forward!(self.app_passwords_of(account))
    }

    async fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> StoreResult<()> {
        forward!(self.touch_app_password(id, at))
    }

    async fn delete_app_password(
        &self,
        account: AccountId,
        id: AppPasswordId,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        forward!(self.delete_app_password(account, id))
    }
}

#[async_trait]
impl SshKeyStore for CountingStore {
    async fn insert_ssh_key(&self, key: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert> {
        forward!(self.insert_ssh_key(key, limit))
    }

    async fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SshKeyRecord>> {
        forward!(self.ssh_key_by_fingerprint(fingerprint))
    }

    async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>> {
        forward!(self.ssh_keys_of(account))
    }

    async fn delete_ssh_key(
        &self,
        account: AccountId,
        id: SshKeyId,
    ) -> StoreResult<Option<SshKeyRecord>> {
        forward!(self.delete_ssh_key(account, id))
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        forward!(self.insert_session(session))
    }

    async fn session_by_token(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>> {
        forward!(self.session_by_token(digest))
    }

    async fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> StoreResult<()> {
        forward!(self.touch_session(id, seen_at))
    }

    async fn rotate_session(
        &self,
        id: SessionId,
        current: &TokenDigest,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        forward!(self.rotate_session(id, current, rotation))
    }

    async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        forward!(self.sessions_of(account))
    }

    async fn record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>> {
        forward!(self.record_second_factor_attempt(id))
    }

    async fn delete_session(&self, account: AccountId, id: SessionId) -> StoreResult<bool> {
        forward!(self.delete_session(account, id))
    }

    async fn delete_sessions_of(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        forward!(self.delete_sessions_of(account, keep))
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        forward!(self.purge_expired_sessions(now))
    }
}

#[async_trait]
impl ChallengeStore for CountingStore {
    async fn insert_challenge(&self, challenge: &Challenge, replace: bool) -> StoreResult<()> {
        forward!(self.insert_challenge(challenge, replace))
    }

    async fn find_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        forward!(self.find_challenge(digest, purpose, now))
    }

    async fn consume_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        forward!(self.consume_challenge(digest, purpose, now))
    }

    async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        forward!(self.delete_challenges(account, purpose))
    }

    async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        forward!(self.purge_expired_challenges(now))
    }
}

#[async_trait]
impl ThrottleStore for CountingStore {
    async fn record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        forward!(self.record_failure(account, kind, at))
    }

    async fn failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<Failures> {
        forward!(self.failures(account, kind))
    }

    async fn clear_failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<()> {
        forward!(self.clear_failures(account, kind))
    }
}

#[async_trait]
impl SecurityEventStore for CountingStore {
    async fn record_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        forward!(self.record_event(event))
    }

    async fn events_of(
        &self,
        account: AccountId,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        forward!(self.events_of(account, page))
    }
}

#[async_trait]
impl RateLimitStore for CountingStore {
    async fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u32> {
        forward!(self.hit_rate_limit(key, window_start))
    }

    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        forward!(self.purge_rate_limits(before))
    }
}

#[async_trait]
impl PolicyStore for CountingStore {
    async fn policy(&self) -> StoreResult<Option<Policy>> {
        forward!(self.policy())
    }

    async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        forward!(self.put_policy(policy))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn counting() -> CountingStore {
        CountingStore::new(Arc::new(MemoryStore::new()))
    }

    #[test]
    fn every_method_is_listed_once() {
        let unique: BTreeSet<&str> = CountingStore::METHODS.iter().copied().collect();
        assert_eq!(unique.len(), CountingStore::METHODS.len());
    }

    #[tokio::test]
    async fn counts_each_call_by_name_and_resets() {
        let store = counting();
        assert_eq!(store.total(), 0);
        let digest = TokenDigest::of(b"not a token");
        assert!(store.api_token_by_digest(&digest).await.unwrap().is_none());
        assert!(store.api_token_by_digest(&digest).await.unwrap().is_none());
        assert!(store.policy().await.unwrap().is_none());
        assert_eq!(store.calls("api_token_by_digest"), 2);
        assert_eq!(store.calls("policy"), 1);
        assert_eq!(store.calls("session_by_token"), 0);
        assert_eq!(store.total(), 3);
        assert_eq!(
            format!("{store:?}"),
            r#"CountingStore { calls: {"api_token_by_digest": 2, "policy": 1}, .. }"#
        );
        store.reset();
        assert_eq!(store.total(), 0);
        assert!(store.counts().is_empty());
    }

    #[test]
    fn a_misspelt_name_is_an_error() {
        assert_eq!(
            counting().try_calls("api_token_by_digets"),
            Err(UnknownMethod("api_token_by_digets".to_owned()))
        );
        assert_eq!(counting().try_calls("api_token_by_digest"), Ok(0));
    }

    /// The whole conformance suite through the wrapper: every method forwards its
    /// arguments unchanged, and every name it counts is in `METHODS`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_conformance_suite() {
        crate::testing::run_all(|| async { counting() }).await;
    }
}
