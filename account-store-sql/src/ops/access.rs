//! Programmatic access: personal API tokens, app passwords and SSH keys. The three are
//! one pattern (a row per credential, a per-account limit, a unique secret or
//! fingerprint), so their inserts and deletes share [`SqlStore::insert_limited`] and
//! [`Db::delete_returning`](crate::db::Db::delete_returning).

use std::net::IpAddr;

use account_core::model::{
    AccountId, ApiTokenId, ApiTokenRecord, ApiTokenWithAccount, AppPasswordId, AppPasswordRecord,
    LimitedInsert, SshKeyId, SshKeyRecord,
};
use account_core::store::{
    ApiTokenStore, AppPasswordStore, Conflict, SshKeyStore, StoreError, StoreResult,
};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::RowExt as _;
use crate::db::{Arg, Args, args, retry};
use crate::rows::{self, columns};
use crate::{Driver, SqlOps};

#[async_trait]
impl<D: Driver> ApiTokenStore for SqlOps<D> {
    async fn insert_api_token(&self, t: &ApiTokenRecord, limit: u32) -> StoreResult<LimitedInsert> {
        let insert = "INSERT INTO api_tokens (id, account_id, name, scope, allowed_networks, \
                      digest, last_four, created_at, expires_at, last_used_at, last_used_ip) \
                      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let args = args![
            t.id,
            t.account_id,
            t.name.as_str(),
            t.scope.as_str(),
            rows::networks_json(&t.allowed_networks)?,
            &t.digest,
            t.last_four.as_str(),
            t.created_at,
            t.expires_at,
            t.last_used_at,
            t.last_used_ip.map(|ip| ip.to_string()),
        ];
        let clashes = [
            ("id", Arg::from(t.id), Conflict::Id),
            ("digest", Arg::from(&t.digest), Conflict::Id),
        ];
        self.insert_limited("api_tokens", t.account_id, &clashes, limit, insert, args)
            .await
    }

    async fn api_token_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        // The read of every token-authenticated request: one lookup by the unique index.
        let sql = concat!(
            "SELECT ",
            columns!(api_tokens),
            " FROM api_tokens WHERE digest = ?"
        );
        self.db.read(sql, args![digest], rows::api_token).await
    }

    async fn api_token_with_account(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenWithAccount>> {
        // The read of every token-authenticated request, in one statement: the token by
        // its unique digest index and its account by primary key. The token's `id` and
        // `created_at` are renamed, since the account has columns of those names.
        let sql = "SELECT t.id AS token_id, account_id, name, scope, allowed_networks, digest, \
                   last_four, t.created_at AS token_created_at, expires_at, last_used_at, \
                   last_used_ip, \
                   a.id, username, email, email_verified, recovery_email, language, \
                   display_name, avatar_updated_at, source, source_directory, state, role, \
                   security_stamp, a.created_at, a.updated_at \
                   FROM api_tokens t JOIN accounts a ON a.id = t.account_id \
                   WHERE t.digest = ?";
        self.db
            .read(sql, args![digest], rows::api_token_with_account)
            .await
    }

    async fn api_tokens_of(&self, account: AccountId) -> StoreResult<Vec<ApiTokenRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(api_tokens),
            " FROM api_tokens WHERE account_id = ? ORDER BY created_at, id"
        );
        self.db.read_all(sql, args![account], rows::api_token).await
    }

    async fn touch_api_token(
        &self,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        // Only forward: an older use that arrives late changes nothing.
        let sql = "UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? \
                   WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)";
        let args = args![at, ip.map(|ip| ip.to_string()), id, at];
        self.db.write(sql, args).await?;
        Ok(())
    }

    async fn replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        // One change: the old digest stops matching the moment the new one is written,
        // and the unique index refuses a digest another token has.
        self.db
            .change_returning(
                "UPDATE api_tokens SET digest = ?, last_four = ? WHERE id = ? AND account_id = ?",
                args![digest, last_four, id, account],
                columns!(api_tokens),
                "FROM api_tokens WHERE id = ?",
                args![id],
                rows::api_token,
            )
            .await
    }

    async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let filter = "id = ? AND account_id = ?";
        self.db
            .delete_returning(
                "api_tokens",
                columns!(api_tokens),
                filter,
                args![id, account],
                rows::api_token,
            )
            .await
    }
}

#[async_trait]
impl<D: Driver> AppPasswordStore for SqlOps<D> {
    async fn insert_app_password(
        &self,
        p: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        let insert = "INSERT INTO app_passwords (id, account_id, name, digest, created_at, \
                      last_used_at) VALUES (?, ?, ?, ?, ?, ?)";
        let args = args![
            p.id,
            p.account_id,
            p.name.as_str(),
            &p.digest,
            p.created_at,
            p.last_used_at
        ];
        let clashes = [
            ("id", Arg::from(p.id), Conflict::Id),
            ("digest", Arg::from(&p.digest), Conflict::Id),
        ];
        self.insert_limited("app_passwords", p.account_id, &clashes, limit, insert, args)
            .await
    }

    async fn app_password_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(app_passwords),
            " FROM app_passwords WHERE digest = ?"
        );
        self.db.read(sql, args![digest], rows::app_password).await
    }

    async fn app_passwords_of(&self, account: AccountId) -> StoreResult<Vec<AppPasswordRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(app_passwords),
            " FROM app_passwords WHERE account_id = ? ORDER BY created_at, id"
        );
        self.db
            .read_all(sql, args![account], rows::app_password)
            .await
    }

    async fn touch_app_password(&self, id: AppPasswordId, at: DateTime<Utc>) -> StoreResult<()> {
        // Only forward: an older use that arrives late changes nothing.
        let sql = "UPDATE app_passwords SET last_used_at = ? \
                   WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)";
        self.db.write(sql, args![at, id, at]).await?;
        Ok(())
    }

    async fn delete_app_password(
        &self,
        account: AccountId,
        id: AppPasswordId,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        let (table, filter) = ("app_passwords", "id = ? AND account_id = ?");
        self.db
            .delete_returning(
                table,
                columns!(app_passwords),
                filter,
                args![id, account],
                rows::app_password,
            )
            .await
    }
}

#[async_trait]
impl<D: Driver> SshKeyStore for SqlOps<D> {
    async fn insert_ssh_key(&self, k: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert> {
        let insert = "INSERT INTO ssh_keys (id, account_id, name, algorithm, bits, fingerprint, \
                      public_key, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let args = args![
            k.id,
            k.account_id,
            k.name.as_str(),
            k.algorithm.as_str(),
            i64::from(k.bits),
            k.fingerprint.as_str(),
            k.public_key.as_str(),
            k.comment.as_deref(),
            k.created_at,
        ];
        // The fingerprint first: a key on an account already is reported as such, even to
        // an account at its limit.
        let clashes = [
            (
                "fingerprint",
                Arg::from(k.fingerprint.as_str()),
                Conflict::SshKey,
            ),
            ("id", Arg::from(k.id), Conflict::Id),
        ];
        self.insert_limited("ssh_keys", k.account_id, &clashes, limit, insert, args)
            .await
    }

    async fn ssh_key_by_fingerprint(&self, fingerprint: &str) -> StoreResult<Option<SshKeyRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(ssh_keys),
            " FROM ssh_keys WHERE fingerprint = ?"
        );
        self.db.read(sql, args![fingerprint], rows::ssh_key).await
    }

    async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(ssh_keys),
            " FROM ssh_keys WHERE account_id = ? ORDER BY created_at, id"
        );
        self.db.read_all(sql, args![account], rows::ssh_key).await
    }

    async fn delete_ssh_key(
        &self,
        account: AccountId,
        id: SshKeyId,
    ) -> StoreResult<Option<SshKeyRecord>> {
        let filter = "id = ? AND account_id = ?";
        self.db
            .delete_returning(
                "ssh_keys",
                columns!(ssh_keys),
                filter,
                args![id, account],
                rows::ssh_key,
            )
            .await
    }
}

impl<D: Driver> SqlOps<D> {
    /// Inserts a row of `table` unless the account has `limit` rows there already,
    /// deciding and inserting in one transaction.
    ///
    /// The inserts of one account take turns on its row (SQLite: on the write lock), and
    /// the count is read after the lock (InnoDB takes its snapshot at that first plain
    /// read, and a plain read leaves the unique keys free of gap locks that would stall
    /// other accounts), so no two inserts both find room for the last slot. `clashes`
    /// names the unique columns with their values, checked in order before the limit;
    /// the unique indexes still guard the insert itself against another account's
    /// concurrent one.
    async fn insert_limited(
        &self,
        table: &str,
        account: AccountId,
        clashes: &[(&str, Arg<'_>, Conflict)],
        limit: u32,
        insert: &str,
        args: Args<'_>,
    ) -> StoreResult<LimitedInsert> {
        let counts: Vec<String> = clashes
            .iter()
            .map(|(column, _, _)| column)
            .chain(["account_id"].iter())
            .enumerate()
            .map(|(n, column)| format!("(SELECT COUNT(*) FROM {table} WHERE {column} = ?) AS n{n}"))
            .collect();
        let check = format!("SELECT {}", counts.join(", "));
        let mut check_args: Args<'_> = clashes.iter().map(|(_, value, _)| value.clone()).collect();
        check_args.push(Arg::from(account));
        retry(|| async {
            let mut tx = self.db.begin().await?;
            // A missing account is reported as such, not as a full one (a limit of 0).
            tx.require_account(account).await?;
            let row = tx
                .read(&check, check_args.clone())
                .await?
                .ok_or_else(|| StoreError::backend("the limit check returned no row"))?;
            for (n, (_, _, conflict)) in clashes.iter().enumerate() {
                if row.get::<i64>(COUNT_COLUMNS[n])? > 0 {
                    return Err(StoreError::Conflict(*conflict));
                }
            }
            if row.get::<i64>(COUNT_COLUMNS[clashes.len()])? >= i64::from(limit) {
                return Ok(LimitedInsert::LimitReached);
            }
            tx.write(insert, args.clone()).await?;
            tx.commit().await?;
            Ok(LimitedInsert::Inserted)
        })
        .await
    }
}

/// The names of the counts in [`SqlStore::insert_limited`]'s check, in order.
const COUNT_COLUMNS: [&str; 3] = ["n0", "n1", "n2"];
