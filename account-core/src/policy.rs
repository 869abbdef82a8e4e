//! The administrator's policy: what users may do, changed at run time and kept in the store.

use serde::{Deserialize, Serialize};

use crate::password::PasswordRules;

/// Rules an administrator sets for every account, stored through
/// [`PolicyStore`](crate::store::PolicyStore) so that every app instance sees the same.
///
/// Unknown or missing fields take their defaults when a stored policy is read, so a
/// policy written by an older version keeps working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Whether people may create their own accounts.
    pub allow_signup: bool,
    /// Whether self sign-up may take reserved usernames such as `admin`.
    pub allow_reserved_usernames: bool,
    /// Whether users are kept from changing their display name and email addresses.
    pub lock_profiles: bool,
    /// Whether every account must set up a second factor.
    pub require_second_factor: bool,
    /// Whether the external directory (LDAP, an identity provider) supplies the second
    /// factor of its accounts. When set, accounts with an external source cannot enrol a
    /// TOTP authenticator here (`managed_by_directory`); local accounts are not affected.
    pub directory_provides_second_factor: bool,
    /// Whether a login from a device and network not seen on the account before mails a
    /// notice to its addresses.
    pub sign_in_notices: bool,
    /// Session lifetimes and the re-authentication window.
    pub sessions: SessionPolicy,
    /// Password rules.
    pub passwords: PasswordRules,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allow_signup: true,
            allow_reserved_usernames: false,
            lock_profiles: false,
            require_second_factor: false,
            directory_provides_second_factor: false,
            sign_in_notices: true,
            sessions: SessionPolicy::default(),
            passwords: PasswordRules::default(),
        }
    }
}

/// How long sessions live, in seconds.
///
/// The defaults follow NIST SP 800-63B-4 for AAL2: one hour without use, 24 hours in all,
/// and a sensitive action needs an authentication within the last 10 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionPolicy {
    /// How long a session may stay unused.
    #[serde(deserialize_with = "whole_number")]
    pub idle_timeout_secs: i64,
    /// How long a session may live however it is used.
    #[serde(deserialize_with = "whole_number")]
    pub absolute_timeout_secs: i64,
    /// How recent an authentication must be for a sensitive action.
    #[serde(deserialize_with = "whole_number")]
    pub reauthentication_window_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 60 * 60,
            absolute_timeout_secs: 24 * 60 * 60,
            reauthentication_window_secs: 10 * 60,
        }
    }
}

impl Policy {
    /// Checks that the numbers make sense, so an administrator cannot store a policy that
    /// locks everyone out.
    ///
    /// # Errors
    ///
    /// A message naming the first field that is out of range.
    pub fn check(&self) -> Result<(), String> {
        let s = &self.sessions;
        if !(60..=366 * 24 * 3600).contains(&s.idle_timeout_secs) {
            return Err(
                "sessions.idle_timeout_secs must be between 60 seconds and 366 days".into(),
            );
        }
        if !(60..=366 * 24 * 3600).contains(&s.absolute_timeout_secs) {
            return Err(
                "sessions.absolute_timeout_secs must be between 60 seconds and 366 days".into(),
            );
        }
        if !(30..=24 * 3600).contains(&s.reauthentication_window_secs) {
            return Err(
                "sessions.reauthentication_window_secs must be between 30 seconds and 24 hours"
                    .into(),
            );
        }
        let p = &self.passwords;
        if p.min_length < 8 || p.min_length_single_factor < p.min_length {
            return Err("passwords.min_length must be at least 8, and the single-factor minimum at least that".into());
        }
        if p.max_length < 64 || p.max_length < p.min_length_single_factor {
            return Err(
                "passwords.max_length must be at least 64 and at least the minimums".into(),
            );
        }
        Ok(())
    }
}

/// Reads an integer from any JSON number without a fraction: to JSON, `1054.0` is the
/// number `1054` (JavaScript writes some integers so), and the API's document, which says
/// `integer`, allows it. A fraction, or a number out of the type's range, is refused.
pub(crate) fn whole_number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Error, Unexpected, Visitor};

    struct Whole<T>(PhantomData<T>);

    impl<T: TryFrom<i64> + TryFrom<u64>> Visitor<'_> for Whole<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number in range")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
            T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
            // 2^63 and 2^64 bound what `i64` and `u64` hold; both are exact in an `f64`.
            let refused = || E::invalid_value(Unexpected::Float(v), &self);
            if v.fract() != 0.0 || !v.is_finite() {
                return Err(refused());
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "the range is checked first"
            )]
            if (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                self.visit_u64(v as u64)
            } else if (-9_223_372_036_854_775_808.0..0.0).contains(&v) {
                self.visit_i64(v as i64)
            } else {
                Err(refused())
            }
        }
    }

    deserializer.deserialize_any(Whole(PhantomData))
}

#[cfg(test)]
mod whole_number_tests {
    use super::*;

    #[test]
    fn a_whole_number_may_be_written_with_a_point() {
        let read =
            |json: &str| serde_json::from_str::<SessionPolicy>(json).map(|p| p.idle_timeout_secs);
        assert_eq!(read(r#"{"idle_timeout_secs": 120}"#).ok(), Some(120));
        assert_eq!(read(r#"{"idle_timeout_secs": 120.0}"#).ok(), Some(120));
        assert_eq!(read(r#"{"idle_timeout_secs": 1.2e2}"#).ok(), Some(120));
        assert_eq!(read(r#"{"idle_timeout_secs": -60.0}"#).ok(), Some(-60));
        for refused in ["120.5", "1e300", "9223372036854775808", "\"120\"", "true"] {
            assert!(
                read(&format!(r#"{{"idle_timeout_secs": {refused}}}"#)).is_err(),
                "{refused}"
            );
        }
        let rules: PasswordRules =
            serde_json::from_str(r#"{"max_length": 1054.0, "min_length": 8}"#).expect("rules");
        assert_eq!((rules.max_length, rules.min_length), (1054, 8));
        assert!(serde_json::from_str::<PasswordRules>(r#"{"max_length": -1.0}"#).is_err());
    }
}
