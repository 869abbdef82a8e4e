//! Recovery codes: the backup of a second factor. Ten single-use codes, shown once,
//! stored only as digests; regenerating them voids the old set.
//!
//! A code is 125 random bits written as 25 characters of lowercase base32 in Crockford's
//! alphabet (no `i`, `l`, `o` or `u`, so nothing reads as another character or a word) in
//! five groups: `k3vq8-2mxnr-a7tzp-0hw4c-9gbfe`. Input is forgiving: case, spaces and
//! dashes are ignored, and `i`/`l` read as `1`, `o` as `0`.
//!
//! At 125 bits a code cannot be guessed or brute-forced from its digest, so a fast
//! SHA-256 digest stores it safely (SECURITY H28: a slow, salted hash is needed only below
//! 112 bits), and it is looked up by that digest in one atomic store operation.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::Accounts;
use super::sessions::SignedInSession;
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{Account, AccountId, RequestInfo, SecurityEventKind};
use crate::random::SecureRandom;
use crate::token::TokenDigest;

/// A new set of recovery codes, in clear: the only moment they exist so. Show them to the
/// user once and drop them; only their digests are stored.
///
/// `Debug` hides the codes, and they are wiped from memory on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCodes(Vec<String>);

impl RecoveryCodes {
    /// How many codes a set holds.
    pub const COUNT: usize = 10;

    /// The codes, formatted for display (`xxxxx-xxxxx-xxxxx-xxxxx-xxxxx`).
    pub fn expose(&self) -> &[String] {
        &self.0
    }

    /// A fresh set of [`RecoveryCodes::COUNT`] codes.
    pub(crate) fn generate(rng: &dyn SecureRandom) -> Self {
        Self((0..Self::COUNT).map(|_| generate_code(rng)).collect())
    }

    /// The digests to store, one per code.
    pub(crate) fn digests(&self) -> Vec<TokenDigest> {
        self.0.iter().filter_map(|code| digest_of(code)).collect()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes({} × ***)", self.0.len())
    }
}

impl Accounts {
    /// Makes a new set of recovery codes and voids the old one, after a fresh
    /// authentication. Both addresses of the account get a notice.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session;
    /// [`Error::NoSecondFactor`] when the account has neither a TOTP authenticator nor a
    /// passkey (recovery codes back up a factor, they are not one).
    pub async fn regenerate_recovery_codes(
        &self,
        current: &SignedInSession,
        info: &RequestInfo,
    ) -> Result<RecoveryCodes> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let store = &self.inner.store;
        if !store.second_factors(account.id).await?.any() {
            return Err(Error::NoSecondFactor);
        }
        let codes = RecoveryCodes::generate(self.rng());
        store
            .replace_recovery_codes(account.id, &codes.digests(), self.now())
            .await?;
        // The owner hears of it before it is logged: a failed log write leaves the new
        // codes in place, and the notice must not depend on it.
        self.notify_all_addresses(&account, |username| Message::RecoveryCodesRegenerated {
            username,
        });
        self.record(
            account.id,
            SecurityEventKind::RecoveryCodesRegenerated,
            info,
            &[("count", RecoveryCodes::COUNT.to_string())],
        )
        .await?;
        Ok(codes)
    }

    /// How many unused recovery codes the account has.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn recovery_codes_left(&self, account: AccountId) -> Result<u32> {
        Ok(self
            .inner
            .store
            .second_factors(account)
            .await?
            .recovery_codes_left)
    }

    /// Uses up one of the account's recovery codes: `true` if `code` was one of them and
    /// unused (it is now used), `false` otherwise. A malformed code is refused without
    /// asking the store. On success a `recovery_code_used` event is recorded and both
    /// addresses get a notice with the number of codes left.
    ///
    /// The caller decides what a wrong code means (a failed second factor at login).
    pub(crate) async fn use_recovery_code(
        &self,
        account: &Account,
        code: &str,
        info: &RequestInfo,
    ) -> Result<bool> {
        let Some(digest) = digest_of(code) else {
            return Ok(false);
        };
        let store = &self.inner.store;
        if !store.redeem_recovery_code(account.id, &digest).await? {
            return Ok(false);
        }
        let codes_left = store.second_factors(account.id).await?.recovery_codes_left;
        self.record(
            account.id,
            SecurityEventKind::RecoveryCodeUsed,
            info,
            &[("codes_left", codes_left.to_string())],
        )
        .await?;
        self.notify_all_addresses(account, |username| Message::RecoveryCodeUsed {
            username,
            codes_left,
        });
        Ok(true)
    }
}

/// The alphabet: Crockford's base32 in lowercase (no `i`, `l`, `o`, `u`).
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Characters in a code, without the dashes (25 × 5 = 125 bits).
const CODE_CHARS: usize = 25;

/// Characters between two dashes.
const GROUP: usize = 5;

/// A fresh code, formatted with dashes.
fn generate_code(rng: &dyn SecureRandom) -> String {
    let mut random = Zeroizing::new([0u8; CODE_CHARS]);
    rng.fill(random.as_mut());
    let mut code = String::with_capacity(CODE_CHARS + CODE_CHARS / GROUP);
    for (i, byte) in random.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            code.push('-');
        }
        // 256 is a multiple of 32, so the low five bits of a uniform byte are uniform.
        code.push(char::from(ALPHABET[usize::from(byte & 0x1f)]));
    }
    code
}

/// The canonical form of a code as typed: lowercase, without spaces or dashes, with the
/// characters Crockford's alphabet leaves out read as the ones they look like. `None`
/// unless the result is 25 characters of the alphabet.
///
/// Public only for the fuzz targets in `fuzz/`, which must call the parser the login
/// uses; it is not part of the API.
#[doc(hidden)]
pub fn normalize(input: &str) -> Option<Zeroizing<String>> {
    // Far longer than any code however spaced: refuse before copying it.
    if input.len() > 4 * CODE_CHARS {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(CODE_CHARS));
    for c in input.chars() {
        let c = match c.to_ascii_lowercase() {
            c if c.is_whitespace() || c == '-' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == CODE_CHARS).then_some(out)
}

/// The digest a code is stored and looked up by, or `None` for a malformed code.
fn digest_of(code: &str) -> Option<TokenDigest> {
    normalize(code).map(|n| TokenDigest::of(n.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::random::OsRandom;

    #[test]
    fn a_set_has_ten_codes_in_five_groups_of_five() {
        let codes = RecoveryCodes::generate(&OsRandom);
        assert_eq!(codes.expose().len(), 10);
        for code in codes.expose() {
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 5, "{code}");
            assert!(groups.iter().all(|g| g.len() == 5), "{code}");
            assert!(
                code.bytes()
                    .all(|b| b == b'-' || ALPHABET.contains(&b) && !b"ilou".contains(&b)),
                "{code}"
            );
        }
        assert_eq!(codes.digests().len(), 10);
    }

    #[test]
    fn h28_a_code_has_at_least_64_bits() {
        // 25 characters of a 32-character alphabet, each from a uniform byte's low 5 bits.
        let bits = CODE_CHARS as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 64.0, "{bits}");
        assert!(bits >= 112.0, "a fast digest needs 112 bits (H28): {bits}");
        assert_eq!(ALPHABET.iter().collect::<HashSet<_>>().len(), 32);
    }

    #[test]
    fn codes_are_unique() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let codes = RecoveryCodes::generate(&OsRandom);
            for code in codes.expose() {
                assert!(seen.insert(code.clone()), "a code repeated: {code}");
            }
        }
        // Every character of the alphabet turns up.
        let chars: HashSet<char> = seen.iter().flat_map(|c| c.chars()).collect();
        assert_eq!(chars.len(), 33, "32 characters and the dash");
    }

    #[test]
    fn typing_variants_normalise_to_the_same_digest() {
        let code = "k3vq8-2mxnr-a7tzp-0hw4c-9gbfe";
        let digest = digest_of(code).expect("well formed");
        for typed in [
            "K3VQ8-2MXNR-A7TZP-0HW4C-9GBFE",
            "k3vq82mxnra7tzp0hw4c9gbfe",
            " k3vq8 2mxnr a7tzp 0hw4c 9gbfe ",
            "k3vq8-2mxnr-a7tzp-Ohw4c-9gbfe",
            "k3vq8--2mxnr\ta7tzp-0hw4c-9gbfe\n",
        ] {
            assert_eq!(digest_of(typed), Some(digest), "{typed:?}");
        }
        let one = digest_of("1111111111111111111111111").expect("well formed");
        assert_eq!(digest_of("iIlL1-11111-11111-11111-11111"), Some(one));
    }

    #[test]
    fn malformed_codes_have_no_digest() {
        for typed in [
            "",
            "k3vq8-2mxnr-a7tzp-0hw4c-9gbf",
            "k3vq8-2mxnr-a7tzp-0hw4c-9gbfee",
            "k3vq8-2mxnr-a7tzp-0hw4c-9gbfu",
            "k3vq8-2mxnr-a7tzp-0hw4c-9gbf!",
            "k3vq8-2mxnr-a7tzp-0hw4c-9gbfé",
            &"-".repeat(10_000),
        ] {
            assert_eq!(digest_of(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn the_digest_is_sha256_of_the_normalised_code() {
        let code = "k3vq8-2mxnr-a7tzp-0hw4c-9gbfe";
        assert_eq!(
            digest_of(code),
            Some(TokenDigest::of(b"k3vq82mxnra7tzp0hw4c9gbfe"))
        );
    }

    #[test]
    fn debug_hides_the_codes() {
        let codes = RecoveryCodes::generate(&OsRandom);
        let shown = format!("{codes:?} {codes:#?}");
        for code in codes.expose() {
            assert!(!shown.contains(code.as_str()), "{shown}");
            assert!(!shown.contains(&code[..5]), "{shown}");
        }
    }
}
