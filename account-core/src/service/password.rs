//! Changing the password while signed in.

use super::Accounts;
use super::sessions::{SignedIn, SignedInSession};
use crate::domain::Password;
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountSource, AssuranceLevel, AuthMethod, Authentication, RequestInfo,
    SecurityEventKind, SecurityStamp,
};
use crate::password::{PasswordContext, Verification};

impl Accounts {
    /// Changes the password. The current password is required (it is also the
    /// re-authentication for this sensitive action); every other session of the account
    /// ends, the current session gets a new token, older reset and verification links die,
    /// and every address of the account is told.
    ///
    /// A store that fails part-way leaves the password as it was (the other sessions
    /// perhaps ended, the current one perhaps signed out), or changed with every other
    /// session ended and the owner told (only the log entry perhaps missing); the call
    /// answers the error either way.
    ///
    /// A wrong current password counts as a failed login, so a stolen session cannot be
    /// used to guess the password without limit.
    ///
    /// # Errors
    ///
    /// [`Error::CurrentPasswordIncorrect`]; [`Error::WeakPassword`];
    /// [`Error::ManagedExternally`].
    pub async fn change_password(
        &self,
        current: &SignedInSession,
        current_password: &Password,
        new_password: &Password,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let mut account = self.account_of(current).await?;
        // The password is the directory's, whatever fields it leaves to the user.
        if account.source.is_external() {
            return Err(Error::ManagedExternally);
        }
        if !self
            .check_password(&mut account, current_password, info)
            .await?
        {
            return Err(Error::CurrentPasswordIncorrect);
        }
        let hash = self
            .hash_new_password(&account, new_password, false)
            .await?;
        let now = self.now();
        // The current session gets its new token before the password changes: should the
        // change then fail, the new token never reaches the client and the session is as
        // good as ended, which is safe; the other order could leave a new password on a
        // session whose old token (perhaps seen by someone else) still works.
        let (session, token) = self
            .rotate_session(
                current,
                Authentication {
                    method: AuthMethod::Password,
                    at: now,
                },
                AssuranceLevel::One,
                current.stage,
            )
            .await?;
        let stamp = SecurityStamp::generate(self.rng());
        // The password and the end of every other session are one store step, from the
        // stamp read above, so no failure leaves the new password with the other sessions
        // still signed in, and of two concurrent changes one wins.
        if !self
            .inner
            .store
            .set_password_hash(
                account.id,
                &hash,
                &stamp,
                &account.security_stamp,
                Some(current.id),
                now,
            )
            .await?
        {
            // Another change came first, and ended this session.
            return Err(Error::Unauthenticated);
        }
        // The owner hears of the change before it is logged: a failed log write leaves
        // the change made, and the notice must not depend on it.
        self.notify_all_addresses(&account, |username| Message::PasswordChanged { username });
        self.record(account.id, SecurityEventKind::PasswordChanged, info, &[])
            .await?;
        let account = Account {
            security_stamp: stamp,
            ..account
        };
        Ok(SignedIn {
            account,
            session,
            token,
        })
    }

    /// Checks a new password against the policy in the account's context and hashes it.
    pub(crate) async fn hash_new_password(
        &self,
        account: &Account,
        password: &Password,
        has_second_factor: bool,
    ) -> Result<crate::password::PasswordHash> {
        let policy = self.policy().await?;
        policy.passwords.check(
            password,
            &PasswordContext {
                username: Some(account.username.as_str()),
                email: Some(&account.email),
                display_name: Some(account.display_name.as_str()),
                service_name: Some(&self.inner.config.product_name),
                has_second_factor,
            },
        )?;
        Ok(self.inner.hasher.hash(password).await?)
    }

    /// Verifies the account's password, counting a failure against the login throttle and
    /// upgrading an outdated hash on success. Returns whether it matched.
    ///
    /// The password of an account of an external directory is the directory's to check
    /// (its stored hash, if it has one, plays no part), and a success refreshes the fields
    /// the directory manages, in `account` too: see `check_directory_password`. Login and
    /// re-authentication both come here, so both take that path.
    ///
    /// # Errors
    ///
    /// [`Error::DirectoryUnavailable`] when an external account's directory cannot answer.
    pub(crate) async fn check_password(
        &self,
        account: &mut Account,
        password: &Password,
        info: &RequestInfo,
    ) -> Result<bool> {
        if let AccountSource::External { directory } = &account.source {
            let directory = directory.clone();
            return self
                .check_directory_password(account, &directory, password, info)
                .await;
        }
        let Some(hash) = self.inner.store.password_hash(account.id).await? else {
            self.dummy_verify(password).await?;
            return Ok(false);
        };
        match self.verify_password(password, &hash).await? {
            Verification::Invalid => {
                self.count_password_failure(account, info).await?;
                Ok(false)
            }
            Verification::Valid { needs_rehash } => {
                if needs_rehash {
                    let upgraded = self.inner.hasher.hash(password).await?;
                    if self
                        .inner
                        .store
                        .upgrade_password_hash(account.id, &hash, &upgraded)
                        .await?
                    {
                        self.record(
                            account.id,
                            SecurityEventKind::PasswordHashUpgraded,
                            info,
                            &[],
                        )
                        .await?;
                    }
                }
                Ok(true)
            }
        }
    }

    /// Sends a notice to the primary address and, when it is set, the recovery address.
    pub(crate) fn notify_all_addresses(
        &self,
        account: &Account,
        message: impl Fn(crate::domain::Username) -> Message,
    ) {
        self.notify(&account.email, message(account.username.clone()));
        if let Some(recovery) = &account.recovery_email
            && recovery.lookup_key() != account.email.lookup_key()
        {
            self.notify(recovery, message(account.username.clone()));
        }
    }
}
