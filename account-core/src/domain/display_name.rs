use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Rule, ValidationError};

/// The name shown for an account, such as a person's first and last name.
///
/// Trimmed; 1 to 100 characters (Unicode scalar values); no control characters, so a
/// display name can never break a log line or a mail header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

/// The longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 100;

impl DisplayName {
    /// Parses a display name, trimming white space at both ends.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] for [`Field::DisplayName`] naming the broken rule.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |rule| ValidationError::new(Field::DisplayName, rule);
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(err(Rule::Empty));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(err(Rule::ControlCharacter));
        }
        if trimmed.chars().count() > DISPLAY_NAME_MAX {
            return Err(err(Rule::TooLong {
                max: DISPLAY_NAME_MAX,
            }));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The display name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DisplayName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").map(|d| d.0),
            Ok("Ada Lovelace".into())
        );
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(101)).map_err(|e| e.rule),
            Err(Rule::TooLong { max: 100 })
        );
    }

    #[test]
    fn refuses_empty_and_control_characters() {
        assert_eq!(
            DisplayName::parse("   ").map_err(|e| e.rule),
            Err(Rule::Empty)
        );
        assert_eq!(
            DisplayName::parse("Ada\nLovelace").map_err(|e| e.rule),
            Err(Rule::ControlCharacter)
        );
        assert_eq!(DisplayName::parse("Ada\u{202e}").map(|_| ()), Ok(()));
        assert_eq!(
            DisplayName::parse("a\u{0}").map_err(|e| e.code()),
            Err("display_name_control_character".into())
        );
    }
}
