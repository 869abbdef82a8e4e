//! App passwords: generated passwords for clients that can only send a username and a
//! password (mail, CalDAV, git over HTTP).
//!
//! An app password is made by the server (see [`crate::api_token`] for the format), shown
//! once, and stored as a SHA-256 digest; at 123 bits it can be neither guessed nor
//! recovered from its digest. [`Accounts::authenticate_app_password`] accepts it in place
//! of the account password and skips the second factor, by design: that is what it is
//! for. What it opens is therefore narrow. It never opens a session, the login route
//! refuses it (it is not the password), and account-axum's account routes want a session
//! cookie, so nothing authenticated by an app password can change the account's
//! password, addresses, factors, tokens, app passwords or SSH keys, or delete it.

use std::fmt;

use super::Accounts;
use super::sessions::SignedInSession;
use crate::api_token::AppPasswordSecret;
use crate::error::{AccessKind, Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AppPasswordId, AppPasswordRecord, LimitedInsert, RequestInfo,
    SecurityEventKind,
};

/// An app password just created: its record and, this once, the password.
pub struct CreatedAppPassword {
    /// The app password as it is stored and listed.
    pub app_password: AppPasswordRecord,
    /// The password itself, to show to its owner once.
    pub secret: AppPasswordSecret,
}

impl fmt::Debug for CreatedAppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedAppPassword")
            .field("app_password", &self.app_password)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A client authenticated with an app password: the account and which app password.
#[derive(Debug, Clone)]
pub struct AppPasswordLogin {
    /// The account (active).
    pub account: Account,
    /// The app password that was used.
    pub app_password: AppPasswordRecord,
}

impl Accounts {
    /// Creates an app password named `name` for the session's account, after a fresh
    /// authentication. Records `app_password_created` and mails a notice.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session; [`Error::Validation`] for
    /// a bad name; [`Error::LimitReached`] at the account's maximum of app passwords.
    pub async fn create_app_password(
        &self,
        current: &SignedInSession,
        name: &str,
        info: &RequestInfo,
    ) -> Result<CreatedAppPassword> {
        let name = super::parse_credential_name(name)?;
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let now = self.now();
        let secret = AppPasswordSecret::generate(self.rng());
        let app_password = AppPasswordRecord {
            id: AppPasswordId::generate(now, self.rng()),
            account_id: account.id,
            name,
            digest: secret.digest(),
            created_at: now,
            last_used_at: None,
        };
        let limit = self.inner.config.access_limits.app_passwords;
        match self
            .inner
            .store
            .insert_app_password(&app_password, limit)
            .await?
        {
            LimitedInsert::Inserted => {}
            LimitedInsert::LimitReached => {
                return Err(Error::LimitReached(AccessKind::AppPasswords));
            }
        }
        let credential = app_password_in_words(&app_password);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::AppPasswordCreated,
            info,
            &app_password_details(&app_password),
            |username| Message::AccessCreated {
                username,
                credential: credential.clone(),
            },
        )
        .await?;
        Ok(CreatedAppPassword {
            app_password,
            secret,
        })
    }

    /// The account's app passwords, oldest first: name, created, last used. Never the
    /// passwords.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn app_passwords(&self, account: AccountId) -> Result<Vec<AppPasswordRecord>> {
        Ok(self.inner.store.app_passwords_of(account).await?)
    }

    /// Revokes one of the account's app passwords; it stops working at once. Needs a
    /// signed-in session but no fresh authentication. Records `app_password_revoked` and
    /// mails a notice.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] when the session's account is gone or disabled;
    /// [`Error::NotFound`] when the account has no such app password.
    pub async fn revoke_app_password(
        &self,
        current: &SignedInSession,
        id: AppPasswordId,
        info: &RequestInfo,
    ) -> Result<()> {
        let account = self.account_of(current).await?;
        let app_password = self
            .inner
            .store
            .delete_app_password(account.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        let credential = app_password_in_words(&app_password);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::AppPasswordRevoked,
            info,
            &app_password_details(&app_password),
            |username| Message::AccessRemoved {
                username,
                credential: credential.clone(),
            },
        )
        .await
    }

    /// Checks a username (or primary address) and an app password, for a client that
    /// can only send those two. The account password is never accepted here, and no
    /// second factor is asked: an app password stands for the whole login.
    ///
    /// Input that cannot be an app password is refused without asking the store;
    /// otherwise the app password is read by its digest and must belong to the named,
    /// active account. Failures are not counted against the account's login throttle: a
    /// mail client left with a revoked app password would otherwise lock its owner out of
    /// the web, and at 123 bits guessing is hopeless anyway. Hosts limit requests per
    /// address (account-axum's `AppPasswordAuth` does). The last use is recorded at most
    /// once a minute.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for every mismatch alike: an unknown login, a
    /// malformed, unknown or revoked app password, one of another account, a disabled
    /// account.
    pub async fn authenticate_app_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<AppPasswordLogin> {
        let secret = AppPasswordSecret::parse(password).ok_or(Error::InvalidCredentials)?;
        let store = &self.inner.store;
        let found = store.app_password_by_digest(&secret.digest()).await?;
        let account = self.find_by_login(login).await?;
        let (Some(mut app_password), Some(account)) = (found, account) else {
            return Err(Error::InvalidCredentials);
        };
        if app_password.account_id != account.id
            || account.state != crate::model::AccountState::Active
        {
            return Err(Error::InvalidCredentials);
        }
        let now = self.now();
        if self.touch_due(app_password.last_used_at, now) {
            store.touch_app_password(app_password.id, now).await?;
            app_password.last_used_at = Some(now);
        }
        Ok(AppPasswordLogin {
            account,
            app_password,
        })
    }
}

/// An app password in the words of a notice.
fn app_password_in_words(app_password: &AppPasswordRecord) -> String {
    format!("the app password \"{}\"", app_password.name)
}

/// What the security log says about an app password.
fn app_password_details(app_password: &AppPasswordRecord) -> Vec<(&'static str, String)> {
    vec![
        ("app_password", app_password.id.to_string()),
        ("name", app_password.name.clone()),
    ]
}
