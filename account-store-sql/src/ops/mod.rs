//! The store traits of `account-core` on [`SqlStore`](crate::SqlStore): each operation
//! written once, over [`Db`](crate::db::Db), for every backend. One file per group of
//! traits, named like the traits.

mod access;
mod accounts;
mod authenticators;
mod challenges;
mod counters;
mod events;
mod sessions;

use crate::db::{Arg, Args};

/// The `WHERE` clause of a query whose filters are optional: the conditions given, each
/// with its arguments, joined by `AND`. Conditions are fixed text with `?` placeholders;
/// values only ever travel as arguments.
#[derive(Default)]
pub(crate) struct Conditions<'a> {
    sql: Vec<&'static str>,
    args: Args<'a>,
}

impl<'a> Conditions<'a> {
    /// Adds `condition`, whose placeholders take `args` in order.
    pub(crate) fn and(&mut self, condition: &'static str, args: impl IntoIterator<Item = Arg<'a>>) {
        self.sql.push(condition);
        self.args.extend(args);
    }

    /// `WHERE ...` (empty without conditions) and the arguments, to which the rest of
    /// the statement's are appended.
    pub(crate) fn into_where(self) -> (String, Args<'a>) {
        let sql = if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        };
        (sql, self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::args;

    #[test]
    fn conditions_join_with_and() {
        let mut c = Conditions::default();
        assert_eq!(Conditions::default().into_where().0, "");
        c.and("a = ?", args![1_i64]);
        c.and("(b < ? OR b = ?)", args![2_i64, 3_i64]);
        let (sql, args) = c.into_where();
        assert_eq!(sql, " WHERE a = ? AND (b < ? OR b = ?)");
        assert_eq!(args.len(), 3);
    }
}
