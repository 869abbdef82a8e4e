//! The message catalogs of the pages, and which language a request gets.
//!
//! Every text a page shows comes from a catalog: `locales/<language>/<section>.txt`, one
//! `key = value` per line (`#` starts a comment), with `{name}` where a value is filled
//! in. The files are compiled into the binary. English is complete by definition and the
//! fallback of every other language; a test keeps German complete too, and checks that
//! every key a template asks for exists.
//!
//! A host adds a language, or rewords some texts of one, with
//! [`AccountPages::translation`](super::AccountPages::translation): its catalog is
//! merged over the built-in ones once, when the router is made.

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

/// Every language the pages speak, English first: the fallback of every other.
#[derive(Debug, Clone)]
pub(crate) struct Catalogs {
    languages: Vec<Catalog>,
}

/// One language: its tag, its own name, and its messages by key.
#[derive(Debug, Clone)]
struct Catalog {
    tag: String,
    name: String,
    messages: HashMap<String, String>,
}

impl Catalog {
    fn new(tag: &str, name: &str) -> Catalog {
        Catalog {
            tag: tag.to_ascii_lowercase(),
            name: name.to_owned(),
            messages: HashMap::new(),
        }
    }

    /// Adds the `key = value` lines of `text`, replacing a key it already has. Blank
    /// lines, `#` comments and lines without ` = ` are not messages.
    fn merge(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((key, value)) = line.split_once(" = ") {
                self.messages
                    .insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
}

impl Catalogs {
    /// English and German, as the crate ships them.
    pub(crate) fn built_in() -> &'static Catalogs {
        static BUILT_IN: LazyLock<Catalogs> = LazyLock::new(|| {
            let mut english = Catalog::new("en", "English");
            let mut german = Catalog::new("de", "Deutsch");
            for file in catalog_files!("en") {
                english.merge(file);
            }
            for file in catalog_files!("de") {
                german.merge(file);
            }
            Catalogs {
                languages: vec![english, german],
            }
        });
        &BUILT_IN
    }

    /// These catalogs with a host's: a new language (named `name` in the selector), or
    /// texts that replace some of a language the pages already speak.
    pub(crate) fn with(mut self, tag: &str, name: &str, text: &str) -> Catalogs {
        let tag = tag.to_ascii_lowercase();
        match self.languages.iter_mut().find(|c| c.tag == tag) {
            Some(catalog) => catalog.merge(text),
            None => {
                let mut catalog = Catalog::new(&tag, name);
                catalog.merge(text);
                self.languages.push(catalog);
            }
        }
        self
    }

    /// English.
    pub(crate) fn english(&'static self) -> Tr {
        Tr {
            catalogs: self,
            index: 0,
        }
    }

    /// Every language, in the order the language selector lists them.
    pub(crate) fn languages(&'static self) -> impl Iterator<Item = Tr> {
        (0..self.languages.len()).map(move |index| Tr {
            catalogs: self,
            index,
        })
    }

    /// The language a tag asks for, if the pages speak it: the tag itself (`pt-br`), else
    /// its primary language (`de-AT` is German).
    pub(crate) fn find(&'static self, tag: &str) -> Option<Tr> {
        let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
        let primary = tag.split('-').next().unwrap_or_default();
        let index = self
            .languages
            .iter()
            .position(|c| c.tag == tag)
            .or_else(|| self.languages.iter().position(|c| c.tag == primary))?;
        Some(Tr {
            catalogs: self,
            index,
        })
    }

    /// The language for a request: the account's preference when the pages speak it,
    /// else the best of `Accept-Language` by its weights, else English.
    pub(crate) fn negotiate(
        &'static self,
        preference: Option<&str>,
        accept_language: Option<&str>,
    ) -> Tr {
        if let Some(tr) = preference.and_then(|tag| self.find(tag)) {
            return tr;
        }
        let mut best: Option<(f32, Tr)> = None;
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let Some(tr) = parts.next().and_then(|tag| self.find(tag)) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // The first of equal weights wins: the browser lists them in its order.
            if weight > 0.0 && best.is_none_or(|(w, _)| weight > w) {
                best = Some((weight, tr));
            }
        }
        best.map_or(self.english(), |(_, tr)| tr)
    }
}

/// The texts of one language, with English for a key the language lacks; what templates
/// call `t`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tr {
    catalogs: &'static Catalogs,
    index: usize,
}

impl Tr {
    fn catalog(self) -> &'static Catalog {
        &self.catalogs.languages[self.index]
    }

    /// The BCP 47 tag, for `<html lang>` and the account's preference.
    pub(crate) fn tag(self) -> &'static str {
        &self.catalog().tag
    }

    /// The language's own name, as the selector shows it whatever the page's language.
    pub(crate) fn native_name(self) -> &'static str {
        &self.catalog().name
    }

    /// Every language of the same catalogs, for the language selector.
    pub(crate) fn languages(self) -> impl Iterator<Item = Tr> {
        self.catalogs.languages()
    }

    /// The message under `key`. A key no catalog has shows as itself, so a missing text is
    /// visible on the page (and the catalog test fails) rather than silently blank.
    pub(crate) fn get<'k>(&self, key: &'k str) -> &'k str {
        if let Some(text) = self.catalog().messages.get(key) {
            return text;
        }
        if let Some(text) = self.catalogs.languages[0].messages.get(key) {
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
    pub(crate) fn keys(self) -> impl Iterator<Item = &'static str> {
        self.catalog().messages.keys().map(String::as_str)
    }

    #[cfg(test)]
    pub(crate) fn has(self, key: &str) -> bool {
        self.catalog().messages.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(tr: Tr) -> &'static str {
        tr.tag()
    }

    #[test]
    fn the_account_preference_wins_then_accept_language_by_weight() {
        let c = Catalogs::built_in();
        assert_eq!(tag(c.negotiate(Some("de-CH"), Some("en"))), "de");
        assert_eq!(
            tag(c.negotiate(Some("fr"), Some("de;q=0.5, en;q=0.4"))),
            "de"
        );
        assert_eq!(
            tag(c.negotiate(None, Some("fr, de-DE;q=0.9, en;q=0.8"))),
            "de"
        );
        assert_eq!(tag(c.negotiate(None, Some("de;q=0, en;q=0.1"))), "en");
        assert_eq!(tag(c.negotiate(None, Some("*;q=oops,,;"))), "en");
        assert_eq!(tag(c.negotiate(None, None)), "en");
    }

    #[test]
    fn a_host_adds_a_language_and_rewords_english() {
        let c: &'static Catalogs = Box::leak(Box::new(
            Catalogs::built_in()
                .clone()
                .with(
                    "fr",
                    "Français",
                    "# la connexion\nlogin.title = Connexion\nnot a message",
                )
                .with("EN", "ignored", "login.submit = Sign in"),
        ));
        let fr = c.negotiate(None, Some("fr-CA, en;q=0.5"));
        assert_eq!((fr.tag(), fr.native_name()), ("fr", "Français"));
        assert_eq!(fr.get("login.title"), "Connexion");
        // What the host did not translate falls back to English.
        assert_eq!(fr.get("login.password"), "Password");
        assert_eq!(c.english().get("login.submit"), "Sign in");
        assert_eq!(c.english().native_name(), "English");
        let names: Vec<_> = c.english().languages().map(Tr::native_name).collect();
        assert_eq!(names, ["English", "Deutsch", "Français"]);
    }

    #[test]
    fn german_has_every_english_message_and_no_other() {
        let c = Catalogs::built_in();
        let en: std::collections::BTreeSet<_> = c.english().keys().collect();
        let de: std::collections::BTreeSet<_> = c.find("de").expect("German").keys().collect();
        let missing: Vec<_> = en.difference(&de).collect();
        let extra: Vec<_> = de.difference(&en).collect();
        assert!(missing.is_empty(), "German lacks {missing:?}");
        assert!(extra.is_empty(), "German has keys English lacks: {extra:?}");
    }

    #[test]
    fn every_key_a_template_or_handler_names_is_in_the_english_catalog() {
        let en = Catalogs::built_in().english();
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
                    if is_key && !en.has(key) {
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
