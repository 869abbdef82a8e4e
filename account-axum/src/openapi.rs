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
    doc
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
