//! The security log, and the administrator's policy.

use account_core::model::{AccountId, EventPage, SecurityEvent};
use account_core::policy::Policy;
use account_core::store::{PolicyStore, SecurityEventStore, StoreResult};
use async_trait::async_trait;

use crate::SqlStore;
use crate::db::args;
use crate::rows::{self, columns};

#[async_trait]
impl SecurityEventStore for SqlStore {
    async fn record_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        self.db
            .write(
                "INSERT INTO security_events (id, account_id, at, kind, ip, user_agent, details) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                args![
                    e.id,
                    e.account_id,
                    e.at,
                    e.kind.as_str(),
                    e.ip.map(|ip| ip.to_string()),
                    e.user_agent.as_deref(),
                    rows::details_json(&e.details)?,
                ],
            )
            .await?;
        Ok(())
    }

    async fn events_of(
        &self,
        account: AccountId,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        // Newest first, strictly older than the cursor: the order of the index on
        // (account_id, at, id), read backwards.
        let limit = i64::from(page.limit);
        match page.before {
            None => {
                let sql = concat!(
                    "SELECT ",
                    columns!(security_events),
                    " FROM security_events WHERE account_id = ? \
                     ORDER BY at DESC, id DESC LIMIT ?"
                );
                self.db
                    .read_all(sql, args![account, limit], rows::event)
                    .await
            }
            Some(cursor) => {
                let sql = concat!(
                    "SELECT ",
                    columns!(security_events),
                    " FROM security_events WHERE account_id = ? \
                     AND (at < ? OR (at = ? AND id < ?)) ORDER BY at DESC, id DESC LIMIT ?"
                );
                let args = args![account, cursor.at, cursor.at, cursor.id, limit];
                self.db.read_all(sql, args, rows::event).await
            }
        }
    }
}

#[async_trait]
impl PolicyStore for SqlStore {
    async fn policy(&self) -> StoreResult<Option<Policy>> {
        let sql = "SELECT body FROM policy WHERE id = 1";
        self.db
            .read(sql, args![], |row| rows::policy(&row.text("body")?))
            .await
    }

    async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        let sql = "INSERT INTO policy (id, body) VALUES (1, ?) \
                   ON CONFLICT (id) DO UPDATE SET body = excluded.body";
        self.db
            .write(sql, args![rows::policy_json(policy)?])
            .await?;
        Ok(())
    }
}
