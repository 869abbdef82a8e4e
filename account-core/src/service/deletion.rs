//! Deleting an account: by its owner, or by an administrator.

use super::Accounts;
use super::sessions::SignedInSession;
use crate::domain::{Field, Rule, Username, ValidationError};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AccountRemoval, EventId, RequestInfo, SecurityEvent, SecurityEventKind,
};

/// Who deletes an account.
#[derive(Debug, Clone, Copy)]
enum DeletedBy {
    Owner,
    Admin(AccountId),
}

impl Accounts {
    /// Deletes the signed-in user's own account, for good. It needs a recent
    /// authentication with the account's strongest factor, and the username typed again
    /// (`confirm_username`), so neither a stolen stale session nor a slip of the mouse can
    /// do it. The host's [`before_delete`](crate::hooks::AccountHooks::before_delete) hook
    /// may refuse. In one store step the account and everything that authenticated it go
    /// (see [`AccountStore::delete_account`](crate::store::AccountStore::delete_account));
    /// the username is never given out again, the address is free, every address gets a
    /// notice, and the security log keeps only that the account existed and was deleted.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`]; [`Error::Validation`] for `confirm_username`
    /// with `mismatch`; [`Error::DeletionRefused`]; [`Error::LastAdmin`] for the last
    /// active administrator.
    pub async fn delete_own_account(
        &self,
        session: &SignedInSession,
        confirm_username: &str,
        info: &RequestInfo,
    ) -> Result<()> {
        let account = self.account_of(session).await?;
        self.require_fresh(session).await?;
        let typed = Username::parse(confirm_username).ok();
        if typed.as_ref() != Some(&account.username) {
            return Err(ValidationError::new(Field::ConfirmUsername, Rule::Mismatch).into());
        }
        self.erase(account, DeletedBy::Owner, info).await?;
        Ok(())
    }

    /// Deletes another account as an administrator: the same erasure as
    /// [`delete_own_account`](Accounts::delete_own_account), recorded as done by `admin`
    /// (on the deleted account's record and on the administrator's own log). The caller
    /// has checked that `admin` is an administrator with a fresh session.
    ///
    /// # Errors
    ///
    /// [`Error::OwnAccount`] for the administrator's own account; [`Error::NotFound`];
    /// [`Error::DeletionRefused`]; [`Error::LastAdmin`].
    pub async fn delete_account_as_admin(
        &self,
        admin: AccountId,
        id: AccountId,
        info: &RequestInfo,
    ) -> Result<()> {
        if admin == id {
            return Err(Error::OwnAccount);
        }
        let account = self.account(id).await?;
        let gone = self.erase(account, DeletedBy::Admin(admin), info).await?;
        self.record(
            admin,
            SecurityEventKind::DeletedAccount,
            info,
            &[
                ("account", gone.id.to_string()),
                ("username", gone.username.as_str().to_owned()),
            ],
        )
        .await
    }

    /// Asks the host, deletes in one store step with the minimal record, tells every
    /// address and the host. Returns the account as it was.
    async fn erase(&self, account: Account, by: DeletedBy, info: &RequestInfo) -> Result<Account> {
        let hooks = &self.inner.hooks;
        hooks
            .before_delete(&account)
            .await
            .map_err(|refused| Error::DeletionRefused(refused.reason().to_owned()))?;
        let at = self.now();
        // Only what the log must keep: which account, its username, when and by whom. No
        // address, no user agent: the person's data goes with the account.
        let record = SecurityEvent {
            id: EventId::generate(at, self.rng()),
            account_id: account.id,
            at,
            kind: SecurityEventKind::AccountDeleted,
            ip: None,
            user_agent: None,
            details: [
                ("username".to_owned(), account.username.as_str().to_owned()),
                (
                    "by".to_owned(),
                    match by {
                        DeletedBy::Owner => "self".to_owned(),
                        DeletedBy::Admin(admin) => admin.to_string(),
                    },
                ),
            ]
            .into(),
        };
        let gone = match self.inner.store.delete_account(account.id, &record).await? {
            AccountRemoval::Removed(gone) => *gone,
            AccountRemoval::NotFound => return Err(Error::NotFound),
            AccountRemoval::LastAdmin => return Err(Error::LastAdmin),
        };
        tracing::info!(account = %gone.id, by = ?by, ip = ?info.ip, "account deleted");
        let by_administrator = matches!(by, DeletedBy::Admin(_));
        self.notify_all_addresses(&gone, |username| Message::AccountDeleted {
            username,
            by_administrator,
        });
        hooks.after_delete(&gone).await;
        Ok(gone)
    }
}
