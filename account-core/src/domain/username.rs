use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Rule, ValidationError};

/// A username: the immutable name an account logs in with.
///
/// Lowercase ASCII letters, digits, `.`, `_` and `-`, 2 to 32 characters, starting and
/// ending with a letter or digit. Input is folded to lowercase before it is checked, so
/// `Alice` and `alice` are the same name and uniqueness is case-insensitive by
/// construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// The shortest username, in characters.
pub const USERNAME_MIN: usize = 2;
/// The longest username, in characters.
pub const USERNAME_MAX: usize = 32;

impl Username {
    /// Parses a username, folding it to lowercase first.
    ///
    /// Reserved names are not checked here; see [`ReservedNames::check`].
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] for [`Field::Username`] naming the broken rule.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |rule| ValidationError::new(Field::Username, rule);
        let folded = input.trim().to_ascii_lowercase();
        if folded.is_empty() {
            return Err(err(Rule::Empty));
        }
        if !folded.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Err(err(Rule::InvalidCharacter));
        }
        if folded.len() < USERNAME_MIN {
            return Err(err(Rule::TooShort { min: USERNAME_MIN }));
        }
        if folded.len() > USERNAME_MAX {
            return Err(err(Rule::TooLong { max: USERNAME_MAX }));
        }
        let edge_ok = |b: u8| b.is_ascii_alphanumeric();
        let bytes = folded.as_bytes();
        if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
            return Err(err(Rule::InvalidSyntax));
        }
        Ok(Self(folded))
    }

    /// The username as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Username::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Names that self sign-up may not take, such as `admin`, `root` and `api`.
///
/// Administrators creating accounts are not bound by this list; the policy may also lift
/// it for sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedNames(Vec<String>);

impl Default for ReservedNames {
    fn default() -> Self {
        Self(
            [
                "admin",
                "administrator",
                "root",
                "api",
                "system",
                "support",
                "help",
                "security",
                "abuse",
                "postmaster",
                "hostmaster",
                "webmaster",
                "noreply",
                "no-reply",
                "mail",
                "www",
                "account",
                "accounts",
                "login",
                "logout",
                "signup",
                "register",
                "settings",
                "auth",
                "oauth",
                "sso",
                "null",
                "undefined",
                "anonymous",
                "everyone",
                "owner",
                "staff",
                "moderator",
                "info",
                "sysadmin",
                "operator",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        )
    }
}

impl ReservedNames {
    /// A list of reserved names; each is folded to lowercase.
    pub fn new(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(
            names
                .into_iter()
                .map(|n| n.into().to_ascii_lowercase())
                .collect(),
        )
    }

    /// Whether the name is on the list.
    pub fn contains(&self, name: &Username) -> bool {
        self.0.iter().any(|r| r == name.as_str())
    }

    /// Refuses a reserved name.
    ///
    /// # Errors
    ///
    /// [`Rule::Reserved`] for [`Field::Username`] when the name is on the list.
    pub fn check(&self, name: &Username) -> Result<(), ValidationError> {
        if self.contains(name) {
            Err(ValidationError::new(Field::Username, Rule::Reserved))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, Rule>) {
        let got = Username::parse(input);
        match expected {
            Ok(name) => assert_eq!(got.map(|u| u.0), Ok(name.to_owned()), "input {input:?}"),
            Err(rule) => assert_eq!(got.map_err(|e| e.rule), Err(rule), "input {input:?}"),
        }
    }

    #[test]
    fn accepts_and_folds() {
        check("alice", Ok("alice"));
        check("Alice.Smith_2-x", Ok("alice.smith_2-x"));
        check("ab", Ok("ab"));
        check(&"a".repeat(32), Ok(&"a".repeat(32)));
    }

    #[test]
    fn refuses_with_the_rule() {
        check("", Err(Rule::Empty));
        check("a", Err(Rule::TooShort { min: 2 }));
        check(&"a".repeat(33), Err(Rule::TooLong { max: 32 }));
        check("al ice", Err(Rule::InvalidCharacter));
        check("älice", Err(Rule::InvalidCharacter));
        check("alice@x", Err(Rule::InvalidCharacter));
        check(".alice", Err(Rule::InvalidSyntax));
        check("alice-", Err(Rule::InvalidSyntax));
    }

    #[test]
    fn reserved_names_are_refused_case_insensitively() {
        let reserved = ReservedNames::default();
        for name in ["admin", "ROOT", "Api"] {
            let u = Username::parse(name).expect("valid syntax");
            assert_eq!(
                reserved.check(&u).map_err(|e| e.code()),
                Err("username_reserved".into())
            );
        }
        assert!(
            reserved
                .check(&Username::parse("alice").expect("valid"))
                .is_ok()
        );
    }

    #[test]
    fn deserializing_parses() {
        let u: Username = serde_json::from_str("\"Bob\"").expect("valid");
        assert_eq!(u.as_str(), "bob");
        // Refused with the parser's own reason, not a generic deserialisation error.
        let refused = serde_json::from_str::<Username>("\"b\"").expect_err("too short");
        let reason = Username::parse("b").expect_err("too short").to_string();
        assert!(refused.to_string().starts_with(&reason), "{refused}");
    }
}
