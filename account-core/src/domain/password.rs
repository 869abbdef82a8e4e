use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A password as the user typed it: a secret.
///
/// `Debug` prints `***`, there is no `Display`, and the bytes are wiped from memory when
/// the value is dropped. Building one checks nothing: the length rules, the
/// common-password list and the context words are the password policy's job
/// ([`PasswordRules`](crate::password::PasswordRules)), because they depend on the account and
/// the configuration.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password, for hashing and policy checks only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The length in bytes, which the size cap is measured in.
    pub fn byte_len(&self) -> usize {
        self.0.len()
    }

    /// The length in Unicode code points, which the length rules are measured in.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let p = Password::new("hunter2-correct-horse");
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert_eq!(p.char_count(), 21);
        assert_eq!(Password::new("ééé").byte_len(), 6);
    }
}
