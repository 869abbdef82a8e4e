//! MySQL 8 and MariaDB 10.5 or newer.
//!
//! MySQL has no `RETURNING` (MariaDB has it for `INSERT` and `DELETE`, MySQL for
//! nothing), so an operation that must change a row and tell what it became is a short
//! transaction whose first statement locks the row, and the rest of the transaction reads
//! it back under that lock. InnoDB may still pick one of two such transactions as a
//! deadlock victim; it is rolled back whole and tried again (SQLSTATE `40001`).
//!
//! # Atomicity
//!
//! | operation | how |
//! |---|---|
//! | `insert_account` | one transaction: the account row, then its `usernames_taken` row; a concurrent insert of the same username or address waits on the unique key, then fails with the conflict |
//! | `update_profile` | one transaction: `UPDATE` (which locks the row), then `SELECT` it back |
//! | `upgrade_password_hash` | `UPDATE ... WHERE password_hash = current` (binary collation: an exact comparison) |
//! | `rotate_session` | `UPDATE ... WHERE id = ? AND token_digest = current`, tried again if InnoDB made it a deadlock victim on the unique token index |
//! | `insert_challenge` with `replace` | one transaction: lock the account row (`SELECT ... FOR UPDATE`, so that replacing inserts for one account take turns), insert, delete the others |
//! | `consume_challenge` | one transaction: `SELECT ... FOR UPDATE`, then `DELETE`; a concurrent consumer waits for the lock and then finds the row gone |
//! | `record_failure` | one transaction: `INSERT ... ON DUPLICATE KEY UPDATE count = count + 1` (which locks the row), then `SELECT` it back |
//! | `hit_rate_limit` | one statement: `INSERT ... ON DUPLICATE KEY UPDATE count = LAST_INSERT_ID(count + 1)`; the server returns the new count as the statement's last insert id |
//! | `set_avatar` | one transaction: the account's times, then the avatar row |
//! | `record_second_factor_attempt` | one transaction: `UPDATE ... SET attempts = attempts + 1 WHERE stage = 'second_factor_pending'` (which locks the row), then `SELECT` it back |
//! | `put_pending_totp` | one transaction: lock the account row (`FOR UPDATE`), read the TOTP row with `FOR UPDATE`, and unless it is confirmed `INSERT ... ON DUPLICATE KEY UPDATE` |
//! | `confirm_totp` | one transaction: lock the account row (`FOR UPDATE`), `UPDATE ... WHERE confirmed_at IS NULL` (nothing more when it matches no row), delete the old recovery codes, insert the new |
//! | `accept_totp_step` | `UPDATE totp SET last_step = ? WHERE ... confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)`, checking that it matched the row; a concurrent call waits for the row lock and re-checks |
//! | `replace_recovery_codes` | one transaction: lock the account row (`FOR UPDATE`, so that replacements take turns), delete the old codes, insert the new |
//! | `redeem_recovery_code` | `DELETE` of the code's row, checking that it deleted one |
//! | `delete_passkey` | one transaction: lock the account row (`SELECT password_hash ... FOR UPDATE`), read the account's passkeys with `FOR UPDATE`, then the `DELETE` |
//! | `delete_authenticators` | one transaction: lock the account row, then TOTP, recovery codes, passkeys |
//! | `second_factors` | one `SELECT` of three subselects |
//! | `insert_api_token`, `insert_app_password`, `insert_ssh_key` | one transaction: lock the account row (`SELECT ... FOR UPDATE`, so that inserts for one account take turns), count the clashes (SSH key: fingerprint first) and the account's rows, then the `INSERT` unless the account is at its limit; the unique keys catch a clash with another account's concurrent insert |
//! | `touch_api_token`, `touch_app_password` | `UPDATE ... WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`; a concurrent touch waits for the row lock and re-checks |
//! | `replace_api_token_secret` | one transaction: `UPDATE ... WHERE id = ? AND account_id = ?` (which locks the row), then `SELECT` it back |
//! | `delete_api_token`, `delete_app_password`, `delete_ssh_key` | one transaction: `SELECT ... FOR UPDATE`, then `DELETE`; a concurrent delete waits for the lock and then finds the row gone |
//!
//! `UPDATE` counts the rows it matched, not only those it changed (sqlx connects with
//! `CLIENT_FOUND_ROWS`), so "does the account exist" answers are right even when nothing
//! changed. Times are `DATETIME(6)` in UTC (sqlx sets the session time zone to UTC).

use std::net::IpAddr;
use std::str::FromStr;

use account_core::avatar::Avatar;
use account_core::domain::{EmailAddress, Username};
use account_core::model::{
    Account, AccountId, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId, AppPasswordRecord,
    Challenge, ChallengePurpose, EventPage, FailureKind, Failures, LimitedInsert, NewAccount,
    PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, SecondFactors, SecurityEvent,
    SecurityStamp, SessionId, SessionRecord, SessionRotation, SshKeyId, SshKeyRecord, TotpRecord,
    TotpSecret,
};
use account_core::password::PasswordHash;
use account_core::policy::Policy;
use account_core::store::{Conflict, StoreError, StoreResult};
use account_core::token::TokenDigest;
use chrono::{DateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{Executor as _, MySql, Row as _, Transaction};
use uuid::Uuid;

use crate::common::{
    self, Columns, account_columns, api_token_columns, app_password_columns, challenge_columns,
    corrupt, event_columns, passkey_columns, retry_deadlocks, session_columns, ssh_key_columns,
    totp_columns,
};
use crate::{SetupError, SqlStoreOptions};

/// The store on a MySQL or MariaDB database.
#[derive(Debug, Clone)]
pub(crate) struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects a pool to the database at `url` (`mysql:` or `mariadb:`).
    pub(crate) async fn connect(url: &str, options: &SqlStoreOptions) -> Result<Self, SetupError> {
        // sqlx knows the scheme `mysql:` only; MariaDB speaks the same protocol.
        let url = match url.get(..8) {
            Some(scheme) if scheme.eq_ignore_ascii_case("mariadb:") => {
                format!("mysql:{}", &url[8..])
            }
            _ => url.to_owned(),
        };
        let connect = MySqlConnectOptions::from_str(&url).map_err(SetupError::InvalidUrl)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // A value too long for its column is an error, never silently cut, on
                    // servers configured without strict mode too.
                    conn.execute(
                        "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(SetupError::Connect)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over `pool`.
    pub(crate) fn from_pool(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// Runs the embedded migrations.
    pub(crate) async fn migrate(&self) -> Result<(), SetupError> {
        sqlx::migrate!("migrations/mysql")
            .run(&self.pool)
            .await
            .map_err(SetupError::Migrate)
    }

    /// Closes the pool, waiting for connections in use to come back.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Connections open and idle, for `Debug`.
    pub(crate) fn pool_sizes(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, MySql>> {
        self.pool.begin().await.map_err(map_err)
    }
}

/// The one place where MySQL errors become store errors.
///
/// MySQL names the duplicate key in its message: `Duplicate entry '...' for key
/// 'accounts_username_key'` (MySQL 8 writes `'accounts.accounts_username_key'`). Every
/// primary key is called `PRIMARY`; a duplicate one is a taken id, except in
/// `usernames_taken`, which `insert_account` tells apart itself.
fn map_err(error: sqlx::Error) -> StoreError {
    common::store_error(error, |db| {
        let key = db
            .message()
            .rsplit_once("for key '")?
            .1
            .trim_end_matches('\'');
        let key = key.rsplit('.').next()?;
        match key {
            "accounts_username_key" => Some(Conflict::Username),
            "accounts_email_key_key" => Some(Conflict::Email),
            "PRIMARY"
            | "sessions_token_digest_key"
            | "passkeys_credential_id_key"
            | "api_tokens_digest_key"
            | "app_passwords_digest_key" => Some(Conflict::Id),
            "ssh_keys_fingerprint_key" => Some(Conflict::SshKey),
            _ => None,
        }
    })
}

impl Columns for MySqlRow {
    fn text(&self, column: &'static str) -> StoreResult<String> {
        // Columns with a binary collation reach sqlx flagged as binary strings, which it
        // will not decode as `String`.
        let bytes: Vec<u8> = self.try_get(column).map_err(map_err)?;
        String::from_utf8(bytes).map_err(|e| corrupt(column, e))
    }

    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
        let bytes: Option<Vec<u8>> = self.try_get(column).map_err(map_err)?;
        bytes
            .map(|b| String::from_utf8(b).map_err(|e| corrupt(column, e)))
            .transpose()
    }

    fn time(&self, column: &'static str) -> StoreResult<DateTime<Utc>> {
        self.try_get(column).map_err(map_err)
    }

    fn opt_time(&self, column: &'static str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get(column).map_err(map_err)
    }

    fn uuid(&self, column: &'static str) -> StoreResult<Uuid> {
        self.try_get(column).map_err(map_err)
    }

    fn opt_uuid(&self, column: &'static str) -> StoreResult<Option<Uuid>> {
        self.try_get(column).map_err(map_err)
    }

    fn bytes(&self, column: &'static str) -> StoreResult<Vec<u8>> {
        self.try_get(column).map_err(map_err)
    }

    fn int(&self, column: &'static str) -> StoreResult<i64> {
        self.try_get(column).map_err(map_err)
    }

    fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>> {
        self.try_get(column).map_err(map_err)
    }

    fn int32(&self, column: &'static str) -> StoreResult<i32> {
        self.try_get(column).map_err(map_err)
    }

    fn small_int(&self, column: &'static str) -> StoreResult<i16> {
        self.try_get(column).map_err(map_err)
    }

    fn flag(&self, column: &'static str) -> StoreResult<bool> {
        self.try_get(column).map_err(map_err)
    }
}

type MySqlQuery<'q> = sqlx::query::Query<'q, MySql, sqlx::mysql::MySqlArguments>;

impl MySqlStore {
    pub(crate) async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        retry_deadlocks(|| self.try_insert_account(new)).await
    }

    async fn try_insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        let a = &new.account;
        let (source, directory) = common::source_columns(&a.source);
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO accounts (id, username, email, email_key, email_verified, \
             recovery_email, language, display_name, avatar_updated_at, source, \
             source_directory, state, role, security_stamp, password_hash, created_at, \
             updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.id.as_uuid())
        .bind(a.username.as_str())
        .bind(a.email.as_str())
        .bind(a.email.lookup_key())
        .bind(a.email_verified)
        .bind(a.recovery_email.as_ref().map(EmailAddress::as_str))
        .bind(a.language.as_ref().map(|l| l.as_str()))
        .bind(a.display_name.as_str())
        .bind(a.avatar_updated_at)
        .bind(source)
        .bind(directory)
        .bind(a.state.as_str())
        .bind(a.role.as_str())
        .bind(a.security_stamp.as_str())
        .bind(new.password_hash.as_ref().map(PasswordHash::as_phc))
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("INSERT INTO usernames_taken (username) VALUES (?)")
            .bind(a.username.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| common::username_taken(map_err(e)))?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.account_where(
            concat!("SELECT ", account_columns!(), " FROM accounts WHERE id = ?"),
            |q| q.bind(id.as_uuid()),
        )
        .await
    }

    pub(crate) async fn account_by_username(
        &self,
        username: &Username,
    ) -> StoreResult<Option<Account>> {
        self.account_where(
            concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE username = ?"
            ),
            |q| q.bind(username.as_str()),
        )
        .await
    }

    pub(crate) async fn account_by_email(
        &self,
        email: &EmailAddress,
    ) -> StoreResult<Option<Account>> {
        self.account_where(
            concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE email_key = ?"
            ),
            |q| q.bind(email.lookup_key()),
        )
        .await
    }

    async fn account_where<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(MySqlQuery<'q>) -> MySqlQuery<'q>,
    ) -> StoreResult<Option<Account>> {
        bind(sqlx::query(sql))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|row| common::account(&row))
            .transpose()
    }

    pub(crate) async fn update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        retry_deadlocks(|| self.try_update_profile(id, change, at)).await
    }

    async fn try_update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let language = change.language.as_ref();
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE accounts SET display_name = COALESCE(?, display_name), \
             language = CASE WHEN ? THEN ? ELSE language END, updated_at = ? WHERE id = ?",
        )
        .bind(change.display_name.as_ref().map(|n| n.as_str()))
        .bind(language.is_some())
        .bind(language.and_then(|l| l.as_ref().map(|l| l.as_str())))
        .bind(at)
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        // The UPDATE holds the row's lock until the commit: this reads what it wrote.
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = ?"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        row.map(|row| common::account(&row)).transpose()
    }

    pub(crate) async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET email = ?, email_key = ?, email_verified = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(email.as_str())
        .bind(email.lookup_key())
        .bind(verified)
        .bind(at)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn set_recovery_email(
        &self,
        id: AccountId,
        email: Option<&EmailAddress>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE accounts SET recovery_email = ?, updated_at = ? WHERE id = ?")
                .bind(email.map(EmailAddress::as_str))
                .bind(at)
                .bind(id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn set_account_state(
        &self,
        id: AccountId,
        state: AccountState,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE accounts SET state = ? WHERE id = ?")
            .bind(state.as_str())
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        retry_deadlocks(|| self.try_set_avatar(id, avatar, at)).await
    }

    async fn try_set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE accounts SET avatar_updated_at = ?, updated_at = ? WHERE id = ?")
                .bind(avatar.map(|_| at))
                .bind(at)
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        match avatar {
            Some(avatar) => sqlx::query(
                "INSERT INTO avatars (account_id, content_type, bytes) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE content_type = VALUES(content_type), \
                 bytes = VALUES(bytes)",
            )
            .bind(id.as_uuid())
            .bind(avatar.content_type())
            .bind(avatar.bytes.as_slice()),
            None => sqlx::query("DELETE FROM avatars WHERE account_id = ?").bind(id.as_uuid()),
        }
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        sqlx::query("SELECT content_type, bytes FROM avatars WHERE account_id = ?")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|row| common::avatar(&row))
            .transpose()
    }

    pub(crate) async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        let row = sqlx::query("SELECT password_hash FROM accounts WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(row
            .map(|row| row.opt_text("password_hash"))
            .transpose()?
            .flatten()
            .map(PasswordHash::from_phc))
    }

    pub(crate) async fn set_password_hash(
        &self,
        id: AccountId,
        hash: &PasswordHash,
        stamp: &SecurityStamp,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = ?, security_stamp = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(hash.as_phc())
        .bind(stamp.as_str())
        .bind(at)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn upgrade_password_hash(
        &self,
        id: AccountId,
        current: &PasswordHash,
        upgraded: &PasswordHash,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE accounts SET password_hash = ? WHERE id = ? AND password_hash = ?")
                .bind(upgraded.as_phc())
                .bind(id.as_uuid())
                .bind(current.as_phc())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_digest, account_id, created_at, last_seen_at, \
             idle_timeout_secs, absolute_expires_at, ip, user_agent, browser, os, device, \
             engine, cpu_arch, authentications, assurance, stage, second_factor_attempts) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.id.as_uuid())
        .bind(&s.token_digest.as_bytes()[..])
        .bind(s.account_id.as_uuid())
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(common::idle_timeout_secs(s))
        .bind(s.absolute_expires_at)
        .bind(s.ip.map(|ip| ip.to_string()))
        .bind(s.user_agent.as_deref())
        .bind(s.device.browser.as_deref())
        .bind(s.device.os.as_deref())
        .bind(s.device.device.as_deref())
        .bind(s.device.engine.as_deref())
        .bind(s.device.cpu_arch.as_deref())
        .bind(common::authentications_json(&s.authentications)?)
        .bind(common::assurance(s.assurance))
        .bind(s.stage.as_str())
        .bind(common::stage_attempts(s.stage))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn session_by_token(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<SessionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE token_digest = ?"
        ))
        .bind(&digest.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::session(&row))
        .transpose()
    }

    pub(crate) async fn touch_session(
        &self,
        id: SessionId,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?")
            .bind(seen_at)
            .bind(id.as_uuid())
            .bind(seen_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn rotate_session(
        &self,
        id: SessionId,
        current: &TokenDigest,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        let authentications = common::authentications_json(&rotation.authentications)?;
        // One statement, but it moves the row in the unique index on `token_digest`, and
        // InnoDB can pick one of two concurrent rotations of a session as a deadlock victim
        // on that index. The victim changed nothing; tried again, it finds the digest
        // rotated away and matches no row.
        retry_deadlocks(|| async {
            let done = sqlx::query(
                "UPDATE sessions SET token_digest = ?, authentications = ?, assurance = ?, \
                 stage = ?, second_factor_attempts = ?, last_seen_at = ? \
                 WHERE id = ? AND token_digest = ?",
            )
            .bind(&rotation.token_digest.as_bytes()[..])
            .bind(authentications.as_str())
            .bind(common::assurance(rotation.assurance))
            .bind(rotation.stage.as_str())
            .bind(common::stage_attempts(rotation.stage))
            .bind(rotation.at)
            .bind(id.as_uuid())
            .bind(&current.as_bytes()[..])
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    pub(crate) async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE account_id = ? ORDER BY created_at DESC, id DESC"
        ))
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(common::session)
        .collect()
    }

    pub(crate) async fn delete_session(
        &self,
        account: AccountId,
        id: SessionId,
    ) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ? AND account_id = ?")
            .bind(id.as_uuid())
            .bind(account.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn delete_sessions_of(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = ? AND NOT (id <=> ?)")
            .bind(account.as_uuid())
            .bind(keep.map(|k| k.as_uuid()))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions \
             WHERE DATE_ADD(last_seen_at, INTERVAL idle_timeout_secs SECOND) <= ? \
             OR absolute_expires_at <= ?",
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn insert_challenge(&self, c: &Challenge, replace: bool) -> StoreResult<()> {
        retry_deadlocks(|| self.try_insert_challenge(c, replace)).await
    }

    async fn try_insert_challenge(&self, c: &Challenge, replace: bool) -> StoreResult<()> {
        let replaces = c.account_id.filter(|_| replace);
        let mut tx = self.begin().await?;
        if let Some(account) = replaces {
            // Replacing inserts for one account take turns, so that the later one sees
            // (and deletes) the earlier one's challenge.
            sqlx::query("SELECT id FROM accounts WHERE id = ? FOR UPDATE")
                .bind(account.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(
            "INSERT INTO challenges (digest, purpose, account_id, security_stamp, payload, \
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.digest.as_bytes()[..])
        .bind(c.purpose.as_str())
        .bind(c.account_id.map(|a| a.as_uuid()))
        .bind(c.security_stamp.as_ref().map(SecurityStamp::as_str))
        .bind(c.payload.as_str())
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(account) = replaces {
            sqlx::query(
                "DELETE FROM challenges WHERE account_id = ? AND purpose = ? AND digest <> ?",
            )
            .bind(account.as_uuid())
            .bind(c.purpose.as_str())
            .bind(&c.digest.as_bytes()[..])
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn find_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        sqlx::query(concat!(
            "SELECT ",
            challenge_columns!(),
            " FROM challenges WHERE digest = ? AND purpose = ? AND expires_at > ?"
        ))
        .bind(&digest.as_bytes()[..])
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::challenge(&row))
        .transpose()
    }

    pub(crate) async fn consume_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        let gone = retry_deadlocks(|| self.try_take_challenge(digest, purpose)).await?;
        // Removed whether or not it expired, and returned only while it is live.
        Ok(gone.filter(|c| c.expires_at > now))
    }

    /// Removes the challenge and returns it, in one transaction: the locking read makes
    /// concurrent callers wait, and after the winner's commit they find no row.
    async fn try_take_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
    ) -> StoreResult<Option<Challenge>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            challenge_columns!(),
            " FROM challenges WHERE digest = ? AND purpose = ? FOR UPDATE"
        ))
        .bind(&digest.as_bytes()[..])
        .bind(purpose.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else {
            tx.commit().await.map_err(map_err)?;
            return Ok(None);
        };
        sqlx::query("DELETE FROM challenges WHERE digest = ?")
            .bind(&digest.as_bytes()[..])
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        common::challenge(&row).map(Some)
    }

    pub(crate) async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM challenges WHERE account_id = ? AND purpose = ?")
            .bind(account.as_uuid())
            .bind(purpose.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM challenges WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        retry_deadlocks(|| self.try_record_failure(account, kind, at)).await
    }

    async fn try_record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO failures (account_id, kind, count, last_at) VALUES (?, ?, 1, ?) \
             ON DUPLICATE KEY UPDATE count = count + 1, \
             last_at = GREATEST(last_at, VALUES(last_at))",
        )
        .bind(account.as_uuid())
        .bind(kind.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        // The upsert holds the row's lock until the commit: this reads what it wrote.
        let row =
            sqlx::query("SELECT count, last_at FROM failures WHERE account_id = ? AND kind = ?")
                .bind(account.as_uuid())
                .bind(kind.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        common::failures(&row)
    }

    pub(crate) async fn failures(
        &self,
        account: AccountId,
        kind: FailureKind,
    ) -> StoreResult<Failures> {
        let row =
            sqlx::query("SELECT count, last_at FROM failures WHERE account_id = ? AND kind = ?")
                .bind(account.as_uuid())
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(row
            .map(|row| common::failures(&row))
            .transpose()?
            .unwrap_or_default())
    }

    pub(crate) async fn clear_failures(
        &self,
        account: AccountId,
        kind: FailureKind,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM failures WHERE account_id = ? AND kind = ?")
            .bind(account.as_uuid())
            .bind(kind.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn record_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO security_events (id, account_id, at, kind, ip, user_agent, details) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.id.as_uuid())
        .bind(e.account_id.as_uuid())
        .bind(e.at)
        .bind(e.kind.as_str())
        .bind(e.ip.map(|ip| ip.to_string()))
        .bind(e.user_agent.as_deref())
        .bind(common::details_json(&e.details)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn events_of(
        &self,
        account: AccountId,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        let limit = i64::from(page.limit);
        let query = match page.before {
            None => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM security_events WHERE account_id = ? \
                 ORDER BY at DESC, id DESC LIMIT ?"
            ))
            .bind(account.as_uuid())
            .bind(limit),
            Some(cursor) => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM security_events WHERE account_id = ? \
                 AND (at < ? OR (at = ? AND id < ?)) \
                 ORDER BY at DESC, id DESC LIMIT ?"
            ))
            .bind(account.as_uuid())
            .bind(cursor.at)
            .bind(cursor.at)
            .bind(cursor.id.as_uuid())
            .bind(limit),
        };
        query
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .iter()
            .map(common::event)
            .collect()
    }

    pub(crate) async fn hit_rate_limit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
    ) -> StoreResult<u32> {
        retry_deadlocks(|| async {
            // LAST_INSERT_ID(expr) makes the server report `expr` as the statement's last
            // insert id: the count after this hit, from the same atomic statement.
            let done = sqlx::query(
                "INSERT INTO rate_limits (`key`, window_start, count) \
                 VALUES (?, ?, LAST_INSERT_ID(1)) \
                 ON DUPLICATE KEY UPDATE count = LAST_INSERT_ID(count + 1)",
            )
            .bind(key)
            .bind(window_start)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            Ok(u32::try_from(done.last_insert_id()).unwrap_or(u32::MAX))
        })
        .await
    }

    pub(crate) async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn policy(&self) -> StoreResult<Option<Policy>> {
        let row = sqlx::query("SELECT body FROM policy WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|row| common::policy(&row.text("body")?))
            .transpose()
    }

    pub(crate) async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO policy (id, body) VALUES (1, ?) \
             ON DUPLICATE KEY UPDATE body = VALUES(body)",
        )
        .bind(common::policy_json(policy)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

impl MySqlStore {
    pub(crate) async fn record_second_factor_attempt(
        &self,
        id: SessionId,
    ) -> StoreResult<Option<u32>> {
        retry_deadlocks(|| self.try_record_second_factor_attempt(id)).await
    }

    /// The `UPDATE` locks the session row until the commit, so the `SELECT` after it reads
    /// this attempt's count, and a concurrent attempt waits and counts on top of it.
    async fn try_record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET second_factor_attempts = second_factor_attempts + 1 \
             WHERE id = ? AND stage = 'second_factor_pending'",
        )
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let attempts: i32 =
            sqlx::query_scalar("SELECT second_factor_attempts FROM sessions WHERE id = ?")
                .bind(id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(common::count(i64::from(attempts))))
    }

    pub(crate) async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            totp_columns!(),
            " FROM totp WHERE account_id = ?"
        ))
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::totp(&row))
        .transpose()
    }

    pub(crate) async fn put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        retry_deadlocks(|| self.try_put_pending_totp(account, secret, at)).await
    }

    async fn try_put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // `ON DUPLICATE KEY UPDATE` cannot leave a confirmed row alone and say so (with
        // CLIENT_FOUND_ROWS an unchanged row counts like an insert), hence a transaction:
        // the account row's lock makes it take turns with `confirm_totp`, and the TOTP row
        // is read with a locking read, which sees the latest committed version.
        let mut tx = self.begin().await?;
        lock_account(&mut tx, account).await?;
        let current = sqlx::query("SELECT confirmed_at FROM totp WHERE account_id = ? FOR UPDATE")
            .bind(account.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(row) = current
            && row.opt_time("confirmed_at")?.is_some()
        {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO totp (account_id, secret, confirmed_at, created_at, last_step) \
             VALUES (?, ?, NULL, ?, NULL) \
             ON DUPLICATE KEY UPDATE secret = VALUES(secret), confirmed_at = NULL, \
             created_at = VALUES(created_at), last_step = NULL",
        )
        .bind(account.as_uuid())
        .bind(secret.expose())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        retry_deadlocks(|| self.try_confirm_totp(account, step, recovery_codes, at)).await
    }

    async fn try_confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // Replacements of one account's recovery codes, and TOTP enrolments, take turns
        // on the account row.
        lock_account(&mut tx, account).await?;
        let done = sqlx::query(
            "UPDATE totp SET confirmed_at = ?, last_step = ? \
             WHERE account_id = ? AND confirmed_at IS NULL",
        )
        .bind(at)
        .bind(step)
        .bind(account.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        replace_codes(&mut tx, account, recovery_codes, at).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn accept_totp_step(
        &self,
        account: AccountId,
        step: i64,
    ) -> StoreResult<bool> {
        // One conditional statement: an UPDATE reads the latest version of the row under
        // its lock, so a concurrent call with the same step waits, finds
        // `last_step < step` false and matches no row.
        let done = sqlx::query(
            "UPDATE totp SET last_step = ? WHERE account_id = ? \
             AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)",
        )
        .bind(step)
        .bind(account.as_uuid())
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM totp WHERE account_id = ?")
            .bind(account.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        retry_deadlocks(|| async {
            let mut tx = self.begin().await?;
            lock_account(&mut tx, account).await?;
            replace_codes(&mut tx, account, codes, at).await?;
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    pub(crate) async fn redeem_recovery_code(
        &self,
        account: AccountId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        // One statement: a concurrent redemption waits for the row lock and then finds
        // the row gone.
        let done = sqlx::query("DELETE FROM recovery_codes WHERE account_id = ? AND digest = ?")
            .bind(account.as_uuid())
            .bind(&code.as_bytes()[..])
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn insert_passkey(&self, p: &PasskeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO passkeys (id, account_id, credential_id, name, credential, created_at, \
             last_used_at, sign_count, backup_eligible, backup_state) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(p.id.as_uuid())
        .bind(p.account_id.as_uuid())
        .bind(p.credential_id.as_slice())
        .bind(p.name.as_str())
        .bind(p.credential.as_str())
        .bind(p.created_at)
        .bind(p.last_used_at)
        .bind(i64::from(p.sign_count))
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(common::passkey)
        .collect()
    }

    pub(crate) async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = ?"
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::passkey(&row))
        .transpose()
    }

    pub(crate) async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<bool> {
        // CLIENT_FOUND_ROWS: the same name again still counts as found.
        let done = sqlx::query("UPDATE passkeys SET name = ? WHERE id = ? AND account_id = ?")
            .bind(name)
            .bind(id.as_uuid())
            .bind(account.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn record_passkey_use(
        &self,
        id: PasskeyId,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = ?, sign_count = ?, backup_state = ?, \
             last_used_at = ? WHERE id = ?",
        )
        .bind(credential)
        .bind(i64::from(sign_count))
        .bind(backup_state)
        .bind(at)
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        retry_deadlocks(|| self.try_delete_passkey(account, id)).await
    }

    async fn try_delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        let mut tx = self.begin().await?;
        // The account row's lock makes deletions of one account's passkeys take turns, and
        // holds off a change of its password hash until the commit. Both reads are
        // locking reads, which see the latest committed rows (not the transaction's
        // REPEATABLE READ snapshot).
        let Some(account_row) =
            sqlx::query("SELECT password_hash FROM accounts WHERE id = ? FOR UPDATE")
                .bind(account.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?
        else {
            return Ok(PasskeyDeletion::NotFound);
        };
        let has_password = account_row.opt_text("password_hash")?.is_some();
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM passkeys WHERE account_id = ? FOR UPDATE")
                .bind(account.as_uuid())
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
        if !ids.contains(&id.as_uuid()) {
            return Ok(PasskeyDeletion::NotFound);
        }
        if ids.len() == 1 && !has_password {
            return Ok(PasskeyDeletion::LastLoginMethod);
        }
        sqlx::query("DELETE FROM passkeys WHERE id = ? AND account_id = ?")
            .bind(id.as_uuid())
            .bind(account.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(PasskeyDeletion::Deleted)
    }

    pub(crate) async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64> {
        retry_deadlocks(|| async {
            let mut tx = self.begin().await?;
            lock_account(&mut tx, account).await?;
            let mut gone = 0;
            for sql in [
                "DELETE FROM totp WHERE account_id = ?",
                "DELETE FROM recovery_codes WHERE account_id = ?",
                "DELETE FROM passkeys WHERE account_id = ?",
            ] {
                gone += sqlx::query(sql)
                    .bind(account.as_uuid())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
            }
            tx.commit().await.map_err(map_err)?;
            Ok(gone)
        })
        .await
    }

    pub(crate) async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors> {
        // One statement, so one consistent read for the three counts.
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM totp WHERE account_id = ? AND confirmed_at IS NOT NULL) \
             AS totp, \
             (SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?) AS recovery_codes, \
             (SELECT COUNT(*) FROM passkeys WHERE account_id = ?) AS passkeys",
        )
        .bind(account.as_uuid())
        .bind(account.as_uuid())
        .bind(account.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        common::second_factors(&row)
    }
}

impl MySqlStore {
    pub(crate) async fn insert_api_token(
        &self,
        t: &ApiTokenRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        retry_deadlocks(|| self.try_insert_api_token(t, limit)).await
    }

    async fn try_insert_api_token(
        &self,
        t: &ApiTokenRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        let mut tx = self.begin().await?;
        // Inserts for one account take turns on its row. The lock is a locking read, which
        // takes no REPEATABLE READ snapshot; the count below is the transaction's first
        // consistent read, so its snapshot is taken once the lock is ours and includes
        // what the previous holder committed: no two inserts can both find room for the
        // last slot. A plain read also leaves the unique keys free of gap locks, which
        // would stall other accounts' inserts.
        lock_account(&mut tx, t.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM api_tokens WHERE id = ?) AS id_taken, \
             (SELECT COUNT(*) FROM api_tokens WHERE digest = ?) AS digest_taken, \
             (SELECT COUNT(*) FROM api_tokens WHERE account_id = ?) AS taken",
        )
        .bind(t.id.as_uuid())
        .bind(&t.digest.as_bytes()[..])
        .bind(t.account_id.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if !common::room_for_one(&check, common::SECRET_CLASHES, limit)? {
            return Ok(LimitedInsert::LimitReached);
        }
        sqlx::query(
            "INSERT INTO api_tokens (id, account_id, name, scope, allowed_networks, digest, \
             last_four, created_at, expires_at, last_used_at, last_used_ip) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(t.id.as_uuid())
        .bind(t.account_id.as_uuid())
        .bind(t.name.as_str())
        .bind(t.scope.as_str())
        .bind(common::networks_json(&t.allowed_networks)?)
        .bind(&t.digest.as_bytes()[..])
        .bind(t.last_four.as_str())
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.last_used_at)
        .bind(t.last_used_ip.map(|ip| ip.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(LimitedInsert::Inserted)
    }

    pub(crate) async fn api_token_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE digest = ?"
        ))
        .bind(&digest.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::api_token(&row))
        .transpose()
    }

    pub(crate) async fn api_tokens_of(
        &self,
        account: AccountId,
    ) -> StoreResult<Vec<ApiTokenRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(common::api_token)
        .collect()
    }

    pub(crate) async fn touch_api_token(
        &self,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> StoreResult<()> {
        // One conditional statement: an UPDATE reads the latest version of the row under
        // its lock, so a concurrent touch waits and re-checks, and the record only moves
        // forward.
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? \
             WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        )
        .bind(at)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(id.as_uuid())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        retry_deadlocks(|| self.try_replace_api_token_secret(account, id, digest, last_four)).await
    }

    async fn try_replace_api_token_secret(
        &self,
        account: AccountId,
        id: ApiTokenId,
        digest: &TokenDigest,
        last_four: &str,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let mut tx = self.begin().await?;
        // The UPDATE swaps the digest in one statement (the old secret stops matching as
        // it commits; the unique key refuses a digest another token has) and holds the
        // row's lock until the commit, so the read below returns what it wrote.
        let done = sqlx::query(
            "UPDATE api_tokens SET digest = ?, last_four = ? WHERE id = ? AND account_id = ?",
        )
        .bind(&digest.as_bytes()[..])
        .bind(last_four)
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            api_token_columns!(),
            " FROM api_tokens WHERE id = ?"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        row.map(|row| common::api_token(&row)).transpose()
    }

    pub(crate) async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        let row = retry_deadlocks(|| {
            self.take_row(
                concat!(
                    "SELECT ",
                    api_token_columns!(),
                    " FROM api_tokens WHERE id = ? AND account_id = ? FOR UPDATE"
                ),
                "DELETE FROM api_tokens WHERE id = ?",
                id.as_uuid(),
                account,
            )
        })
        .await?;
        row.map(|row| common::api_token(&row)).transpose()
    }

    pub(crate) async fn insert_app_password(
        &self,
        p: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        retry_deadlocks(|| self.try_insert_app_password(p, limit)).await
    }

    async fn try_insert_app_password(
        &self,
        p: &AppPasswordRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        let mut tx = self.begin().await?;
        // As for API tokens: inserts for one account take turns on its row, and the count
        // is the first consistent read, taken once the lock is ours.
        lock_account(&mut tx, p.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM app_passwords WHERE id = ?) AS id_taken, \
             (SELECT COUNT(*) FROM app_passwords WHERE digest = ?) AS digest_taken, \
             (SELECT COUNT(*) FROM app_passwords WHERE account_id = ?) AS taken",
        )
        .bind(p.id.as_uuid())
        .bind(&p.digest.as_bytes()[..])
        .bind(p.account_id.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if !common::room_for_one(&check, common::SECRET_CLASHES, limit)? {
            return Ok(LimitedInsert::LimitReached);
        }
        sqlx::query(
            "INSERT INTO app_passwords (id, account_id, name, digest, created_at, last_used_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(p.id.as_uuid())
        .bind(p.account_id.as_uuid())
        .bind(p.name.as_str())
        .bind(&p.digest.as_bytes()[..])
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(LimitedInsert::Inserted)
    }

    pub(crate) async fn app_password_by_digest(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            app_password_columns!(),
            " FROM app_passwords WHERE digest = ?"
        ))
        .bind(&digest.as_bytes()[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::app_password(&row))
        .transpose()
    }

    pub(crate) async fn app_passwords_of(
        &self,
        account: AccountId,
    ) -> StoreResult<Vec<AppPasswordRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            app_password_columns!(),
            " FROM app_passwords WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(common::app_password)
        .collect()
    }

    pub(crate) async fn touch_app_password(
        &self,
        id: AppPasswordId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // One conditional statement, as for API tokens.
        sqlx::query(
            "UPDATE app_passwords SET last_used_at = ? \
             WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        )
        .bind(at)
        .bind(id.as_uuid())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn delete_app_password(
        &self,
        account: AccountId,
        id: AppPasswordId,
    ) -> StoreResult<Option<AppPasswordRecord>> {
        let row = retry_deadlocks(|| {
            self.take_row(
                concat!(
                    "SELECT ",
                    app_password_columns!(),
                    " FROM app_passwords WHERE id = ? AND account_id = ? FOR UPDATE"
                ),
                "DELETE FROM app_passwords WHERE id = ?",
                id.as_uuid(),
                account,
            )
        })
        .await?;
        row.map(|row| common::app_password(&row)).transpose()
    }

    pub(crate) async fn insert_ssh_key(
        &self,
        k: &SshKeyRecord,
        limit: u32,
    ) -> StoreResult<LimitedInsert> {
        retry_deadlocks(|| self.try_insert_ssh_key(k, limit)).await
    }

    async fn try_insert_ssh_key(&self, k: &SshKeyRecord, limit: u32) -> StoreResult<LimitedInsert> {
        let mut tx = self.begin().await?;
        // As for API tokens: inserts for one account take turns on its row, and the count
        // is the first consistent read, taken once the lock is ours. The fingerprint is
        // checked before the limit, so that a key that is on an account already is
        // reported as such even to an account at its limit.
        lock_account(&mut tx, k.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM ssh_keys WHERE fingerprint = ?) AS fingerprint_taken, \
             (SELECT COUNT(*) FROM ssh_keys WHERE id = ?) AS id_taken, \
             (SELECT COUNT(*) FROM ssh_keys WHERE account_id = ?) AS taken",
        )
        .bind(k.fingerprint.as_str())
        .bind(k.id.as_uuid())
        .bind(k.account_id.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if !common::room_for_one(&check, common::SSH_KEY_CLASHES, limit)? {
            return Ok(LimitedInsert::LimitReached);
        }
        sqlx::query(
            "INSERT INTO ssh_keys (id, account_id, name, algorithm, bits, fingerprint, \
             public_key, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.id.as_uuid())
        .bind(k.account_id.as_uuid())
        .bind(k.name.as_str())
        .bind(k.algorithm.as_str())
        .bind(i64::from(k.bits))
        .bind(k.fingerprint.as_str())
        .bind(k.public_key.as_str())
        .bind(k.comment.as_deref())
        .bind(k.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(LimitedInsert::Inserted)
    }

    pub(crate) async fn ssh_key_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> StoreResult<Option<SshKeyRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            ssh_key_columns!(),
            " FROM ssh_keys WHERE fingerprint = ?"
        ))
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::ssh_key(&row))
        .transpose()
    }

    pub(crate) async fn ssh_keys_of(&self, account: AccountId) -> StoreResult<Vec<SshKeyRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            ssh_key_columns!(),
            " FROM ssh_keys WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?
        .iter()
        .map(common::ssh_key)
        .collect()
    }

    pub(crate) async fn delete_ssh_key(
        &self,
        account: AccountId,
        id: SshKeyId,
    ) -> StoreResult<Option<SshKeyRecord>> {
        let row = retry_deadlocks(|| {
            self.take_row(
                concat!(
                    "SELECT ",
                    ssh_key_columns!(),
                    " FROM ssh_keys WHERE id = ? AND account_id = ? FOR UPDATE"
                ),
                "DELETE FROM ssh_keys WHERE id = ?",
                id.as_uuid(),
                account,
            )
        })
        .await?;
        row.map(|row| common::ssh_key(&row)).transpose()
    }

    /// Deletes one of the account's rows and returns it as it was, in one transaction
    /// (MySQL has no `DELETE ... RETURNING`): `select` reads the row `FOR UPDATE` by id and
    /// account, so a concurrent delete waits for the lock and then finds no row, and
    /// `delete` removes it by id.
    async fn take_row(
        &self,
        select: &'static str,
        delete: &'static str,
        id: Uuid,
        account: AccountId,
    ) -> StoreResult<Option<MySqlRow>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(select)
            .bind(id)
            .bind(account.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let Some(row) = row else {
            tx.commit().await.map_err(map_err)?;
            return Ok(None);
        };
        sqlx::query(delete)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(row))
    }
}

/// Locks the account's row until the end of `tx` (`SELECT ... FOR UPDATE`), so that
/// changes to its authenticators take turns.
async fn lock_account(tx: &mut Transaction<'static, MySql>, account: AccountId) -> StoreResult<()> {
    sqlx::query("SELECT id FROM accounts WHERE id = ? FOR UPDATE")
        .bind(account.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Replaces the account's recovery codes inside `tx`: the old ones go, the new ones come.
async fn replace_codes(
    tx: &mut Transaction<'static, MySql>,
    account: AccountId,
    codes: &[TokenDigest],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = ?")
        .bind(account.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    for code in common::distinct_codes(codes) {
        sqlx::query("INSERT INTO recovery_codes (account_id, digest, created_at) VALUES (?, ?, ?)")
            .bind(account.as_uuid())
            .bind(&code.as_bytes()[..])
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}
