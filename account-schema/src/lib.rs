//! The database schema of the account workspace, once for every store adapter.
//!
//! The migration files in `migrations/<dialect>/` of this crate are the single source of
//! the schema. Each store adapter (`account-store-sqlx` and `account-store-diesel`)
//! embeds these very files through [`migrations`] and runs them in order, so a database
//! migrated by one adapter is read and written by the other. A migration's text
//! never changes once released: databases remember a checksum of each one they ran.
//!
//! ```
//! use account_schema::{Dialect, migrations};
//!
//! let all = migrations(Dialect::Postgres);
//! assert!(all.windows(2).all(|w| w[0].version < w[1].version));
//! assert!(all[0].sql.contains("CREATE TABLE accounts"));
//! ```
//!
//! This crate depends on nothing: it is text and the description below.
//!
#![doc = include_str!("schema.md")]

/// A SQL dialect the schema is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite 3.37 or newer (`STRICT` tables).
    Sqlite,
    /// PostgreSQL 12 or newer.
    Postgres,
    /// MySQL 8 or MariaDB 10.5 or newer.
    MySql,
}

/// One migration: a step from one version of the schema to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The version, a timestamp (`20251122000000`); migrations run in this order.
    pub version: i64,
    /// What it does, in words (`"initial schema"`), from its file name.
    pub description: &'static str,
    /// The SQL: several statements separated by semicolons.
    pub sql: &'static str,
}

/// The migrations of one dialect, oldest first.
pub fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
    }
}

/// Lists the migrations of one dialect's folder; the file names are
/// `<version>_<description with underscores>.sql`, as sqlx reads them.
macro_rules! migrations {
    ($dialect:literal: $(($version:literal, $description:literal, $file:literal)),* $(,)?) => {
        &[$(Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!("../migrations/", $dialect, "/", $version, "_", $file, ".sql")),
        }),*]
    };
}

/// Every dialect has the same migrations, with the same versions and descriptions.
macro_rules! per_dialect {
    ($($name:ident = $dialect:literal),*) => {
        $(const $name: &[Migration] = migrations!($dialect:
            (20251122000000, "initial schema", "initial_schema"),
            (20251215000000, "second factors", "second_factors"),
            (20260101000000, "programmatic access", "programmatic_access"),
            (20261130000000, "account lifecycle", "account_lifecycle"),
        );)*
    };
}

per_dialect!(SQLITE = "sqlite", POSTGRES = "postgres", MYSQL = "mysql");

#[cfg(test)]
mod tests {
    use super::*;

    const DIALECTS: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

    /// The same steps in every dialect, in order, so that the adapters and the dialects
    /// agree on what a version means.
    #[test]
    fn every_dialect_has_the_same_steps_in_order() {
        let versions = |d| migrations(d).iter().map(|m| m.version).collect::<Vec<_>>();
        for dialect in DIALECTS {
            assert_eq!(versions(dialect), versions(Dialect::Sqlite), "{dialect:?}");
            assert!(versions(dialect).windows(2).all(|w| w[0] < w[1]));
        }
    }

    /// Every table the documentation describes is created in every dialect, and every
    /// table there is at the end is described. A table rebuilt under a temporary name
    /// (SQLite cannot alter a table much) counts as the table it becomes.
    #[test]
    fn the_documentation_describes_every_table() {
        let doc = include_str!("schema.md");
        for dialect in DIALECTS {
            let mut tables: Vec<&str> = Vec::new();
            // The SQL without its comments (which may hold semicolons), statement by
            // statement.
            let sql: String = migrations(dialect)
                .iter()
                .flat_map(|m| m.sql.lines())
                .map(|line| line.split("--").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            for statement in sql.split(';') {
                let words: Vec<&str> = statement.split_whitespace().collect();
                match words.as_slice() {
                    ["CREATE", "TABLE", name, ..] => tables.push(name),
                    ["DROP", "TABLE", name, ..] => tables.retain(|t| t != name),
                    ["ALTER", "TABLE", from, "RENAME", "TO", to, ..] => {
                        for table in tables.iter_mut().filter(|t| *t == from) {
                            *table = to;
                        }
                    }
                    _ => {}
                }
            }
            assert_eq!(tables.len(), 15, "{dialect:?}: {tables:?}");
            for table in tables {
                assert!(
                    doc.contains(&format!("### `{table}`")),
                    "{table} is not described"
                );
            }
        }
    }
}
