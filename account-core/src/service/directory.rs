//! Accounts of an external directory: checking their password with the directory,
//! refreshing the profile fields it manages, and which fields those are.

use super::Accounts;
use crate::directory::{Directory, DirectoryProfile, ManagedFields};
use crate::domain::Password;
use crate::error::{Error, Result};
use crate::model::SecurityEventKind;
use crate::model::{Account, AccountSource, AccountState, ProfileChange, RequestInfo};
use crate::store::{Conflict, StoreError};

/// A profile field that a directory may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProfileField {
    /// The display name.
    DisplayName,
    /// The primary or the recovery address.
    Email,
}

impl ProfileField {
    fn is_in(self, managed: ManagedFields) -> bool {
        match self {
            ProfileField::DisplayName => managed.display_name,
            ProfileField::Email => managed.email,
        }
    }
}

impl Accounts {
    /// The profile fields the account's directory owns: none for a local account, and
    /// every one for an account whose directory is not registered. Nothing here could
    /// refresh those, and a value changed here would quietly disagree with the directory
    /// once it is registered again.
    pub(crate) fn managed_fields(&self, account: &Account) -> ManagedFields {
        match &account.source {
            AccountSource::Local => ManagedFields::NONE,
            AccountSource::External { directory } => self
                .inner
                .directories
                .get(directory)
                .map_or(ManagedFields::ALL, |d| d.manages()),
        }
    }

    /// Whether the account's directory owns `field`.
    pub(crate) fn managed_by_directory(&self, account: &Account, field: ProfileField) -> bool {
        field.is_in(self.managed_fields(account))
    }

    /// Checks the password of an account of the directory `name` with that directory, in
    /// place of a stored hash; `Ok(true)` when it accepted it. A wrong password is counted
    /// against the login throttle exactly like a local one. On success the profile fields
    /// the directory manages are refreshed in the store and in `account` (an inactive
    /// account is left as it is: its login fails anyway).
    ///
    /// One dummy verification runs alongside the directory's check, so that an external
    /// account costs at least the time of a hash verification, like a local or an unknown
    /// one: the answer's timing cannot tell that the login went to a directory because it
    /// was quicker.
    ///
    /// # Errors
    ///
    /// [`Error::DirectoryUnavailable`] when the directory fails or none is registered
    /// under `name`; nothing is counted then, since the person may have typed the right
    /// password.
    pub(super) async fn check_directory_password(
        &self,
        account: &mut Account,
        name: &str,
        password: &Password,
        info: &RequestInfo,
    ) -> Result<bool> {
        let Some(directory) = self.inner.directories.get(name).cloned() else {
            self.dummy_verify(password).await?;
            tracing::warn!(
                account = %account.id,
                directory = name,
                "no directory is registered under the name of the account's directory"
            );
            return Err(Error::DirectoryUnavailable);
        };
        let (answer, spent) = tokio::join!(
            directory.authenticate(&account.username, password),
            self.dummy_verify(password)
        );
        spent?;
        match answer {
            Err(e) => {
                tracing::warn!(
                    account = %account.id,
                    directory = name,
                    error = %e,
                    "the directory could not check a password"
                );
                Err(Error::DirectoryUnavailable)
            }
            Ok(None) => {
                self.count_password_failure(account, info).await?;
                Ok(false)
            }
            Ok(Some(profile)) => {
                if account.state == AccountState::Active {
                    self.refresh_from_directory(account, directory.as_ref(), profile, info)
                        .await?;
                }
                Ok(true)
            }
        }
    }

    /// Writes the fields the directory manages where its answer differs from the account
    /// (an address it gives counts as verified, since it vouches for it), and records one
    /// `profile_updated` event naming them, `by=directory`.
    ///
    /// An address that belongs to another account here is not taken from it: the account
    /// keeps its old address and a warning is logged, since two directories (or a local
    /// account and a directory) disagree and an operator must decide.
    async fn refresh_from_directory(
        &self,
        account: &mut Account,
        directory: &dyn Directory,
        profile: DirectoryProfile,
        info: &RequestInfo,
    ) -> Result<()> {
        let managed = directory.manages();
        let mut fields = Vec::new();
        if managed.display_name
            && let Some(display_name) = profile.display_name
            && display_name != account.display_name
        {
            let change = ProfileChange {
                display_name: Some(display_name),
                language: None,
            };
            // An account deleted while it logs in is, to the person, one that never was.
            *account = self
                .inner
                .store
                .update_profile(account.id, &change, self.now())
                .await?
                .ok_or(Error::InvalidCredentials)?;
            fields.push("display_name");
        }
        if managed.email
            && let Some(email) = profile.email
            && (email != account.email || !account.email_verified)
        {
            let now = self.now();
            match self
                .inner
                .store
                .set_email(account.id, &email, true, now)
                .await
            {
                Ok(true) => {
                    account.email = email;
                    account.email_verified = true;
                    account.updated_at = now;
                    fields.push("email");
                }
                Ok(false) => return Err(Error::InvalidCredentials),
                Err(StoreError::Conflict(Conflict::Email)) => {
                    tracing::warn!(
                        account = %account.id,
                        directory = directory.name(),
                        email = %email.masked(),
                        "the directory's address belongs to another account; the old one is kept"
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        if fields.is_empty() {
            return Ok(());
        }
        self.record(
            account.id,
            SecurityEventKind::ProfileUpdated,
            info,
            &[
                ("fields", fields.join(",")),
                ("by", "directory".into()),
                ("directory", directory.name().to_owned()),
            ],
        )
        .await
    }
}
