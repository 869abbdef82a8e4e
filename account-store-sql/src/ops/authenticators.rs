//! Authenticators beyond the password: TOTP, recovery codes and passkeys.

use account_core::model::{
    AccountId, PasskeyDeletion, PasskeyId, PasskeyRecord, SecondFactors, TotpRecord, TotpSecret,
};
use account_core::store::{AuthenticatorStore, StoreResult};
use account_core::token::TokenDigest;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::db::RowExt as _;
use crate::db::{Arg, Tx, args, retry};
use crate::rows::{self, columns};
use crate::{Driver, SqlOps, Transaction};

#[async_trait]
impl<D: Driver> AuthenticatorStore for SqlOps<D> {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        let sql = concat!("SELECT ", columns!(totp), " FROM totp WHERE account_id = ?");
        self.db.read(sql, args![account], rows::totp).await
    }

    async fn put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Under the account's lock, which `confirm_totp` takes too: a confirmed TOTP is
        // left alone, a pending one replaced.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            tx.require_account(account).await?;
            let sql = "SELECT confirmed_at FROM totp WHERE account_id = ?";
            if let Some(row) = tx.read(sql, args![account]).await?
                && row.opt_time("confirmed_at")?.is_some()
            {
                return Ok(false);
            }
            tx.write("DELETE FROM totp WHERE account_id = ?", args![account])
                .await?;
            tx.write(
                "INSERT INTO totp (account_id, secret, confirmed_at, created_at, last_step) \
                 VALUES (?, ?, NULL, ?, NULL)",
                args![account, secret.expose(), at],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Under the account's lock: an account that is gone is reported as such, not as
        // one without a pending TOTP.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            tx.require_account(account).await?;
            let sql = "UPDATE totp SET confirmed_at = ?, last_step = ? \
                       WHERE account_id = ? AND confirmed_at IS NULL";
            if tx.write(sql, args![at, step, account]).await? == 0 {
                return Ok(false);
            }
            replace_codes(&mut tx, account, recovery_codes, at).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn accept_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        // One conditional statement: of two calls with the same step, the second finds
        // `last_step < step` false (a concurrent one waits for the row lock, then checks).
        let sql = "UPDATE totp SET last_step = ? WHERE account_id = ? \
                   AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)";
        Ok(self.db.write(sql, args![step, account, step]).await? > 0)
    }

    async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        let sql = "DELETE FROM totp WHERE account_id = ?";
        Ok(self.db.write(sql, args![account]).await? > 0)
    }

    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Replacements of one account's codes take turns on its row; an account that is
        // gone is reported even when there are no codes to insert.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            tx.require_account(account).await?;
            replace_codes(&mut tx, account, codes, at).await?;
            tx.commit().await
        })
        .await
    }

    async fn redeem_recovery_code(
        &self,
        account: AccountId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        // One statement: of concurrent redemptions only one deletes the row.
        let sql = "DELETE FROM recovery_codes WHERE account_id = ? AND digest = ?";
        Ok(self.db.write(sql, args![account, code]).await? > 0)
    }

    async fn insert_passkey(&self, p: &PasskeyRecord) -> StoreResult<()> {
        self.db
            .write(
                "INSERT INTO passkeys (id, account_id, credential_id, name, credential, \
                 created_at, last_used_at, sign_count, backup_eligible, backup_state) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                args![
                    p.id,
                    p.account_id,
                    p.credential_id.as_slice(),
                    p.name.as_str(),
                    p.credential.as_str(),
                    p.created_at,
                    p.last_used_at,
                    i64::from(p.sign_count),
                    p.backup_eligible,
                    p.backup_state,
                ],
            )
            .await?;
        Ok(())
    }

    async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(passkeys),
            " FROM passkeys WHERE account_id = ? ORDER BY created_at, id"
        );
        self.db.read_all(sql, args![account], rows::passkey).await
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(passkeys),
            " FROM passkeys WHERE credential_id = ?"
        );
        self.db.read(sql, args![credential_id], rows::passkey).await
    }

    async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<bool> {
        let sql = "UPDATE passkeys SET name = ? WHERE id = ? AND account_id = ?";
        Ok(self.db.write(sql, args![name, id, account]).await? > 0)
    }

    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = "UPDATE passkeys SET credential = ?, sign_count = ?, backup_state = ?, \
                   last_used_at = ? WHERE id = ?";
        let args = args![credential, i64::from(sign_count), backup_state, at, id];
        Ok(self.db.write(sql, args).await? > 0)
    }

    async fn delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        // Deletions of one account's passkeys take turns on its row (SQLite: on the write
        // lock), which also holds off a change of its password until the commit. The
        // reads after the lock see what the previous holder committed: PostgreSQL's READ
        // COMMITTED reads anew at each statement, and InnoDB takes its REPEATABLE READ
        // snapshot at the first plain read, which comes after the lock.
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            if !tx.lock_account(account).await? {
                return Ok(PasskeyDeletion::NotFound);
            }
            let check = tx
                .read(
                    "SELECT \
                     (SELECT COUNT(*) FROM passkeys WHERE id = ? AND account_id = ?) AS found, \
                     (SELECT COUNT(*) FROM passkeys WHERE account_id = ? AND id <> ?) AS others, \
                     (SELECT COUNT(*) FROM accounts WHERE id = ? AND password_hash IS NOT NULL) \
                     AS password",
                    args![id, account, account, id, account],
                )
                .await?;
            let [found, others, password] = match &check {
                Some(row) => [
                    row.get::<i64>("found")?,
                    row.get::<i64>("others")?,
                    row.get::<i64>("password")?,
                ],
                None => [0; 3],
            };
            if found == 0 {
                return Ok(PasskeyDeletion::NotFound);
            }
            if others == 0 && password == 0 {
                return Ok(PasskeyDeletion::LastLoginMethod);
            }
            let sql = "DELETE FROM passkeys WHERE id = ? AND account_id = ?";
            tx.write(sql, args![id, account]).await?;
            tx.commit().await?;
            Ok(PasskeyDeletion::Deleted)
        })
        .await
    }

    async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64> {
        retry(|| async move {
            let mut tx = self.db.begin().await?;
            if !tx.lock_account(account).await? {
                return Ok(0);
            }
            let mut gone = 0;
            for table in ["totp", "recovery_codes", "passkeys"] {
                let sql = format!("DELETE FROM {table} WHERE account_id = ?");
                gone += tx.write(&sql, args![account]).await?;
            }
            tx.commit().await?;
            Ok(gone)
        })
        .await
    }

    async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors> {
        // One statement, so one snapshot for the three counts.
        let sql = "SELECT \
                   (SELECT COUNT(*) FROM totp WHERE account_id = ? AND confirmed_at IS NOT NULL) \
                   AS totp, \
                   (SELECT COUNT(*) FROM recovery_codes WHERE account_id = ?) AS recovery_codes, \
                   (SELECT COUNT(*) FROM passkeys WHERE account_id = ?) AS passkeys";
        let args = args![account, account, account];
        let found = self.db.read(sql, args, rows::second_factors).await?;
        Ok(found.unwrap_or_default())
    }
}

/// Replaces the account's recovery codes inside `tx`: the old ones go, the new ones come
/// in one statement.
async fn replace_codes(
    tx: &mut Tx<impl Transaction>,
    account: AccountId,
    codes: &[TokenDigest],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    tx.write(
        "DELETE FROM recovery_codes WHERE account_id = ?",
        args![account],
    )
    .await?;
    let codes = rows::distinct_codes(codes);
    if codes.is_empty() {
        return Ok(());
    }
    let rows = vec!["(?, ?, ?)"; codes.len()].join(", ");
    let sql = format!("INSERT INTO recovery_codes (account_id, digest, created_at) VALUES {rows}");
    let args = codes
        .iter()
        .flat_map(|code| [Arg::from(account), Arg::from(code), Arg::from(at)])
        .collect();
    tx.write(&sql, args).await?;
    Ok(())
}
