//! Forgot password and reset, as OWASP's forgot-password cheat sheet describes: the
//! request answers the same for every address, the link carries a single-use 256-bit
//! token that lives 30 minutes, and a reset ends every session without signing anyone in.

use super::Accounts;
use crate::domain::{EmailAddress, Password};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountState, ChallengePurpose, FailureKind, RequestInfo, SecurityEventKind,
    SecurityStamp,
};
use crate::token::OpaqueToken;

impl Accounts {
    /// Mails a reset link to the account with this primary address, to its recovery
    /// address when one is set. Answers `Ok(())` whether or not such an account exists,
    /// and the mail leaves in the background, so neither the answer nor its timing tells.
    /// A newer link kills the older ones.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn request_password_reset(
        &self,
        email: &EmailAddress,
        info: &RequestInfo,
    ) -> Result<()> {
        let Some(account) = self.inner.store.account_by_email(email).await? else {
            return Ok(());
        };
        if account.state != AccountState::Active || account.source.is_external() {
            return Ok(());
        }
        let ttl = self.inner.config.reset_token_ttl;
        let token = self
            .issue_challenge(
                &account,
                ChallengePurpose::PasswordReset,
                serde_json::json!({ "email": account.reset_address().as_str() }).to_string(),
                ttl,
            )
            .await?;
        self.notify(
            account.reset_address(),
            Message::PasswordReset {
                username: account.username.clone(),
                token,
                valid_for_minutes: ttl.num_minutes(),
            },
        );
        self.record(
            account.id,
            SecurityEventKind::PasswordResetRequested,
            info,
            &[("sent_to", account.reset_address().masked())],
        )
        .await
    }

    /// Sets a new password through a reset link. The link is checked and the new password
    /// is checked against the policy before the link is used up, so a refused password
    /// loses nothing; then every session ends, the login throttle is cleared (a reset works
    /// while logins are locked), and every address is told. Nobody is signed in: the user
    /// logs in afterwards, second factor included.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] for a malformed, unknown, used, expired or superseded link,
    /// or one issued before the password last changed; [`Error::WeakPassword`].
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &Password,
        info: &RequestInfo,
    ) -> Result<Account> {
        let token = OpaqueToken::parse(token).ok_or(Error::InvalidToken)?;
        let digest = token.digest();
        let now = self.now();
        let challenge = self
            .inner
            .store
            .find_challenge(&digest, ChallengePurpose::PasswordReset, now)
            .await?
            .ok_or(Error::InvalidToken)?;
        let account = self.challenge_account(&challenge).await?;
        let hash = self
            .hash_new_password(&account, new_password, false)
            .await?;
        // The link lives only as long as the stamp it was issued under
        // (`challenge_account`), so setting the password, which changes the stamp, is what
        // spends it: one store step sets the password and ends every session, only from
        // that stamp, and only one of any number of concurrent resets with this link gets
        // past here. Using the link up first could leave it spent with the password
        // unchanged, the owner with neither.
        let link_stamp = challenge
            .security_stamp
            .as_ref()
            .unwrap_or(&account.security_stamp);
        let stamp = SecurityStamp::generate(self.rng());
        if !self
            .inner
            .store
            .set_password_hash(account.id, &hash, &stamp, link_stamp, None, self.now())
            .await?
        {
            return Err(Error::InvalidToken);
        }
        // The owner hears of the reset before anything else can fail.
        self.notify_all_addresses(&account, |username| Message::PasswordWasReset { username });
        // Now only tidying: the link is dead by its stamp whether or not this removes it.
        self.inner
            .store
            .consume_challenge(&digest, ChallengePurpose::PasswordReset, self.now())
            .await?;
        // A convenience after the fact: should it fail, the throttle runs out by itself.
        for kind in [FailureKind::Password, FailureKind::KnownDevicePassword] {
            self.inner.store.clear_failures(account.id, kind).await?;
        }
        self.record(account.id, SecurityEventKind::PasswordReset, info, &[])
            .await?;
        // A link followed proves the address it was mailed to: an administrator's setup
        // link, or a reset link sent to an unconfirmed primary address.
        let sent_to: Option<String> = serde_json::from_str::<serde_json::Value>(&challenge.payload)
            .ok()
            .and_then(|p| p.get("email")?.as_str().map(str::to_owned));
        let account = if !account.email_verified
            && sent_to.is_some_and(|to| to == account.email.as_str())
            && self
                .inner
                .store
                .set_email(account.id, &account.email, true, self.now())
                .await?
        {
            self.record(account.id, SecurityEventKind::EmailVerified, info, &[])
                .await?;
            Account {
                email_verified: true,
                ..account
            }
        } else {
            account
        };
        Ok(Account {
            security_stamp: stamp,
            ..account
        })
    }
}
