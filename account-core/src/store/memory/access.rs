//! The in-memory [`ApiTokenStore`], [`AppPasswordStore`] and [`SshKeyStore`]: programmatic
//! access, each kind with the index its hot lookup needs (token and app password by
//! digest, SSH key by fingerprint), under the store's one lock.

use std::collections::HashMap;
use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, conflict};
use crate::model::{
    AccountId, ApiTokenId, ApiTokenRecord, ApiTokenWithAccount, AppPasswordId, AppPasswordRecord,
    LimitedInsert, SshKeyId, SshKeyRecord,
};
use crate::store::{ApiTokenStore, AppPasswordStore, Conflict, SshKeyStore, StoreResult};
use crate::token::TokenDigest;

/// The programmatic-access part of the store's state.
#[derive(Default)]
pub(super) struct AccessState {
    tokens: HashMap<ApiTokenId, ApiTokenRecord>,
    token_by_digest: HashMap<TokenDigest, ApiTokenId>,
    app_passwords: HashMap<AppPasswordId, AppPasswordRecord>,
    app_password_by_digest: HashMap<TokenDigest, AppPasswordId>,
    ssh_keys: HashMap<SshKeyId, SshKeyRecord>,
    ssh_key_by_fingerprint: HashMap<String, SshKeyId>,
}

impl AccessState {
    /// Forgets every token, app password and SSH key of a deleted account.
    pub(super) fn remove_account(&mut self, account: AccountId) {
        self.tokens.retain(|_, t| t.account_id != account);
        self.token_by_digest
            .retain(|_, id| self.tokens.contains_key(id));
        self.app_passwords.retain(|_, p| p.account_id != account);
        self.app_password_by_digest
            .retain(|_, id| self.app_passwords.contains_key(id));
        self.ssh_keys.retain(|_, k| k.account_id != account);
        self.ssh_key_by_fingerprint
            .retain(|_, id| self.ssh_keys.contains_key(id));
    }
}

/// How many of `records` belong to `account`, against a limit.
fn at_limit<'a, T: 'a>(
    records: impl Iterator<Item = &'a T>,
    owner: impl Fn(&T) -> AccountId,
    account: AccountId,
    limit: u32,
) -> bool {
    records.filter(|r| owner(r) == account).count() >= limit as usize
}

/// Oldest first, by creation time and then id, as every list is ordered.
fn oldest_first<T: Clone, K: Ord>(
    records: impl Iterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut out: Vec<T> = records.collect();
    out.sort_by_key(key);
    out
}

#[async_trait]
impl ApiTokenStore for MemoryStore {
    async fn insert_api_token(
        &self,
        token: &ApiTokenRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        let mut state = self.state();
        state.require_account(token.account_id)?;
        let access = &mut state.access;
        if access.tokens.contains_key(&token.id)
            || access.token_by_digest.contains_key(&token.digest)
        {
            return Err(conflict(Conflict::Id));
        }
        if at_limit(
            access.tokens.values(),
            |t| t.account_id,
            token.account_id,
            limit,
        ) {
            return Ok(LimitedInsert::LimitReached);
        }
        access.token_by_digest.insert(token.digest, token.id);
        access.tokens.insert(token.id, token.clone());
        Ok(LimitedInsert::Inserted)
    }

    async fn api_token_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let state = self.state();
        let access = &state.access;
        Ok(access
            .token_by_digest
            .get(digest)
            .and_then(|id| access.tokens.get(id))
            .cloned())
    }

    async fn api_token_with_account(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenWithAccount>> {
        let state = self.state();
        let access = &state.access;
        let Some(token) = access
            .token_by_digest
            .get(digest)
            .and_then(|id| access.tokens.get(id))
        else {
            return Ok(None);
        };
        Ok(state
            .accounts
            .get(&token.account_id)
            .map(|entry| ApiTokenWithAccount {
                token: token.clone(),
                account: entry.account.clone(),
            }))
    }

    async fn api_tokens_of(&self, account: AccountId) -> StoreResult<Vec<ApiTokenRecord>> {
        let state = self.state();
        Ok(oldest_first(
            state
                .access
                .tokens
                .values()
                .filter(|t| t.account_id == account)
                .cloned(),
            |t| (t.created_at, t.id),
        ))
    }

    async fn touch_api_token(
        &self,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(token) = state.access.tokens.get_mut(&id)
            && token.last_used_at.is_none_or(|last| last < at)
        {
            token.last_used_at = Some(at);
            token.last_used_ip = ip;
        }
        Ok(())
    }

    async fn replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let mut state = self.state();
        let access = &mut state.access;
        let Some(old_digest) = access
            .tokens
            .get(&id)
            .filter(|t| t.account_id == account)
            .map(|t| t.digest)
        else {
            return Ok(None);
        };
        if *digest != old_digest && access.token_by_digest.contains_key(digest) {
            return Err(conflict(Conflict::Id));
        }
        access.token_by_digest.remove(&old_digest);
        access.token_by_digest.insert(*digest, id);
        let Some(token) = access.tokens.get_mut(&id) else {
            return Ok(None);
        };
        token.digest = *digest;
        last_four.clone_into(&mut token.last_four);
        Ok(Some(token.clone()))
    }

    async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let mut state = self.state();
        let access = &mut state.access;
        if access
            .tokens
            .get(&id)
            .is_none_or(|t| t.account_id != account)
        {
            return Ok(None);
        }
        let removed = access.tokens.remove(&id);
        if let Some(token) = &removed {
            access.token_by_digest.remove(&token.digest);
        }
        Ok(removed)
    }
}

#[async_trait]
impl AppPasswordStore for MemoryStore {
    async fn insert_app_password(
        &self,
        password: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        let mut state = self.state();
        state.require_account(password.account_id)?;
        let access = &mut state.access;
        if access.app_passwords.contains_key(&password.id)
            || access.app_password_by_digest.contains_key(&password.digest)
        {
            return Err(conflict(Conflict::Id));
        }
        if at_limit(
            access.app_passwords.values(),
            |p| p.account_id,
            password.account_id,
            limit,
        ) {
            return Ok(LimitedInsert::LimitReached);
        }
        access
            .app_password_by_digest
            .insert(password.digest, password.id);
        access.app_passwords.insert(password.id, password.clone());
        Ok(LimitedInsert::Inserted)
    }

    async fn app_password_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        let state = self.state();
        let access = &state.access;
        Ok(access
            .app_password_by_digest
            .get(digest)
            .and_then(|id| access.app_passwords.get(id))
            .cloned())
    }

    async fn app_passwords_of(&self, account: AccountId) -> StoreResult<Vec<AppPasswordRecord>> {
        let state = self.state();
        Ok(oldest_first(
            state
                .access
                .app_passwords
                .values()
                .filter(|p| p.account_id == account)
                .cloned(),
            |p| (p.created_at, p.id),
        ))
    }

    async fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(password) = state.access.app_passwords.get_mut(&id)
            && password.last_used_at.is_none_or(|last| last < at)
        {
            password.last_used_at = Some(at);
        }
        Ok(())
    }

    async fn delete_app_password(
        &self,
        account: AccountId,
        id: AppPasswordId,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        let mut state = self.state();
        let access = &mut state.access;
        if access
            .app_passwords
            .get(&id)
            .is_none_or(|p| p.account_id != account)
        {
            return Ok(None);
        }
        let removed = access.app_passwords.remove(&id);
        if let Some(password) = &removed {
            access.app_password_by_digest.remove(&password.digest);
        }
        Ok(removed)
    }
}

#[async_trait]
impl SshKeyStore for MemoryStore {
    async fn insert_ssh_key(&self, key: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert> {
        let mut state = self.state();
        state.require_account(key.account_id)?;
        let access = &mut state.access;
        if access.ssh_key_by_fingerprint.contains_key(&key.fingerprint) {
            return Err(conflict(Conflict::SshKey));
        }
        if access.ssh_keys.contains_key(&key.id) {
            return Err(conflict(Conflict::Id));
        }
        if at_limit(
            access.ssh_keys.values(),
            |k| k.account_id,
            key.account_id,
            limit,
        ) {
            return Ok(LimitedInsert::LimitReached);
        }
        access
            .ssh_key_by_fingerprint
            .insert(key.fingerprint.clone(), key.id);
        access.ssh_keys.insert(key.id, key.clone());
        Ok(LimitedInsert::Inserted)
    }

    async fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SshKeyRecord>> {
        let state = self.state();
        let access = &state.access;
        Ok(access
            .ssh_key_by_fingerprint
            .get(fingerprint)
            .and_then(|id| access.ssh_keys.get(id))
            .cloned())
    }

    async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>> {
        let state = self.state();
        Ok(oldest_first(
            state
                .access
                .ssh_keys
                .values()
                .filter(|k| k.account_id == account)
                .cloned(),
            |k| (k.created_at, k.id),
        ))
    }

    async fn delete_ssh_key(
        &self,
        account: AccountId,
        id: SshKeyId,
    ) -> StoreResult<Option<SshKeyRecord>> {
        let mut state = self.state();
        let access = &mut state.access;
        if access
            .ssh_keys
            .get(&id)
            .is_none_or(|k| k.account_id != account)
        {
            return Ok(None);
        }
        let removed = access.ssh_keys.remove(&id);
        if let Some(key) = &removed {
            access.ssh_key_by_fingerprint.remove(&key.fingerprint);
        }
        Ok(removed)
    }
}
