//! The formats of personal API tokens and app passwords.
//!
//! A personal API token is `acct_`, then 256 random bits as 43 base62 characters, then the
//! CRC-32 of everything before it as 6 base62 characters: 54 characters in all. The fixed
//! prefix lets secret scanners find a leaked token, and the checksum lets [`ApiTokenSecret::parse`]
//! refuse a mistyped or truncated token before any store lookup. The store keeps only the
//! SHA-256 [`TokenDigest`] of the whole text and its last four characters.
//!
//! An app password is twenty-five characters from a 31-character alphabet without
//! look-alikes, shown as five groups of five (`k7mqx-2pwab-…`), easy to type into a mail or
//! CalDAV client. Its 123 bits are above the 112 that NIST SP 800-63B §5.1.1.2 asks of a
//! secret stored under a fast unsalted digest, so SHA-256 stores it safely and it can be
//! found by that digest in one indexed read.
//! Its digest is taken over the normalized form, so spaces, dashes and case do not matter.
//!
//! Nothing here touches a store; this module only makes, checks and hashes secrets.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::random::{SecureRandom, bytes};
use crate::token::TokenDigest;

/// The type prefix of every personal API token: what secret scanners match to find a
/// leaked token (together with the fixed length and the checksum).
pub const API_TOKEN_PREFIX: &str = "acct_";

/// The number of base62 characters that carry the 256 random bits (62^43 > 2^256).
pub const API_TOKEN_BODY_LEN: usize = 43;

/// The number of base62 characters of the CRC-32 checksum (62^6 > 2^32).
pub const API_TOKEN_CHECKSUM_LEN: usize = 6;

/// The length of a whole personal API token.
pub const API_TOKEN_LEN: usize =
    API_TOKEN_PREFIX.len() + API_TOKEN_BODY_LEN + API_TOKEN_CHECKSUM_LEN;

/// How many characters of a token may be stored and listed to help a user recognise it.
pub const API_TOKEN_VISIBLE_SUFFIX_LEN: usize = 4;

/// The base62 digits, in value order: `0` is zero, so left padding with `0` keeps the value.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a presented API token was refused. No variant carries any part of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenFormatError {
    /// The token does not start with [`API_TOKEN_PREFIX`].
    #[error("the token does not have the expected prefix")]
    WrongPrefix,
    /// The token is not [`API_TOKEN_LEN`] bytes long.
    #[error("the token does not have the expected length")]
    WrongLength,
    /// The token holds a character outside base62.
    #[error("the token holds a character that is not allowed")]
    InvalidCharacter,
    /// The checksum does not match: the token was mistyped, truncated or made up.
    #[error("the token checksum does not match")]
    ChecksumMismatch,
}

/// A personal API token, as shown to its owner once.
///
/// `Debug` shows only the prefix and the last four characters, and the string is wiped on
/// drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    /// A fresh token carrying 256 random bits from `rng`.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        let mut raw = bytes::<32>(rng);
        let mut body = [0u8; API_TOKEN_BODY_LEN];
        encode_base62_256(&raw, &mut body);
        raw.zeroize();

        let mut text = String::with_capacity(API_TOKEN_LEN);
        text.push_str(API_TOKEN_PREFIX);
        text.extend(body.iter().map(|&b| char::from(b)));
        body.zeroize();
        let checksum = encode_checksum(crc32(text.as_bytes()));
        text.extend(checksum.iter().map(|&b| char::from(b)));
        Self(text)
    }

    /// Accepts a token presented by a client if its prefix, length, characters and
    /// checksum are right, without any store access.
    pub fn parse(presented: &str) -> Result<Self, ApiTokenFormatError> {
        if !presented.starts_with(API_TOKEN_PREFIX) {
            return Err(ApiTokenFormatError::WrongPrefix);
        }
        if presented.len() != API_TOKEN_LEN {
            return Err(ApiTokenFormatError::WrongLength);
        }
        let rest = &presented.as_bytes()[API_TOKEN_PREFIX.len()..];
        if !rest.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ApiTokenFormatError::InvalidCharacter);
        }
        let (signed, checksum) = presented
            .as_bytes()
            .split_at(API_TOKEN_LEN - API_TOKEN_CHECKSUM_LEN);
        let stated = decode_base62(checksum).ok_or(ApiTokenFormatError::InvalidCharacter)?;
        if stated != u64::from(crc32(signed)) {
            return Err(ApiTokenFormatError::ChecksumMismatch);
        }
        Ok(Self(presented.to_owned()))
    }

    /// The token text, to show to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest of the whole token text: what the store keeps.
    pub fn digest(&self) -> TokenDigest {
        TokenDigest::of(self.0.as_bytes())
    }

    /// The last four characters, safe to store and list so the owner can recognise a token.
    pub fn last_four(&self) -> String {
        self.0[self.0.len() - API_TOKEN_VISIBLE_SUFFIX_LEN..].to_owned()
    }
}

impl fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiTokenSecret({API_TOKEN_PREFIX}…{})", self.last_four())
    }
}

/// The number of characters in an app password, without separators.
pub const APP_PASSWORD_LEN: usize = 25;

/// The number of characters in each dash-separated group of a displayed app password.
pub const APP_PASSWORD_GROUP_LEN: usize = 5;

/// The characters of an app password: lowercase letters and digits without the
/// look-alikes `0`, `o`, `1`, `l` and `i` (31 characters).
pub const APP_PASSWORD_ALPHABET: &str = "abcdefghjkmnpqrstuvwxyz23456789";

/// The entropy of an app password in whole bits: 25 characters from 31 give
/// 25 × log2(31) ≈ 123.85 bits, above the 112 that storing it as a plain SHA-256 digest
/// needs (twenty would give 99, sixteen only 79).
pub const APP_PASSWORD_ENTROPY_BITS: u32 = 123;

/// An app password, as shown to its owner once: five groups of five characters joined by
/// dashes, such as `k7mqx-2pwab-r4stu-vw9yz-h3jkm`.
///
/// `Debug` prints `***` and the string is wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct AppPasswordSecret(String);

impl AppPasswordSecret {
    /// A fresh app password from `rng`, each character drawn uniformly by rejection
    /// sampling.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        let alphabet = APP_PASSWORD_ALPHABET.as_bytes();
        // The largest multiple of 31 that fits in a byte: bytes at or above it are
        // dropped so every character is equally likely.
        let limit = (256 / alphabet.len() * alphabet.len()) as u8;
        let mut chars = [0u8; APP_PASSWORD_LEN];
        let mut filled = 0;
        while filled < APP_PASSWORD_LEN {
            let mut raw = bytes::<32>(rng);
            for &b in raw.iter().filter(|&&b| b < limit) {
                if filled == APP_PASSWORD_LEN {
                    break;
                }
                chars[filled] = alphabet[usize::from(b) % alphabet.len()];
                filled += 1;
            }
            raw.zeroize();
        }
        let secret = Self(group(&chars));
        chars.zeroize();
        secret
    }

    /// Accepts an app password typed by a user, in any case and with or without spaces
    /// and dashes, if it has the shape of one.
    pub fn parse(presented: &str) -> Option<Self> {
        let mut normalized = Self::normalize(presented)?;
        let secret = Self(group(normalized.as_bytes()));
        normalized.zeroize();
        Some(secret)
    }

    /// The canonical form of a typed app password: lowercase, without spaces or dashes,
    /// and only if it has exactly [`APP_PASSWORD_LEN`] characters of
    /// [`APP_PASSWORD_ALPHABET`].
    pub fn normalize(input: &str) -> Option<String> {
        let normalized: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let ok = normalized.len() == APP_PASSWORD_LEN
            && normalized
                .chars()
                .all(|c| APP_PASSWORD_ALPHABET.contains(c));
        ok.then_some(normalized)
    }

    /// The password as shown to its owner, in dash-separated groups.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest of the normalized form (no dashes): what the store keeps.
    pub fn digest(&self) -> TokenDigest {
        let mut normalized: Vec<u8> = self.0.bytes().filter(|&b| b != b'-').collect();
        let digest = TokenDigest::of(&normalized);
        normalized.zeroize();
        digest
    }
}

impl fmt::Debug for AppPasswordSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppPasswordSecret(***)")
    }
}

/// `chars` in groups of [`APP_PASSWORD_GROUP_LEN`] joined by dashes.
fn group(chars: &[u8]) -> String {
    let mut out = String::with_capacity(chars.len() + chars.len() / APP_PASSWORD_GROUP_LEN);
    for (i, chunk) in chars.chunks(APP_PASSWORD_GROUP_LEN).enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.extend(chunk.iter().map(|&b| char::from(b)));
    }
    out
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib and PNG) of `data`.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// The 32 bytes of `raw`, read as a big-endian number, in base62 left-padded with `0`.
fn encode_base62_256(raw: &[u8; 32], out: &mut [u8; API_TOKEN_BODY_LEN]) {
    let mut n = *raw;
    for slot in out.iter_mut().rev() {
        // Long division of n by 62, most significant byte first.
        let mut rem = 0u32;
        for byte in n.iter_mut() {
            let acc = (rem << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            rem = acc % 62;
        }
        *slot = BASE62[rem as usize];
    }
    debug_assert!(n.iter().all(|&b| b == 0), "62^43 > 2^256");
    n.zeroize();
}

/// A CRC-32 in six base62 characters, left-padded with `0`.
fn encode_checksum(mut crc: u32) -> [u8; API_TOKEN_CHECKSUM_LEN] {
    let mut out = [b'0'; API_TOKEN_CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

/// The value of up to ten base62 digits, or `None` for a character outside base62.
fn decode_base62(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'A'..=b'Z' => d - b'A' + 10,
            b'a'..=b'z' => d - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u64::from(v))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::random::OsRandom;

    /// A "random" source that always gives the same byte.
    #[derive(Debug)]
    struct Constant(u8);

    impl SecureRandom for Constant {
        fn fill(&self, dest: &mut [u8]) {
            dest.fill(self.0);
        }
    }

    fn charset() -> impl Iterator<Item = char> {
        BASE62.iter().map(|&b| char::from(b))
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base62_of_extreme_values() {
        let mut out = [0u8; API_TOKEN_BODY_LEN];
        encode_base62_256(&[0u8; 32], &mut out);
        assert_eq!(out, [b'0'; API_TOKEN_BODY_LEN]);

        encode_base62_256(&[0xFF; 32], &mut out);
        let text = std::str::from_utf8(&out).expect("base62 is ASCII");
        // 2^256 - 1, computed independently (Python: repeated divmod by 62).
        assert_eq!(text.len(), API_TOKEN_BODY_LEN);
        assert_ne!(out[0], b'0', "2^256 - 1 needs all 43 digits");
        assert_eq!(text, "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1");

        // Round trip of small values through the checksum encoder.
        assert_eq!(encode_checksum(0), *b"000000");
        assert_eq!(encode_checksum(61), *b"00000z");
        assert_eq!(encode_checksum(62), *b"000010");
        assert_eq!(
            decode_base62(&encode_checksum(u32::MAX)),
            Some(u64::from(u32::MAX))
        );
    }

    #[test]
    fn zero_token_has_the_documented_shape() {
        let t = ApiTokenSecret::generate(&Constant(0));
        let body = "0".repeat(API_TOKEN_BODY_LEN);
        let signed = format!("{API_TOKEN_PREFIX}{body}");
        let checksum = encode_checksum(crc32(signed.as_bytes()));
        let expected = format!("{signed}{}", std::str::from_utf8(&checksum).expect("ASCII"));
        assert_eq!(t.expose(), expected);
        assert_eq!(ApiTokenSecret::parse(&expected), Ok(t));
    }

    #[test]
    fn generated_tokens_parse_back() {
        let t = ApiTokenSecret::generate(&OsRandom);
        assert_eq!(t.expose().len(), API_TOKEN_LEN);
        assert_eq!(API_TOKEN_LEN, 54);
        assert!(t.expose().starts_with(API_TOKEN_PREFIX));
        let back = ApiTokenSecret::parse(t.expose()).expect("own tokens parse");
        assert_eq!(back, t);
        assert_eq!(back.digest(), t.digest());
        assert_eq!(t.digest(), TokenDigest::of(t.expose().as_bytes()));
        assert_eq!(t.last_four(), &t.expose()[API_TOKEN_LEN - 4..]);
        assert_eq!(t.last_four().len(), 4);
    }

    #[test]
    fn a_thousand_tokens_are_unique_and_all_parse() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let t = ApiTokenSecret::generate(&OsRandom);
            assert!(ApiTokenSecret::parse(t.expose()).is_ok());
            assert!(seen.insert(t.expose().to_owned()), "duplicate token");
        }
    }

    #[test]
    fn every_one_character_substitution_is_refused() {
        for _ in 0..3 {
            let t = ApiTokenSecret::generate(&OsRandom);
            let original: Vec<char> = t.expose().chars().collect();
            let mut tried = 0;
            for pos in 0..original.len() {
                for c in charset().filter(|&c| c != original[pos]) {
                    let mut changed = original.clone();
                    changed[pos] = c;
                    let changed: String = changed.into_iter().collect();
                    let result = ApiTokenSecret::parse(&changed);
                    if pos < API_TOKEN_PREFIX.len() {
                        assert_eq!(result, Err(ApiTokenFormatError::WrongPrefix));
                    } else {
                        assert_eq!(
                            result,
                            Err(ApiTokenFormatError::ChecksumMismatch),
                            "substitution at {pos} not detected"
                        );
                    }
                    tried += 1;
                }
            }
            // Prefix positions hold non-base62 `_` once, so 53 × 61 + 62 in all.
            assert!(tried >= API_TOKEN_LEN * 61);
        }
    }

    #[test]
    fn deletion_and_insertion_are_refused() {
        let t = ApiTokenSecret::generate(&OsRandom);
        let s = t.expose();
        for pos in 0..s.len() {
            let deleted = format!("{}{}", &s[..pos], &s[pos + 1..]);
            // Inside the prefix the prefix breaks, and that is checked first; after it,
            // the length.
            let expected = if pos < API_TOKEN_PREFIX.len() {
                ApiTokenFormatError::WrongPrefix
            } else {
                ApiTokenFormatError::WrongLength
            };
            assert_eq!(ApiTokenSecret::parse(&deleted), Err(expected), "{pos}");
        }
        for pos in 0..=s.len() {
            for c in ['0', 'a', 'Z'] {
                let inserted = format!("{}{c}{}", &s[..pos], &s[pos..]);
                let expected = if pos < API_TOKEN_PREFIX.len() {
                    ApiTokenFormatError::WrongPrefix
                } else {
                    ApiTokenFormatError::WrongLength
                };
                assert_eq!(ApiTokenSecret::parse(&inserted), Err(expected), "{pos} {c}");
            }
        }
        assert_eq!(
            ApiTokenSecret::parse(""),
            Err(ApiTokenFormatError::WrongPrefix)
        );
        assert_eq!(
            ApiTokenSecret::parse(API_TOKEN_PREFIX),
            Err(ApiTokenFormatError::WrongLength)
        );
    }

    #[test]
    fn wrong_prefix_and_bad_characters_are_refused() {
        let t = ApiTokenSecret::generate(&OsRandom);
        let body = &t.expose()[API_TOKEN_PREFIX.len()..];
        for prefix in ["ghp_", "ACCT_", "acct-", "xcct_", "acc_t"] {
            let other = format!("{prefix}{body}");
            assert_eq!(
                ApiTokenSecret::parse(&other),
                Err(ApiTokenFormatError::WrongPrefix)
            );
        }
        for bad in ['-', '_', '=', ' ', '+', '/'] {
            let mut s = t.expose().to_owned();
            s.replace_range(10..11, &bad.to_string());
            assert_eq!(
                ApiTokenSecret::parse(&s),
                Err(ApiTokenFormatError::InvalidCharacter)
            );
        }
        // A two-byte character in place of two ASCII ones keeps the byte length.
        let mut s = t.expose().to_owned();
        s.replace_range(10..12, "é");
        assert_eq!(
            ApiTokenSecret::parse(&s),
            Err(ApiTokenFormatError::InvalidCharacter)
        );
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        let t = ApiTokenSecret::generate(&OsRandom);
        let mut s = t.expose().to_owned();
        let last = if s.ends_with('0') { "1" } else { "0" };
        s.replace_range(API_TOKEN_LEN - 1.., last);
        let err = ApiTokenSecret::parse(&s).expect_err("flipped checksum");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&s[API_TOKEN_PREFIX.len()..API_TOKEN_PREFIX.len() + 8]));
    }

    #[test]
    fn debug_hides_the_token() {
        let t = ApiTokenSecret::generate(&OsRandom);
        let shown = format!("{t:?}");
        assert_eq!(shown, format!("ApiTokenSecret(acct_…{})", t.last_four()));
        assert!(!shown.contains(&t.expose()[API_TOKEN_PREFIX.len()..API_TOKEN_LEN - 4]));

        let p = AppPasswordSecret::generate(&OsRandom);
        let shown = format!("{p:?}");
        assert_eq!(shown, "AppPasswordSecret(***)");
    }

    #[test]
    fn app_password_entropy_allows_a_fast_digest() {
        let alphabet = APP_PASSWORD_ALPHABET.len();
        assert_eq!(alphabet, 31);
        let unique: HashSet<char> = APP_PASSWORD_ALPHABET.chars().collect();
        assert_eq!(unique.len(), alphabet);
        for c in ['0', 'o', '1', 'l', 'i'] {
            assert!(!APP_PASSWORD_ALPHABET.contains(c), "{c} is ambiguous");
        }
        let bits = APP_PASSWORD_LEN as f64 * (alphabet as f64).log2();
        assert_eq!(bits.floor() as u32, APP_PASSWORD_ENTROPY_BITS);
        const { assert!(APP_PASSWORD_ENTROPY_BITS >= 112) };
        // Four groups of five would not have been enough.
        assert!(20.0 * (alphabet as f64).log2() < 112.0);
    }

    #[test]
    fn app_passwords_have_the_documented_shape() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = AppPasswordSecret::generate(&OsRandom);
            let groups: Vec<&str> = p.expose().split('-').collect();
            assert_eq!(groups.len(), 5);
            for g in &groups {
                assert_eq!(g.len(), APP_PASSWORD_GROUP_LEN);
                assert!(g.chars().all(|c| APP_PASSWORD_ALPHABET.contains(c)));
            }
            let back = AppPasswordSecret::parse(p.expose()).expect("own passwords parse");
            assert_eq!(back, p);
            assert_eq!(back.digest(), p.digest());
            assert_eq!(
                p.digest(),
                TokenDigest::of(p.expose().replace('-', "").as_bytes())
            );
            assert!(seen.insert(p.expose().to_owned()));
        }
        // Every byte is below the rejection limit here, and maps to the first letter.
        let zero = AppPasswordSecret::generate(&Constant(0));
        assert_eq!(zero.expose(), "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa");
    }

    #[test]
    fn app_password_normalization_accepts_messy_input() {
        let canonical = "k7mqx2pwabr4stuvw9yzh3jkm";
        for messy in [
            "k7mqx-2pwab-r4stu-vw9yz-h3jkm",
            "  K7MQX-2PWAB-R4STU-VW9YZ-H3JKM  ",
            "k7mqx 2pwab r4stu vw9yz h3jkm",
            "K7mQx2PwAbR4sTuVw9YzH3jKm",
            "k7m-qx2-pwa-br4-stu-vw9-yzh-3jk-m",
            "\tk7mqx--2pwab  r4stu-\nvw9yz h3jkm",
        ] {
            assert_eq!(
                AppPasswordSecret::normalize(messy).as_deref(),
                Some(canonical),
                "{messy:?}"
            );
            let p = AppPasswordSecret::parse(messy).expect("messy input parses");
            assert_eq!(p.expose(), "k7mqx-2pwab-r4stu-vw9yz-h3jkm");
            assert_eq!(p.digest(), TokenDigest::of(canonical.as_bytes()));
        }
        for bad in [
            "",
            "k7mqx-2pwab-r4stu-vw9yz-h3jk",   // too short
            "k7mqx-2pwab-r4stu-vw9yz-h3jkmm", // too long
            "k7mqx-2pwab-r4stu-vw9yz-h3jk0",  // ambiguous 0
            "k7mqx-2pwab-r4stu-vw9yz-h3jko",  // ambiguous o
            "k7mqx-2pwab-r4stu-vw9yz-h3jk1",  // ambiguous 1
            "k7mqx-2pwab-r4stu-vw9yz-h3jkl",  // ambiguous l
            "k7mqx-2pwab-r4stu-vw9yz-h3jki",  // ambiguous i
            "k7mqx_2pwab_r4stu_vw9yz_h3jkm",  // wrong separator
            "k7mqx-2pwab-r4stu-vw9yz-h3jké",  // not ASCII
        ] {
            assert_eq!(AppPasswordSecret::normalize(bad), None, "{bad:?}");
            assert!(AppPasswordSecret::parse(bad).is_none());
        }
    }
}
