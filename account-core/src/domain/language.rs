use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Field, Rule, ValidationError};

/// A language preference: a well-formed BCP 47 language tag such as `en`, `de-CH` or
/// `zh-Hant-TW`, stored in its canonical case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Language(String);

/// The longest tag accepted, in bytes; real tags are far shorter.
pub const LANGUAGE_MAX: usize = 35;

impl Language {
    /// Parses a BCP 47 tag (RFC 5646 well-formedness) and canonicalises its case.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] for [`Field::Language`]: too long, or not well-formed.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |rule| ValidationError::new(Field::Language, rule);
        let input = input.trim();
        if input.is_empty() {
            return Err(err(Rule::Empty));
        }
        if input.len() > LANGUAGE_MAX {
            return Err(err(Rule::TooLong { max: LANGUAGE_MAX }));
        }
        let tag = language_tags::LanguageTag::parse(input).map_err(|_| err(Rule::InvalidSyntax))?;
        // Private-use-only (`x-...`) and grandfathered irregular (`i-...`) tags name no language a
        // user interface could offer.
        let lower = tag.as_str().to_ascii_lowercase();
        if lower.starts_with("x-") || lower.starts_with("i-") {
            return Err(err(Rule::InvalidSyntax));
        }
        Ok(Self(canonical_case(tag.as_str())))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 5646 §2.1.1 case conventions: language lowercase, script title case, region
/// uppercase, everything else lowercase.
fn canonical_case(tag: &str) -> String {
    let mut out = Vec::new();
    let mut after_singleton = false;
    for (i, sub) in tag.split('-').enumerate() {
        let s = if i == 0 || after_singleton {
            sub.to_ascii_lowercase()
        } else if sub.len() == 4 && sub.bytes().all(|b| b.is_ascii_alphabetic()) {
            let mut s = sub.to_ascii_lowercase();
            s[..1].make_ascii_uppercase();
            s
        } else if (sub.len() == 2 && sub.bytes().all(|b| b.is_ascii_alphabetic()))
            || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()))
        {
            sub.to_ascii_uppercase()
        } else {
            sub.to_ascii_lowercase()
        };
        if sub.len() == 1 {
            after_singleton = true;
        }
        out.push(s);
    }
    out.join("-")
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Language::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_canonicalises() {
        for (input, want) in [
            ("en", "en"),
            ("DE-ch", "de-CH"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("es-419", "es-419"),
        ] {
            assert_eq!(
                Language::parse(input).map(|l| l.0),
                Ok(want.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_malformed_tags() {
        let too_long = "a".repeat(40);
        for (input, rule) in [
            ("", Rule::Empty),
            ("english!", Rule::InvalidSyntax),
            ("e", Rule::InvalidSyntax),
            ("en--us", Rule::InvalidSyntax),
            ("x-private", Rule::InvalidSyntax),
            ("123", Rule::InvalidSyntax),
            (too_long.as_str(), Rule::TooLong { max: LANGUAGE_MAX }),
        ] {
            assert_eq!(
                Language::parse(input),
                Err(ValidationError::new(Field::Language, rule)),
                "{input}"
            );
        }
    }
}
