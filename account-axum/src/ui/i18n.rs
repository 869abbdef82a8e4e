//! The message catalogs of the pages, and which language a request gets.
//!
//! Every text a page shows comes from a catalog: `locales/<language>/<section>.txt`, one
//! `key = value` per line (`#` starts a comment), with `{name}` where a value is filled
//! in. The files are compiled into the binary. English is complete by definition and the
//! fallback of every other language; a test keeps German complete too, and checks that
//! every key a template asks for exists.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The sections of the catalogs: one file per section in each language's folder, so that
/// the pages of one area keep their texts together.
macro_rules! catalog_files {
    ($lang:literal) => {
        &[
            include_str!(concat!("../../locales/", $lang, "/common.txt")),
            include_str!(concat!("../../locales/", $lang, "/errors.txt")),
            include_str!(concat!("../../locales/", $lang, "/signin.txt")),
            include_str!(concat!("../../locales/", $lang, "/profile.txt")),
            include_str!(concat!("../../locales/", $lang, "/security.txt")),
            include_str!(concat!("../../locales/", $lang, "/developer.txt")),
            include_str!(concat!("../../locales/", $lang, "/admin.txt")),
            include_str!(concat!("../../locales/", $lang, "/events.txt")),
        ]
    };
}

/// A language the pages are translated into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    De,
}

impl Lang {
    /// Every language, in the order the language selector lists them.
    pub(crate) const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The BCP 47 tag, for `<html lang>` and the account's preference.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language's own name, as the selector shows it whatever the page's language.
    pub(crate) fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
        }
    }

    /// The language a tag asks for (`de-AT` is German), if it is one of ours.
    pub(crate) fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// The language for a request: the account's preference when it names one of ours,
    /// else the best of `Accept-Language` by its weights, else English.
    pub(crate) fn negotiate(preference: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = preference.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // The first of equal weights wins: the browser lists them in its order.
            if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }

    fn catalog(self) -> &'static Catalog {
        static EN: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(catalog_files!("en")));
        static DE: LazyLock<Catalog> = LazyLock::new(|| Catalog::parse(catalog_files!("de")));
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
        }
    }
}

/// One language's messages by key.
#[derive(Debug)]
pub(crate) struct Catalog {
    messages: HashMap<&'static str, &'static str>,
}

impl Catalog {
    fn parse(files: &[&'static str]) -> Catalog {
        let mut messages = HashMap::new();
        for file in files {
            for line in file.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some((key, value)) = line.split_once(" = ") {
                    messages.insert(key.trim(), value.trim());
                }
            }
        }
        Catalog { messages }
    }

    #[cfg(test)]
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.messages.keys().copied()
    }
}

/// The texts of one language, with English for a key the language lacks; what templates
/// call `t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tr {
    lang: Lang,
}

impl Tr {
    pub(crate) fn new(lang: Lang) -> Tr {
        Tr { lang }
    }

    pub(crate) fn lang(self) -> Lang {
        self.lang
    }

    /// The message under `key`. A key no catalog has shows as itself, so a missing text is
    /// visible on the page (and the catalog test fails) rather than silently blank.
    pub(crate) fn get<'k>(&self, key: &'k str) -> &'k str {
        if let Some(text) = self.lang.catalog().messages.get(key) {
            return text;
        }
        if let Some(text) = Lang::En.catalog().messages.get(key) {
            return text;
        }
        tracing::warn!(key, "a page asked for a message no catalog has");
        key
    }

    /// The message under `key` with each `{name}` replaced by its value.
    pub(crate) fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.get(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The message under `key`, or `fallback` when no catalog has one (a key made at run
    /// time from a kind a newer core added before the catalogs knew it).
    pub(crate) fn text_or<'a>(&self, key: &'a str, fallback: &'a str) -> &'a str {
        match self.get(key) {
            text if text == key => fallback,
            text => text,
        }
    }

    #[cfg(test)]
    pub(crate) fn catalog(self) -> &'static Catalog {
        self.lang.catalog()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_preference_wins_then_accept_language_by_weight() {
        assert_eq!(Lang::negotiate(Some("de-CH"), Some("en")), Lang::De);
        assert_eq!(
            Lang::negotiate(Some("fr"), Some("de;q=0.5, en;q=0.4")),
            Lang::De
        );
        assert_eq!(
            Lang::negotiate(None, Some("fr, de-DE;q=0.9, en;q=0.8")),
            Lang::De
        );
        assert_eq!(Lang::negotiate(None, Some("de;q=0, en;q=0.1")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("*;q=oops,,;")), Lang::En);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
    }

    #[test]
    fn german_has_every_english_message_and_no_other() {
        let en: std::collections::BTreeSet<_> = Tr::new(Lang::En).catalog().keys().collect();
        let de: std::collections::BTreeSet<_> = Tr::new(Lang::De).catalog().keys().collect();
        let missing: Vec<_> = en.difference(&de).collect();
        let extra: Vec<_> = de.difference(&en).collect();
        assert!(missing.is_empty(), "German lacks {missing:?}");
        assert!(extra.is_empty(), "German has keys English lacks: {extra:?}");
    }

    #[test]
    fn every_key_a_template_or_handler_names_is_in_the_english_catalog() {
        let en = Tr::new(Lang::En).catalog();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut sources = Vec::new();
        for dir in ["templates/ui", "src/ui"] {
            for entry in std::fs::read_dir(format!("{root}{dir}")).expect("the folder exists") {
                let path = entry.expect("an entry").path();
                sources.push((path.clone(), std::fs::read_to_string(&path).expect("text")));
            }
        }
        let mut missing = Vec::new();
        for (path, text) in &sources {
            // Keys appear as `t("…")`, `get("…")` and `fill("…"` in templates and code.
            for opener in [".get(\"", "t(\"", ".fill(\"", "key: \""] {
                for (i, _) in text.match_indices(opener) {
                    let rest = &text[i + opener.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    let is_key = key.contains('.')
                        && key
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
                    if is_key && !en.messages.contains_key(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys without an English text: {missing:#?}"
        );
    }
}
