//! The security log, and the administrator's policy.

use account_core::model::{EventFilter, EventPage, SecurityEvent};
use account_core::policy::Policy;
use account_core::store::{PolicyStore, SecurityEventStore, StoreResult};
use async_trait::async_trait;

use crate::db::RowExt as _;
use crate::db::{Arg, Args, args};
use crate::ops::Conditions;
use crate::rows::{self, columns};
use crate::{Driver, SqlOps};

/// The statement that adds an event, with [`event_args`]; `delete_account` writes the
/// deletion record with it too.
pub(super) const INSERT_EVENT: &str = "INSERT INTO security_events \
    (id, account_id, at, kind, ip, user_agent, details) VALUES (?, ?, ?, ?, ?, ?, ?)";

/// The arguments of [`INSERT_EVENT`].
pub(super) fn event_args(e: &SecurityEvent) -> StoreResult<Args<'_>> {
    Ok(args![
        e.id,
        e.account_id,
        e.at,
        e.kind.as_str(),
        e.ip.map(|ip| ip.to_string()),
        e.user_agent.as_deref(),
        rows::details_json(&e.details)?,
    ])
}

#[async_trait]
impl<D: Driver> SecurityEventStore for SqlOps<D> {
    async fn record_event(&self, e: &SecurityEvent) -> StoreResult<()> {
        self.db.write(INSERT_EVENT, event_args(e)?).await?;
        Ok(())
    }

    async fn events(
        &self,
        filter: &EventFilter,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        // Newest first, strictly older than the cursor: one account's events in the order
        // of the index on (account_id, at, id), every account's in that of (at, id), each
        // read backwards. The kind and the time are checked on the way.
        let mut conditions = Conditions::default();
        if let Some(account) = filter.account {
            conditions.and("account_id = ?", args![account]);
        }
        if let Some(kind) = filter.kind {
            conditions.and("kind = ?", args![kind.as_str()]);
        }
        if let Some(since) = filter.since {
            conditions.and("at >= ?", args![since]);
        }
        if let Some(cursor) = page.before {
            conditions.and(
                "(at < ? OR (at = ? AND id < ?))",
                args![cursor.at, cursor.at, cursor.id],
            );
        }
        let (where_clause, mut args) = conditions.into_where();
        let sql = format!(
            concat!(
                "SELECT ",
                columns!(security_events),
                " FROM security_events{} ORDER BY at DESC, id DESC LIMIT ?"
            ),
            where_clause
        );
        args.push(Arg::from(i64::from(page.limit)));
        self.db.read_all(&sql, args, rows::event).await
    }
}

#[async_trait]
impl<D: Driver> PolicyStore for SqlOps<D> {
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
