//! Email addresses: changing the primary address, the password-recovery address, and the
//! links that verify them.
//!
//! A new address never takes effect until its owner opens the link sent to it, and the old
//! address is told at once, so a hijacked session cannot quietly move the account away.

use chrono::Duration;
use serde::Deserialize;

use super::Accounts;
use super::directory::ProfileField;
use super::sessions::SignedInSession;
use crate::domain::EmailAddress;
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{Account, Challenge, ChallengePurpose, RequestInfo, SecurityEventKind};
use crate::store::{Conflict, StoreError};
use crate::token::OpaqueToken;

#[derive(Deserialize)]
struct AddressPayload {
    email: String,
}

/// What a verification link confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verified {
    /// The primary address (a new one, or the one given at sign-up).
    PrimaryEmail,
    /// The password-recovery address.
    RecoveryEmail,
}

impl Accounts {
    /// Starts changing the primary address: a link goes to the new address and a notice
    /// to the old one; the address changes only when the link is opened.
    ///
    /// An address that belongs to another account gets the same answer as a free one,
    /// and no link, so this cannot be used to learn who has an account.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session; [`Error::ProfileLocked`];
    /// [`Error::ManagedExternally`] when the account's directory manages its addresses.
    pub async fn request_email_change(
        &self,
        current: &SignedInSession,
        new_email: EmailAddress,
        info: &RequestInfo,
    ) -> Result<()> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        self.check_profile_editable(&account, ProfileField::Email)
            .await?;
        let owner = self.inner.store.account_by_email(&new_email).await?;
        match owner {
            Some(other) if other.id != account.id => {
                tracing::info!(account = %account.id, "email change to an address in use; no link sent");
            }
            _ => self.send_email_verification(&account, &new_email).await?,
        }
        self.notify(
            &account.email,
            Message::EmailChangeRequested {
                username: account.username.clone(),
                new_address_masked: new_email.masked(),
            },
        );
        self.record(
            account.id,
            SecurityEventKind::EmailChangeRequested,
            info,
            &[("new_email", new_email.masked())],
        )
        .await
    }

    /// Sets the password-recovery address (a link goes there first; it takes effect when
    /// opened) or, with `None`, removes it at once.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session; [`Error::ProfileLocked`];
    /// [`Error::ManagedExternally`] when the account's directory manages its addresses.
    pub async fn set_recovery_email(
        &self,
        current: &SignedInSession,
        email: Option<EmailAddress>,
        info: &RequestInfo,
    ) -> Result<()> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        self.check_profile_editable(&account, ProfileField::Email)
            .await?;
        let Some(email) = email else {
            // The pending links go first: should removing the address then fail, it stays
            // with no link pending. The other order could leave a link to an address the
            // owner meant to drop (perhaps mistyped, someone else's) that still makes it
            // the recovery address when followed.
            self.inner
                .store
                .delete_challenges(account.id, ChallengePurpose::VerifyRecoveryEmail)
                .await?;
            self.inner
                .store
                .set_recovery_email(account.id, None, self.now())
                .await?;
            self.notify(
                &account.email,
                Message::RecoveryEmailChanged {
                    username: account.username.clone(),
                },
            );
            return self
                .record(
                    account.id,
                    SecurityEventKind::RecoveryEmailRemoved,
                    info,
                    &[],
                )
                .await;
        };
        let ttl = self.inner.config.verification_token_ttl;
        let payload = serde_json::json!({ "email": email.as_str() }).to_string();
        let token = self
            .issue_challenge(
                &account,
                ChallengePurpose::VerifyRecoveryEmail,
                payload,
                ttl,
            )
            .await?;
        self.notify(
            &email,
            Message::VerifyRecoveryEmail {
                username: account.username.clone(),
                token,
                valid_for_minutes: ttl.num_minutes(),
            },
        );
        self.record(
            account.id,
            SecurityEventKind::RecoveryEmailChangeRequested,
            info,
            &[("email", email.masked())],
        )
        .await
    }

    /// Opens a verification link: confirms the sign-up address, switches the primary
    /// address to a new one, or activates a recovery address. Needs no session: the link
    /// is the proof.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] for a malformed, unknown, used or expired link, one issued
    /// before the account's credentials changed, or one whose address was taken by another
    /// account meanwhile.
    pub async fn verify_email(
        &self,
        token: &str,
        info: &RequestInfo,
    ) -> Result<(Account, Verified)> {
        let token = OpaqueToken::parse(token).ok_or(Error::InvalidToken)?;
        let now = self.now();
        let digest = token.digest();
        let (challenge, verified) = match self
            .inner
            .store
            .consume_challenge(&digest, ChallengePurpose::VerifyEmail, now)
            .await?
        {
            Some(c) => (c, Verified::PrimaryEmail),
            None => match self
                .inner
                .store
                .consume_challenge(&digest, ChallengePurpose::VerifyRecoveryEmail, now)
                .await?
            {
                Some(c) => (c, Verified::RecoveryEmail),
                None => return Err(Error::InvalidToken),
            },
        };
        let account = self.challenge_account(&challenge).await?;
        let payload: AddressPayload =
            serde_json::from_str(&challenge.payload).map_err(|_| Error::InvalidToken)?;
        let address = EmailAddress::parse(&payload.email).map_err(|_| Error::InvalidToken)?;
        match verified {
            Verified::PrimaryEmail => self.switch_primary_email(account, address, info).await,
            Verified::RecoveryEmail => {
                self.inner
                    .store
                    .set_recovery_email(account.id, Some(&address), now)
                    .await?;
                self.notify(
                    &account.email,
                    Message::RecoveryEmailChanged {
                        username: account.username.clone(),
                    },
                );
                self.record(
                    account.id,
                    SecurityEventKind::RecoveryEmailChanged,
                    info,
                    &[("email", address.masked())],
                )
                .await?;
                Ok((self.account(account.id).await?, Verified::RecoveryEmail))
            }
        }
    }

    async fn switch_primary_email(
        &self,
        account: Account,
        address: EmailAddress,
        info: &RequestInfo,
    ) -> Result<(Account, Verified)> {
        let same = address.lookup_key() == account.email.lookup_key();
        match self
            .inner
            .store
            .set_email(account.id, &address, true, self.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidToken),
            Err(StoreError::Conflict(Conflict::Email)) => return Err(Error::InvalidToken),
            Err(e) => return Err(e.into()),
        }
        if same {
            self.record(account.id, SecurityEventKind::EmailVerified, info, &[])
                .await?;
        } else {
            self.notify(
                &account.email,
                Message::EmailChanged {
                    username: account.username.clone(),
                    new_address_masked: address.masked(),
                },
            );
            self.record(
                account.id,
                SecurityEventKind::EmailChanged,
                info,
                &[
                    ("old_email", account.email.masked()),
                    ("new_email", address.masked()),
                ],
            )
            .await?;
        }
        Ok((self.account(account.id).await?, Verified::PrimaryEmail))
    }

    /// Refuses a change to `field` when the account's directory owns it or the
    /// administrator locked profiles.
    pub(crate) async fn check_profile_editable(
        &self,
        account: &Account,
        field: ProfileField,
    ) -> Result<()> {
        if self.managed_by_directory(account, field) {
            return Err(Error::ManagedExternally);
        }
        if self.policy().await?.lock_profiles {
            return Err(Error::ProfileLocked);
        }
        Ok(())
    }

    /// Issues a one-time challenge for the account, replacing older ones of the same
    /// purpose, and returns its secret.
    pub(crate) async fn issue_challenge(
        &self,
        account: &Account,
        purpose: ChallengePurpose,
        payload: String,
        ttl: Duration,
    ) -> Result<OpaqueToken> {
        let now = self.now();
        let token = OpaqueToken::generate(self.rng());
        let challenge = Challenge {
            digest: token.digest(),
            purpose,
            account_id: Some(account.id),
            security_stamp: Some(account.security_stamp.clone()),
            payload,
            created_at: now,
            expires_at: now + ttl,
        };
        self.inner.store.insert_challenge(&challenge, true).await?;
        Ok(token)
    }

    /// The account a challenge belongs to, if it is still active and its credentials have
    /// not changed since the challenge was issued.
    pub(crate) async fn challenge_account(&self, challenge: &Challenge) -> Result<Account> {
        let id = challenge.account_id.ok_or(Error::InvalidToken)?;
        let account = self
            .inner
            .store
            .account_by_id(id)
            .await?
            .ok_or(Error::InvalidToken)?;
        if account.state != crate::model::AccountState::Active {
            return Err(Error::InvalidToken);
        }
        if challenge
            .security_stamp
            .as_ref()
            .is_some_and(|s| *s != account.security_stamp)
        {
            return Err(Error::InvalidToken);
        }
        Ok(account)
    }
}
