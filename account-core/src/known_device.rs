//! Known devices: OWASP's device cookies (SECURITY.md M47).
//!
//! Wrong passwords are counted per account, and enough of them lock the account's
//! password logins for a while. Counted alone, that lets anyone who knows a username lock
//! its owner out. So a browser that has proved the password once gets a cookie naming the
//! account ([`DeviceCookie`]); a login that brings a valid one counts its failures apart
//! from everyone else's (`FailureKind::KnownDevicePassword`), and is throttled and locked
//! only by those. A stranger's guesses, which come without it, never reach the owner's
//! budget.
//!
//! The cookie is `<account id>.<nonce>.<tag>`: the tag is HMAC-SHA-256 of the id and the
//! nonce under the account's security stamp, a secret of the store that changes whenever
//! the account's credentials do, so a password change retires every device cookie of the
//! account and nothing else needs to be stored. A cookie for another account, or one whose
//! tag does not check, is no cookie at all: the login counts as a stranger's.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::Account;
use crate::random::{SecureRandom, bytes};

/// The value of a known-device cookie, as the browser sent it or as it is to be set.
///
/// `Debug` never shows it: it is a credential of sorts.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceCookie(String);

impl DeviceCookie {
    /// The cookie's value as the browser sent it (checked when a login uses it).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, to put in a `Set-Cookie` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceCookie(..)")
    }
}

/// A new cookie for `account`, for the browser that just proved its password.
pub(crate) fn issue(account: &Account, rng: &dyn SecureRandom) -> DeviceCookie {
    let nonce = hex::encode(bytes::<16>(rng));
    let tag = hex::encode(tag(account, &nonce));
    DeviceCookie(format!("{}.{nonce}.{tag}", account.id))
}

/// Whether `cookie` was issued for `account` (under its current security stamp).
///
/// Public only for the fuzz targets in `fuzz/`, which feed it cookies as browsers send
/// them; it is not part of the API.
#[doc(hidden)]
pub fn is_for(cookie: &DeviceCookie, account: &Account) -> bool {
    let mut parts = cookie.0.splitn(3, '.');
    let (Some(id), Some(nonce), Some(given)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if id != account.id.to_string() || nonce.len() != 32 {
        return false;
    }
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    bool::from(tag(account, nonce).as_slice().ct_eq(&given))
}

fn tag(account: &Account, nonce: &str) -> [u8; 32] {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(account.security_stamp.as_str().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"known-device\0");
    mac.update(account.id.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(nonce.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SecurityStamp;
    use crate::random::OsRandom;
    use crate::store::memory::MemoryStore;
    use crate::testing::fixtures;

    #[tokio::test]
    async fn a_cookie_names_its_account_under_its_stamp() {
        let store = MemoryStore::new();
        let ada = fixtures::insert_account(&store, "ada", "ada@example.com").await;
        let bob = fixtures::insert_account(&store, "bob", "bob@example.com").await;
        let cookie = issue(&ada, &OsRandom);
        assert!(is_for(&cookie, &ada));
        assert!(!is_for(&cookie, &bob), "another account's");
        assert!(!is_for(&issue(&bob, &OsRandom), &ada));
        assert_ne!(issue(&ada, &OsRandom), cookie, "each browser gets its own");

        // A password change (a new stamp) retires it.
        let mut changed = ada.clone();
        changed.security_stamp = SecurityStamp::generate(&OsRandom);
        assert!(!is_for(&cookie, &changed));

        // Anything else is no cookie, and never a panic.
        let (head, tag) = cookie.as_str().rsplit_once('.').expect("three parts");
        for value in [
            String::new(),
            "...".to_owned(),
            format!("{head}."),
            format!("{head}.{}", "0".repeat(tag.len())),
            format!("{head}.{tag}00"),
            format!("{head}.zz{}", &tag[2..]),
            format!("{}.{tag}", ada.id),
            cookie.as_str().replace('.', ""),
        ] {
            assert!(!is_for(&DeviceCookie::new(value.clone()), &ada), "{value}");
        }
        assert_eq!(format!("{cookie:?}"), "DeviceCookie(..)");
    }
}
