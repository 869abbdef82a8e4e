//! The OpenAPI document's frame: title, tags, the problem schema and the security schemes
//! (the session cookie, personal API tokens). The operations come from the routes
//! themselves (see `routes::api`); each names the schemes it accepts, so the operations
//! that list `bearer` are exactly those a personal API token may use.

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::Problem;

/// The name of the security scheme of the session cookie in the document.
pub(crate) const SESSION_COOKIE_SCHEME: &str = "session_cookie";

/// The name of the security scheme of personal API tokens in the document.
pub(crate) const BEARER_SCHEME: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Account API",
        description = "Accounts, profiles, passwords, sessions and the security log. \
            JSON in and out; every error is `application/problem+json` with a stable `code`. \
            Browsers authenticate with the session cookie set at login; unsafe requests \
            from another site are refused (`csrf_refused`). Scripts authenticate with a \
            personal API token (`Authorization: Bearer`) on the operations that list the \
            `bearer` scheme; a `read` token may only use `GET`, and every other operation \
            that needs a session answers a token with 403 `session_required`."
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Signing up, in and out; password reset; email verification"),
        (name = "account", description = "The signed-in user's account"),
        (name = "sessions", description = "Sessions and the security log"),
        (name = "access", description = "Personal API tokens, app passwords and SSH keys"),
        (name = "admin", description = "Administration"),
        (name = "meta", description = "This document"),
    )
)]
pub(crate) struct ApiDoc;

/// Adds the security schemes; the session cookie's, because its configured name is known
/// only at run time.
pub(crate) fn finish(
    mut doc: utoipa::openapi::OpenApi,
    cookie_name: &str,
) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION_COOKIE_SCHEME,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            cookie_name,
            "The session cookie set by login",
        ))),
    );
    components.add_security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A personal API token (`acct_...`), made in the account settings. \
                     Never put it in the URL.",
                ))
                .build(),
        ),
    );
    document_unavailable(&mut doc);
    document_rules(doc)
}

/// Adds the answer every operation that reads or writes the store may give while the
/// database cannot be reached: 503 `storage_unavailable` with `Retry-After` (SECURITY.md
/// M50). Written once here rather than on each route; the document itself needs no store.
fn document_unavailable(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::btree_map::Entry;

    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type};

    let response = ResponseBuilder::new()
        .description(
            "`storage_unavailable`: the database cannot be reached just now; \
             try again after `Retry-After` seconds",
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                .description(Some("Seconds to wait before trying again"))
                .build(),
        )
        .build();
    for (path, item) in &mut doc.paths.paths {
        if path == "/api/openapi.json" {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            match operation.responses.responses.entry("503".to_owned()) {
                Entry::Vacant(vacant) => {
                    vacant.insert(response.clone().into());
                }
                // A route that already answers 503 for its own reason (an external
                // directory) answers this one too.
                Entry::Occupied(mut occupied) => {
                    if let RefOr::T(own) = occupied.get_mut() {
                        own.description = format!("{}; {}", own.description, response.description);
                    }
                }
            }
        }
    }
}

/// White space as Rust's `str::trim` sees it (Unicode `White_Space`), in the regex class
/// syntax that ECMA-262 and Python share.
const SPACE: &str = r"\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// A name as `domain::DisplayName` and the credential names take it: white space at the
/// ends is trimmed, then 1 to `max` characters, no control characters.
fn name_pattern(max: usize) -> String {
    let solid = format!(r"[^\x00-\x1f\x7f-\x9f{SPACE}]");
    format!(
        r"^[{SPACE}]*{solid}(?:[^\x00-\x1f\x7f-\x9f]{{0,{}}}{solid})?[{SPACE}]*$",
        max - 2
    )
}

/// A username as `domain::Username` takes it: trimmed, 2 to 32 ASCII letters, digits, `.`,
/// `_`, `-`, a letter or digit at each end.
fn username_pattern() -> String {
    let inner = account_core::domain::USERNAME_MAX - 2;
    format!(r"^[{SPACE}]*[A-Za-z0-9][A-Za-z0-9._-]{{0,{inner}}}[A-Za-z0-9][{SPACE}]*$")
}

/// An address as `domain::EmailAddress` takes it: trimmed, a dot-atom local part, at
/// least two domain labels of letters, digits and inner hyphens. (The parser also takes a
/// top-level label that starts with a digit, `a@b.1x`; the pattern does not.)
fn email_pattern() -> String {
    let atom = r"[A-Za-z0-9!#$%&'*+/=?^_\x60{|}~-]+";
    let label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let top = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    format!(r"^[{SPACE}]*{atom}(?:\.{atom})*@(?:{label}\.)+{top}[{SPACE}]*$")
}

/// A language tag as `domain::Language` takes it: a well-formed BCP 47 tag (RFC 5646's
/// `langtag`), trimmed, not a private-use or irregular one.
fn language_pattern() -> String {
    let language = r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})";
    let script = r"(?:-[A-Za-z]{4})?";
    let region = r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?";
    let variants = r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*";
    let extensions = r"(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*";
    let private = r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?";
    format!(r"^[{SPACE}]*{language}{script}{region}{variants}{extensions}{private}[{SPACE}]*$")
}

/// The pattern of the opaque page cursors the lists hand out (`views::encode_position`).
const CURSOR_PATTERN: &str =
    r"^[0-9]{1,19}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// Says in the document what the server checks beyond the types the routes declare: the
/// syntax of names, usernames, addresses, language tags and cursors, the values a filter
/// takes, and which of two fields a request needs. The rules live in the core's parsers;
/// this states each once for the document, and the tests hold the two together
/// (`openapi_patterns_agree_with_the_parsers`).
///
/// What no schema can say stays the route's documented answer: a password that is too
/// common, an expiry in the past, a link's token that is unknown, a passkey or SSH key
/// that does not verify.
fn document_rules(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    apply_rules(&mut value);
    serde_json::from_value(value).unwrap_or(doc)
}

/// The rules of request body fields: (schema, property, keywords).
fn property_rules() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;

    let name = json!({ "pattern": name_pattern(account_core::CREDENTIAL_NAME_MAX) });
    let display_name = json!({ "pattern": name_pattern(account_core::domain::DISPLAY_NAME_MAX) });
    let username = json!({ "pattern": username_pattern() });
    let email = json!({ "pattern": email_pattern(), "maxLength": account_core::domain::EMAIL_MAX });
    let language = json!({ "pattern": language_pattern() });
    vec![
        ("SignUpRequest", "username", username.clone()),
        ("SignUpRequest", "email", email.clone()),
        ("SignUpRequest", "display_name", display_name.clone()),
        ("ForgotPasswordRequest", "email", email.clone()),
        ("ChangeEmailRequest", "email", email.clone()),
        ("RecoveryEmailRequest", "email", email.clone()),
        ("CreateUserRequest", "username", username),
        ("CreateUserRequest", "email", email.clone()),
        ("CreateUserRequest", "display_name", display_name.clone()),
        ("UpdateUserRequest", "email", email),
        ("UpdateUserRequest", "display_name", display_name.clone()),
        ("UpdateAccountRequest", "display_name", display_name),
        ("UpdateAccountRequest", "language", language),
        ("PasskeyNameRequest", "name", name.clone()),
        ("NewApiTokenRequest", "name", name.clone()),
        ("NewAppPasswordRequest", "name", name.clone()),
        ("NewSshKeyRequest", "name", name),
    ]
}

/// The rules of query parameters: (path of a `GET`, parameter, keywords).
fn parameter_rules() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;

    let kinds: Vec<&str> = account_core::model::SecurityEventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let kind = json!({ "enum": kinds });
    let since = json!({ "format": "date-time" });
    let cursor = json!({ "pattern": CURSOR_PATTERN });
    // Every `limit` is a `u32`, capped by the route rather than refused.
    let limit = json!({ "maximum": u32::MAX });
    let users = "/api/admin/users";
    let all_events = "/api/admin/security-events";
    let events_of = "/api/admin/users/{id}/security-events";
    let own_events = "/api/account/security-events";
    vec![
        (users, "state", json!({ "enum": ["active", "disabled"] })),
        (users, "role", json!({ "enum": ["user", "admin"] })),
        (users, "source", json!({ "enum": ["local", "external"] })),
        (users, "cursor", cursor.clone()),
        (users, "limit", limit.clone()),
        (all_events, "kind", kind.clone()),
        (all_events, "since", since.clone()),
        (all_events, "before", cursor.clone()),
        (all_events, "limit", limit.clone()),
        (events_of, "kind", kind),
        (events_of, "since", since),
        (events_of, "before", cursor.clone()),
        (events_of, "limit", limit.clone()),
        (own_events, "before", cursor),
        (own_events, "limit", limit),
    ]
}

fn apply_rules(doc: &mut serde_json::Value) {
    for (schema, property, rules) in property_rules() {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        if let Some(target) = doc.pointer_mut(&pointer) {
            merge(target, &rules);
        }
    }
    // Exactly one of the two, the other absent or null: the password, or a code from the
    // authenticator app. The schema becomes the choice itself, which utoipa's model holds
    // (it has no place for `oneOf` beside `properties`).
    if let Some(target) = doc.pointer_mut("/components/schemas/ReauthenticateRequest") {
        let one = |field: &str, other: &str, description: &str, format: Option<&str>| {
            let mut property = serde_json::json!({ "type": "string", "description": description });
            if let Some(format) = format {
                property["format"] = format.into();
            }
            serde_json::json!({
                "type": "object",
                "required": [field],
                "properties": { field: property, other: { "type": "null" } },
            })
        };
        *target = serde_json::json!({
            "description": target["description"].clone(),
            "oneOf": [
                one("password", "totp_code", "The account's password.", Some("password")),
                one("totp_code", "password", "A code from the account's authenticator app.", None),
            ],
        });
    }
    for (path, parameter, rules) in parameter_rules() {
        for found in query_parameters(doc, path, parameter) {
            if let Some(schema) = found.get_mut("schema") {
                merge(schema, &rules);
            }
        }
    }
}

/// The `GET` query parameters named `name` of `path`.
fn query_parameters<'a>(
    doc: &'a mut serde_json::Value,
    path: &str,
    name: &str,
) -> impl Iterator<Item = &'a mut serde_json::Value> {
    doc.get_mut("paths")
        .and_then(|paths| paths.get_mut(path))
        .and_then(|item| item.get_mut("get"))
        .and_then(|get| get.get_mut("parameters"))
        .and_then(serde_json::Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(move |p| p["name"] == name && p["in"] == "query")
}

/// Adds `rules`' keys to `target`, an object.
fn merge(target: &mut serde_json::Value, rules: &serde_json::Value) {
    if let (Some(target), Some(rules)) = (target.as_object_mut(), rules.as_object()) {
        for (key, value) in rules {
            target.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use account_core::domain::{DisplayName, EmailAddress, Language, Username};

    use super::*;

    /// Strings near every rule's edges, and many made at random from an alphabet of
    /// what the rules care about.
    fn samples() -> Vec<String> {
        let mut samples: Vec<String> = [
            "",
            " ",
            "a",
            "ab",
            " ab ",
            "\tab\n",
            "a\u{7}b",
            "a\u{85}",
            "\u{3000}ab\u{3000}",
            "ada@example.com",
            " ada@example.com ",
            "a.b@c.d.io",
            "a..b@c.io",
            ".a@c.io",
            "a@c",
            "a@1.2.3.4",
            "a@c-.io",
            "a@-c.io",
            "a@c.i-o",
            "ä@c.io",
            "a b@c.io",
            "a@c.xn--p1ai",
            "a@c.io.",
            "en",
            "de-CH",
            "zh-Hant-TW",
            "en-US-x-twain",
            "x-private",
            "i-klingon",
            "en--us",
            "e",
            "123",
            "sl-rozaj-biske",
            "de-419",
            "en-a-bbb-x-a-ccc",
            "ab.c",
            "a_b-c.d",
            "-ab",
            "ab-",
            "Ada",
            "a\u{0}b",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        samples.push("n".repeat(100));
        samples.push("n".repeat(101));
        samples.push(format!(" {} ", "n".repeat(100)));
        samples.push("u".repeat(32));
        samples.push("u".repeat(33));
        samples.push(format!("{}@example.com", "l".repeat(64)));
        let alphabet: Vec<char> =
            " \t\n\u{85}\u{a0}\u{3000}\u{7}\u{9f}aAzZ09.-_@!#~x\u{e4}\u{1f600}"
                .chars()
                .collect();
        // A fixed linear congruential generator: the same strings on every run.
        let mut state: u64 = 0x5eed;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = (state >> 59) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                s.push(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            samples.push(s);
        }
        samples
    }

    fn agrees(pattern: &str, parses: impl Fn(&str) -> bool) {
        let regex = regex::Regex::new(pattern).expect("a valid pattern");
        for sample in samples() {
            assert_eq!(
                regex.is_match(&sample),
                parses(&sample),
                "pattern {pattern} and the parser disagree on {sample:?}"
            );
        }
    }

    /// Each pattern the document states says exactly what the core's parser takes, so a
    /// request the document allows is never refused for its syntax, and one it forbids is.
    #[test]
    fn openapi_patterns_agree_with_the_parsers() {
        agrees(&name_pattern(100), |s| DisplayName::parse(s).is_ok());
        agrees(&username_pattern(), |s| Username::parse(s).is_ok());
        agrees(&language_pattern(), |s| Language::parse(s).is_ok());
        // The one known gap: a top-level label that starts with a digit.
        agrees(&email_pattern(), |s| {
            EmailAddress::parse(s).is_ok()
                && !s
                    .trim()
                    .rsplit('.')
                    .next()
                    .is_some_and(|top| top.starts_with(|c: char| c.is_ascii_digit()))
        });
    }

    /// Every rule lands on a field or parameter of the served document: a renamed field
    /// would otherwise lose its rule without a word.
    #[test]
    fn every_rule_finds_its_place() {
        use std::sync::Arc;

        use account_core::mail::MemoryMailer;
        use account_core::store::memory::MemoryStore;
        use account_core::{AccountConfig, Accounts};

        let config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
        let accounts = Accounts::builder(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryMailer::new()),
            config,
        )
        .build();
        let doc = crate::AccountRouter::new(accounts, crate::HttpConfig::default()).openapi();
        let doc = serde_json::to_value(doc).expect("json");
        for (schema, property, rules) in property_rules() {
            let pointer = format!("/components/schemas/{schema}/properties/{property}");
            let found = doc
                .pointer(&pointer)
                .unwrap_or_else(|| panic!("no {pointer}"));
            for (key, value) in rules.as_object().expect("keywords") {
                assert_eq!(&found[key], value, "{pointer} {key}");
            }
        }
        for (path, parameter, rules) in parameter_rules() {
            let parameters = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .expect(path);
            let found = parameters
                .iter()
                .find(|p| p["name"] == parameter)
                .unwrap_or_else(|| panic!("no {parameter} on {path}"));
            for (key, value) in rules.as_object().expect("keywords") {
                assert_eq!(&found["schema"][key], value, "{path} {parameter} {key}");
            }
        }
        assert!(doc["components"]["schemas"]["ReauthenticateRequest"]["oneOf"].is_array());
    }
}
