//! One-time challenges: links in mail and WebAuthn ceremonies, found by a digest.

use account_core::model::{AccountId, Challenge, ChallengePurpose, SecurityStamp};
use account_core::store::{ChallengeStore, StoreResult};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::{args, retry};
use crate::rows::{self, columns};
use crate::{Driver, SqlOps};

#[async_trait]
impl<D: Driver> ChallengeStore for SqlOps<D> {
    async fn insert_challenge(&self, c: &Challenge, replace: bool) -> StoreResult<()> {
        let replaces = c.account_id.filter(|_| replace);
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            if let Some(account) = replaces {
                // Replacing inserts for one account take turns, so that the later one sees
                // (and deletes) the earlier one's challenge.
                tx.require_account(account).await?;
            }
            tx.write(
                "INSERT INTO challenges (digest, purpose, account_id, security_stamp, payload, \
                 created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                args![
                    &c.digest,
                    c.purpose.as_str(),
                    c.account_id,
                    c.security_stamp.as_ref().map(SecurityStamp::as_str),
                    c.payload.as_str(),
                    c.created_at,
                    c.expires_at,
                ],
            )
            .await?;
            if let Some(account) = replaces {
                let sql = "DELETE FROM challenges WHERE account_id = ? AND purpose = ? \
                           AND digest <> ?";
                tx.write(sql, args![account, c.purpose.as_str(), &c.digest])
                    .await?;
            }
            tx.commit().await
        })
        .await
    }

    async fn find_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        let sql = concat!(
            "SELECT ",
            columns!(challenges),
            " FROM challenges WHERE digest = ? AND purpose = ? AND expires_at > ?"
        );
        self.db
            .read(sql, args![digest, purpose.as_str(), now], rows::challenge)
            .await
    }

    async fn consume_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        // Deleted whether or not it expired (an expired challenge is removed too), and
        // returned only when it is still live; of concurrent consumers one gets the row.
        let gone = self
            .db
            .delete_returning(
                "challenges",
                columns!(challenges),
                "digest = ? AND purpose = ?",
                args![digest, purpose.as_str()],
                rows::challenge,
            )
            .await?;
        Ok(gone.filter(|c| c.expires_at > now))
    }

    async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        let sql = "DELETE FROM challenges WHERE account_id = ? AND purpose = ?";
        self.db.write(sql, args![account, purpose.as_str()]).await
    }

    async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let sql = "DELETE FROM challenges WHERE expires_at <= ?";
        self.db.write(sql, args![now]).await
    }
}
