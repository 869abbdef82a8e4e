//! What differs between SQLite, PostgreSQL and MySQL, and nothing else.
//!
//! Every statement of this crate is written once, in one SQL that the three backends
//! share, and [`Backend::sql`] makes it each backend's own:
//!
//! - placeholders are `?`, bound in the order they appear (PostgreSQL: `$1`, `$2`, ...);
//! - an upsert is `INSERT ... ON CONFLICT (key) DO UPDATE SET col = expr`, with
//!   `excluded.col` for the value the insert brought (MySQL: `ON DUPLICATE KEY UPDATE` and
//!   `VALUES(col)`);
//! - `GREATEST(a, b)` is the larger of two values (SQLite: `max(a, b)`);
//! - a keyword used as a name is double-quoted, `"key"` (MySQL: backticks).
//!
//! What cannot be a rewrite of text is a method here, used by the statements that need
//! it: the lock that makes one account's transactions take turns ([`Backend::lock_account`]),
//! the lock that keeps an active administrator ([`Backend::lock_account_and_admins`]),
//! whether a change can return its rows ([`Backend::has_returning`]), time arithmetic
//! ([`Backend::idle_expiry`]), and which store error a refusal of the database is
//! ([`Backend::store_error`]: which unique key means which taken value). Times and
//! identifiers are bound and read per backend by the adapter's driver.

use std::borrow::Cow;
use std::fmt::Write as _;

use account_core::store::{Conflict, StoreError};

use crate::Backend;
use crate::driver::{Refusal, RolledBack};

/// The unique keys whose violation means a taken value: the constraint's name (as
/// PostgreSQL reports it, and MySQL for keys other than the primary one), the columns as
/// SQLite names them, and what is taken. The migrations name every constraint so.
const UNIQUE_KEYS: &[(&str, &str, Conflict)] = &[
    (
        "accounts_username_key",
        "accounts.username",
        Conflict::Username,
    ),
    (
        "usernames_taken_pkey",
        "usernames_taken.username",
        Conflict::Username,
    ),
    (
        "accounts_email_key_key",
        "accounts.email_key",
        Conflict::Email,
    ),
    ("accounts_pkey", "accounts.id", Conflict::Id),
    ("sessions_pkey", "sessions.id", Conflict::Id),
    (
        "sessions_token_digest_key",
        "sessions.token_digest",
        Conflict::Id,
    ),
    ("challenges_pkey", "challenges.digest", Conflict::Id),
    ("security_events_pkey", "security_events.id", Conflict::Id),
    ("passkeys_pkey", "passkeys.id", Conflict::Id),
    (
        "passkeys_credential_id_key",
        "passkeys.credential_id",
        Conflict::Id,
    ),
    ("api_tokens_pkey", "api_tokens.id", Conflict::Id),
    ("api_tokens_digest_key", "api_tokens.digest", Conflict::Id),
    ("app_passwords_pkey", "app_passwords.id", Conflict::Id),
    (
        "app_passwords_digest_key",
        "app_passwords.digest",
        Conflict::Id,
    ),
    ("ssh_keys_pkey", "ssh_keys.id", Conflict::Id),
    (
        "ssh_keys_fingerprint_key",
        "ssh_keys.fingerprint",
        Conflict::SshKey,
    ),
];

impl Backend {
    /// The statement `text`, written in this crate's shared SQL, as this backend reads it.
    /// Borrowed unchanged where nothing needs rewriting, as most statements on SQLite and
    /// MySQL.
    pub fn sql(self, text: &str) -> Cow<'_, str> {
        match self {
            Backend::Sqlite => replace(text, "GREATEST(", "max("),
            Backend::Postgres if text.contains('?') => {
                // Copied a stretch at a time: this runs for every statement.
                let mut out = String::with_capacity(text.len() + 16);
                let mut parts = text.split('?');
                out.push_str(parts.next().unwrap_or_default());
                for (n, part) in parts.enumerate() {
                    // Writing to a `String` cannot fail.
                    let _ = write!(out, "${}", n + 1);
                    out.push_str(part);
                }
                Cow::Owned(out)
            }
            Backend::Postgres => Cow::Borrowed(text),
            Backend::MySql => mysql(text),
        }
    }

    /// Whether `INSERT`, `UPDATE` and `DELETE` can return the rows they wrote
    /// (`RETURNING`). MySQL cannot (MariaDB can for `INSERT` and `DELETE` only), so there
    /// a change that must say what it left is a transaction: the change locks the row, a
    /// read brings it back.
    pub(crate) fn has_returning(self) -> bool {
        !matches!(self, Backend::MySql)
    }

    /// The statement that locks an account's row for the rest of a transaction, so that
    /// the transactions of one account that decide from what they read (a limit, the last
    /// passkey, the pending TOTP) take turns; it finds the row, so it also says whether
    /// the account exists. PostgreSQL's `FOR NO KEY UPDATE` leaves inserts that reference
    /// the row free; MySQL has only `FOR UPDATE`. SQLite needs no lock (a transaction
    /// there starts with `BEGIN IMMEDIATE` and holds the only write lock from its first
    /// statement) and has no `FOR UPDATE`: a plain read finds the row.
    pub(crate) fn lock_account(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT 1 FROM accounts WHERE id = ?",
            Backend::Postgres => "SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE",
            Backend::MySql => "SELECT 1 FROM accounts WHERE id = ? FOR UPDATE",
        }
    }

    /// The statement that locks an account's row together with the rows of every active
    /// administrator and reads their `id`, `role` and `state`, for a change that must not
    /// leave the accounts without an active administrator (demoting, disabling,
    /// deleting). Two such transactions on two different administrators each lock both
    /// rows, so the second waits for the first and then sees what it left. The rows are
    /// locked in one statement, in id order, so that transactions that lock overlapping
    /// sets take them in the same order instead of deadlocking.
    ///
    /// `deleting` for a transaction that deletes the account: PostgreSQL then takes `FOR
    /// UPDATE`, the lock a `DELETE` needs, at once (an insert that references the row
    /// waits for it, then fails on the foreign key), and otherwise `FOR NO KEY UPDATE`,
    /// which leaves such inserts free. MySQL has only `FOR UPDATE`, and InnoDB locks
    /// rows as it reads them rather than in the order of `ORDER BY`: no index serves the
    /// condition, so it reads the whole primary key, which is id order, and (at its
    /// REPEATABLE READ) keeps every row it read locked until the commit. Such a change is
    /// an administrator's, rare and short; other accounts' turns wait for it meanwhile.
    /// SQLite has one writer at a time (`BEGIN IMMEDIATE`) and no `FOR UPDATE`: a plain
    /// read.
    pub(crate) fn lock_account_and_admins(self, deleting: bool) -> &'static str {
        match (self, deleting) {
            (Backend::Sqlite, _) => {
                "SELECT id, role, state FROM accounts \
                 WHERE id = ? OR (role = 'admin' AND state = 'active') ORDER BY id"
            }
            (Backend::Postgres, false) => {
                "SELECT id, role, state FROM accounts \
                 WHERE id = ? OR (role = 'admin' AND state = 'active') ORDER BY id \
                 FOR NO KEY UPDATE"
            }
            (Backend::Postgres, true) | (Backend::MySql, _) => {
                "SELECT id, role, state FROM accounts \
                 WHERE id = ? OR (role = 'admin' AND state = 'active') ORDER BY id FOR UPDATE"
            }
        }
    }

    /// The moment a session's idle timeout runs out, as an expression over its columns
    /// `last_seen_at` and `idle_timeout_secs`: each backend adds seconds to a time its own
    /// way (SQLite keeps times as microseconds).
    pub(crate) fn idle_expiry(self) -> &'static str {
        match self {
            Backend::Sqlite => "last_seen_at + idle_timeout_secs * 1000000",
            Backend::Postgres => "last_seen_at + make_interval(secs => idle_timeout_secs)",
            Backend::MySql => "DATE_ADD(last_seen_at, INTERVAL idle_timeout_secs SECOND)",
        }
    }

    /// The one place where a database error becomes a store error, for every driver:
    /// a unique violation of a key that means a taken value is [`StoreError::Conflict`];
    /// a row refused by its foreign key, whose account is gone, is
    /// [`StoreError::NoSuchAccount`] (every foreign key of the schema names an account);
    /// a transaction the database rolled back to break a deadlock or a serialization
    /// conflict is a [`StoreError::Backend`] holding [`RolledBack`], which the store tries
    /// again; anything else (a lost connection, a pool timeout, a failed statement) is a
    /// [`StoreError::Backend`] with the driver's `error` inside for the log. `refusal`
    /// reads, from the error, what the database answered (`None` when it answered
    /// nothing).
    pub fn store_error<E>(
        self,
        error: E,
        refusal: impl for<'e> FnOnce(&'e E) -> Option<Refusal<'e>>,
    ) -> StoreError
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let decided = refusal(&error).map(|refusal| {
            if refusal.unique_violation
                && let Some(conflict) = self.conflict(&refusal)
            {
                Ok(StoreError::Conflict(conflict))
            } else if refusal.missing_parent {
                Ok(StoreError::NoSuchAccount)
            } else {
                Err(refusal.rolled_back)
            }
        });
        match decided {
            Some(Ok(error)) => error,
            Some(Err(true)) => StoreError::backend(RolledBack(error.into())),
            Some(Err(false)) | None => StoreError::backend(error),
        }
    }

    /// What a unique violation means: the taken value, found by the key the database
    /// names. SQLite names the columns (`UNIQUE constraint failed: accounts.username`),
    /// PostgreSQL the constraint, and MySQL the key in its message (`Duplicate entry '...'
    /// for key 'accounts_username_key'`, MySQL 8: `'accounts.accounts_username_key'`),
    /// where every primary key is `PRIMARY`: a taken id, except in `usernames_taken`,
    /// which `insert_account` tells apart itself.
    fn conflict(self, refusal: &Refusal<'_>) -> Option<Conflict> {
        let (name, by_columns) = match self {
            Backend::Sqlite => (refusal.message.rsplit(": ").next()?, true),
            Backend::Postgres => (refusal.constraint?, false),
            Backend::MySql => {
                let key = refusal.message.rsplit_once("for key '")?.1;
                let key = key.trim_end_matches('\'').rsplit('.').next()?;
                if key == "PRIMARY" {
                    return Some(Conflict::Id);
                }
                (key, false)
            }
        };
        UNIQUE_KEYS
            .iter()
            .find(|(constraint, columns, _)| {
                name == if by_columns { *columns } else { *constraint }
            })
            .map(|&(_, _, conflict)| conflict)
    }
}

/// `text` with every `from` replaced, borrowed when there is none.
fn replace<'a>(text: &'a str, from: &str, to: &str) -> Cow<'a, str> {
    if text.contains(from) {
        Cow::Owned(text.replace(from, to))
    } else {
        Cow::Borrowed(text)
    }
}

/// MySQL's spelling of the shared SQL: backticks for quoted names, and its own upsert.
fn mysql(text: &str) -> Cow<'_, str> {
    let text = replace(text, "\"", "`");
    let Some((insert, update)) = text.split_once(" ON CONFLICT (") else {
        return text;
    };
    let Some((_, set)) = update.split_once(") DO UPDATE SET ") else {
        return text;
    };
    // `excluded.col` becomes `VALUES(col)`.
    let mut out = format!("{insert} ON DUPLICATE KEY UPDATE ");
    let mut rest = set;
    while let Some((before, after)) = rest.split_once("excluded.") {
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        out.push_str(before);
        out.push_str("VALUES(");
        out.push_str(&after[..end]);
        out.push(')');
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        let text = "UPDATE t SET a = ? WHERE id = ? AND b < ?";
        assert_eq!(
            Backend::Postgres.sql(text),
            "UPDATE t SET a = $1 WHERE id = $2 AND b < $3"
        );
        assert!(matches!(Backend::Sqlite.sql(text), Cow::Borrowed(_)));
        assert!(matches!(Backend::MySql.sql(text), Cow::Borrowed(_)));
    }

    #[test]
    fn upserts_and_quoted_names_in_each_dialect() {
        let text = "INSERT INTO rate_limits (\"key\", n, at) VALUES (?, 1, ?) \
                    ON CONFLICT (\"key\", at) DO UPDATE SET n = rate_limits.n + 1, \
                    at = GREATEST(rate_limits.at, excluded.at)";
        assert_eq!(
            Backend::MySql.sql(text),
            "INSERT INTO rate_limits (`key`, n, at) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE \
             n = rate_limits.n + 1, at = GREATEST(rate_limits.at, VALUES(at))"
        );
        assert!(
            Backend::Sqlite
                .sql(text)
                .contains("max(rate_limits.at, excluded.at)")
        );
        assert!(
            Backend::Postgres
                .sql(text)
                .contains("VALUES ($1, 1, $2) ON CONFLICT")
        );
    }
}
