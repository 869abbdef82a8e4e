//! The migrations of `account-schema`, run and recorded exactly as sqlx records them, so
//! that a database is at the same version whichever adapter migrated it: the same table
//! (`_sqlx_migrations`: version, description, installed_on, success, checksum,
//! execution_time), the same checksum (SHA-384 of the migration's text), and the same lock
//! while migrating (PostgreSQL's advisory lock and MySQL's named lock, with sqlx's ids), so
//! that instances of both adapters starting at once migrate one after the other.

use std::time::Instant;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Binary, Bool, Text};
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use sha2::{Digest, Sha384};

use account_schema::{Dialect, Migration};

use crate::SetupError;

/// A migration a database says it ran.
#[derive(QueryableByName)]
pub(crate) struct Applied {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Binary)]
    checksum: Vec<u8>,
    #[diesel(sql_type = Bool)]
    success: bool,
}

/// The database's name, for the lock id.
#[derive(QueryableByName)]
pub(crate) struct DatabaseName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// sqlx's checksum of a migration.
pub(crate) fn checksum(migration: &Migration) -> Vec<u8> {
    Sha384::digest(migration.sql.as_bytes()).to_vec()
}

/// sqlx's lock id for a database name: 0x3d32ad9e times the CRC-32 of the name.
fn lock_id(database: &str) -> i64 {
    0x3d32_ad9e * i64::from(crc32fast::hash(database.as_bytes()))
}

/// The statement that creates sqlx's bookkeeping table in `dialect`, as sqlx writes it.
fn bookkeeping_table(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),\n    success BOOLEAN NOT NULL,\n    checksum BYTEA NOT NULL,\n    execution_time BIGINT NOT NULL\n);"
        }
        _ => {
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (\n    version BIGINT PRIMARY KEY,\n    description TEXT NOT NULL,\n    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    success BOOLEAN NOT NULL,\n    checksum BLOB NOT NULL,\n    execution_time BIGINT NOT NULL\n);"
        }
    }
}

/// A byte string as an SQL literal of `dialect`.
fn bytes_literal(dialect: Dialect, bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match dialect {
        Dialect::Postgres => format!("'\\x{hex}'::bytea"),
        _ => format!("X'{hex}'"),
    }
}

/// Runs the migrations `dialect`'s database lacks on `conn`, as sqlx's `Migrator::run`
/// does: under the lock, refusing a database with a failed migration, one whose recorded
/// migration text changed, or one that ran a migration this crate does not know.
pub(crate) async fn run<C>(conn: &mut C, dialect: Dialect) -> Result<(), SetupError>
where
    C: AsyncConnection + SimpleAsyncConnection + Send,
    for<'q> diesel::query_builder::SqlQuery:
        LoadQuery<'q, C, Applied> + LoadQuery<'q, C, DatabaseName>,
{
    let lock = match dialect {
        Dialect::Postgres => {
            let name: DatabaseName = diesel::sql_query("SELECT current_database() AS name")
                .get_result::<DatabaseName>(conn)
                .await?;
            let id = lock_id(&name.name);
            Some((
                format!("SELECT pg_advisory_lock({id})"),
                format!("SELECT pg_advisory_unlock({id})"),
            ))
        }
        Dialect::MySql => {
            let name: DatabaseName = diesel::sql_query("SELECT DATABASE() AS name")
                .get_result::<DatabaseName>(conn)
                .await?;
            let id = format!("{:x}", lock_id(&name.name));
            Some((
                format!("SELECT GET_LOCK('{id}', -1)"),
                format!("SELECT RELEASE_LOCK('{id}')"),
            ))
        }
        // SQLite has one writer at a time: each migration's `BEGIN IMMEDIATE` waits for
        // the others.
        _ => None,
    };
    if let Some((take, _)) = &lock {
        conn.batch_execute(take).await?;
    }
    let outcome = run_locked(conn, dialect).await;
    if let Some((_, release)) = &lock {
        // A lock that cannot be released ends with the connection; the outcome of the
        // migrations is what the caller needs to hear.
        let _ = conn.batch_execute(release).await;
    }
    outcome
}

async fn run_locked<C>(conn: &mut C, dialect: Dialect) -> Result<(), SetupError>
where
    C: AsyncConnection + SimpleAsyncConnection + Send,
    for<'q> diesel::query_builder::SqlQuery: LoadQuery<'q, C, Applied>,
{
    conn.batch_execute(bookkeeping_table(dialect)).await?;
    let applied: Vec<Applied> = diesel::sql_query(
        "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version",
    )
    .load(conn)
    .await?;
    let known = account_schema::migrations(dialect);
    if let Some(dirty) = applied.iter().find(|a| !a.success) {
        return Err(SetupError::Dirty(dirty.version));
    }
    for a in &applied {
        match known.iter().find(|m| m.version == a.version) {
            None => return Err(SetupError::UnknownMigration(a.version)),
            Some(m) if checksum(m) != a.checksum => {
                return Err(SetupError::ChangedMigration(a.version));
            }
            Some(_) => {}
        }
    }
    for migration in known {
        if applied.iter().any(|a| a.version == migration.version) {
            continue;
        }
        apply(conn, dialect, migration).await?;
    }
    Ok(())
}

/// One migration and its record. SQLite and PostgreSQL run both in one transaction; MySQL
/// cannot roll DDL back, so, as sqlx does, the record says `success = false` until the
/// migration has run.
async fn apply<C>(conn: &mut C, dialect: Dialect, migration: &Migration) -> Result<(), SetupError>
where
    C: AsyncConnection + SimpleAsyncConnection + Send,
{
    let started = Instant::now();
    let record = |success: bool, nanos: i64| {
        format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ({}, '{}', {}, {}, {nanos})",
            migration.version,
            migration.description.replace('\'', "''"),
            if success { "TRUE" } else { "FALSE" },
            bytes_literal(dialect, &checksum(migration)),
        )
    };
    let elapsed =
        |started: Instant| i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    match dialect {
        Dialect::MySql => {
            conn.batch_execute(&record(false, -1)).await?;
            conn.batch_execute(migration.sql).await?;
            conn.batch_execute(&format!(
                "UPDATE _sqlx_migrations SET success = TRUE, execution_time = {} WHERE version = {}",
                elapsed(started),
                migration.version
            ))
            .await?;
        }
        _ => {
            let begin = if dialect == Dialect::Sqlite {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN"
            };
            conn.batch_execute(begin).await?;
            let done = async {
                conn.batch_execute(migration.sql).await?;
                conn.batch_execute(&record(true, elapsed(started))).await?;
                conn.batch_execute("COMMIT").await
            }
            .await;
            if let Err(e) = done {
                let _ = conn.batch_execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ids_are_sqlx_s() {
        // sqlx: 0x3d32ad9e * crc32("postgres"), and its hex for MySQL.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(lock_id("a"), 0x3d32_ad9e * 0xe8b7_be43);
    }
}
