//! The administrator's side: the list of accounts, one account in detail, changing an
//! account (profile fields even when profiles are locked, the role, enabling and
//! disabling), and ending its sessions. Creating an account is in `accounts.rs`, deleting
//! one in `deletion.rs`, the 2FA reset in `second_factor.rs`.
//!
//! These take the administrator's account id: the caller (the HTTP adapter's admin
//! extractor) has checked the role, and the freshness of the session for changes.

use chrono::{DateTime, Utc};

use super::Accounts;
use super::accounts::address_in_use;
use super::directory::ProfileField;
use crate::domain::{DisplayName, EmailAddress};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountChange, AccountCursor, AccountId, AccountQuery, AccountState, AccountUpdate,
    EventFilter, EventPage, RequestInfo, Role, SecondFactors, SecurityEventKind,
};
use crate::store::{Conflict, StoreError};

/// The most accounts one page of the list holds.
pub const MAX_ACCOUNT_PAGE: u32 = 200;

/// One page of the list of accounts.
#[derive(Debug, Clone)]
pub struct AccountPage {
    /// The accounts, oldest first.
    pub accounts: Vec<Account>,
    /// Where the next page starts, or `None` when this is the last.
    pub next: Option<AccountCursor>,
}

/// One account as an administrator sees it: no secret, and what helps with a support
/// request (its second factors, whether it is signed in anywhere, its last login).
#[derive(Debug, Clone)]
pub struct AccountDetails {
    /// The account.
    pub account: Account,
    /// Which second factors it has.
    pub second_factors: SecondFactors,
    /// How many sessions are signed in now.
    pub live_sessions: u32,
    /// When it last logged in, if the log still says.
    pub last_login_at: Option<DateTime<Utc>>,
    /// How it last logged in (`password`, `passkey`, `external`), if the log still says.
    pub last_login_method: Option<String>,
}

/// What an administrator changes of an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChangeByAdmin {
    /// A new display name.
    pub display_name: Option<DisplayName>,
    /// A new primary address: stored unverified, and a verification link goes there.
    pub email: Option<EmailAddress>,
    /// A new role.
    pub role: Option<Role>,
    /// Enable or disable the account. Disabling ends every session at once, and every
    /// token and app password stops working.
    pub state: Option<AccountState>,
}

impl Accounts {
    /// A page of the list of accounts, oldest first, filtered as `query` says (its limit
    /// is capped at [`MAX_ACCOUNT_PAGE`]). Pages are stable: an account created meanwhile
    /// comes at the end.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn list_accounts(&self, query: AccountQuery) -> Result<AccountPage> {
        let limit = query.limit.clamp(1, MAX_ACCOUNT_PAGE);
        // One more than asked tells whether another page follows.
        let mut accounts = self
            .inner
            .store
            .list_accounts(&AccountQuery {
                limit: limit + 1,
                ..query
            })
            .await?;
        let more = accounts.len() > limit as usize;
        accounts.truncate(limit as usize);
        let next = if more {
            accounts.last().map(Account::cursor)
        } else {
            None
        };
        Ok(AccountPage { accounts, next })
    }

    /// One account in detail.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`].
    pub async fn account_details(&self, id: AccountId) -> Result<AccountDetails> {
        let account = self.account(id).await?;
        let store = &self.inner.store;
        let second_factors = store.second_factors(id).await?;
        let now = self.now();
        let live_sessions = store
            .sessions_of(id)
            .await?
            .iter()
            .filter(|s| s.is_live(now) && s.stage == crate::model::SessionStage::Full)
            .count();
        let last_login = store
            .events(
                &EventFilter {
                    account: Some(id),
                    kind: Some(SecurityEventKind::LoginSucceeded),
                    since: None,
                },
                EventPage {
                    before: None,
                    limit: 1,
                },
            )
            .await?
            .pop();
        Ok(AccountDetails {
            account,
            second_factors,
            live_sessions: u32::try_from(live_sessions).unwrap_or(u32::MAX),
            last_login_at: last_login.as_ref().map(|e| e.at),
            last_login_method: last_login.and_then(|mut e| e.details.remove("method")),
        })
    }

    /// Changes an account as an administrator, in one store step: the display name and
    /// the address (also of a locked profile: the lock is for users, not administrators),
    /// the role, and the state. Disabling ends every session in the same step, so the
    /// account is signed out everywhere at once, and its tokens and app passwords stop
    /// working (they check the state on every use). A new address is unverified until its
    /// owner follows the link mailed there; the old address is told.
    ///
    /// An administrator cannot demote or disable themselves, nor the last active
    /// administrator.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::OwnAccount`]; [`Error::LastAdmin`];
    /// [`Error::ManagedExternally`] for a field an external directory manages;
    /// [`Error::Validation`] for `email` with `reserved` when another account has the
    /// address (administrators may know that).
    pub async fn change_account(
        &self,
        admin: AccountId,
        id: AccountId,
        change: AccountChangeByAdmin,
        info: &RequestInfo,
    ) -> Result<Account> {
        let before = self.account(id).await?;
        let steps_down = change
            .role
            .is_some_and(|r| r != before.role && r != Role::Admin)
            || change
                .state
                .is_some_and(|s| s != before.state && s != AccountState::Active);
        if admin == id && steps_down {
            return Err(Error::OwnAccount);
        }
        // The directory's fields are the directory's, for administrators too: a value
        // changed here would be overwritten at the next login.
        if (change.display_name.is_some()
            && self.managed_by_directory(&before, ProfileField::DisplayName))
            || (change.email.is_some() && self.managed_by_directory(&before, ProfileField::Email))
        {
            return Err(Error::ManagedExternally);
        }
        // Only what really changes, so the log and the notices say what happened.
        let change = AccountChange {
            display_name: change.display_name.filter(|n| *n != before.display_name),
            email: change.email.filter(|e| *e != before.email),
            role: change.role.filter(|r| *r != before.role),
            state: change.state.filter(|s| *s != before.state),
        };
        if change.is_empty() {
            return Ok(before);
        }
        let update = self
            .inner
            .store
            .change_account(id, &change, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(Conflict::Email) => address_in_use(),
                other => Error::from(other),
            })?;
        let (account, sessions_ended) = match update {
            AccountUpdate::Changed {
                account,
                sessions_ended,
            } => (*account, sessions_ended),
            AccountUpdate::NotFound => return Err(Error::NotFound),
            AccountUpdate::LastAdmin => return Err(Error::LastAdmin),
        };
        let by = ("by", admin.to_string());
        let mut fields = Vec::new();
        for (name, changed) in [
            ("display_name", change.display_name.is_some()),
            ("email", change.email.is_some()),
            ("role", change.role.is_some()),
        ] {
            if changed {
                fields.push(name);
            }
        }
        if !fields.is_empty() {
            self.record(
                id,
                SecurityEventKind::ChangedByAdmin,
                info,
                &[by.clone(), ("fields", fields.join(","))],
            )
            .await?;
        }
        if let Some(email) = &change.email {
            self.notify(
                &before.email,
                Message::EmailChanged {
                    username: account.username.clone(),
                    new_address_masked: email.masked(),
                },
            );
            self.send_email_verification(&account, email).await?;
        }
        match change.state {
            Some(AccountState::Disabled) => {
                self.record(
                    id,
                    SecurityEventKind::AccountDisabled,
                    info,
                    &[by, ("sessions_ended", sessions_ended.to_string())],
                )
                .await?;
                self.inner.hooks.after_disable(&account).await;
            }
            Some(AccountState::Active) => {
                self.record(id, SecurityEventKind::AccountEnabled, info, &[by])
                    .await?;
            }
            None => {}
        }
        Ok(account)
    }

    /// Ends every session of an account, as an administrator (a stolen laptop, a
    /// suspected takeover). Its tokens and app passwords are left: they are revoked one by
    /// one, or all at once by disabling the account.
    ///
    /// Returns how many sessions ended.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`].
    pub async fn revoke_sessions_as_admin(
        &self,
        admin: AccountId,
        id: AccountId,
        info: &RequestInfo,
    ) -> Result<u64> {
        let account = self.account(id).await?;
        let ended = self.end_sessions(account.id, None).await?;
        self.record(
            id,
            SecurityEventKind::SessionsRevokedByAdmin,
            info,
            &[("by", admin.to_string()), ("sessions", ended.to_string())],
        )
        .await?;
        Ok(ended)
    }
}
