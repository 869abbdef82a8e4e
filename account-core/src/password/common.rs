//! The list of common passwords that the policy refuses.
//!
//! The list ships inside the binary (`data/common-passwords.txt`, about 160 KB: see
//! `data/README.md` for its source and licence) so that the check needs no file, no
//! network and no configuration. It is turned into a hash set the first time it is
//! asked, and never again.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The shipped list: one lowercase password a line, most common first.
const LIST: &str = include_str!("../../data/common-passwords.txt");

/// The list as a set, built on first use.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    // `lines` also strips a `\r`, so a checkout that turned the file into CRLF still
    // matches; empty lines would make the empty password "common", so they are skipped.
    LIST.lines().filter(|line| !line.is_empty()).collect()
});

/// Whether a password is on the common-password list.
///
/// The argument must already be lowercase (`str::to_lowercase`), as every entry of
/// the list is: the comparison itself is exact.
pub fn is_common(password_lowercase: &str) -> bool {
    COMMON.contains(password_lowercase)
}

/// How many distinct passwords the list holds.
pub fn list_len() -> usize {
    COMMON.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a5_list_holds_at_least_ten_thousand_common_passwords() {
        assert!(list_len() >= 10_000, "only {} entries", list_len());
        assert!(is_common("password"));
        assert!(is_common("123456"));
        assert!(is_common("qwerty"));
        assert!(is_common("michael"));
    }

    #[test]
    fn list_is_lowercase_and_has_no_blank_entries() {
        assert!(!is_common(""));
        for entry in LIST.lines() {
            assert_eq!(
                entry,
                entry.to_lowercase(),
                "entry {entry:?} is not lowercase"
            );
            assert!(!entry.is_empty());
        }
    }

    #[test]
    fn the_check_is_exact() {
        // The caller lowercases; the list does not guess.
        assert!(!is_common("Password"));
        assert!(!is_common("correct horse battery staple orbit"));
    }
}
