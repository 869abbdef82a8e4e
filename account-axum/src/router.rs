//! The router builder.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::any;
use axum::{Extension, Router};

use account_core::Accounts;

use crate::config::HttpConfig;
use crate::state::AccountsState;
use crate::{csrf, middleware, openapi, routes};

/// Builds the router of the whole account API.
///
/// ```no_run
/// # async fn demo(accounts: account_core::Accounts) {
/// use account_axum::{AccountRouter, HttpConfig};
///
/// let app: axum::Router = AccountRouter::new(accounts, HttpConfig::default()).into_router();
/// # }
/// ```
///
/// The router's routes all live under `/api` and its state is inside, so it is a
/// `Router<()>` that a host can [`merge`](axum::Router::merge) into its own application or
/// [`nest`](axum::Router::nest) under a prefix. It has no fallback (so that merging it never
/// clashes with the host's), but answers any other path under `/api` with a 404 problem.
///
/// Every response of a route carries the route's [`MatchedPath`](axum::extract::MatchedPath)
/// in its extensions (the request span reads it there).
#[derive(Debug, Clone)]
pub struct AccountRouter {
    state: AccountsState,
}

impl AccountRouter {
    /// The router for these services with this configuration.
    pub fn new(accounts: Accounts, config: HttpConfig) -> Self {
        Self::from_state(AccountsState::new(accounts, config))
    }

    /// The router over an existing state (one the host also uses for its own routes).
    pub fn from_state(state: AccountsState) -> Self {
        Self { state }
    }

    /// The state, for the host's own routes that use the extractors.
    pub fn state(&self) -> &AccountsState {
        &self.state
    }

    /// The OpenAPI 3.1 document of the API (also served at `GET /api/openapi.json`), for a
    /// host that merges it into its own.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi::finish(
            routes::api(&self.state).into_openapi(),
            &self.state.settings.cookie_name,
        )
    }

    /// The router, ready to serve, merge or nest.
    ///
    /// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so that the
    /// client IP is known (for rate limits, sessions and the security log); without it,
    /// every client counts as one unknown IP.
    pub fn into_router(self) -> Router {
        let state = self.state;
        // Every route is declared in `routes::api`, which also documents it. A route added
        // here instead would be missing from the document, and (after the route layer
        // below) invisible to the test that compares the two.
        let (router, doc) = routes::api(&state).split_for_parts();
        let doc = openapi::finish(doc, &state.settings.cookie_name);
        let json = serde_json::to_string(&doc).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document could not be serialised");
            "{}".to_owned()
        });
        router
            .route_layer(from_fn(middleware::record_route))
            // Added after the route layer on purpose: a path that matches no route is not a
            // route, and its answer names none.
            .route("/api/{*rest}", any(routes::not_found))
            .layer(DefaultBodyLimit::max(state.settings.json_body_limit))
            .layer(Extension(routes::OpenApiJson(Arc::from(json))))
            .layer(from_fn_with_state(state.clone(), csrf::middleware))
            .layer(from_fn_with_state(
                state.clone(),
                middleware::security_headers,
            ))
            .layer(from_fn_with_state(state.clone(), middleware::trace))
            .with_state(state)
    }
}
