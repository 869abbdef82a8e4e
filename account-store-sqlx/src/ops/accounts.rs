//! Accounts, their profile fields, avatars and password hashes.

use account_core::avatar::Avatar;
use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    Account, AccountId, AccountState, NewAccount, ProfileChange, SecurityStamp,
};
use account_core::password::PasswordHash;
use account_core::store::{AccountStore, CredentialStore, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::SqlStore;
use crate::db::{args, retry};
use crate::rows::{self, columns};

#[async_trait]
impl AccountStore for SqlStore {
    async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        let a = &new.account;
        let (source, directory) = rows::source_columns(&a.source);
        // One transaction: the account row, then its `usernames_taken` row. A concurrent
        // insert of the same username or address waits on the unique key, then fails.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            tx.write(
                "INSERT INTO accounts (id, username, email, email_key, email_verified, \
                 recovery_email, language, display_name, avatar_updated_at, source, \
                 source_directory, state, role, security_stamp, password_hash, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    a.id,
                    a.username.as_str(),
                    a.email.as_str(),
                    a.email.lookup_key(),
                    a.email_verified,
                    a.recovery_email.as_ref().map(EmailAddress::as_str),
                    a.language.as_ref().map(|l| l.as_str()),
                    a.display_name.as_str(),
                    a.avatar_updated_at,
                    source,
                    directory,
                    a.state.as_str(),
                    a.role.as_str(),
                    a.security_stamp.as_str(),
                    new.password_hash.as_ref().map(PasswordHash::as_phc),
                    a.created_at,
                    a.updated_at,
                ],
            )
            .await?;
            tx.write(
                "INSERT INTO usernames_taken (username) VALUES (?)",
                args![a.username.as_str()],
            )
            .await
            .map_err(rows::username_taken)?;
            tx.commit().await
        })
        .await
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let sql = concat!("SELECT ", columns!(accounts), " FROM accounts WHERE id = ?");
        self.db.read(sql, args![id], rows::account).await
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        let sql = concat!(
            "SELECT ",
            columns!(accounts),
            " FROM accounts WHERE username = ?"
        );
        self.db
            .read(sql, args![username.as_str()], rows::account)
            .await
    }

    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        let sql = concat!(
            "SELECT ",
            columns!(accounts),
            " FROM accounts WHERE email_key = ?"
        );
        self.db
            .read(sql, args![email.lookup_key()], rows::account)
            .await
    }

    async fn update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let language = change.language.as_ref();
        self.db
            .change_returning(
                "UPDATE accounts SET display_name = COALESCE(?, display_name), \
                 language = CASE WHEN ? THEN ? ELSE language END, updated_at = ? WHERE id = ?",
                args![
                    change.display_name.as_ref().map(|n| n.as_str()),
                    language.is_some(),
                    language.and_then(|l| l.as_ref().map(|l| l.as_str())),
                    at,
                    id,
                ],
                columns!(accounts),
                "FROM accounts WHERE id = ?",
                args![id],
                rows::account,
            )
            .await
    }

    async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE accounts SET email = ?, email_key = ?, email_verified = ?, \
                   updated_at = ? WHERE id = ?";
        let args = args![email.as_str(), email.lookup_key(), verified, at, id];
        Ok(self.db.write(sql, args).await? > 0)
    }

    async fn set_recovery_email(
        &self,
        id: AccountId,
        email: Option<&EmailAddress>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE accounts SET recovery_email = ?, updated_at = ? WHERE id = ?";
        let args = args![email.map(EmailAddress::as_str), at, id];
        Ok(self.db.write(sql, args).await? > 0)
    }

    async fn set_account_state(&self, id: AccountId, state: AccountState) -> StoreResult<bool> {
        let sql = "UPDATE accounts SET state = ? WHERE id = ?";
        Ok(self.db.write(sql, args![state.as_str(), id]).await? > 0)
    }

    async fn set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // One transaction: the account's times (which also says whether it exists), then
        // the avatar row replaced or removed.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            let sql = "UPDATE accounts SET avatar_updated_at = ?, updated_at = ? WHERE id = ?";
            if tx.write(sql, args![avatar.map(|_| at), at, id]).await? == 0 {
                return Ok(false);
            }
            tx.write("DELETE FROM avatars WHERE account_id = ?", args![id])
                .await?;
            if let Some(avatar) = avatar {
                tx.write(
                    "INSERT INTO avatars (account_id, content_type, bytes) VALUES (?, ?, ?)",
                    args![id, avatar.content_type(), avatar.bytes.as_slice()],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        let sql = "SELECT content_type, bytes FROM avatars WHERE account_id = ?";
        self.db.read(sql, args![id], rows::avatar).await
    }
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        let sql = "SELECT password_hash FROM accounts WHERE id = ?";
        let hash = self
            .db
            .read(sql, args![id], |row| row.opt_text("password_hash"));
        Ok(hash.await?.flatten().map(PasswordHash::from_phc))
    }

    async fn set_password_hash(
        &self,
        id: AccountId,
        hash: &PasswordHash,
        stamp: &SecurityStamp,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // One statement: the hash and the stamp change together.
        let sql = "UPDATE accounts SET password_hash = ?, security_stamp = ?, updated_at = ? \
                   WHERE id = ?";
        let args = args![hash.as_phc(), stamp.as_str(), at, id];
        Ok(self.db.write(sql, args).await? > 0)
    }

    async fn upgrade_password_hash(
        &self,
        id: AccountId,
        current: &PasswordHash,
        upgraded: &PasswordHash,
    ) -> StoreResult<bool> {
        // Only if the hash is still the one read (MySQL's binary collation compares it
        // exactly): a password changed meanwhile is never overwritten.
        let sql = "UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?";
        let args = args![upgraded.as_phc(), id, current.as_phc()];
        Ok(self.db.write(sql, args).await? > 0)
    }
}
