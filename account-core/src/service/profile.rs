//! The profile: display name, language and avatar. The username never changes.

use super::Accounts;
use super::directory::ProfileField;
use crate::avatar::{Avatar, process_avatar};
use crate::blocking::Refused;
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, ProfileChange, RequestInfo, SecurityEventKind};

// These take the account, not a session: a personal API token with the write scope may
// change the profile and the avatar too (the HTTP adapter decides who may call them).
impl Accounts {
    /// Changes the display name and/or the language. A locked profile, or a directory
    /// that manages the account's display name, refuses a display-name change; the
    /// language is always the user's to choose.
    ///
    /// # Errors
    ///
    /// [`Error::ProfileLocked`]; [`Error::ManagedExternally`].
    pub async fn update_profile(
        &self,
        account: AccountId,
        change: ProfileChange,
        info: &RequestInfo,
    ) -> Result<Account> {
        let account = self.active_account(account).await?;
        if change.is_empty() {
            return Ok(account);
        }
        if change.display_name.is_some() {
            self.check_profile_editable(&account, ProfileField::DisplayName)
                .await?;
        }
        let mut fields = Vec::new();
        if change.display_name.is_some() {
            fields.push("display_name");
        }
        if change.language.is_some() {
            fields.push("language");
        }
        let updated = self
            .inner
            .store
            .update_profile(account.id, &change, self.now())
            .await?
            .ok_or(Error::Unauthenticated)?;
        self.record(
            account.id,
            SecurityEventKind::ProfileUpdated,
            info,
            &[("fields", fields.join(","))],
        )
        .await?;
        Ok(updated)
    }

    /// Sets the avatar from an uploaded image: checked by its content (PNG, JPEG or WebP,
    /// at most 1 MiB), decoded with dimension limits, and stored re-encoded as a square of
    /// at most 256×256. The work runs on the blocking pool, a bounded number of uploads
    /// at a time ([`AvatarLimits`](crate::avatar::AvatarLimits)).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidAvatar`] naming the problem; [`Error::RateLimited`] when the
    /// account has uploaded too many avatars lately, or when every decoding turn is taken
    /// (then before anything is decoded).
    pub async fn set_avatar(
        &self,
        account: AccountId,
        upload: Vec<u8>,
        info: &RequestInfo,
    ) -> Result<Account> {
        let limits = self.inner.config.avatar.clone();
        if upload.len() > limits.max_upload_bytes {
            return Err(crate::avatar::AvatarError::TooLarge {
                max_bytes: limits.max_upload_bytes,
            }
            .into());
        }
        if !self.inner.avatars.has_room() {
            return Err(Error::RateLimited {
                retry_after_secs: 1,
            });
        }
        if let Some(limit) = limits.per_account {
            self.check_rate_limit(&format!("avatar:{account}"), limit)
                .await?;
        }
        let avatar = self
            .inner
            .avatars
            .run(move || process_avatar(&upload, &limits))
            .await
            .map_err(|refused| match refused {
                // Every turn was taken: the client may come back in a second.
                Refused::Busy => Error::RateLimited {
                    retry_after_secs: 1,
                },
                Refused::Failed(what) => Error::Internal(format!("avatar processing {what}")),
            })??;
        let id = account;
        if !self
            .inner
            .store
            .set_avatar(id, Some(&avatar), self.now())
            .await?
        {
            return Err(Error::Unauthenticated);
        }
        self.record(
            id,
            SecurityEventKind::AvatarChanged,
            info,
            &[("type", avatar.content_type().to_owned())],
        )
        .await?;
        self.account(id).await
    }

    /// Removes the avatar.
    ///
    /// # Errors
    ///
    /// Only storage errors; removing an absent avatar succeeds.
    pub async fn remove_avatar(&self, account: AccountId, info: &RequestInfo) -> Result<Account> {
        let id = account;
        if !self.inner.store.set_avatar(id, None, self.now()).await? {
            return Err(Error::Unauthenticated);
        }
        self.record(id, SecurityEventKind::AvatarRemoved, info, &[])
            .await?;
        self.account(id).await
    }

    /// An account's avatar with its content type, for anyone who may see the account.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the account has none.
    pub async fn avatar(&self, account: AccountId) -> Result<Avatar> {
        self.inner
            .store
            .avatar(account)
            .await?
            .ok_or(Error::NotFound)
    }
}

/// Whether the owner of an account may change a profile field, and if not, why: what a
/// settings page shows next to a read-only field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldAccess {
    /// The owner may change it.
    Editable,
    /// The account's external directory manages it (and refreshes it at each login).
    ManagedByDirectory,
    /// The administrator has locked profiles.
    Locked,
}

/// The access to each field of the profile that can be read-only; the username never
/// changes, and the language is always the owner's to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditableFields {
    /// The display name.
    pub display_name: FieldAccess,
    /// The primary and the recovery address.
    pub email: FieldAccess,
}

impl Accounts {
    /// Which profile fields the account's owner may change: the same rule the changes
    /// themselves apply (the directory first, then the "lock profiles" policy).
    ///
    /// # Errors
    ///
    /// Storage errors reading the policy.
    pub async fn editable_fields(&self, account: &Account) -> Result<EditableFields> {
        let locked = self.policy().await?.lock_profiles;
        let access = |field| {
            if self.managed_by_directory(account, field) {
                FieldAccess::ManagedByDirectory
            } else if locked {
                FieldAccess::Locked
            } else {
                FieldAccess::Editable
            }
        };
        Ok(EditableFields {
            display_name: access(ProfileField::DisplayName),
            email: access(ProfileField::Email),
        })
    }
}
