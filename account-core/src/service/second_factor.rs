//! Finishing a login with a second factor, re-authenticating with one, and the
//! administrator's reset of an account's second factors.
//!
//! After a right password, an account with a second factor gets a pending session
//! ([`SessionStage::SecondFactorPending`]); [`Accounts::authenticate_pending`] turns its
//! token into a [`PendingSession`], which only these steps take. It lives five
//! minutes and allows [`PENDING_ATTEMPTS`] wrong factors; wrong factors are also counted
//! per account in the store, across sessions and app instances (RFC 4226 §7.3), with the
//! same growing delays as passwords. The first wrong factor after a right password tells
//! the owner by mail: someone may know the password.

use super::Accounts;
use super::passkeys::PasskeyCeremony;
use super::sessions::{EnrollingSession, PENDING_ATTEMPTS, PendingSession, SignedIn};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AssuranceLevel, AuthMethod, Authentication, FailureKind, RequestInfo,
    SecondFactors, SecurityEventKind, SessionStage,
};

impl Accounts {
    /// Finishes a pending login with a TOTP code: the [`PendingSession`] from
    /// [`Accounts::authenticate_pending`] is replaced by a full session.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a pending session that has expired, or that is gone
    /// (out of attempts, or finished already) when the right code arrives;
    /// [`Error::InvalidSecondFactor`] for a wrong, reused or throttled code.
    pub async fn complete_login_with_totp(
        &self,
        pending: &PendingSession,
        code: &str,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.pending_login(pending).await?;
        let ok = self.verify_totp_code(&account, code).await?;
        self.finish_second_factor(pending, account, AuthMethod::Totp, ok, info)
            .await
    }

    /// Finishes a pending login with a recovery code, which is used up.
    ///
    /// # Errors
    ///
    /// As [`Accounts::complete_login_with_totp`].
    pub async fn complete_login_with_recovery_code(
        &self,
        pending: &PendingSession,
        code: &str,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.pending_login(pending).await?;
        let ok = self.use_recovery_code(&account, code, info).await?;
        self.finish_second_factor(pending, account, AuthMethod::RecoveryCode, ok, info)
            .await
    }

    /// Starts the passkey ceremony that finishes a pending login.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a pending session that has expired or ended;
    /// [`Error::InvalidSecondFactor`] for a throttled account;
    /// [`Error::NotFound`] when the account has no passkey.
    pub async fn start_login_passkey(&self, pending: &PendingSession) -> Result<PasskeyCeremony> {
        self.pending_login(pending).await?;
        self.start_passkey_ceremony(pending).await
    }

    /// Finishes a pending login with a passkey assertion for the ceremony from
    /// [`Accounts::start_login_passkey`].
    ///
    /// # Errors
    ///
    /// As [`Accounts::complete_login_with_totp`].
    pub async fn complete_login_with_passkey(
        &self,
        pending: &PendingSession,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.pending_login(pending).await?;
        let ok = match self
            .verify_passkey_assertion(pending, ceremony_id, credential, info)
            .await
        {
            Ok(_) => true,
            Err(Error::InvalidSecondFactor) => false,
            Err(e) => return Err(e),
        };
        self.finish_second_factor(pending, account, AuthMethod::Passkey, ok, info)
            .await
    }

    /// Re-authenticates the current session with a passkey assertion for a ceremony from
    /// [`Accounts::start_passkey_authentication`]: it becomes fresh at level 2 with a new
    /// token.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecondFactor`] for an assertion that does not verify.
    pub async fn reauthenticate_with_passkey(
        &self,
        current: &EnrollingSession,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.account_of(current).await?;
        self.verify_passkey_assertion(current, ceremony_id, credential, info)
            .await?;
        let now = self.now();
        let (session, token) = self
            .rotate_session(
                current,
                Authentication {
                    method: AuthMethod::Passkey,
                    at: now,
                },
                AssuranceLevel::Two,
                current.stage,
            )
            .await?;
        self.record(
            account.id,
            SecurityEventKind::Reauthenticated,
            info,
            &[("method", "passkey".into())],
        )
        .await?;
        Ok(SignedIn {
            account,
            session,
            token,
        })
    }

    /// Re-authenticates the current session with a TOTP code: it becomes fresh at the
    /// account's strongest level and gets a new token.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecondFactor`] for a wrong, reused or throttled code.
    pub async fn reauthenticate_with_totp(
        &self,
        current: &EnrollingSession,
        code: &str,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.account_of(current).await?;
        if self.second_factor_throttled(&account).await? {
            return Err(Error::InvalidSecondFactor);
        }
        if !self.verify_totp_code(&account, code).await? {
            self.count_second_factor_failure(&account, AuthMethod::Totp, info)
                .await?;
            return Err(Error::InvalidSecondFactor);
        }
        self.clear_second_factor_failures(&account).await?;
        let now = self.now();
        let (session, token) = self
            .rotate_session(
                current,
                Authentication {
                    method: AuthMethod::Totp,
                    at: now,
                },
                AssuranceLevel::Two,
                current.stage,
            )
            .await?;
        self.record(
            account.id,
            SecurityEventKind::Reauthenticated,
            info,
            &[("method", "totp".into())],
        )
        .await?;
        Ok(SignedIn {
            account,
            session,
            token,
        })
    }

    /// Which second factors an account has: what a settings page shows.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn second_factors(&self, account: AccountId) -> Result<SecondFactors> {
        Ok(self.inner.store.second_factors(account).await?)
    }

    /// Removes every second factor of an account (TOTP, recovery codes, passkeys) and ends
    /// its sessions, for a user who lost their device. The caller must make sure `admin`
    /// is an administrator with a fresh session. The event is recorded on both accounts
    /// and the user is told by mail. Returns how many authenticators went.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown account.
    pub async fn reset_second_factors(
        &self,
        admin: AccountId,
        target: AccountId,
        info: &RequestInfo,
    ) -> Result<u64> {
        let account = self.account(target).await?;
        // The sessions end first: should removing the factors then fail, the account is
        // signed out with its factors, and the administrator tries again. The other order
        // could leave sessions signed in with the factors that vouched for them gone.
        self.end_sessions(target, None).await?;
        let removed = self.inner.store.delete_authenticators(target).await?;
        // The owner hears of the reset before it is logged (see `change_password`).
        self.notify_all_addresses(&account, |username| Message::SecondFactorsReset {
            username,
        });
        self.record(
            target,
            SecurityEventKind::SecondFactorsReset,
            info,
            &[("by", admin.to_string())],
        )
        .await?;
        self.record(
            admin,
            SecurityEventKind::SecondFactorsReset,
            info,
            &[
                ("account", target.to_string()),
                ("removed", removed.to_string()),
            ],
        )
        .await?;
        Ok(removed)
    }

    /// Refuses enrolling a second factor here for an external-directory account when the
    /// policy says the directory supplies it.
    pub(crate) async fn check_may_enrol(&self, account: &Account) -> Result<()> {
        if account.source.is_external() && self.policy().await?.directory_provides_second_factor {
            return Err(Error::ManagedExternally);
        }
        Ok(())
    }

    /// The account of a pending login, refusing a throttled account before any factor is
    /// checked.
    pub(crate) async fn pending_login(&self, pending: &PendingSession) -> Result<Account> {
        // Validation proved the session live when it was made; a host may keep the value
        // longer than the five minutes a pending login lives.
        if !pending.is_live(self.now()) {
            return Err(Error::Unauthenticated);
        }
        let account = self.account_of(pending).await?;
        if self.second_factor_throttled(&account).await? {
            return Err(Error::InvalidSecondFactor);
        }
        Ok(account)
    }

    /// Ends a second-factor attempt on a pending login: a wrong factor is counted on the
    /// session and on the account; a right one replaces the pending session with a full
    /// one at assurance level 2, recording both methods.
    pub(crate) async fn finish_second_factor(
        &self,
        pending: &PendingSession,
        account: Account,
        method: AuthMethod,
        ok: bool,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        if !ok {
            let attempts = self
                .inner
                .store
                .record_second_factor_attempt(pending.id)
                .await?;
            if attempts.is_none_or(|n| n >= PENDING_ATTEMPTS) {
                self.inner
                    .store
                    .delete_session(account.id, pending.id)
                    .await?;
            }
            self.count_second_factor_failure(&account, method, info)
                .await?;
            if attempts == Some(1) {
                self.notify_all_addresses(&account, |username| Message::SecondFactorFailed {
                    username,
                });
            }
            return Err(Error::InvalidSecondFactor);
        }
        self.clear_second_factor_failures(&account).await?;
        // The pending session is replaced, not upgraded: the full session gets a new id, a
        // new token and the full lifetime.
        if !self
            .inner
            .store
            .delete_session(account.id, pending.id)
            .await?
        {
            return Err(Error::Unauthenticated);
        }
        let now = self.now();
        let mut authentications = pending.authentications.clone();
        authentications.push(Authentication { method, at: now });
        let signed_in = self
            .start_session(
                account,
                authentications,
                AssuranceLevel::Two,
                SessionStage::Full,
                info,
            )
            .await?;
        self.record_login(&signed_in, info, &[("method", method_name(method).into())])
            .await?;
        Ok(signed_in)
    }

    async fn second_factor_throttled(&self, account: &Account) -> Result<bool> {
        let failures = self
            .inner
            .store
            .failures(account.id, FailureKind::SecondFactor)
            .await?;
        // The same growing delays as passwords, on the second-factor counter.
        Ok(self.throttled(failures))
    }

    pub(crate) async fn count_second_factor_failure(
        &self,
        account: &Account,
        method: AuthMethod,
        info: &RequestInfo,
    ) -> Result<()> {
        self.inner
            .store
            .record_failure(account.id, FailureKind::SecondFactor, self.now())
            .await?;
        self.record(
            account.id,
            SecurityEventKind::SecondFactorFailed,
            info,
            &[("method", method_name(method).into())],
        )
        .await
    }

    pub(crate) async fn clear_second_factor_failures(&self, account: &Account) -> Result<()> {
        let failures = self
            .inner
            .store
            .failures(account.id, FailureKind::SecondFactor)
            .await?;
        if failures.count > 0 {
            self.inner
                .store
                .clear_failures(account.id, FailureKind::SecondFactor)
                .await?;
        }
        Ok(())
    }
}

/// The name of a method in event details.
pub(crate) fn method_name(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Password => "password",
        AuthMethod::Passkey => "passkey",
        AuthMethod::Totp => "totp",
        AuthMethod::RecoveryCode => "recovery_code",
        AuthMethod::External => "external",
    }
}
