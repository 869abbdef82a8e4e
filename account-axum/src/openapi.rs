//! The OpenAPI document's frame: title, tags, the problem schema and the session cookie's
//! security scheme. The operations come from the routes themselves (see `routes::api`).

use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

use crate::error::Problem;

/// The name of the security scheme of the session cookie in the document.
pub(crate) const SESSION_COOKIE_SCHEME: &str = "session_cookie";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Account API",
        description = "Accounts, profiles, passwords, sessions and the security log. \
            JSON in and out; every error is `application/problem+json` with a stable `code`. \
            Browsers authenticate with the session cookie set at login; unsafe requests \
            from another site are refused (`csrf_refused`)."
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Signing up, in and out; password reset; email verification"),
        (name = "account", description = "The signed-in user's account"),
        (name = "sessions", description = "Sessions and the security log"),
        (name = "admin", description = "Administration"),
        (name = "meta", description = "This document"),
    )
)]
pub(crate) struct ApiDoc;

/// Adds what is known only at run time: the session cookie's configured name.
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
    doc
}
