//! Sessions, found by the digest of their token.

use account_core::model::{
    AccountId, SessionId, SessionRecord, SessionRotation, SessionWithAccount,
};
use account_core::store::{SessionStore, StoreResult};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::RowExt as _;
use crate::db::{args, retry};
use crate::rows::{self, columns};
use crate::{Driver, SqlOps};

#[async_trait]
impl<D: Driver> SessionStore for SqlOps<D> {
    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.db
            .write(
                "INSERT INTO sessions (id, token_digest, account_id, created_at, last_seen_at, \
                 idle_timeout_secs, absolute_expires_at, ip, user_agent, browser, os, device, \
                 engine, cpu_arch, authentications, assurance, stage, second_factor_attempts) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    s.id,
                    &s.token_digest,
                    s.account_id,
                    s.created_at,
                    s.last_seen_at,
                    rows::idle_timeout_secs(s),
                    s.absolute_expires_at,
                    s.ip.map(|ip| ip.to_string()),
                    s.user_agent.as_deref(),
                    s.device.browser.as_deref(),
                    s.device.os.as_deref(),
                    s.device.device.as_deref(),
                    s.device.engine.as_deref(),
                    s.device.cpu_arch.as_deref(),
                    rows::authentications_json(&s.authentications)?,
                    rows::assurance(s.assurance),
                    s.stage.as_str(),
                    rows::stage_attempts(s.stage),
                ],
            )
            .await?;
        Ok(())
    }

    async fn session_by_token(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>> {
        // The read of every authenticated request: one lookup by the unique token index.
        let sql = concat!(
            "SELECT ",
            columns!(sessions),
            " FROM sessions WHERE token_digest = ?"
        );
        self.db.read(sql, args![digest], rows::session).await
    }

    async fn session_with_account(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<SessionWithAccount>> {
        // The read of every authenticated request, in one statement: the session by the
        // unique token index, its account by primary key, and the three counts of its
        // second factors each by an index on `account_id`. The session's `id` and
        // `created_at` are renamed, since the account has columns of those names.
        let sql = "SELECT s.id AS session_id, token_digest, account_id, \
                   s.created_at AS session_created_at, last_seen_at, idle_timeout_secs, \
                   absolute_expires_at, ip, user_agent, browser, os, device, engine, cpu_arch, \
                   authentications, assurance, stage, second_factor_attempts, \
                   a.id, username, email, email_verified, recovery_email, language, \
                   display_name, avatar_updated_at, source, source_directory, state, role, \
                   security_stamp, a.created_at, a.updated_at, \
                   (SELECT COUNT(*) FROM totp t \
                    WHERE t.account_id = s.account_id AND t.confirmed_at IS NOT NULL) AS totp, \
                   (SELECT COUNT(*) FROM recovery_codes r \
                    WHERE r.account_id = s.account_id) AS recovery_codes, \
                   (SELECT COUNT(*) FROM passkeys p WHERE p.account_id = s.account_id) AS passkeys \
                   FROM sessions s JOIN accounts a ON a.id = s.account_id \
                   WHERE s.token_digest = ?";
        self.db
            .read(sql, args![digest], rows::session_with_account)
            .await
    }

    async fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> StoreResult<()> {
        // Only forward: a touch that arrives late changes nothing.
        let sql = "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?";
        self.db.write(sql, args![seen_at, id, seen_at]).await?;
        Ok(())
    }

    async fn rotate_session(
        &self,
        id: SessionId,
        current: &TokenDigest,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        let authentications = rows::authentications_json(&rotation.authentications)?;
        // One statement, only if the session still has the token `current`: of two
        // concurrent rotations one matches. It moves the row in the unique token index,
        // where InnoDB can pick one of two concurrent rotations as a deadlock victim; the
        // victim changed nothing, and tried again it finds the token rotated away.
        retry(|| {
            self.db.write(
                "UPDATE sessions SET token_digest = ?, authentications = ?, assurance = ?, \
                 stage = ?, second_factor_attempts = ?, last_seen_at = ? \
                 WHERE id = ? AND token_digest = ?",
                args![
                    &rotation.token_digest,
                    authentications.as_str(),
                    rows::assurance(rotation.assurance),
                    rotation.stage.as_str(),
                    rows::stage_attempts(rotation.stage),
                    rotation.at,
                    id,
                    current,
                ],
            )
        })
        .await
        .map(|changed| changed > 0)
    }

    async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(sessions),
            " FROM sessions WHERE account_id = ? ORDER BY created_at DESC, id DESC"
        );
        self.db.read_all(sql, args![account], rows::session).await
    }

    async fn record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>> {
        // One change that counts on top of the row as it is when the change locks it, so
        // concurrent attempts each count and each sees its own count.
        self.db
            .change_returning(
                "UPDATE sessions SET second_factor_attempts = second_factor_attempts + 1 \
                 WHERE id = ? AND stage = 'second_factor_pending'",
                args![id],
                "second_factor_attempts",
                "FROM sessions WHERE id = ?",
                args![id],
                |row| {
                    Ok(rows::count(
                        row.get::<i32>("second_factor_attempts")?.into(),
                    ))
                },
            )
            .await
    }

    async fn delete_session(&self, account: AccountId, id: SessionId) -> StoreResult<bool> {
        let sql = "DELETE FROM sessions WHERE id = ? AND account_id = ?";
        Ok(self.db.write(sql, args![id, account]).await? > 0)
    }

    async fn delete_sessions_of(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        match keep {
            Some(keep) => {
                let sql = "DELETE FROM sessions WHERE account_id = ? AND id <> ?";
                self.db.write(sql, args![account, keep]).await
            }
            None => {
                let sql = "DELETE FROM sessions WHERE account_id = ?";
                self.db.write(sql, args![account]).await
            }
        }
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let idle_expiry = self.db.backend().idle_expiry();
        let sql =
            format!("DELETE FROM sessions WHERE {idle_expiry} <= ? OR absolute_expires_at <= ?");
        self.db.write(&sql, args![now, now]).await
    }
}
