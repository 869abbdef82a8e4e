//! SSH keys: the public keys a host's SSH server (a git server, say) accepts for the
//! account.
//!
//! A key is pasted as one OpenSSH line and parsed by [`SshPublicKey::parse`], which
//! accepts Ed25519, ECDSA on P-256, P-384 and P-521, and RSA of at least 2048 bits, and
//! computes the fingerprint as `ssh-keygen -lf` prints it. A key can be on one account
//! only, so [`Accounts::ssh_key_owner`] answers an SSH server's question "whose key is
//! this?" with at most one account.

use super::Accounts;
use super::sessions::SignedInSession;
use crate::error::{AccessKind, Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AccountState, LimitedInsert, RequestInfo, SecurityEventKind, SshKeyId,
    SshKeyRecord,
};
use crate::ssh_key::SshPublicKey;
use crate::store::{Conflict, StoreError};

/// The owner of an SSH key: what an SSH server needs to let a key in.
#[derive(Debug, Clone)]
pub struct SshKeyOwner {
    /// The account (active).
    pub account: Account,
    /// The key.
    pub key: SshKeyRecord,
}

impl Accounts {
    /// Adds an SSH key named `name` from one OpenSSH public-key line, after a fresh
    /// authentication. Records `ssh_key_added` and mails a notice.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad name; [`Error::InvalidSshKey`] for a line that is
    /// not an accepted public key (the reason says why);
    /// [`Error::ReauthenticationRequired`] from a stale session; [`Error::SshKeyInUse`]
    /// when the key is on an account already; [`Error::LimitReached`] at the account's
    /// maximum of keys.
    pub async fn add_ssh_key(
        &self,
        current: &SignedInSession,
        name: &str,
        public_key: &str,
        info: &RequestInfo,
    ) -> Result<SshKeyRecord> {
        let name = super::parse_credential_name(name)?;
        let parsed = SshPublicKey::parse(public_key)?;
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let now = self.now();
        let key = SshKeyRecord {
            id: SshKeyId::generate(now, self.rng()),
            account_id: account.id,
            name,
            algorithm: parsed.algorithm().to_owned(),
            bits: parsed.bits(),
            fingerprint: parsed.fingerprint().to_owned(),
            public_key: parsed.to_openssh(),
            comment: parsed.comment().map(str::to_owned),
            created_at: now,
        };
        let limit = self.inner.config.access_limits.ssh_keys;
        match self.inner.store.insert_ssh_key(&key, limit).await {
            Ok(LimitedInsert::Inserted) => {}
            Ok(LimitedInsert::LimitReached) => {
                return Err(Error::LimitReached(AccessKind::SshKeys));
            }
            Err(StoreError::Conflict(Conflict::SshKey)) => return Err(Error::SshKeyInUse),
            Err(e) => return Err(e.into()),
        }
        let credential = key_in_words(&key);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::SshKeyAdded,
            info,
            &key_details(&key),
            |username| Message::AccessCreated {
                username,
                credential: credential.clone(),
            },
        )
        .await?;
        Ok(key)
    }

    /// The account's SSH keys, oldest first: name, type, fingerprint, comment, created.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn ssh_keys(&self, account: AccountId) -> Result<Vec<SshKeyRecord>> {
        Ok(self.inner.store.ssh_keys_of(account).await?)
    }

    /// Removes one of the account's SSH keys. Needs a signed-in session but no fresh
    /// authentication. Records `ssh_key_removed` and mails a notice.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] when the session's account is gone or disabled;
    /// [`Error::NotFound`] when the account has no such key.
    pub async fn delete_ssh_key(
        &self,
        current: &SignedInSession,
        id: SshKeyId,
        info: &RequestInfo,
    ) -> Result<()> {
        let account = self.account_of(current).await?;
        let key = self
            .inner
            .store
            .delete_ssh_key(account.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        let credential = key_in_words(&key);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::SshKeyRemoved,
            info,
            &key_details(&key),
            |username| Message::AccessRemoved {
                username,
                credential: credential.clone(),
            },
        )
        .await
    }

    /// The active account that owns the key with this fingerprint (`SHA256:...`, as
    /// [`SshPublicKey::fingerprint`] gives it), with the key: what an SSH server asks when
    /// a client offers a key. `None` for an unknown key or a disabled account.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn ssh_key_owner(&self, fingerprint: &str) -> Result<Option<SshKeyOwner>> {
        let store = &self.inner.store;
        let Some(key) = store.ssh_key_by_fingerprint(fingerprint).await? else {
            return Ok(None);
        };
        Ok(match store.account_by_id(key.account_id).await? {
            Some(account) if account.state == AccountState::Active => {
                Some(SshKeyOwner { account, key })
            }
            _ => None,
        })
    }
}

/// A key in the words of a notice.
fn key_in_words(key: &SshKeyRecord) -> String {
    format!("the SSH key \"{}\" ({})", key.name, key.fingerprint)
}

/// What the security log says about a key.
fn key_details(key: &SshKeyRecord) -> Vec<(&'static str, String)> {
    vec![
        ("ssh_key", key.id.to_string()),
        ("name", key.name.clone()),
        ("fingerprint", key.fingerprint.clone()),
    ]
}
