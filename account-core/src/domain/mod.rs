//! Domain values that parse, not validate.
//!
//! Each type here can only be built from input that obeys its rules, so code that holds a
//! [`Username`] or an [`EmailAddress`] never checks it again. A refusal is a
//! [`ValidationError`] that names the field and the rule that was broken.

mod display_name;
mod email;
mod language;
mod password;
mod username;

pub use display_name::{DISPLAY_NAME_MAX, DisplayName};
pub use email::{EMAIL_MAX, EmailAddress};
pub use language::{LANGUAGE_MAX, Language};
pub use password::Password;
pub use username::{ReservedNames, USERNAME_MAX, USERNAME_MIN, Username};

use std::fmt;

/// Which input field a [`ValidationError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The username.
    Username,
    /// An email address (primary or recovery).
    Email,
    /// The display name.
    DisplayName,
    /// The language tag.
    Language,
    /// A password.
    Password,
    /// A one-time token from a link.
    Token,
    /// An uploaded avatar image.
    Avatar,
    /// The name a user gives a credential, such as a passkey.
    Name,
    /// The networks a personal API token may be used from.
    AllowedNetworks,
    /// When a personal API token expires.
    ExpiresAt,
    /// The username typed again to confirm deleting an account.
    ConfirmUsername,
}

impl Field {
    /// The field's name as clients see it (snake_case, stable).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::Email => "email",
            Field::DisplayName => "display_name",
            Field::Language => "language",
            Field::Password => "password",
            Field::Token => "token",
            Field::Avatar => "avatar",
            Field::Name => "name",
            Field::AllowedNetworks => "allowed_networks",
            Field::ExpiresAt => "expires_at",
            Field::ConfirmUsername => "confirm_username",
        }
    }
}

/// The rule an input broke.
///
/// The string form ([`Rule::as_str`]) is a stable code that clients may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The value is shorter than allowed.
    TooShort {
        /// The minimum, in characters (or bytes where the field says so).
        min: usize,
    },
    /// The value is longer than allowed.
    TooLong {
        /// The maximum, in characters (or bytes where the field says so).
        max: usize,
    },
    /// The value holds a character the field does not allow.
    InvalidCharacter,
    /// The value is empty after trimming.
    Empty,
    /// The value holds a control character.
    ControlCharacter,
    /// The value is reserved and may not be taken.
    Reserved,
    /// The value does not follow the field's syntax.
    InvalidSyntax,
    /// The time is not in the future.
    InThePast,
    /// The value is not the one it must repeat.
    Mismatch,
}

impl Rule {
    /// The stable code of the rule.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::TooShort { .. } => "too_short",
            Rule::TooLong { .. } => "too_long",
            Rule::InvalidCharacter => "invalid_character",
            Rule::Empty => "empty",
            Rule::ControlCharacter => "control_character",
            Rule::Reserved => "reserved",
            Rule::InvalidSyntax => "invalid_syntax",
            Rule::InThePast => "in_the_past",
            Rule::Mismatch => "mismatch",
        }
    }
}

/// An input was refused: which field, and which rule it broke.
///
/// The message never repeats the input, so a mistyped password cannot reach a log
/// through an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} is invalid: {}", field.as_str(), describe(*rule))]
pub struct ValidationError {
    /// The field that was refused.
    pub field: Field,
    /// The rule it broke.
    pub rule: Rule,
}

impl ValidationError {
    pub(crate) fn new(field: Field, rule: Rule) -> Self {
        Self { field, rule }
    }

    /// A stable code such as `username_too_short`, for clients to match on.
    pub fn code(&self) -> String {
        format!("{}_{}", self.field.as_str(), self.rule.as_str())
    }
}

fn describe(rule: Rule) -> String {
    match rule {
        Rule::TooShort { min } => format!("shorter than {min}"),
        Rule::TooLong { max } => format!("longer than {max}"),
        Rule::InvalidCharacter => "it holds a character that is not allowed".to_owned(),
        Rule::Empty => "it is empty".to_owned(),
        Rule::ControlCharacter => "it holds a control character".to_owned(),
        Rule::Reserved => "it is reserved".to_owned(),
        Rule::InvalidSyntax => "it does not follow the syntax".to_owned(),
        Rule::InThePast => "it is not in the future".to_owned(),
        Rule::Mismatch => "it does not match".to_owned(),
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
