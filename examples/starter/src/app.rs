//! Your own routes go here. Two examples show how a handler learns who is calling:
//!
//! - `GET /app/whoami` takes [`Authenticated`]: a browser with its session cookie, or a
//!   script with a personal API token (`Authorization: Bearer acct_...`). A `read` token
//!   may only use safe methods; the extractor refuses the rest.
//! - `GET /dav/whoami` takes [`AppPasswordAuth`]: HTTP Basic with the username (or email)
//!   and an app password, as mail, CalDAV and git clients send it. The account password
//!   is never accepted there.
//!
//! Replace them with your application's routes; keep the extractors.

use account_axum::{AccountsState, AppPasswordAuth, Authenticated, AuthenticatedBy};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The application's routes, on the account API's state.
pub(crate) fn routes(state: AccountsState) -> Router {
    Router::new()
        .route("/app/whoami", get(whoami))
        .route("/dav/whoami", get(dav_whoami))
        .with_state(state)
}

/// Who is calling, and how.
async fn whoami(me: Authenticated) -> Json<Value> {
    let via = match &me.via {
        AuthenticatedBy::Session(_) => "session",
        AuthenticatedBy::ApiToken(_) => "api_token",
        _ => "other",
    };
    Json(json!({
        "username": me.account.username.as_str(),
        "via": via,
        "scope": me.scope().as_str(),
    }))
}

/// Who is calling with an app password.
async fn dav_whoami(me: AppPasswordAuth) -> Json<Value> {
    Json(json!({
        "username": me.account.username.as_str(),
        "app_password": me.app_password.name,
    }))
}
