//! The routes: one file per area, and [`api`], the one table that mounts them and, from
//! the same `#[utoipa::path]` attributes, describes them in the OpenAPI document.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod app_passwords;
pub(crate) mod auth;
pub(crate) mod factors;
pub(crate) mod second_factor;
pub(crate) mod sessions;
pub(crate) mod ssh_keys;
pub(crate) mod tokens;

use std::sync::Arc;

use axum::Extension;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::middleware::{Limited, rate_limit};
use crate::openapi::ApiDoc;
use crate::state::AccountsState;

/// Every route of the API, mounted and documented at once: `routes!` registers a
/// handler for the method and path of its `#[utoipa::path]` attribute and adds that
/// operation to the document, so the two cannot drift apart.
pub(crate) fn api(state: &AccountsState) -> OpenApiRouter<AccountsState> {
    let limited = |kind: Limited, router: OpenApiRouter<AccountsState>| {
        router.route_layer(from_fn_with_state((state.clone(), kind), rate_limit))
    };
    let one = OpenApiRouter::new;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        // Unauthenticated routes, each with its per-IP limit.
        .merge(limited(
            Limited::SignUp,
            one().routes(routes!(auth::signup)),
        ))
        .merge(limited(Limited::Login, one().routes(routes!(auth::login))))
        .merge(limited(
            Limited::ForgotPassword,
            one().routes(routes!(auth::forgot_password)),
        ))
        .merge(limited(
            Limited::ResetPassword,
            one().routes(routes!(auth::reset_password)),
        ))
        .merge(limited(
            Limited::VerifyEmail,
            one().routes(routes!(auth::verify_email)),
        ))
        .merge(limited(
            Limited::Login,
            one().routes(routes!(second_factor::passkey_start)),
        ))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::reauthenticate))
        // Second factors at login (the pending session; throttled per account by the
        // core), passwordless passkey login, and re-authentication with a passkey.
        .routes(routes!(second_factor::login_totp))
        .routes(routes!(second_factor::login_recovery_code))
        .routes(routes!(second_factor::login_passkey_start))
        .routes(routes!(second_factor::login_passkey_finish))
        .routes(routes!(second_factor::passkey_finish))
        .routes(routes!(second_factor::reauthenticate_passkey_start))
        .routes(routes!(second_factor::reauthenticate_passkey_finish))
        // The account.
        .routes(routes!(
            account::get_account,
            account::update_account,
            account::delete_account
        ))
        .routes(routes!(account::export_account))
        .routes(routes!(account::change_email))
        .routes(routes!(account::set_recovery_email))
        .routes(routes!(account::change_password))
        .merge(
            one()
                .routes(routes!(account::put_avatar, account::delete_avatar))
                .layer(DefaultBodyLimit::max(state.settings.avatar_body_limit)),
        )
        .routes(routes!(account::get_avatar))
        // Second factors.
        .routes(routes!(factors::totp_start))
        .routes(routes!(factors::totp_confirm))
        .routes(routes!(factors::totp_delete))
        .routes(routes!(factors::regenerate_recovery_codes))
        .routes(routes!(factors::list_passkeys))
        .routes(routes!(factors::passkey_registration_start))
        .routes(routes!(factors::passkey_registration_finish))
        .routes(routes!(factors::rename_passkey, factors::delete_passkey))
        // Sessions and the security log.
        .routes(routes!(
            sessions::list_sessions,
            sessions::revoke_other_sessions
        ))
        .routes(routes!(sessions::revoke_session))
        .routes(routes!(sessions::security_events))
        // Programmatic access: personal API tokens, app passwords, SSH keys.
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::regenerate_token))
        .routes(routes!(tokens::delete_token))
        .routes(routes!(
            app_passwords::list_app_passwords,
            app_passwords::create_app_password
        ))
        .routes(routes!(app_passwords::revoke_app_password))
        .routes(routes!(ssh_keys::list_ssh_keys, ssh_keys::add_ssh_key))
        .routes(routes!(ssh_keys::delete_ssh_key))
        // Administration.
        .routes(routes!(admin::get_policy, admin::put_policy))
        .routes(routes!(admin::reset_second_factors))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(
            admin::get_user,
            admin::update_user,
            admin::delete_user
        ))
        .routes(routes!(admin::revoke_user_sessions))
        .routes(routes!(admin::user_security_events))
        .routes(routes!(admin::all_security_events))
        // This document.
        .routes(routes!(openapi_json))
}

/// The OpenAPI document, serialised once when the router is built.
#[derive(Debug, Clone)]
pub(crate) struct OpenApiJson(pub(crate) Arc<str>);

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub(crate) async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.0.to_string(),
    )
        .into_response()
}

/// Any other path under `/api`: a 404 problem, not an empty body.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound
}
