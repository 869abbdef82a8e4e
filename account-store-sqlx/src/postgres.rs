//! PostgreSQL.
//!
//! Transactions run at PostgreSQL's default isolation, READ COMMITTED. Every atomic
//! operation is a single statement, or a transaction whose statements lock what they
//! depend on; a transaction that loses a deadlock (`40P01`) is tried again.
//!
//! # Atomicity
//!
//! | operation | how |
//! |---|---|
//! | `insert_account` | one transaction: the account row, then its `usernames_taken` row; a concurrent insert of the same username or address waits on the unique index, then fails with the conflict |
//! | `update_profile` | `UPDATE ... RETURNING` |
//! | `upgrade_password_hash` | `UPDATE ... WHERE password_hash = $current` |
//! | `rotate_session` | `UPDATE ... WHERE id = $1 AND token_digest = $current` |
//! | `insert_challenge` with `replace` | one transaction: lock the account row (`FOR NO KEY UPDATE`, so that replacing inserts for one account take turns), insert, delete the others |
//! | `consume_challenge` | `DELETE ... RETURNING` |
//! | `record_failure`, `hit_rate_limit` | `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` |
//! | `set_avatar` | one transaction: the account's times, then the avatar row |
//! | `record_second_factor_attempt` | `UPDATE ... SET attempts = attempts + 1 WHERE stage = 'second_factor_pending' RETURNING attempts` |
//! | `put_pending_totp` | `INSERT ... ON CONFLICT DO UPDATE ... WHERE totp.confirmed_at IS NULL`: the condition is checked on the row's latest version under its lock; a confirmed row is left alone and no row changes |
//! | `confirm_totp` | one transaction: lock the account row (`FOR NO KEY UPDATE`), `UPDATE ... WHERE confirmed_at IS NULL` (nothing more when it changes no row), delete the old recovery codes, insert the new |
//! | `accept_totp_step` | `UPDATE totp SET last_step = $1 WHERE ... confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)`, checking that it changed the row; a concurrent call waits for the row lock and re-checks |
//! | `replace_recovery_codes` | one transaction: lock the account row (`FOR NO KEY UPDATE`, so that replacements take turns), delete the old codes, insert the new |
//! | `redeem_recovery_code` | `DELETE` of the code's row, checking that it deleted one |
//! | `delete_passkey` | one transaction: lock the account row (`SELECT ... FOR NO KEY UPDATE`, which also reads whether it has a password), then does the passkey exist, how many others are there, then the `DELETE` |
//! | `delete_authenticators` | one transaction: lock the account row, then TOTP, recovery codes, passkeys |
//! | `second_factors` | one `SELECT` of three subselects (one snapshot) |
//! | `insert_api_token`, `insert_app_password`, `insert_ssh_key` | one transaction: lock the account row (`FOR NO KEY UPDATE`, so that inserts for one account take turns), count the clashes (SSH key: fingerprint first) and the account's rows, then the `INSERT` unless the account is at its limit; the unique indexes catch a clash with another account's concurrent insert |
//! | `touch_api_token`, `touch_app_password` | `UPDATE ... WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $at)`; a concurrent touch waits for the row lock and re-checks |
//! | `replace_api_token_secret` | `UPDATE ... SET digest = $1, last_four = $2 WHERE id = $3 AND account_id = $4 RETURNING ...` |
//! | `delete_api_token`, `delete_app_password`, `delete_ssh_key` | `DELETE ... RETURNING` |
//!
//! Times are `TIMESTAMPTZ` (microseconds).

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _, Transaction};
use uuid::Uuid;

use crate::common::{
    self, Columns, account_columns, api_token_columns, app_password_columns, challenge_columns,
    event_columns, passkey_columns, retry_deadlocks, session_columns, ssh_key_columns,
    totp_columns,
};
use crate::{SetupError, SqlStoreOptions};

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects a pool to the database at `url`.
    pub(crate) async fn connect(url: &str, options: &SqlStoreOptions) -> Result<Self, SetupError> {
        let connect = PgConnectOptions::from_str(url).map_err(SetupError::InvalidUrl)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(SetupError::Connect)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over `pool`.
    pub(crate) fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Runs the embedded migrations.
    pub(crate) async fn migrate(&self) -> Result<(), SetupError> {
        sqlx::migrate!("migrations/postgres")
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

    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(map_err)
    }
}

/// The one place where PostgreSQL errors become store errors.
///
/// PostgreSQL names the violated constraint; the migration names every one.
fn map_err(error: sqlx::Error) -> StoreError {
    common::store_error(error, |db| match db.constraint()? {
        "accounts_username_key" | "usernames_taken_pkey" => Some(Conflict::Username),
        "accounts_email_key_key" => Some(Conflict::Email),
        "accounts_pkey"
        | "sessions_pkey"
        | "sessions_token_digest_key"
        | "challenges_pkey"
        | "security_events_pkey"
        | "passkeys_pkey"
        | "passkeys_credential_id_key"
        | "api_tokens_pkey"
        | "api_tokens_digest_key"
        | "app_passwords_pkey"
        | "app_passwords_digest_key"
        | "ssh_keys_pkey" => Some(Conflict::Id),
        "ssh_keys_fingerprint_key" => Some(Conflict::SshKey),
        _ => None,
    })
}

impl Columns for PgRow {
    fn text(&self, column: &'static str) -> StoreResult<String> {
        self.try_get(column).map_err(map_err)
    }

    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>> {
        self.try_get(column).map_err(map_err)
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

impl PgStore {
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
        sqlx::query("INSERT INTO usernames_taken (username) VALUES ($1)")
            .bind(a.username.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| common::username_taken(map_err(e)))?;
        tx.commit().await.map_err(map_err)
    }

    pub(crate) async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.account_where(
            concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE id = $1"
            ),
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
                " FROM accounts WHERE username = $1"
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
                " FROM accounts WHERE email_key = $1"
            ),
            |q| q.bind(email.lookup_key()),
        )
        .await
    }

    async fn account_where<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(PgQuery<'q>) -> PgQuery<'q>,
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
        let language = change.language.as_ref();
        sqlx::query(concat!(
            "UPDATE accounts SET display_name = COALESCE($1, display_name), \
             language = CASE WHEN $2 THEN $3 ELSE language END, updated_at = $4 \
             WHERE id = $5 RETURNING ",
            account_columns!()
        ))
        .bind(change.display_name.as_ref().map(|n| n.as_str()))
        .bind(language.is_some())
        .bind(language.and_then(|l| l.as_ref().map(|l| l.as_str())))
        .bind(at)
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::account(&row))
        .transpose()
    }

    pub(crate) async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET email = $1, email_key = $2, email_verified = $3, \
             updated_at = $4 WHERE id = $5",
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
            sqlx::query("UPDATE accounts SET recovery_email = $1, updated_at = $2 WHERE id = $3")
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
        let done = sqlx::query("UPDATE accounts SET state = $1 WHERE id = $2")
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
        let done = sqlx::query(
            "UPDATE accounts SET avatar_updated_at = $1, updated_at = $2 WHERE id = $3",
        )
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
                "INSERT INTO avatars (account_id, content_type, bytes) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE \
                 SET content_type = excluded.content_type, bytes = excluded.bytes",
            )
            .bind(id.as_uuid())
            .bind(avatar.content_type())
            .bind(avatar.bytes.as_slice()),
            None => sqlx::query("DELETE FROM avatars WHERE account_id = $1").bind(id.as_uuid()),
        }
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    pub(crate) async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        sqlx::query("SELECT content_type, bytes FROM avatars WHERE account_id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(|row| common::avatar(&row))
            .transpose()
    }

    pub(crate) async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        let row = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
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
            "UPDATE accounts SET password_hash = $1, security_stamp = $2, updated_at = $3 \
             WHERE id = $4",
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
        let done = sqlx::query(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
        )
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18)",
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
            " FROM sessions WHERE token_digest = $1"
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
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(seen_at)
            .bind(id.as_uuid())
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
        let done = sqlx::query(
            "UPDATE sessions SET token_digest = $1, authentications = $2, assurance = $3, \
             stage = $4, second_factor_attempts = $5, last_seen_at = $6 \
             WHERE id = $7 AND token_digest = $8",
        )
        .bind(&rotation.token_digest.as_bytes()[..])
        .bind(common::authentications_json(&rotation.authentications)?)
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
    }

    pub(crate) async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE account_id = $1 ORDER BY created_at DESC, id DESC"
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
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
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
        let done =
            sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2")
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
             WHERE last_seen_at + make_interval(secs => idle_timeout_secs) <= $1 \
             OR absolute_expires_at <= $1",
        )
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
        let mut tx = self.begin().await?;
        let replaces = c.account_id.filter(|_| replace);
        if let Some(account) = replaces {
            // Replacing inserts for one account take turns, so that the later one sees
            // (and deletes) the earlier one's challenge. NO KEY UPDATE leaves inserts of
            // rows that refer to the account free to go on.
            sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
                .bind(account.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        sqlx::query(
            "INSERT INTO challenges (digest, purpose, account_id, security_stamp, payload, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
                "DELETE FROM challenges WHERE account_id = $1 AND purpose = $2 AND digest <> $3",
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
            " FROM challenges WHERE digest = $1 AND purpose = $2 AND expires_at > $3"
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
        // Deleted whether or not it expired (an expired challenge is removed too), and
        // returned only when it is still live.
        let gone = sqlx::query(concat!(
            "DELETE FROM challenges WHERE digest = $1 AND purpose = $2 RETURNING ",
            challenge_columns!()
        ))
        .bind(&digest.as_bytes()[..])
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::challenge(&row))
        .transpose()?;
        Ok(gone.filter(|c| c.expires_at > now))
    }

    pub(crate) async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM challenges WHERE account_id = $1 AND purpose = $2")
            .bind(account.as_uuid())
            .bind(purpose.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
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
        let row = sqlx::query(
            "INSERT INTO failures (account_id, kind, count, last_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (account_id, kind) DO UPDATE \
             SET count = failures.count + 1, last_at = GREATEST(failures.last_at, excluded.last_at) \
             RETURNING count, last_at",
        )
        .bind(account.as_uuid())
        .bind(kind.as_str())
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        common::failures(&row)
    }

    pub(crate) async fn failures(
        &self,
        account: AccountId,
        kind: FailureKind,
    ) -> StoreResult<Failures> {
        let row =
            sqlx::query("SELECT count, last_at FROM failures WHERE account_id = $1 AND kind = $2")
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
        sqlx::query("DELETE FROM failures WHERE account_id = $1 AND kind = $2")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
                " FROM security_events WHERE account_id = $1 \
                 ORDER BY at DESC, id DESC LIMIT $2"
            ))
            .bind(account.as_uuid())
            .bind(limit),
            Some(cursor) => sqlx::query(concat!(
                "SELECT ",
                event_columns!(),
                " FROM security_events WHERE account_id = $1 \
                 AND (at < $3 OR (at = $3 AND id < $4)) \
                 ORDER BY at DESC, id DESC LIMIT $2"
            ))
            .bind(account.as_uuid())
            .bind(limit)
            .bind(cursor.at)
            .bind(cursor.id.as_uuid()),
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
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1 \
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(common::count(count))
    }

    pub(crate) async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn policy(&self) -> StoreResult<Option<Policy>> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM policy WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        body.as_deref().map(common::policy).transpose()
    }

    pub(crate) async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO policy (id, body) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        )
        .bind(common::policy_json(policy)?)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

impl PgStore {
    pub(crate) async fn record_second_factor_attempt(
        &self,
        id: SessionId,
    ) -> StoreResult<Option<u32>> {
        // One statement: a concurrent attempt waits for the row lock and then counts on
        // top of this one.
        let attempts: Option<i32> = sqlx::query_scalar(
            "UPDATE sessions SET second_factor_attempts = second_factor_attempts + 1 \
             WHERE id = $1 AND stage = 'second_factor_pending' \
             RETURNING second_factor_attempts",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(attempts.map(|a| common::count(i64::from(a))))
    }

    pub(crate) async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        sqlx::query(concat!(
            "SELECT ",
            totp_columns!(),
            " FROM totp WHERE account_id = $1"
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
        // One statement: a pending row is replaced, a confirmed one is left alone (the
        // upsert's WHERE is checked on the row's latest version, under its lock), and then
        // no row changes.
        let done = sqlx::query(
            "INSERT INTO totp (account_id, secret, confirmed_at, created_at, last_step) \
             VALUES ($1, $2, NULL, $3, NULL) \
             ON CONFLICT (account_id) DO UPDATE \
             SET secret = excluded.secret, created_at = excluded.created_at, last_step = NULL \
             WHERE totp.confirmed_at IS NULL",
        )
        .bind(account.as_uuid())
        .bind(secret.expose())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
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
        // Replacements of one account's recovery codes take turns on the account row.
        lock_account(&mut tx, account).await?;
        let done = sqlx::query(
            "UPDATE totp SET confirmed_at = $1, last_step = $2 \
             WHERE account_id = $3 AND confirmed_at IS NULL",
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
        // One conditional statement: a concurrent call with the same step waits for the
        // row lock, re-checks the condition on the updated row and changes nothing.
        let done = sqlx::query(
            "UPDATE totp SET last_step = $1 WHERE account_id = $2 \
             AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(account.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    pub(crate) async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM totp WHERE account_id = $1")
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
        let done = sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1 AND digest = $2")
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
            " FROM passkeys WHERE account_id = $1 ORDER BY created_at, id"
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
            " FROM passkeys WHERE credential_id = $1"
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
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND account_id = $3")
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
            "UPDATE passkeys SET credential = $1, sign_count = $2, backup_state = $3, \
             last_used_at = $4 WHERE id = $5",
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
        // holds off a change of its password hash (an UPDATE of the row) until the commit.
        // Each later statement of this READ COMMITTED transaction reads what committed
        // before it, so it sees what the previous holder of the lock did.
        let Some(has_password) = sqlx::query_scalar::<_, bool>(
            "SELECT password_hash IS NOT NULL FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(account.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?
        else {
            return Ok(PasskeyDeletion::NotFound);
        };
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1 AND account_id = $2) AS found, \
             (SELECT COUNT(*) FROM passkeys WHERE account_id = $2 AND id <> $1) AS others",
        )
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if !row.flag("found")? {
            return Ok(PasskeyDeletion::NotFound);
        }
        if row.int("others")? == 0 && !has_password {
            return Ok(PasskeyDeletion::LastLoginMethod);
        }
        sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
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
                "DELETE FROM totp WHERE account_id = $1",
                "DELETE FROM recovery_codes WHERE account_id = $1",
                "DELETE FROM passkeys WHERE account_id = $1",
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
        // One statement, so one snapshot for the three counts.
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM totp WHERE account_id = $1 AND confirmed_at IS NOT NULL) \
             AS totp, \
             (SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1) AS recovery_codes, \
             (SELECT COUNT(*) FROM passkeys WHERE account_id = $1) AS passkeys",
        )
        .bind(account.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        common::second_factors(&row)
    }
}

impl PgStore {
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
        // Inserts for one account take turns on its row. The count below is a statement of
        // its own in a READ COMMITTED transaction, so it sees the rows the previous holder
        // of the lock committed: no two inserts can both find room for the last slot.
        lock_account(&mut tx, t.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM api_tokens WHERE id = $1) AS id_taken, \
             (SELECT COUNT(*) FROM api_tokens WHERE digest = $2) AS digest_taken, \
             (SELECT COUNT(*) FROM api_tokens WHERE account_id = $3) AS taken",
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            " FROM api_tokens WHERE digest = $1"
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
            " FROM api_tokens WHERE account_id = $1 ORDER BY created_at, id"
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
        // One conditional statement: a concurrent touch waits for the row lock and
        // re-checks the condition on the updated row, so the record only moves forward.
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1, last_used_ip = $2 \
             WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(id.as_uuid())
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
        // One statement: the old digest stops matching the moment the new one commits,
        // and the unique index refuses a digest another token has.
        sqlx::query(concat!(
            "UPDATE api_tokens SET digest = $1, last_four = $2 \
             WHERE id = $3 AND account_id = $4 RETURNING ",
            api_token_columns!()
        ))
        .bind(&digest.as_bytes()[..])
        .bind(last_four)
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::api_token(&row))
        .transpose()
    }

    pub(crate) async fn delete_api_token(
        &self,
        account: AccountId,
        id: ApiTokenId,
    ) -> StoreResult<Option<ApiTokenRecord>> {
        sqlx::query(concat!(
            "DELETE FROM api_tokens WHERE id = $1 AND account_id = $2 RETURNING ",
            api_token_columns!()
        ))
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::api_token(&row))
        .transpose()
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
        // As for API tokens: inserts for one account take turns on its row.
        lock_account(&mut tx, p.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM app_passwords WHERE id = $1) AS id_taken, \
             (SELECT COUNT(*) FROM app_passwords WHERE digest = $2) AS digest_taken, \
             (SELECT COUNT(*) FROM app_passwords WHERE account_id = $3) AS taken",
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
             VALUES ($1, $2, $3, $4, $5, $6)",
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
            " FROM app_passwords WHERE digest = $1"
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
            " FROM app_passwords WHERE account_id = $1 ORDER BY created_at, id"
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
            "UPDATE app_passwords SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(id.as_uuid())
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
        sqlx::query(concat!(
            "DELETE FROM app_passwords WHERE id = $1 AND account_id = $2 RETURNING ",
            app_password_columns!()
        ))
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::app_password(&row))
        .transpose()
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
        // As for API tokens: inserts for one account take turns on its row. The
        // fingerprint is checked before the limit, so that a key that is on an account
        // already is reported as such even to an account at its limit.
        lock_account(&mut tx, k.account_id).await?;
        let check = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM ssh_keys WHERE fingerprint = $1) AS fingerprint_taken, \
             (SELECT COUNT(*) FROM ssh_keys WHERE id = $2) AS id_taken, \
             (SELECT COUNT(*) FROM ssh_keys WHERE account_id = $3) AS taken",
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
             public_key, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
            " FROM ssh_keys WHERE fingerprint = $1"
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
            " FROM ssh_keys WHERE account_id = $1 ORDER BY created_at, id"
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
        sqlx::query(concat!(
            "DELETE FROM ssh_keys WHERE id = $1 AND account_id = $2 RETURNING ",
            ssh_key_columns!()
        ))
        .bind(id.as_uuid())
        .bind(account.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?
        .map(|row| common::ssh_key(&row))
        .transpose()
    }
}

/// Locks the account's row until the end of `tx` (`FOR NO KEY UPDATE`: rows that refer to
/// the account can still be inserted meanwhile), so that changes to its authenticators
/// take turns.
async fn lock_account(
    tx: &mut Transaction<'static, Postgres>,
    account: AccountId,
) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(account.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Replaces the account's recovery codes inside `tx`: the old ones go, the new ones come.
async fn replace_codes(
    tx: &mut Transaction<'static, Postgres>,
    account: AccountId,
    codes: &[TokenDigest],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account.as_uuid())
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    let digests: Vec<Vec<u8>> = common::distinct_codes(codes)
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .collect();
    sqlx::query(
        "INSERT INTO recovery_codes (account_id, digest, created_at) \
         SELECT $1, digest, $3 FROM UNNEST($2::BYTEA[]) AS codes (digest)",
    )
    .bind(account.as_uuid())
    .bind(&digests)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
