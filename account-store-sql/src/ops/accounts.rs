//! Accounts, their profile fields, avatars and password hashes.

use account_core::avatar::Avatar;
use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    Account, AccountChange, AccountId, AccountQuery, AccountRemoval, AccountState, AccountUpdate,
    NewAccount, ProfileChange, Role, SecurityEvent, SecurityStamp, SessionId,
};
use account_core::password::PasswordHash;
use account_core::store::{AccountStore, CredentialStore, StoreResult};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::RowExt as _;
use crate::db::{Arg, Tx, args, retry};
use crate::ops::Conditions;
use crate::rows::{self, columns};
use crate::{Driver, SqlOps, Transaction};

#[async_trait]
impl<D: Driver> AccountStore for SqlOps<D> {
    async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        let a = &new.account;
        let (source, directory) = rows::source_columns(&a.source);
        // One transaction: the account row, then its `usernames_taken` row. A concurrent
        // insert of the same username or address waits on the unique key, then fails.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            tx.write(
                "INSERT INTO accounts (id, username, email, email_key, email_verified, \
                 recovery_email, language, display_name, display_name_key, avatar_updated_at, \
                 source, source_directory, state, role, security_stamp, password_hash, \
                 created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    a.id,
                    a.username.as_str(),
                    a.email.as_str(),
                    a.email.lookup_key(),
                    a.email_verified,
                    a.recovery_email.as_ref().map(EmailAddress::as_str),
                    a.language.as_ref().map(|l| l.as_str()),
                    a.display_name.as_str(),
                    rows::display_name_key(&a.display_name),
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
                 display_name_key = COALESCE(?, display_name_key), \
                 language = CASE WHEN ? THEN ? ELSE language END, updated_at = ? WHERE id = ?",
                args![
                    change.display_name.as_ref().map(|n| n.as_str()),
                    change.display_name.as_ref().map(rows::display_name_key),
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

    async fn change_account(
        &self,
        id: AccountId,
        change: &AccountChange,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountUpdate> {
        let steps_down = change.role.is_some_and(|r| r != Role::Admin)
            || change.state.is_some_and(|s| s != AccountState::Active);
        // The columns of the fields given; a new address is stored unverified.
        let mut sets = vec!["updated_at = ?"];
        let mut values = args![at];
        if let Some(name) = &change.display_name {
            sets.push("display_name = ?, display_name_key = ?");
            values.extend(args![name.as_str(), rows::display_name_key(name)]);
        }
        if let Some(email) = &change.email {
            sets.push("email = ?, email_key = ?, email_verified = ?");
            values.extend(args![email.as_str(), email.lookup_key(), false]);
        }
        if let Some(role) = change.role {
            sets.push("role = ?");
            values.extend(args![role.as_str()]);
        }
        if let Some(state) = change.state {
            sets.push("state = ?");
            values.extend(args![state.as_str()]);
        }
        values.extend(args![id]);
        let update = format!("UPDATE accounts SET {} WHERE id = ?", sets.join(", "));
        let (update, values) = (update.as_str(), &values);
        // One transaction, which decides under the locks of the account and of every
        // active administrator (see `standing`) whether the change may leave none. A
        // taken address fails the `UPDATE` on its unique key, and the error rolls it all
        // back. Disabling deletes the sessions in the same transaction.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            match standing(&mut tx, id, false).await? {
                Standing::Missing => return Ok(AccountUpdate::NotFound),
                Standing::LastActiveAdmin if steps_down => return Ok(AccountUpdate::LastAdmin),
                Standing::LastActiveAdmin | Standing::Other => {}
            }
            let Some(account) = tx
                .change_returning(
                    update,
                    values.clone(),
                    columns!(accounts),
                    "FROM accounts WHERE id = ?",
                    args![id],
                    rows::account,
                )
                .await?
            else {
                return Ok(AccountUpdate::NotFound);
            };
            let sessions_ended = if change.state == Some(AccountState::Disabled) {
                tx.write("DELETE FROM sessions WHERE account_id = ?", args![id])
                    .await?
            } else {
                0
            };
            tx.commit().await?;
            Ok(AccountUpdate::Changed {
                account: Box::new(account),
                sessions_ended,
            })
        })
        .await
    }

    async fn delete_account(
        &self,
        id: AccountId,
        record: &SecurityEvent,
    ) -> StoreResult<AccountRemoval> {
        let record_args = super::events::event_args(record)?;
        let record_args = &record_args;
        // One transaction, under the locks of the account and of every active
        // administrator (see `standing`): of concurrent deletions of one account the
        // first deletes it, and the others, which waited for its row, find none. The
        // account's rows in every other table go with it (`ON DELETE CASCADE`), except
        // `usernames_taken`, which keeps the name taken, and `security_events`, which has
        // no foreign key so that the deletion record can outlive the account.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            match standing(&mut tx, id, true).await? {
                Standing::Missing => return Ok(AccountRemoval::NotFound),
                Standing::LastActiveAdmin => return Ok(AccountRemoval::LastAdmin),
                Standing::Other => {}
            }
            let Some(account) = tx
                .delete_returning(
                    "accounts",
                    columns!(accounts),
                    "id = ?",
                    args![id],
                    rows::account,
                )
                .await?
            else {
                return Ok(AccountRemoval::NotFound);
            };
            tx.write(
                "DELETE FROM security_events WHERE account_id = ?",
                args![id],
            )
            .await?;
            tx.write(super::events::INSERT_EVENT, record_args.clone())
                .await?;
            tx.commit().await?;
            Ok(AccountRemoval::Removed(Box::new(account)))
        })
        .await
    }

    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        // The filters given, oldest first after the cursor: the order of the index on
        // (created_at, id). The search compares the lowercase columns (`username` is
        // lowercase already) with a term that is lowercase too, so `LIKE` needs no case
        // rules of its own (SQLite's would fold ASCII only).
        let mut conditions = Conditions::default();
        if let Some(term) = &query.search {
            let pattern = rows::contains_pattern(term);
            conditions.and(
                "(username LIKE ? ESCAPE '!' OR email_key LIKE ? ESCAPE '!' \
                 OR display_name_key LIKE ? ESCAPE '!')",
                args![pattern.clone(), pattern.clone(), pattern],
            );
        }
        if let Some(state) = query.state {
            conditions.and("state = ?", args![state.as_str()]);
        }
        if let Some(role) = query.role {
            conditions.and("role = ?", args![role.as_str()]);
        }
        if let Some(source) = query.source {
            conditions.and("source = ?", args![rows::source_kind(source)]);
        }
        if let Some(after) = query.after {
            conditions.and(
                "(created_at > ? OR (created_at = ? AND id > ?))",
                args![after.created_at, after.created_at, after.id],
            );
        }
        let (where_clause, mut args) = conditions.into_where();
        let sql = format!(
            concat!(
                "SELECT ",
                columns!(accounts),
                " FROM accounts{} ORDER BY created_at, id LIMIT ?"
            ),
            where_clause
        );
        args.push(Arg::from(i64::from(query.limit)));
        self.db.read_all(&sql, args, rows::account).await
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
impl<D: Driver> CredentialStore for SqlOps<D> {
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
        current: &SecurityStamp,
        keep: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // One transaction: the conditional `UPDATE` (the hash and the stamp together, only
        // from the stamp the caller read) locks the account's row, and the sessions go in
        // the same transaction, so a failure between the two leaves neither.
        let update = "UPDATE accounts SET password_hash = ?, security_stamp = ?, updated_at = ? \
                      WHERE id = ? AND security_stamp = ?";
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            let args = args![hash.as_phc(), stamp.as_str(), at, id, current.as_str()];
            if tx.write(update, args).await? == 0 {
                return Ok(false);
            }
            match keep {
                Some(keep) => {
                    let sql = "DELETE FROM sessions WHERE account_id = ? AND id <> ?";
                    tx.write(sql, args![id, keep]).await?
                }
                None => {
                    tx.write("DELETE FROM sessions WHERE account_id = ?", args![id])
                        .await?
                }
            };
            tx.commit().await?;
            Ok(true)
        })
        .await
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

/// Where an account stands among the active administrators.
enum Standing {
    /// There is no such account.
    Missing,
    /// It is the only active administrator: demoting, disabling or deleting it would
    /// leave none.
    LastActiveAdmin,
    /// Anything else: a user, a disabled administrator, or one of several active ones.
    Other,
}

/// Locks the account's row and those of every active administrator until the commit
/// (see [`Backend::lock_account_and_admins`](crate::Backend::lock_account_and_admins)) and says where the account
/// stands. Another active administrator that was read stays locked, so it cannot step
/// down before this transaction ends; what the database returns is read again here
/// rather than trusted to the condition.
async fn standing(
    tx: &mut Tx<impl Transaction>,
    id: AccountId,
    deleting: bool,
) -> StoreResult<Standing> {
    let lock = tx.backend().lock_account_and_admins(deleting);
    let mut found = false;
    let mut active_admin = false;
    let mut other_active_admins = false;
    for row in tx.read_all(lock, args![id]).await? {
        let is_active_admin = row.text("role")? == Role::Admin.as_str()
            && row.text("state")? == AccountState::Active.as_str();
        if AccountId::from_uuid(row.get::<Uuid>("id")?) == id {
            found = true;
            active_admin = is_active_admin;
        } else {
            other_active_admins |= is_active_admin;
        }
    }
    Ok(if !found {
        Standing::Missing
    } else if active_admin && !other_active_admins {
        Standing::LastActiveAdmin
    } else {
        Standing::Other
    })
}
