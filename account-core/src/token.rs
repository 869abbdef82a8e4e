//! Opaque secret tokens and their digests.
//!
//! Session, reset and verification tokens are 256 random bits, shown to the user once as
//! unpadded base64url (43 characters), and stored only as their SHA-256 digest. A lookup
//! hashes the presented token and asks the store for the digest, so the comparison is an
//! index lookup and never a byte-by-byte comparison of secrets in Rust.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{SecureRandom, bytes};

/// The length of an encoded [`OpaqueToken`].
pub const TOKEN_LEN: usize = 43;

/// A 256-bit secret token, as handed to a user in a cookie or a link.
///
/// `Debug` prints `***` and the string is wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct OpaqueToken(String);

impl OpaqueToken {
    /// A fresh token from `rng`.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        let mut raw = bytes::<32>(rng);
        let token = Self(URL_SAFE_NO_PAD.encode(raw));
        raw.zeroize();
        token
    }

    /// Accepts a token presented by a client, if it has the shape of one.
    ///
    /// Anything that is not 43 base64url characters is refused here, before any store
    /// lookup.
    pub fn parse(presented: &str) -> Option<Self> {
        let ok = presented.len() == TOKEN_LEN
            && presented
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(presented.to_owned()))
    }

    /// The token text, to put in a cookie or a link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest that the store keeps.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.0.as_bytes())
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(***)")
    }
}

/// The SHA-256 digest of a secret token: what the store keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The digest of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// A digest from its 32 bytes, as read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes, for a store to keep.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lowercase hex, for stores that keep text.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A digest from lowercase or uppercase hex.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }
}

impl fmt::Debug for TokenDigest {
    /// Only a prefix: a digest is not a secret, but there is no reason to print all of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn tokens_are_256_bits_and_parse_back() {
        let t = OpaqueToken::generate(&OsRandom);
        assert_eq!(t.expose().len(), TOKEN_LEN);
        let back = OpaqueToken::parse(t.expose()).expect("own tokens parse");
        assert_eq!(back.digest(), t.digest());
        assert_ne!(OpaqueToken::generate(&OsRandom), t);
    }

    #[test]
    fn malformed_tokens_are_refused_before_lookup() {
        assert!(OpaqueToken::parse("").is_none());
        assert!(OpaqueToken::parse(&"a".repeat(42)).is_none());
        assert!(OpaqueToken::parse(&format!("{}=", "a".repeat(42))).is_none());
        assert!(OpaqueToken::parse(&"a".repeat(43)).is_some());
    }

    #[test]
    fn debug_hides_the_token() {
        let t = OpaqueToken::generate(&OsRandom);
        let shown = format!("{t:?} {:?}", t.digest());
        assert!(!shown.contains(t.expose()));
        assert!(!shown.contains(&t.digest().to_hex()));
    }

    #[test]
    fn digest_hex_round_trips() {
        let d = TokenDigest::of(b"x");
        assert_eq!(TokenDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(TokenDigest::from_hex("zz"), None);
    }
}
