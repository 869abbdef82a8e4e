use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Rule, ValidationError};

/// An email address whose syntax was checked and whose domain was lowercased.
///
/// The accepted form is the common subset of RFC 5321/5322: a dot-atom local part of at
/// most 64 bytes (ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots only between
/// characters), `@`, and a domain of at least two dot-separated labels (letters, digits,
/// hyphens; 1 to 63 bytes each, no hyphen at either end). The whole address is at most 254
/// bytes. Quoted local parts, IP-literal domains and non-ASCII addresses are refused:
/// they are legal but rare, and each is a common source of confusion in mail handling.
///
/// The local part keeps its case as typed (a few mail servers honour it), but two
/// addresses that differ only in case are the same address for uniqueness and lookup:
/// see [`EmailAddress::lookup_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

/// The longest address accepted, in bytes (RFC 5321 §4.5.3.1.3 path limit less the brackets).
pub const EMAIL_MAX: usize = 254;
const LOCAL_MAX: usize = 64;
const LABEL_MAX: usize = 63;

impl EmailAddress {
    /// Parses an address, trimming surrounding white space and lowercasing the domain.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] for [`Field::Email`] naming the broken rule.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |rule| ValidationError::new(Field::Email, rule);
        let input = input.trim();
        if input.is_empty() {
            return Err(err(Rule::Empty));
        }
        if input.len() > EMAIL_MAX {
            return Err(err(Rule::TooLong { max: EMAIL_MAX }));
        }
        if !input.is_ascii() {
            return Err(err(Rule::InvalidCharacter));
        }
        if input.bytes().any(|b| b.is_ascii_control()) {
            return Err(err(Rule::ControlCharacter));
        }
        let (local, domain) = input.rsplit_once('@').ok_or(err(Rule::InvalidSyntax))?;
        if local.is_empty() || local.len() > LOCAL_MAX || !dot_atom(local) {
            return Err(err(Rule::InvalidSyntax));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || !labels.iter().all(|l| label(l)) {
            return Err(err(Rule::InvalidSyntax));
        }
        // The top-level label is never all digits, which also refuses bare IPv4 addresses.
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err(Rule::InvalidSyntax));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address as stored and used for sending.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(&self.0, |(l, _)| l)
    }

    /// The part after the `@`, lowercase.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The whole address in lowercase: the key for uniqueness and lookup.
    pub fn lookup_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The address with most of the local part hidden (`a***@example.com`), for notices
    /// sent to another address and for log lines.
    pub fn masked(&self) -> String {
        let local = self.local_part();
        let first = local.chars().next().unwrap_or('*');
        format!("{first}***@{}", self.domain())
    }
}

fn dot_atom(s: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    s.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
    })
}

fn label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= LABEL_MAX
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, Rule>) {
        let got = EmailAddress::parse(input);
        match expected {
            Ok(addr) => assert_eq!(got.map(|e| e.0), Ok(addr.to_owned()), "input {input:?}"),
            Err(rule) => assert_eq!(got.map_err(|e| e.rule), Err(rule), "input {input:?}"),
        }
    }

    #[test]
    fn accepts_and_lowercases_the_domain() {
        check("Alice@Example.COM", Ok("Alice@example.com"));
        check(
            "  bob.smith+tag@mail.example.org ",
            Ok("bob.smith+tag@mail.example.org"),
        );
        check("o'neil@xn--bcher-kva.de", Ok("o'neil@xn--bcher-kva.de"));
    }

    #[test]
    fn refuses_with_the_rule() {
        check("", Err(Rule::Empty));
        check("alice", Err(Rule::InvalidSyntax));
        check("alice@localhost", Err(Rule::InvalidSyntax));
        check("@example.com", Err(Rule::InvalidSyntax));
        check("alice@", Err(Rule::InvalidSyntax));
        check(".alice@example.com", Err(Rule::InvalidSyntax));
        check("al..ice@example.com", Err(Rule::InvalidSyntax));
        check("alice@-example.com", Err(Rule::InvalidSyntax));
        check("alice@example..com", Err(Rule::InvalidSyntax));
        check("alice@1.2.3.4", Err(Rule::InvalidSyntax));
        check("a lice@example.com", Err(Rule::InvalidSyntax));
        check("älice@example.com", Err(Rule::InvalidCharacter));
        check("alice@exa\u{7}mple.com", Err(Rule::ControlCharacter));
        check(
            &format!("{}@example.com", "a".repeat(65)),
            Err(Rule::InvalidSyntax),
        );
        let long = format!(
            "{}@{}.com",
            "a".repeat(64),
            vec!["b".repeat(60); 4].join(".")
        );
        check(&long, Err(Rule::TooLong { max: 254 }));
    }

    #[test]
    fn lookup_key_ignores_case_and_masking_hides_the_local_part() {
        let a = EmailAddress::parse("Alice@Example.com").expect("valid");
        let b = EmailAddress::parse("alice@example.com").expect("valid");
        assert_ne!(a, b);
        assert_eq!(a.lookup_key(), b.lookup_key());
        assert_eq!(a.masked(), "A***@example.com");
        assert_eq!(a.local_part(), "Alice");
        assert_eq!(a.domain(), "example.com");
    }
}
