//! Logging in with a password, and re-authenticating a session for sensitive actions.

use super::Accounts;
use super::sessions::{EnrollingSession, SignedIn};
use crate::domain::{EmailAddress, Password, Username};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountState, AssuranceLevel, AuthMethod, Authentication, FailureKind, Failures,
    RequestInfo, SecurityEventKind, SessionStage,
};
use crate::password::MAX_PASSWORD_BYTES;

/// How a login ended, when it did not fail.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// The account is signed in with a new session.
    SignedIn(SignedIn),
    /// The password was right and the account has a second factor: `pending` is a
    /// short-lived session that only the second-factor steps accept (5 minutes, a few
    /// attempts), and `methods` are the factors that can finish the login.
    SecondFactorRequired {
        /// The pending session and its token.
        pending: SignedIn,
        /// The second factors the account has.
        methods: Vec<SecondFactorMethod>,
    },
}

/// A second factor that can finish a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactorMethod {
    /// A code from an authenticator app.
    Totp,
    /// One of the recovery codes.
    RecoveryCode,
    /// A passkey.
    Passkey,
}

impl Accounts {
    /// Logs in with a username or an email address and a password.
    ///
    /// Failures are counted per account in the store, whatever address they come from:
    /// from the fifth consecutive failure on each attempt must wait a growing delay, and
    /// from the hundredth logins are locked for a while (a password reset still works).
    /// An unknown login, a wrong password, a disabled account and a throttled or locked
    /// one all get the same [`Error::InvalidCredentials`], and each costs one password
    /// verification (a dummy one where there is no hash), so neither the answer nor its
    /// timing tells them apart.
    ///
    /// The password of an account of an external directory is checked by that directory
    /// ([`AccountsBuilder::directory`](crate::AccountsBuilder::directory)), under the same
    /// throttle and with the same answers; a success refreshes the profile fields the
    /// directory manages, and the second factor and the "require 2FA" policy then apply as
    /// for a local account.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`]; [`Error::WeakPassword`] with `too_large` for a
    /// password over 1 KiB, refused before any lookup or hashing;
    /// [`Error::DirectoryUnavailable`] when an external account's directory cannot answer
    /// (nothing is counted against the account); [`Error::RateLimited`] (one second) when
    /// every password hasher is busy and their queue is full, before any lookup.
    pub async fn login(
        &self,
        login: &str,
        password: &Password,
        info: &RequestInfo,
    ) -> Result<LoginOutcome> {
        if password.byte_len() > MAX_PASSWORD_BYTES {
            return Err(crate::password::PasswordRejection::TooLarge {
                max_bytes: MAX_PASSWORD_BYTES,
            }
            .into());
        }
        // When every hasher is busy and the queue is full, the login is refused before it
        // costs the store anything: a flood of logins then costs little more than its
        // refusals (429), whoever it names.
        if !self.inner.hasher.has_room() {
            return Err(crate::password::HashError::Busy.into());
        }
        let Some(mut account) = self.find_by_login(login).await? else {
            self.dummy_verify(password).await?;
            return Err(Error::InvalidCredentials);
        };
        // A browser that has signed in here before has a budget of its own.
        let kind = self.password_failure_kind(&account, info);
        let failures = self.inner.store.failures(account.id, kind).await?;
        if self.throttled(failures) {
            self.dummy_verify(password).await?;
            self.record(
                account.id,
                SecurityEventKind::LoginFailed,
                info,
                &[
                    ("method", "password".into()),
                    ("reason", "throttled".into()),
                ],
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        // The password is checked before the account state so that a disabled account
        // costs the same time as an active one. An account of an external directory is
        // checked by its directory, which may refresh its profile here.
        let matched = self.check_password(&mut account, password, info).await?;
        if !matched || account.state != AccountState::Active {
            let reason = if matched {
                "disabled"
            } else {
                "wrong_password"
            };
            self.record(
                account.id,
                SecurityEventKind::LoginFailed,
                info,
                &[("method", "password".into()), ("reason", reason.into())],
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        if failures.count > 0 {
            self.inner.store.clear_failures(account.id, kind).await?;
        }
        let now = self.now();
        let password = vec![Authentication {
            method: AuthMethod::Password,
            at: now,
        }];
        let factors = self.inner.store.second_factors(account.id).await?;
        if factors.any() {
            let mut methods = Vec::new();
            if factors.totp {
                methods.push(SecondFactorMethod::Totp);
            }
            if factors.recovery_codes_left > 0 {
                methods.push(SecondFactorMethod::RecoveryCode);
            }
            if factors.passkeys > 0 {
                methods.push(SecondFactorMethod::Passkey);
            }
            let pending = self
                .start_session(
                    account,
                    password,
                    AssuranceLevel::One,
                    SessionStage::SecondFactorPending { attempts: 0 },
                    info,
                )
                .await?;
            return Ok(LoginOutcome::SecondFactorRequired { pending, methods });
        }
        // An account without a second factor under a policy that requires one may only
        // enrol one.
        let stage = if self.policy().await?.require_second_factor {
            SessionStage::EnrollmentOnly
        } else {
            SessionStage::Full
        };
        let signed_in = self
            .start_session(account, password, AssuranceLevel::One, stage, info)
            .await?;
        self.record_login(&signed_in, info, &[("method", "password".into())])
            .await?;
        Ok(LoginOutcome::SignedIn(signed_in))
    }

    /// Re-authenticates the current session with the password, for sensitive actions: the
    /// session counts as fresh again and gets a new token (the old one dies at once). A
    /// session the "require 2FA" policy restricts to enrolling may do it too
    /// ([`EnrollingSession`]), and stays restricted.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for a wrong password or a throttled account (the
    /// failure counts against the login throttle); [`Error::DirectoryUnavailable`] when an
    /// external account's directory cannot answer.
    pub async fn reauthenticate(
        &self,
        current: &EnrollingSession,
        password: &Password,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        if password.byte_len() > MAX_PASSWORD_BYTES {
            return Err(crate::password::PasswordRejection::TooLarge {
                max_bytes: MAX_PASSWORD_BYTES,
            }
            .into());
        }
        let mut account = self.account_of(current).await?;
        let kind = self.password_failure_kind(&account, info);
        let failures = self.inner.store.failures(account.id, kind).await?;
        if self.throttled(failures) {
            self.dummy_verify(password).await?;
            return Err(Error::InvalidCredentials);
        }
        if !self.check_password(&mut account, password, info).await? {
            self.record(
                account.id,
                SecurityEventKind::LoginFailed,
                info,
                &[
                    ("method", "password".into()),
                    ("reason", "reauthentication".into()),
                ],
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        if failures.count > 0 {
            self.inner.store.clear_failures(account.id, kind).await?;
        }
        let now = self.now();
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
        self.record(
            account.id,
            SecurityEventKind::Reauthenticated,
            info,
            &[("method", "password".into())],
        )
        .await?;
        Ok(SignedIn {
            account,
            session,
            token,
        })
    }

    /// Starts a session for a directory-managed account that the host application has
    /// authenticated itself against its directory (a single sign-on it runs itself). The
    /// password and the login throttle here play no part: the directory owns both. A host
    /// that registers the directory with
    /// [`AccountsBuilder::directory`](crate::AccountsBuilder::directory) lets
    /// [`Accounts::login`] ask it instead.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown account; [`Error::InvalidCredentials`] for a
    /// local or disabled account (a local account must log in with its password).
    pub async fn sign_in_external(
        &self,
        account: crate::model::AccountId,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let account = self.account(account).await?;
        if !account.source.is_external() || account.state != AccountState::Active {
            return Err(Error::InvalidCredentials);
        }
        let now = self.now();
        let signed_in = self
            .start_session(
                account,
                vec![Authentication {
                    method: AuthMethod::External,
                    at: now,
                }],
                AssuranceLevel::One,
                SessionStage::Full,
                info,
            )
            .await?;
        self.record_login(&signed_in, info, &[("method", "external".into())])
            .await?;
        Ok(signed_in)
    }

    /// The account a login names: an email address when it has an `@`, else a username.
    /// Input that cannot be either names no account.
    pub(super) async fn find_by_login(&self, login: &str) -> Result<Option<Account>> {
        let store = &self.inner.store;
        Ok(if login.contains('@') {
            match EmailAddress::parse(login) {
                Ok(email) => store.account_by_email(&email).await?,
                Err(_) => None,
            }
        } else {
            match Username::parse(login) {
                Ok(username) => store.account_by_username(&username).await?,
                Err(_) => None,
            }
        })
    }

    /// Whether an account with these failures must wait before its next attempt.
    pub(crate) fn throttled(&self, failures: Failures) -> bool {
        let wait = self.inner.config.login_throttle.wait_after(failures.count);
        failures
            .last_at
            .is_some_and(|last| self.now() < last + wait)
    }

    /// Which counter a wrong password of this request goes to: the account's known
    /// devices' when the request brings a valid known-device cookie, everyone else's
    /// otherwise.
    pub(crate) fn password_failure_kind(
        &self,
        account: &Account,
        info: &RequestInfo,
    ) -> FailureKind {
        match &info.device_cookie {
            Some(cookie) if crate::known_device::is_for(cookie, account) => {
                FailureKind::KnownDevicePassword
            }
            _ => FailureKind::Password,
        }
    }

    /// The known-device cookie for a browser that has just proved `account`'s password
    /// (a login's first step succeeded): set it, and that browser's wrong passwords for
    /// the account are counted apart from a stranger's from then on (SECURITY.md M47).
    pub fn device_cookie(&self, account: &Account) -> crate::known_device::DeviceCookie {
        crate::known_device::issue(account, &*self.inner.rng)
    }

    /// Counts a wrong password, against the counter of
    /// [`password_failure_kind`](Self::password_failure_kind); at the lock threshold the
    /// owner is told by mail.
    pub(crate) async fn count_password_failure(
        &self,
        account: &Account,
        info: &RequestInfo,
    ) -> Result<()> {
        let kind = self.password_failure_kind(account, info);
        let failures = self
            .inner
            .store
            .record_failure(account.id, kind, self.now())
            .await?;
        let throttle = self.inner.config.login_throttle;
        if failures.count == throttle.lock_after {
            self.record(
                account.id,
                SecurityEventKind::LoginLocked,
                info,
                &[("failures", failures.count.to_string())],
            )
            .await?;
            self.notify(
                &account.email,
                Message::AccountTemporarilyLocked {
                    username: account.username.clone(),
                    minutes: throttle.lock_duration.num_minutes(),
                },
            );
        }
        Ok(())
    }
}
