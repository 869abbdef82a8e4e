//! Counters shared by every app instance: login failures per account, and requests per
//! key and time window.

use account_core::model::{AccountId, FailureKind, Failures};
use account_core::store::{RateLimitStore, StoreResult, ThrottleStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::RowExt as _;
use crate::db::args;
use crate::rows;
use crate::{Driver, SqlOps};

#[async_trait]
impl<D: Driver> ThrottleStore for SqlOps<D> {
    async fn record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        // One upsert, which counts on top of the row as it is when it locks it: concurrent
        // failures are never lost.
        let failures = self
            .db
            .change_returning(
                "INSERT INTO failures (account_id, kind, count, last_at) VALUES (?, ?, 1, ?) \
                 ON CONFLICT (account_id, kind) DO UPDATE SET count = failures.count + 1, \
                 last_at = GREATEST(failures.last_at, excluded.last_at)",
                args![account, kind.as_str(), at],
                "count, last_at",
                "FROM failures WHERE account_id = ? AND kind = ?",
                args![account, kind.as_str()],
                rows::failures,
            )
            .await?;
        Ok(failures.unwrap_or_default())
    }

    async fn failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<Failures> {
        let sql = "SELECT count, last_at FROM failures WHERE account_id = ? AND kind = ?";
        let failures = self
            .db
            .read(sql, args![account, kind.as_str()], rows::failures);
        Ok(failures.await?.unwrap_or_default())
    }

    async fn clear_failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<()> {
        let sql = "DELETE FROM failures WHERE account_id = ? AND kind = ?";
        self.db.write(sql, args![account, kind.as_str()]).await?;
        Ok(())
    }
}

#[async_trait]
impl<D: Driver> RateLimitStore for SqlOps<D> {
    async fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u32> {
        if self.db.backend() == crate::Backend::MySql {
            // MySQL cannot return the count it left, but `LAST_INSERT_ID(expr)` makes the
            // server report `expr` as the statement's last insert id: still one statement,
            // where a transaction would cost three more round trips on every request that
            // is rate-limited.
            let count = self
                .db
                .write_last_insert_id(
                    "INSERT INTO rate_limits (`key`, window_start, count) \
                     VALUES (?, ?, LAST_INSERT_ID(1)) \
                     ON DUPLICATE KEY UPDATE count = LAST_INSERT_ID(count + 1)",
                    args![key, window_start],
                )
                .await?;
            return Ok(u32::try_from(count).unwrap_or(u32::MAX));
        }
        let count = self
            .db
            .change_returning(
                "INSERT INTO rate_limits (\"key\", window_start, count) VALUES (?, ?, 1) \
                 ON CONFLICT (\"key\", window_start) DO UPDATE \
                 SET count = rate_limits.count + 1",
                args![key, window_start],
                "count",
                "FROM rate_limits WHERE \"key\" = ? AND window_start = ?",
                args![key, window_start],
                |row| row.get::<i64>("count"),
            )
            .await?;
        Ok(rows::count(count.unwrap_or_default()))
    }

    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let sql = "DELETE FROM rate_limits WHERE window_start < ?";
        self.db.write(sql, args![before]).await
    }
}
