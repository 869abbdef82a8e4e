//! The password policy: which new passwords are accepted.
//!
//! The rules follow NIST SP 800-63B and ASVS 6.2 (SECURITY.md A3–A5): a minimum length
//! counted in Unicode code points, a generous maximum, a cap on the raw size, no
//! composition rules ("one digit, one symbol"), and a refusal, with its reason, of
//! passwords that are common or built from the account's own names. The password is
//! checked as typed: it is never trimmed, truncated or case-folded for storage. Only the
//! comparisons with the common list and the context words ignore case.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::common;
use super::hasher::MAX_PASSWORD_BYTES;
use crate::domain::{EmailAddress, Password};

/// Context words shorter than this, in code points, are only refused when they are the
/// whole password: a two- or three-letter name ("Al", "Li", "bob") occurs inside too many
/// good passwords to forbid.
const CONTEXT_MIN_CHARS: usize = 4;

/// A password whose trailing digits, punctuation and white space have been stripped is
/// checked against the common list again only when at least this many code points are
/// left. Below that the base is too short ("a", "12", "abc") for its presence to say the
/// password is weak.
const COMMON_BASE_MIN_CHARS: usize = 4;

/// The length rules for new passwords, set by the administrator's policy.
///
/// The defaults: at least 8 characters, or 15 for accounts without a second factor when
/// `strict_single_factor` is on, and at most 256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordRules {
    /// The minimum length in code points.
    #[serde(deserialize_with = "crate::policy::whole_number")]
    pub min_length: usize,
    /// The minimum length in code points when `strict_single_factor` is on and the
    /// account has no second factor, so the password is all that protects it.
    #[serde(deserialize_with = "crate::policy::whole_number")]
    pub min_length_single_factor: usize,
    /// Whether single-factor accounts need `min_length_single_factor` characters.
    pub strict_single_factor: bool,
    /// The maximum length in code points. Passwords are also refused when larger than
    /// [`MAX_PASSWORD_BYTES`], whatever this says.
    #[serde(deserialize_with = "crate::policy::whole_number")]
    pub max_length: usize,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_length: 8,
            min_length_single_factor: 15,
            strict_single_factor: false,
            max_length: 256,
        }
    }
}

/// What is known about the account a password is for: the words it may not contain and
/// whether it has a second factor.
///
/// Every field is optional; at sign-up there is no second factor yet.
#[derive(Debug, Default, Clone, Copy)]
pub struct PasswordContext<'a> {
    /// The account's username.
    pub username: Option<&'a str>,
    /// The account's email address; its local part is the context word.
    pub email: Option<&'a EmailAddress>,
    /// The account's display name; each word of it is a context word.
    pub display_name: Option<&'a str>,
    /// The name of the service the account belongs to; it and each word of it are
    /// context words.
    pub service_name: Option<&'a str>,
    /// Whether the account has a second factor (TOTP or a passkey).
    pub has_second_factor: bool,
}

/// Which piece of the account's context a password contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextWord {
    /// The username.
    Username,
    /// The local part of the email address.
    Email,
    /// A word of the display name.
    DisplayName,
    /// The service's name or a word of it.
    ServiceName,
}

impl ContextWord {
    /// The stable name of the context word (`username`, `email`, `display_name`,
    /// `service_name`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContextWord::Username => "username",
            ContextWord::Email => "email",
            ContextWord::DisplayName => "display_name",
            ContextWord::ServiceName => "service_name",
        }
    }

    /// How a message to the user names it.
    fn describe(self) -> &'static str {
        match self {
            ContextWord::Username => "your username",
            ContextWord::Email => "your email address",
            ContextWord::DisplayName => "your name",
            ContextWord::ServiceName => "the name of this service",
        }
    }
}

/// Why a new password was refused.
///
/// [`PasswordRejection::code`] gives a stable code for clients to match on; the message
/// is for people. Neither ever contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordRejection {
    /// Fewer code points than the minimum that applies to the account.
    #[error("the password must have at least {min} characters")]
    TooShort {
        /// The minimum, in code points.
        min: usize,
    },
    /// More code points than the maximum.
    #[error("the password must have at most {max} characters")]
    TooLong {
        /// The maximum, in code points.
        max: usize,
    },
    /// More bytes than [`MAX_PASSWORD_BYTES`].
    #[error("the password must be at most {max_bytes} bytes long")]
    TooLarge {
        /// The maximum, in bytes.
        max_bytes: usize,
    },
    /// The password, or the password less a trailing run of digits and punctuation, is on
    /// the list of common passwords.
    #[error("the password is too common: it is among the most used passwords")]
    Common,
    /// The password contains, or is, a word from the account's context.
    #[error("the password must not contain {}", .0.describe())]
    ContainsContext(ContextWord),
}

impl PasswordRejection {
    /// The stable reason code: `too_short`, `too_long`, `too_large`, `common`,
    /// `contains_username`, `contains_email`, `contains_display_name` or
    /// `contains_service_name`.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordRejection::TooShort { .. } => "too_short",
            PasswordRejection::TooLong { .. } => "too_long",
            PasswordRejection::TooLarge { .. } => "too_large",
            PasswordRejection::Common => "common",
            PasswordRejection::ContainsContext(word) => match word {
                ContextWord::Username => "contains_username",
                ContextWord::Email => "contains_email",
                ContextWord::DisplayName => "contains_display_name",
                ContextWord::ServiceName => "contains_service_name",
            },
        }
    }
}

impl PasswordRules {
    /// The minimum length, in code points, for an account with or without a second
    /// factor.
    ///
    /// The single-factor minimum applies only when `strict_single_factor` is on, and
    /// never lowers the general one.
    pub fn min_length_for(&self, has_second_factor: bool) -> usize {
        if self.strict_single_factor && !has_second_factor {
            self.min_length.max(self.min_length_single_factor)
        } else {
            self.min_length
        }
    }

    /// Checks a new password against the rules, the account's context and the
    /// common-password list, in this order: raw size (cheap, so first), minimum length,
    /// maximum length, context words, common list. The first rule broken is the reason
    /// given.
    ///
    /// # Errors
    ///
    /// The [`PasswordRejection`] naming the first rule the password breaks.
    pub fn check(
        &self,
        password: &Password,
        ctx: &PasswordContext<'_>,
    ) -> Result<(), PasswordRejection> {
        if password.byte_len() > MAX_PASSWORD_BYTES {
            return Err(PasswordRejection::TooLarge {
                max_bytes: MAX_PASSWORD_BYTES,
            });
        }
        let length = password.char_count();
        let min = self.min_length_for(ctx.has_second_factor);
        if length < min {
            return Err(PasswordRejection::TooShort { min });
        }
        if length > self.max_length {
            return Err(PasswordRejection::TooLong {
                max: self.max_length,
            });
        }
        // The lowercased copy is as secret as the password: wipe it when done.
        let lower = Zeroizing::new(password.expose().to_lowercase());
        if let Some(word) = context_word_in(&lower, ctx) {
            return Err(PasswordRejection::ContainsContext(word));
        }
        if is_common_password(&lower) {
            return Err(PasswordRejection::Common);
        }
        Ok(())
    }
}

/// Whether a lowercased password is common: on the list as it is, or once a trailing run
/// of ASCII digits, ASCII punctuation and white space is stripped ("password123!",
/// "dragon2024"), provided at least [`COMMON_BASE_MIN_CHARS`] code points remain.
///
/// Appending digits or a symbol to a common word is the first thing cracking rules try,
/// so such a password is no stronger than the word.
fn is_common_password(lower: &str) -> bool {
    if common::is_common(lower) {
        return true;
    }
    let base = lower.trim_end_matches(|c: char| {
        c.is_ascii_digit() || c.is_ascii_punctuation() || c.is_whitespace()
    });
    base.len() < lower.len()
        && base.chars().count() >= COMMON_BASE_MIN_CHARS
        && common::is_common(base)
}

/// The first context word the lowercased password contains, if any.
///
/// A candidate counts when it is the whole password, or when it has at least
/// [`CONTEXT_MIN_CHARS`] code points and occurs anywhere in the password. The
/// candidates: the username; the email's local part, and its part before a `+tag`; the
/// display name and each of its whitespace-separated words; the service name and each of
/// its words.
fn context_word_in(lower: &str, ctx: &PasswordContext<'_>) -> Option<ContextWord> {
    let found = |candidate: &str| {
        let candidate = candidate.trim().to_lowercase();
        !candidate.is_empty()
            && (lower == candidate
                || (candidate.chars().count() >= CONTEXT_MIN_CHARS
                    && lower.contains(candidate.as_str())))
    };
    let whole_or_word = |text: &str| found(text) || text.split_whitespace().any(found);

    if ctx.username.is_some_and(found) {
        return Some(ContextWord::Username);
    }
    if let Some(email) = ctx.email {
        let local = email.local_part();
        let untagged = local.split_once('+').map(|(base, _tag)| base);
        if found(local) || untagged.is_some_and(found) {
            return Some(ContextWord::Email);
        }
    }
    if ctx.display_name.is_some_and(whole_or_word) {
        return Some(ContextWord::DisplayName);
    }
    if ctx.service_name.is_some_and(whole_or_word) {
        return Some(ContextWord::ServiceName);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        rules: &PasswordRules,
        password: &str,
        ctx: &PasswordContext<'_>,
    ) -> Result<(), PasswordRejection> {
        let outcome = rules.check(&Password::new(password), ctx);
        if let Err(rejection) = &outcome {
            // SECURITY.md A5 wants the reason given; it must never echo the password.
            // ("password" itself is exempt: every message says "the password".)
            let shown = format!("{rejection} {rejection:?}").to_lowercase();
            let echoed = !password.is_empty()
                && password.to_lowercase() != "password"
                && shown.contains(&password.to_lowercase());
            assert!(!echoed, "{shown:?} repeats the password");
        }
        outcome
    }

    fn code(
        rules: &PasswordRules,
        password: &str,
        ctx: &PasswordContext<'_>,
    ) -> Option<&'static str> {
        check(rules, password, ctx).err().map(|r| r.code())
    }

    fn strict() -> PasswordRules {
        PasswordRules {
            strict_single_factor: true,
            ..PasswordRules::default()
        }
    }

    #[test]
    fn defaults_match_the_design() {
        let rules = PasswordRules::default();
        assert_eq!(rules.min_length, 8);
        assert_eq!(rules.min_length_single_factor, 15);
        assert!(!rules.strict_single_factor);
        assert_eq!(rules.max_length, 256);
        assert_eq!(rules.min_length_for(false), 8);
        assert_eq!(strict().min_length_for(false), 15);
        assert_eq!(strict().min_length_for(true), 8);

        let partial: PasswordRules =
            serde_json::from_str(r#"{"strict_single_factor": true}"#).expect("parses");
        assert_eq!(partial, strict());
    }

    #[test]
    fn a3_fourteen_e_acute_refused_without_second_factor_when_strict() {
        let fourteen = "é".repeat(14);
        assert_eq!(fourteen.len(), 28, "28 bytes, but 14 characters");
        let single = PasswordContext::default();
        let with_2fa = PasswordContext {
            has_second_factor: true,
            ..PasswordContext::default()
        };
        assert_eq!(
            check(&strict(), &fourteen, &single),
            Err(PasswordRejection::TooShort { min: 15 })
        );
        assert_eq!(check(&strict(), &fourteen, &with_2fa), Ok(()));
        assert_eq!(check(&strict(), &"é".repeat(15), &single), Ok(()));
        // Without the strict rule, 8 is the minimum for everyone.
        assert_eq!(check(&PasswordRules::default(), &fourteen, &single), Ok(()));
    }

    #[test]
    fn a3_length_counts_code_points_not_bytes() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext::default();
        // Seven characters of three bytes each: 21 bytes, still too short.
        assert_eq!(
            check(&rules, &"語".repeat(7), &ctx),
            Err(PasswordRejection::TooShort { min: 8 })
        );
        assert_eq!(check(&rules, &"語".repeat(8), &ctx), Ok(()));
        assert_eq!(code(&rules, "", &ctx), Some("too_short"));
    }

    #[test]
    fn a4_up_to_256_characters_accepted_without_composition_rules() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext::default();
        // All lowercase letters, no digit, no symbol: fine.
        assert_eq!(check(&rules, "quietly ambling tortoises", &ctx), Ok(()));
        let long: String = "zebra ukulele gusto ".chars().cycle().take(256).collect();
        assert_eq!(check(&rules, &long, &ctx), Ok(()));
        assert_eq!(
            check(&rules, &format!("{long}x"), &ctx),
            Err(PasswordRejection::TooLong { max: 256 })
        );
        // 256 four-byte characters are exactly 1 KiB: the longest password fits the cap.
        assert_eq!(check(&rules, &"🦓".repeat(256), &ctx), Ok(()));
    }

    #[test]
    fn a4_one_mebibyte_password_refused_as_too_large() {
        let rules = PasswordRules {
            max_length: usize::MAX,
            ..PasswordRules::default()
        };
        let ctx = PasswordContext::default();
        let huge = "x".repeat(1024 * 1024);
        assert_eq!(
            check(&rules, &huge, &ctx),
            Err(PasswordRejection::TooLarge { max_bytes: 1024 })
        );
        assert_eq!(
            code(&PasswordRules::default(), &huge, &ctx),
            Some("too_large")
        );
        // The byte cap is checked first: 342 three-byte characters are over both 256
        // characters and 1 KiB, and the reason given is the size.
        assert_eq!(
            code(&PasswordRules::default(), &"語".repeat(342), &ctx),
            Some("too_large")
        );
    }

    #[test]
    fn a5_username_as_password_refused_with_reason() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext {
            username: Some("zanzibar42"),
            ..PasswordContext::default()
        };
        let rejection = check(&rules, "zanzibar42", &ctx).expect_err("refused");
        assert_eq!(
            rejection,
            PasswordRejection::ContainsContext(ContextWord::Username)
        );
        assert_eq!(rejection.code(), "contains_username");
        assert_eq!(
            rejection.to_string(),
            "the password must not contain your username"
        );
        // Inside a longer password, and in another case.
        assert_eq!(
            code(&rules, "my-ZANZIBAR42-secret", &ctx),
            Some("contains_username")
        );
        assert_eq!(check(&rules, "zanzibar 4 2 lighthouse", &ctx), Ok(()));
    }

    #[test]
    fn a5_common_password_refused_with_reason() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext::default();
        for common in ["password", "PASSWORD", "iloveyou", "12345678", "sunshine"] {
            assert_eq!(code(&rules, common, &ctx), Some("common"), "{common}");
        }
        // A common word with digits or symbols appended is no better.
        for variant in ["Password123!", "dragon2024", "monkey!!!!", "sunshine 2024"] {
            assert_eq!(code(&rules, variant, &ctx), Some("common"), "{variant}");
        }
        // Only a trailing run is stripped, and only a base of 4+ characters counts.
        assert_eq!(check(&rules, "correct horse battery staple", &ctx), Ok(()));
        assert_eq!(check(&rules, "2024password-zebra", &ctx), Ok(()));
        assert_eq!(check(&rules, "abc-84937261", &ctx), Ok(()));
        assert_eq!(
            PasswordRejection::Common.to_string(),
            "the password is too common: it is among the most used passwords"
        );
    }

    #[test]
    fn a5_email_local_part_refused() {
        let rules = PasswordRules::default();
        let email = EmailAddress::parse("Kowalski.Jan+shop@example.com").expect("valid");
        let ctx = PasswordContext {
            email: Some(&email),
            ..PasswordContext::default()
        };
        assert_eq!(
            code(&rules, "kowalski.jan+shop!", &ctx),
            Some("contains_email")
        );
        assert_eq!(
            code(&rules, "I am kowalski.jan", &ctx),
            Some("contains_email")
        );
        // The domain is no context word.
        assert_eq!(check(&rules, "example-umbrella-quilt", &ctx), Ok(()));
    }

    #[test]
    fn a5_display_name_word_refused() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext {
            display_name: Some("Ingrid Bergström"),
            ..PasswordContext::default()
        };
        assert_eq!(
            code(&rules, "BERGSTRÖM-forever", &ctx),
            Some("contains_display_name")
        );
        assert_eq!(
            code(&rules, "ingrid rules the waves", &ctx),
            Some("contains_display_name")
        );
        assert_eq!(check(&rules, "bergstrom-forever", &ctx), Ok(()));

        // Words under four characters are refused only as the whole password.
        let short = PasswordContext {
            display_name: Some("Bo Ek"),
            ..PasswordContext::default()
        };
        assert_eq!(check(&rules, "bohemian ekphrasis", &short), Ok(()));
        let lenient = PasswordRules {
            min_length: 1,
            ..PasswordRules::default()
        };
        assert_eq!(code(&lenient, "Bo", &short), Some("contains_display_name"));
        assert_eq!(
            code(&lenient, "bo ek", &short),
            Some("contains_display_name")
        );
    }

    #[test]
    fn a5_service_name_refused() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext {
            service_name: Some("Acme Cloud"),
            ..PasswordContext::default()
        };
        assert_eq!(
            code(&rules, "acmecloud2024!", &ctx),
            Some("contains_service_name")
        );
        assert_eq!(
            code(&rules, "my cloud password", &ctx),
            Some("contains_service_name")
        );
        assert_eq!(check(&rules, "quietly ambling tortoises", &ctx), Ok(()));
    }

    #[test]
    fn context_is_reported_before_common() {
        let rules = PasswordRules::default();
        let ctx = PasswordContext {
            username: Some("sunshine"),
            ..PasswordContext::default()
        };
        assert_eq!(code(&rules, "sunshine", &ctx), Some("contains_username"));
    }

    #[test]
    fn every_code_is_stable() {
        let codes: Vec<&str> = [
            PasswordRejection::TooShort { min: 8 },
            PasswordRejection::TooLong { max: 256 },
            PasswordRejection::TooLarge { max_bytes: 1024 },
            PasswordRejection::Common,
            PasswordRejection::ContainsContext(ContextWord::Username),
            PasswordRejection::ContainsContext(ContextWord::Email),
            PasswordRejection::ContainsContext(ContextWord::DisplayName),
            PasswordRejection::ContainsContext(ContextWord::ServiceName),
        ]
        .iter()
        .map(PasswordRejection::code)
        .collect();
        assert_eq!(
            codes,
            [
                "too_short",
                "too_long",
                "too_large",
                "common",
                "contains_username",
                "contains_email",
                "contains_display_name",
                "contains_service_name"
            ]
        );
        assert_eq!(ContextWord::DisplayName.as_str(), "display_name");
    }
}
