//! A store that delegates to a [`MemoryStore`] but fails listing sessions, as a database
//! that went away would.

use std::net::IpAddr;
use std::sync::Arc;

use account_core::avatar::Avatar;
use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    Account, AccountId, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId, AppPasswordRecord,
    Challenge, ChallengePurpose, EventPage, FailureKind, Failures, LimitedInsert, NewAccount,
    PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, SecondFactors, SecurityEvent,
    SecurityStamp, SessionId, SessionRecord, SessionRotation, SshKeyId, SshKeyRecord, TotpRecord,
    TotpSecret,
};
use account_core::password::PasswordHash;
use account_core::policy::Policy;
use account_core::store::memory::MemoryStore;
use account_core::store::{
    AccountStore, ApiTokenStore, AppPasswordStore, AuthenticatorStore, ChallengeStore,
    CredentialStore, PolicyStore, RateLimitStore, SecurityEventStore, SessionStore, SshKeyStore,
    StoreError, StoreResult, ThrottleStore,
};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What the failing method says: a detail that must reach the log and never a client.
pub const FAILURE: &str = "connection to 10.1.2.3:5432 reset by peer";

#[derive(Debug)]
pub struct FailingStore(pub Arc<MemoryStore>);

#[async_trait]
impl AccountStore for FailingStore {
    async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        self.0.insert_account(new).await
    }
    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.0.account_by_id(id).await
    }
    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        self.0.account_by_username(username).await
    }
    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        self.0.account_by_email(email).await
    }
    async fn update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.0.update_profile(id, change, at).await
    }
    async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.set_email(id, email, verified, at).await
    }
    async fn set_recovery_email(
        &self,
        id: AccountId,
        email: Option<&EmailAddress>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.set_recovery_email(id, email, at).await
    }
    async fn set_account_state(&self, id: AccountId, state: AccountState) -> StoreResult<bool> {
        self.0.set_account_state(id, state).await
    }
    async fn set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.set_avatar(id, avatar, at).await
    }
    async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        self.0.avatar(id).await
    }
}

#[async_trait]
impl CredentialStore for FailingStore {
    async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        self.0.password_hash(id).await
    }
    async fn set_password_hash(
        &self,
        id: AccountId,
        hash: &PasswordHash,
        stamp: &SecurityStamp,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.set_password_hash(id, hash, stamp, at).await
    }
    async fn upgrade_password_hash(
        &self,
        id: AccountId,
        current: &PasswordHash,
        upgraded: &PasswordHash,
    ) -> StoreResult<bool> {
        self.0.upgrade_password_hash(id, current, upgraded).await
    }
}

#[async_trait]
impl SessionStore for FailingStore {
    async fn record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>> {
        self.0.record_second_factor_attempt(id).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.0.insert_session(session).await
    }
    async fn session_by_token(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>> {
        self.0.session_by_token(digest).await
    }
    async fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> StoreResult<()> {
        self.0.touch_session(id, seen_at).await
    }
    async fn rotate_session(
        &self,
        id: SessionId,
        current: &TokenDigest,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        self.0.rotate_session(id, current, rotation).await
    }
    async fn sessions_of(&self, _account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        Err(StoreError::backend(FAILURE))
    }
    async fn delete_session(&self, account: AccountId, id: SessionId) -> StoreResult<bool> {
        self.0.delete_session(account, id).await
    }
    async fn delete_sessions_of(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        self.0.delete_sessions_of(account, keep).await
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.0.purge_expired_sessions(now).await
    }
}

#[async_trait]
impl ChallengeStore for FailingStore {
    async fn insert_challenge(&self, challenge: &Challenge, replace: bool) -> StoreResult<()> {
        self.0.insert_challenge(challenge, replace).await
    }
    async fn find_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        self.0.find_challenge(digest, purpose, now).await
    }
    async fn consume_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        self.0.consume_challenge(digest, purpose, now).await
    }
    async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        self.0.delete_challenges(account, purpose).await
    }
    async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.0.purge_expired_challenges(now).await
    }
}

#[async_trait]
impl ThrottleStore for FailingStore {
    async fn record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        self.0.record_failure(account, kind, at).await
    }
    async fn failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<Failures> {
        self.0.failures(account, kind).await
    }
    async fn clear_failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<()> {
        self.0.clear_failures(account, kind).await
    }
}

#[async_trait]
impl SecurityEventStore for FailingStore {
    async fn record_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        self.0.record_event(event).await
    }
    async fn events_of(
        &self,
        account: AccountId,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        self.0.events_of(account, page).await
    }
}

#[async_trait]
impl RateLimitStore for FailingStore {
    async fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u32> {
        self.0.hit_rate_limit(key, window_start).await
    }
    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.0.purge_rate_limits(before).await
    }
}

#[async_trait]
impl AuthenticatorStore for FailingStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        self.0.totp(account).await
    }
    async fn put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.put_pending_totp(account, secret, at).await
    }
    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0.confirm_totp(account, step, codes, at).await
    }
    async fn accept_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        self.0.accept_totp_step(account, step).await
    }
    async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        self.0.delete_totp(account).await
    }
    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.0.replace_recovery_codes(account, codes, at).await
    }
    async fn redeem_recovery_code(
        &self,
        account: AccountId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        self.0.redeem_recovery_code(account, code).await
    }
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()> {
        self.0.insert_passkey(passkey).await
    }
    async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>> {
        self.0.passkeys_of(account).await
    }
    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        self.0.passkey_by_credential_id(credential_id).await
    }
    async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<bool> {
        self.0.rename_passkey(account, id, name).await
    }
    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.0
            .record_passkey_use(id, credential, sign_count, backup_state, at)
            .await
    }
    async fn delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        self.0.delete_passkey(account, id).await
    }
    async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64> {
        self.0.delete_authenticators(account).await
    }
    async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors> {
        self.0.second_factors(account).await
    }
}

#[async_trait]
impl ApiTokenStore for FailingStore {
    async fn insert_api_token(
        &self,
        token: &ApiTokenRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        self.0.insert_api_token(token, limit).await
    }
    async fn api_token_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        self.0.api_token_by_digest(digest).await
    }
    async fn api_tokens_of(&self, account: AccountId) -> StoreResult<Vec<ApiTokenRecord>> {
        self.0.api_tokens_of(account).await
    }
    async fn touch_api_token(
        &self,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        self.0.touch_api_token(id, at, ip).await
    }
    async fn replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        self.0
            .replace_api_token_secret(account, id, digest, last_four)
            .await
    }
    async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        self.0.delete_api_token(account, id).await
    }
}

#[async_trait]
impl AppPasswordStore for FailingStore {
    async fn insert_app_password(
        &self,
        password: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        self.0.insert_app_password(password, limit).await
    }
    async fn app_password_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        self.0.app_password_by_digest(digest).await
    }
    async fn app_passwords_of(&self, account: AccountId) -> StoreResult<Vec<AppPasswordRecord>> {
        self.0.app_passwords_of(account).await
    }
    async fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> StoreResult<()> {
        self.0.touch_app_password(id, at).await
    }
    async fn delete_app_password(
        &self,
        account: AccountId,
        id: AppPasswordId,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        self.0.delete_app_password(account, id).await
    }
}

#[async_trait]
impl SshKeyStore for FailingStore {
    async fn insert_ssh_key(&self, key: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert> {
        self.0.insert_ssh_key(key, limit).await
    }
    async fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SshKeyRecord>> {
        self.0.ssh_key_by_fingerprint(fingerprint).await
    }
    async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>> {
        self.0.ssh_keys_of(account).await
    }
    async fn delete_ssh_key(
        &self,
        account: AccountId,
        id: SshKeyId,
    ) -> StoreResult<Option<SshKeyRecord>> {
        self.0.delete_ssh_key(account, id).await
    }
}

#[async_trait]
impl PolicyStore for FailingStore {
    async fn policy(&self) -> StoreResult<Option<Policy>> {
        self.0.policy().await
    }
    async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        self.0.put_policy(policy).await
    }
}
