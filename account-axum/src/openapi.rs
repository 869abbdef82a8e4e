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
    document_answers_of_every_operation(&mut doc);
    document_rules(doc)
}

/// Adds the answers every operation may give whatever its own: 503 `storage_unavailable`
/// with `Retry-After` while the database cannot be reached (SECURITY.md M50), and the
/// refusals of a request that cannot be read as HTTP at all, which `serve` writes as
/// problem+json before any route sees the request (SECURITY.md M49): 400
/// `malformed_request`, 414 `uri_too_long` and 431 `headers_too_large`. Written once
/// here rather than on each route; the document itself needs no store.
fn document_answers_of_every_operation(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::btree_map::Entry;

    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{
        ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type,
    };

    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let answers: [(&str, Response); 4] = [
        (
            "503",
            problem(
                "`storage_unavailable`: the database cannot be reached just now; \
                 try again after `Retry-After` seconds",
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                    .description(Some("Seconds to wait before trying again"))
                    .build(),
            )
            .build(),
        ),
        (
            "400",
            problem("`malformed_request`: the request is not valid HTTP").build(),
        ),
        (
            "414",
            problem("`uri_too_long`: the request's path and query are too long").build(),
        ),
        (
            "431",
            problem("`headers_too_large`: the request's header fields are too large").build(),
        ),
    ];
    for (path, item) in &mut doc.paths.paths {
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
            for (status, response) in &answers {
                // The document itself is served without the store.
                if *status == "503" && path == "/api/openapi.json" {
                    continue;
                }
                match operation.responses.responses.entry((*status).to_owned()) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(response.clone().into());
                    }
                    // A route that already answers this status for its own reasons (an
                    // invalid field, an external directory that cannot be reached)
                    // answers this one too.
                    Entry::Occupied(mut occupied) => {
                        if let RefOr::T(own) = occupied.get_mut() {
                            own.description =
                                format!("{}; {}", own.description, response.description);
                        }
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
    trimmed_pattern(r"\x00-\x1f\x7f-\x9f", max)
}

/// 1 to `max` characters once the white space at the ends is trimmed, none of them in the
/// class `refused` (ranges in regex class syntax; empty for none).
fn trimmed_pattern(refused: &str, max: usize) -> String {
    let solid = format!(r"[^{refused}{SPACE}]");
    let inner = if refused.is_empty() {
        r"[\s\S]".to_owned()
    } else {
        format!("[^{refused}]")
    };
    format!(
        r"^[{SPACE}]*{solid}(?:{inner}{{0,{}}}{solid})?[{SPACE}]*$",
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

/// A network as `api_token::parse_network` takes it, beside a bare IPv4 or IPv6 address
/// (which the formats `ipv4` and `ipv6` say): an address and a prefix length, trimmed. An
/// IPv6 address with an IPv4 tail (`::ffff:10.0.0.0/104`) is not in the pattern.
fn network_pattern() -> String {
    // ipnet's own parser takes leading zeros in octets and prefix lengths, which a bare
    // address may not have.
    let octet = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])";
    let v4 = format!(r"{octet}(?:\.{octet}){{3}}/(?:3[0-2]|[0-2]?[0-9])");
    let h = r"[0-9a-fA-F]{1,4}";
    let v6 = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
    ]
    .join("|");
    let v6 = format!(r"(?:{v6})/(?:12[0-8]|1[01][0-9]|0?[0-9]?[0-9])");
    format!(r"^[{SPACE}]*(?:{v4}|{v6})[{SPACE}]*$")
}

/// Text of 1 to `max` characters once the white space at its ends is trimmed.
fn trimmed_length_pattern(max: usize) -> String {
    trimmed_pattern("", max)
}

/// An address's local part: at most 64 characters before the last `@` (after the white
/// space the parser trims).
fn local_part_pattern() -> String {
    format!(r"^[{SPACE}]*[^@]{{1,64}}@[^@]*$")
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

/// A time as `routes::tokens::parse_expiry` takes it (RFC 3339, trimmed). The pattern
/// does not know the length of each month: a 30 February has its form and is refused.
fn date_time_pattern() -> String {
    let date = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])";
    let time = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?";
    let offset = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
    format!(r"^[{SPACE}]*{date}[Tt ]{time}{offset}[{SPACE}]*$")
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
    match serde_json::from_value(value) {
        Ok(ruled) => ruled,
        // The rules are fixed, and a test reads them back from the document; were one
        // ever unreadable by utoipa's model, the document stays as the routes made it.
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document's rules do not fit its model");
            doc
        }
    }
}

/// The rules of request body fields: (schema, property, keywords).
fn property_rules() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;

    let name = json!({ "pattern": name_pattern(account_core::CREDENTIAL_NAME_MAX) });
    let display_name = json!({ "pattern": name_pattern(account_core::domain::DISPLAY_NAME_MAX) });
    let username = json!({ "pattern": username_pattern() });
    // `also`: patterns that hold besides the first, each a part of an `allOf`.
    let email = json!({
        "pattern": email_pattern(),
        "also": [
            local_part_pattern(),
            trimmed_length_pattern(account_core::domain::EMAIL_MAX),
        ],
    });
    let language = json!({
        "pattern": language_pattern(),
        "also": [trimmed_length_pattern(account_core::domain::LANGUAGE_MAX)],
    });
    let networks = json!({
        "maxItems": account_core::API_TOKEN_MAX_NETWORKS,
        "items": { "anyOf": [
            { "type": "string", "format": "ipv4" },
            { "type": "string", "format": "ipv6" },
            { "type": "string", "pattern": network_pattern() },
        ] },
    });
    let expiry = json!({ "pattern": date_time_pattern() });
    let seconds = |min: i64, max: i64| json!({ "minimum": min, "maximum": max });
    let day = 24 * 3600;
    // A length is a `usize`: any larger number is not one.
    let length = |min: u64| json!({ "minimum": min, "maximum": u64::MAX });
    vec![
        ("NewApiTokenRequest", "expires_at", expiry),
        ("NewApiTokenRequest", "allowed_networks", networks),
        ("SessionPolicy", "idle_timeout_secs", seconds(60, 366 * day)),
        (
            "SessionPolicy",
            "absolute_timeout_secs",
            seconds(60, 366 * day),
        ),
        (
            "SessionPolicy",
            "reauthentication_window_secs",
            seconds(30, day),
        ),
        ("PasswordRules", "min_length", length(8)),
        ("PasswordRules", "min_length_single_factor", length(8)),
        ("PasswordRules", "max_length", length(64)),
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
    for (schema, property, mut rules) in property_rules() {
        let pointer = format!("/components/schemas/{schema}/properties/{property}");
        let Some(target) = doc.pointer_mut(&pointer) else {
            continue;
        };
        let also = rules.as_object_mut().and_then(|r| r.remove("also"));
        merge(target, &rules);
        // A length of the trimmed text, or of an address's local part, is not something
        // one pattern can say beside the shape: further patterns say it, all under
        // `allOf`. (Each part names its type: utoipa's model reads no schema without one.)
        if let Some(serde_json::Value::Array(also)) = also {
            let description = target
                .as_object_mut()
                .and_then(|t| t.remove("description"))
                .unwrap_or_default();
            let mut parts = vec![target.take()];
            parts.extend(
                also.into_iter()
                    .map(|p| serde_json::json!({ "type": ["string", "null"], "pattern": p })),
            );
            *target = serde_json::json!({ "description": description, "allOf": parts });
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
    // The policy takes any of its fields alone: the rest keep their defaults.
    for schema in ["Policy", "SessionPolicy", "PasswordRules"] {
        let pointer = format!("/components/schemas/{schema}");
        if let Some(object) = doc
            .pointer_mut(&pointer)
            .and_then(serde_json::Value::as_object_mut)
        {
            object.remove("required");
        }
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
            "10.0.0.0/8",
            "10.0.0.1/24",
            "10.0.0.0/33",
            "010.0.0.0/8",
            "0010.0.0.0/8",
            "10.0.0.0/008",
            "10.0.0.0/08",
            "2001:db8::/48",
            "::/0",
            "::1/128",
            "2001:db8::/129",
            "2001:db8::/048",
            "2001:db8::/0048",
            "10.0.0.0/032",
            "1:2:3:4:5:6:7:8/64",
            "1:2:3:4:5:6:7::/64",
            "1::2::3/64",
            "::ffff:10.0.0.0/104",
            " fe80::1/10 ",
            "2026-12-31T23:59:59Z",
            " 2026-02-28t00:00:00.5+01:00 ",
            "2026-02-30T00:00:00Z",
            "2026-12-31 23:59:60-23:59",
            "2026-12-31T24:00:00Z",
            "2026-12-31T23:59:59",
            "2026-1-31T23:59:59Z",
            "2026-12-31T23:59:59.Z",
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
        samples.push(format!("{}@example.com", "l".repeat(65)));
        samples.push(format!(
            "a@{}.example.com",
            vec!["l".repeat(60); 4].join(".")
        ));
        samples.push(format!(
            "a@{}.example.com",
            vec!["l".repeat(61); 4].join(".")
        ));
        samples.push(format!(" en-{} ", "a".repeat(32)));
        samples.push(format!(" en-{} ", ["abcdefgh"; 4].join("-")));
        samples.push(format!("en{}", "\u{85}".repeat(40)));
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

    /// Whether a sample matches every pattern is whether the parser takes it.
    fn agrees(patterns: &[String], parses: impl Fn(&str) -> bool) {
        let regexes: Vec<regex::Regex> = patterns
            .iter()
            .map(|p| regex::Regex::new(p).expect("a valid pattern"))
            .collect();
        for sample in samples() {
            assert_eq!(
                regexes.iter().all(|r| r.is_match(&sample)),
                parses(&sample),
                "the patterns {patterns:?} and the parser disagree on {sample:?}"
            );
        }
    }

    /// Each pattern the document states says exactly what the core's parser takes, so a
    /// request the document allows is never refused for its syntax, and one it forbids is.
    #[test]
    fn openapi_patterns_agree_with_the_parsers() {
        agrees(&[name_pattern(100)], |s| DisplayName::parse(s).is_ok());
        agrees(&[username_pattern()], |s| Username::parse(s).is_ok());
        agrees(
            &[
                language_pattern(),
                trimmed_length_pattern(account_core::domain::LANGUAGE_MAX),
            ],
            |s| Language::parse(s).is_ok(),
        );
        // The one known gap: a top-level label that starts with a digit.
        agrees(
            &[
                email_pattern(),
                local_part_pattern(),
                trimmed_length_pattern(account_core::domain::EMAIL_MAX),
            ],
            |s| {
                EmailAddress::parse(s).is_ok()
                    && !s
                        .trim()
                        .rsplit('.')
                        .next()
                        .is_some_and(|top| top.starts_with(|c: char| c.is_ascii_digit()))
            },
        );
        // Networks: with a prefix by the pattern, bare addresses by the formats.
        agrees(&[network_pattern()], |s| {
            s.contains('/')
                && account_core::parse_network(s).is_ok()
                && !s
                    .trim()
                    .split('/')
                    .next()
                    .is_some_and(|a| a.contains(':') && a.contains('.'))
        });
        // The known gap of the time: a day the month does not have.
        let time = regex::Regex::new(&date_time_pattern()).expect("a valid pattern");
        agrees(&[date_time_pattern()], |s| {
            let t = s.trim();
            chrono::DateTime::parse_from_rfc3339(t).is_ok()
                || (time.is_match(s)
                    && chrono::NaiveDate::parse_from_str(&t[..10], "%Y-%m-%d").is_err())
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
            // Rules with further patterns sit in the parts of an `allOf`.
            let parts = found.get("allOf").and_then(|all| all.as_array());
            let found = parts.map_or(found, |all| &all[0]);
            if let Some(also) = rules.get("also").and_then(|a| a.as_array()) {
                let parts = parts.expect("an allOf");
                assert_eq!(parts.len(), also.len() + 1, "{pointer}");
                for (part, pattern) in parts[1..].iter().zip(also) {
                    assert_eq!(&part["pattern"], pattern, "{pointer}");
                }
            }
            for (key, value) in rules.as_object().expect("keywords") {
                if key == "also" {
                    continue;
                }
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
