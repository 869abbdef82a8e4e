//! The account-settings pages (feature `ui`): server-rendered HTML over the same services
//! as the API, under a prefix the host chooses.
//!
//! Every page works without JavaScript: forms post to the page's own routes, which act
//! and then redirect (POST-redirect-GET) with a `done` key the next page shows as a
//! notice, or render the page again with the refusal next to the form. The script only
//! adds what needs it: the WebAuthn ceremonies (through the JSON API), copy buttons and
//! confirmation dialogs. The same CSRF rule as the API guards every form (browsers send
//! `Sec-Fetch-Site` or `Origin` with each post), and a Content-Security-Policy allows
//! only this origin's script and style, never an inline one.

mod admin;
mod api_docs;
mod assets;
mod developer;
mod form;
mod i18n;
mod profile;
mod security;
mod signin;
mod view;

use std::fmt;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use account_core::model::{Account, Role};
use account_core::{EnrollingSession, SignedInSession};

use crate::cookie::SetSessionCookie;
use crate::error::ApiError;
use crate::state::AccountsState;
pub(crate) use crate::views::avatar_url;
use crate::{csrf, middleware};

pub(crate) use form::PageForm;
pub(crate) use i18n::{Catalogs, Tr};

/// The account-settings pages, to merge into the host's application beside the API.
///
/// ```no_run
/// # async fn demo(accounts: account_core::Accounts) {
/// use account_axum::{AccountPages, AccountRouter, HttpConfig};
///
/// let api = AccountRouter::new(accounts, HttpConfig::default());
/// let app: axum::Router = AccountPages::new(api.state().clone())
///     .stylesheet("/static/brand.css")
///     .header_html(r#"<a class="brand" href="/">Example</a>"#)
///     .into_router()
///     .merge(api.into_router());
/// # }
/// ```
///
/// The pages live under `/account` unless [`prefix`](Self::prefix) says otherwise; the
/// links in mail lead to `/account/verify-email`, `/account/reset-password` and
/// `/account/security`, so a host that moves the pages moves those too
/// ([`LinkPaths`](account_core::mail::LinkPaths)). The pages call the API under `/api`
/// from their script (passkeys), so mount both at the same level.
///
/// **Styling.** Every colour, radius and spacing of the stylesheet is a CSS custom
/// property on `:root` (`--account-accent`, `--account-bg`, …); a host stylesheet added
/// with [`stylesheet`](Self::stylesheet) loads after it and may set them or anything
/// else. [`header_html`](Self::header_html) and [`footer_html`](Self::footer_html) wrap
/// every page in the host's own header and footer (trusted HTML, inserted as given).
///
/// **Languages.** The texts come from message catalogs compiled into the crate (English
/// and German); a page is in the account's language when it has chosen one, else in the
/// best match of the browser's `Accept-Language`. [`translation`](Self::translation)
/// adds a language or rewords texts.
#[derive(Debug, Clone)]
pub struct AccountPages {
    state: AccountsState,
    config: PagesConfig,
}

#[derive(Clone)]
pub(crate) struct PagesConfig {
    prefix: String,
    product: String,
    header_html: String,
    footer_html: String,
    stylesheets: Vec<String>,
    /// The host's catalogs, as `(tag, name, text)`, merged when the router is made.
    translations: Vec<(String, String, String)>,
    catalogs: &'static Catalogs,
}

impl PagesConfig {
    /// The languages of the pages: the built-in ones with the host's merged over them.
    pub(crate) fn catalogs(&self) -> &'static Catalogs {
        self.catalogs
    }
}

impl fmt::Debug for PagesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PagesConfig")
            .field("prefix", &self.prefix)
            .field("product", &self.product)
            .field("stylesheets", &self.stylesheets)
            .field("translations", &self.translations.len())
            .finish_non_exhaustive()
    }
}

impl AccountPages {
    /// The pages over these services, under `/account`.
    pub fn new(state: AccountsState) -> Self {
        Self {
            state,
            config: PagesConfig {
                prefix: "/account".to_owned(),
                product: String::new(),
                header_html: String::new(),
                footer_html: String::new(),
                stylesheets: Vec::new(),
                translations: Vec::new(),
                catalogs: Catalogs::built_in(),
            },
        }
    }

    /// Serves the pages under `prefix` (`/account` by default; `""` for the root).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.config.prefix = format!("/{}", prefix.trim_matches('/'))
            .trim_end_matches('/')
            .to_owned();
        self
    }

    /// The application's name, shown in the page header and titles.
    pub fn product_name(mut self, name: impl Into<String>) -> Self {
        self.config.product = name.into();
        self
    }

    /// Adds a stylesheet that every page loads after its own (a URL on the host's origin:
    /// the Content-Security-Policy allows no other).
    pub fn stylesheet(mut self, href: impl Into<String>) -> Self {
        self.config.stylesheets.push(href.into());
        self
    }

    /// HTML placed before every page's own header: the host's navigation. It is inserted
    /// as given (it is the host's, not a user's); scripts in it must be files on the
    /// host's origin, since the pages allow no inline script.
    pub fn header_html(mut self, html: impl Into<String>) -> Self {
        self.config.header_html = html.into();
        self
    }

    /// HTML placed after every page's content: the host's footer. Inserted as given.
    pub fn footer_html(mut self, html: impl Into<String>) -> Self {
        self.config.footer_html = html.into();
        self
    }

    /// Adds a language, or rewords texts of one the pages speak: `text` is a catalog in
    /// the crate's format, one `key = value` per line (`#` starts a comment), with the
    /// keys of `account-axum/locales/en/*.txt`. A key it lacks is shown in English, so a
    /// partial translation works; for a new language, `name` is its own name in the
    /// language selector (ignored when the pages already speak it).
    ///
    /// ```no_run
    /// # fn demo(state: account_axum::AccountsState) {
    /// use account_axum::AccountPages;
    /// use account_core::domain::Language;
    ///
    /// let french = Language::parse("fr").expect("a language tag");
    /// let english = Language::parse("en").expect("a language tag");
    /// let pages = AccountPages::new(state)
    ///     .translation(&french, "Français", "login.title = Connexion\nlogin.submit = Se connecter")
    ///     .translation(&english, "English", "login.submit = Sign in");
    /// # }
    /// ```
    pub fn translation(
        mut self,
        language: &account_core::domain::Language,
        name: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        self.config
            .translations
            .push((language.as_str().to_owned(), name.into(), text.into()));
        self
    }

    /// The router of the pages, ready to merge beside the API's.
    pub fn into_router(mut self) -> Router {
        if !self.config.translations.is_empty() {
            let merged = self.config.translations.iter().fold(
                Catalogs::built_in().clone(),
                |catalogs, (tag, name, text)| catalogs.with(tag, name, text),
            );
            // Made once for the router, which lives as long as the application: the pages
            // read it on every request without counting references.
            self.config.catalogs = Box::leak(Box::new(merged));
        }
        let prefix = self.config.prefix.clone();
        let state = self.state.clone();
        let ui = Ui {
            state: self.state,
            config: Arc::new(self.config),
        };
        Router::new()
            .route(&format!("{prefix}/assets/{{name}}"), get(assets::serve))
            .merge(signin::routes(&prefix, &state))
            .merge(profile::routes(&prefix))
            .merge(security::routes(&prefix))
            .merge(developer::routes(&prefix))
            .merge(admin::routes(&prefix))
            .merge(api_docs::routes(&prefix))
            .route_layer(from_fn(middleware::record_route))
            .layer(from_fn_with_state(state.clone(), csrf::middleware))
            .layer(from_fn_with_state(state.clone(), page_headers))
            // Outside the security headers, which give a 405 its problem body.
            .layer(from_fn_with_state(ui.clone(), html_errors))
            .layer(from_fn_with_state(state, middleware::trace))
            .with_state(ui)
    }
}

/// The state of the page routes: the services and the pages' configuration.
#[derive(Clone, Debug)]
pub(crate) struct Ui {
    pub(crate) state: AccountsState,
    pub(crate) config: Arc<PagesConfig>,
}

impl FromRef<Ui> for AccountsState {
    fn from_ref(ui: &Ui) -> AccountsState {
        ui.state.clone()
    }
}

/// Turns the problem+json answers of the layers the pages share with the API (a rate
/// limit, a cross-site form, a method a page does not take, a body too large) into a page
/// in the visitor's language, keeping their status and headers (`Retry-After`).
async fn html_errors(
    axum::extract::State(ui): axum::extract::State<Ui>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // The page is made from the request (its language, where the router is nested); the
    // answer's own extensions do not say where the router was mounted.
    let (mut request_parts, body) = request.into_parts();
    let ctx = Ctx::from_request_parts(&mut request_parts, &ui)
        .await
        .unwrap_or_else(|never| match never {});
    let response = next
        .run(axum::extract::Request::from_parts(request_parts, body))
        .await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == crate::error::PROBLEM_JSON.as_bytes());
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let problem: Option<crate::error::Problem> = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let mut page = ctx.page(None, "error.title");
    page.notice = None;
    let key = format!(
        "error.{}",
        problem.as_ref().map_or("internal", |p| p.code.as_str())
    );
    let text = page
        .t
        .text_or(&key, page.t.get("error.internal"))
        .to_owned();
    let html = render(parts.status, &ErrorPage { p: page, text });
    let (html_parts, html_body) = html.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(content_type) = html_parts.headers.get(header::CONTENT_TYPE) {
        parts
            .headers
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    Response::from_parts(parts, html_body)
}

/// The Content-Security-Policy of the pages: this origin's files only, no inline script
/// or style; images may also be `data:` (the QR code of a TOTP set-up).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The API's security headers with the pages' policy, and the User-Agent Client Hints the
/// sessions list shows (a browser sends them from its next request on).
async fn page_headers(
    axum::extract::State(state): axum::extract::State<AccountsState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = middleware::security_headers_with(&state, request, next, PAGE_CSP).await;
    response.headers_mut().insert(
        HeaderName::from_static("accept-ch"),
        HeaderValue::from_static("Sec-CH-UA-Platform, Sec-CH-UA-Arch, Sec-CH-UA-Model"),
    );
    response
}

use axum::http::HeaderName;

/// What every page handler gets first: the services, the language of the request, and
/// where the pages and the API are mounted.
pub(crate) struct Ctx {
    pub(crate) ui: Ui,
    /// The pages' root as the browser sees it: the host's nesting and the prefix.
    pub(crate) base: String,
    /// The API's root as the browser sees it.
    pub(crate) api: String,
    accept_language: Option<String>,
    /// The `done` notice the previous post asked this page to show.
    done: Option<String>,
    /// The path and query of this request, for coming back after login.
    here: String,
}

impl FromRequestParts<Ui> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        ui: &Ui,
    ) -> Result<Self, std::convert::Infallible> {
        let mount = crate::extract::mount_of(&parts.extensions);
        let done = parts.uri.query().and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("done="))
                .filter(|key| key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .map(str::to_owned)
        });
        Ok(Ctx {
            ui: ui.clone(),
            base: format!("{mount}{}", ui.config.prefix),
            api: format!("{mount}/api"),
            accept_language: parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            done,
            here: format!(
                "{mount}{}",
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            ),
        })
    }
}

impl Ctx {
    pub(crate) fn accounts(&self) -> &account_core::Accounts {
        &self.ui.state.accounts
    }

    /// The language for this request and this viewer.
    pub(crate) fn tr(&self, viewer: Option<&Viewer>) -> Tr {
        let preference = viewer.and_then(|v| v.account.language.as_ref().map(|l| l.as_str()));
        self.ui
            .config
            .catalogs()
            .negotiate(preference, self.accept_language.as_deref())
    }

    /// The common part of a page for this request.
    pub(crate) fn page(&self, viewer: Option<&Viewer>, title: &'static str) -> Page {
        let t = self.tr(viewer);
        let notice = self.done.as_deref().and_then(|key| {
            let key = format!("done.{key}");
            let text = t.get(&key);
            (text != key).then(|| Notice {
                error: false,
                text: text.to_owned(),
                form: "",
            })
        });
        Page {
            t,
            lang: t.tag(),
            title,
            base: self.base.clone(),
            api: self.api.clone(),
            css: format!("{}/assets/{}", self.base, assets::STYLESHEET.name),
            js: format!("{}/assets/{}", self.base, assets::SCRIPT.name),
            me: viewer.map(|v| Me::of(&v.account, self)),
            notice,
            config: self.ui.config.clone(),
        }
    }

    /// 303 to a page under the prefix (`path` starts with `/`).
    pub(crate) fn see_other(&self, path: &str) -> Response {
        see_other(&format!("{}{path}", self.base))
    }

    /// 303 to a page under the prefix, which then shows the notice `done.<key>`, scrolled
    /// (and, with the script, focused) to the section `anchor`.
    pub(crate) fn done(&self, path: &str, key: &str, anchor: &str) -> Response {
        let anchor = if anchor.is_empty() {
            String::new()
        } else {
            format!("#{anchor}")
        };
        see_other(&format!("{}{path}?done={key}{anchor}", self.base))
    }

    /// The login page, coming back here after.
    pub(crate) fn to_login(&self) -> Response {
        see_other(&format!(
            "{}/login?next={}",
            self.base,
            form::encode(&self.here)
        ))
    }

    /// A page of its own for an error no form can show: a rate limit, a storage failure.
    pub(crate) fn error_page(
        &self,
        viewer: Option<&Viewer>,
        error: impl Into<ApiError>,
    ) -> Response {
        let error = error.into();
        let page = self.page(viewer, "error.title");
        let text = error_text(page.t, &error);
        render(error.status(), &ErrorPage { p: page, text })
    }
}

/// 303 See Other to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// A rendered template as an HTML response.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A response with the rotated session's cookie, when there is one.
pub(crate) fn with_cookie(cookie: Option<SetSessionCookie>, response: Response) -> Response {
    match cookie {
        Some(cookie) => (cookie, response).into_response(),
        None => response,
    }
}

/// The part every page shares: language, mount points, assets, the signed-in user for
/// the avatar menu, the notice, the host's frame.
pub(crate) struct Page {
    pub(crate) t: Tr,
    pub(crate) lang: &'static str,
    pub(crate) title: &'static str,
    pub(crate) base: String,
    pub(crate) api: String,
    pub(crate) css: String,
    pub(crate) js: String,
    pub(crate) me: Option<Me>,
    pub(crate) notice: Option<Notice>,
    pub(crate) config: Arc<PagesConfig>,
}

impl Page {
    /// The notice for the form `form`, if the last action was on it.
    pub(crate) fn notice_for(&self, form: &str) -> Option<&Notice> {
        self.notice.as_ref().filter(|n| n.form == form)
    }

    /// The notice that belongs to no form: shown at the top of the page.
    pub(crate) fn page_notice(&self) -> Option<&Notice> {
        self.notice.as_ref().filter(|n| n.form.is_empty())
    }

    /// The page's `<title>`.
    pub(crate) fn full_title(&self) -> String {
        let own = self.t.get(self.title);
        if self.config.product.is_empty() {
            own.to_owned()
        } else {
            format!("{own} · {}", self.config.product)
        }
    }

    pub(crate) fn product(&self) -> &str {
        &self.config.product
    }

    pub(crate) fn header_html(&self) -> &str {
        &self.config.header_html
    }

    pub(crate) fn footer_html(&self) -> &str {
        &self.config.footer_html
    }

    pub(crate) fn stylesheets(&self) -> &[String] {
        &self.config.stylesheets
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.me.as_ref().is_some_and(|m| m.admin)
    }

    /// Sets the page's notice: a refusal or a success next to `form`.
    pub(crate) fn with_notice(mut self, notice: Option<Notice>) -> Self {
        if notice.is_some() {
            self.notice = notice;
        }
        self
    }
}

/// The signed-in user as the shell shows them.
pub(crate) struct Me {
    pub(crate) username: String,
    pub(crate) display_name: String,
    pub(crate) initials: String,
    pub(crate) avatar_url: Option<String>,
    pub(crate) admin: bool,
}

impl Me {
    fn of(account: &Account, ctx: &Ctx) -> Me {
        Me {
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            initials: initials(account.display_name.as_str()),
            avatar_url: avatar_url(account, &ctx.api),
            admin: account.role == Role::Admin,
        }
    }
}

/// Up to two letters from a name, for an avatar without a picture: "Ada Lovelace" → "AL".
pub(crate) fn initials(name: &str) -> String {
    let mut letters = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()));
    let first = letters.next();
    let last = letters.next_back();
    first
        .into_iter()
        .chain(last)
        .flat_map(char::to_uppercase)
        .collect()
}

/// A message after an action: a success (`role="status"`) or a refusal (`role="alert"`),
/// next to the form it is about (`form` is its id) or at the top of the page.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub(crate) error: bool,
    pub(crate) text: String,
    pub(crate) form: &'static str,
}

impl Notice {
    /// The refusal of `error`, in the page's language, next to `form`.
    pub(crate) fn error(t: Tr, form: &'static str, error: impl Into<ApiError>) -> Notice {
        Notice {
            error: true,
            text: error_text(t, &error.into()),
            form,
        }
    }

    /// A message for `form` from the catalog.
    pub(crate) fn message(t: Tr, form: &'static str, key: &str, error: bool) -> Notice {
        Notice {
            error,
            text: t.get(key).to_owned(),
            form,
        }
    }
}

/// A refusal as a page shows it: the status the API would answer, and the notice.
pub(crate) fn refusal(
    t: Tr,
    form: &'static str,
    error: impl Into<ApiError>,
) -> (StatusCode, Notice) {
    let error = error.into();
    (error.status(), Notice::error(t, form, error))
}

/// An error in words a person understands, in their language: the catalog's text for
/// the error's code, with the field and rule of a validation error and the reason a
/// password was refused.
pub(crate) fn error_text(t: Tr, error: &ApiError) -> String {
    let problem = error.problem();
    if let (Some(field), Some(rule)) = (&problem.field, &problem.rule) {
        let field_key = format!("field.{field}");
        let rule_key = format!("rule.{rule}");
        let mut text = t.fill(
            "error.validation",
            &[("field", t.get(&field_key)), ("rule", t.get(&rule_key))],
        );
        if let Some(limit) = rule_limit(&problem.detail) {
            text = text.replace("{n}", &limit);
        }
        return text;
    }
    if let Some(reason) = &problem.reason {
        let key = format!("reason.{reason}");
        let text = t.get(&key);
        if text != key {
            let text = text.replace("{n}", &rule_limit(&problem.detail).unwrap_or_default());
            return format!("{} {text}", t.get(&format!("error.{}", problem.code)));
        }
    }
    let key = format!("error.{}", problem.code);
    let text = t.get(&key);
    if text == key {
        t.get("error.internal").to_owned()
    } else {
        text.to_owned()
    }
}

/// The number in a validation detail ("at most 64 characters"), for the rule's text.
fn rule_limit(detail: &str) -> Option<String> {
    detail
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The signed-in viewer of a page: the account and its session, which may be one the
/// "require 2FA" policy restricts to enrolling a second factor.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) account: Account,
    pub(crate) session: EnrollingSession,
}

impl Viewer {
    /// The full session, when it is one.
    pub(crate) fn signed_in(&self) -> Option<&SignedInSession> {
        match &self.session {
            EnrollingSession::SignedIn(session) => Some(session),
            EnrollingSession::EnrollmentOnly(_) => None,
        }
    }
}

/// Why a page that needs a signed-in viewer did not get one: the login page (with the way
/// back), or an error page.
pub(crate) struct NoViewer(Response);

impl IntoResponse for NoViewer {
    fn into_response(self) -> Response {
        self.0
    }
}

impl FromRequestParts<Ui> for Viewer {
    type Rejection = NoViewer;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Self, NoViewer> {
        let refusal = match Option::<Viewer>::from_request_parts(parts, ui).await {
            Ok(Some(viewer)) => return Ok(viewer),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        // Only a refusal needs the page's context: the login to come back from, or the
        // page that says what failed.
        let ctx = Ctx::from_request_parts(parts, ui)
            .await
            .unwrap_or_else(|never| match never {});
        Err(NoViewer(match refusal {
            None => ctx.to_login(),
            Some(e) => ctx.error_page(None, e),
        }))
    }
}

impl axum::extract::OptionalFromRequestParts<Ui> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ui: &Ui) -> Result<Option<Self>, ApiError> {
        let session =
            <crate::extract::EnrollingSession as axum::extract::OptionalFromRequestParts<
                AccountsState,
            >>::from_request_parts(parts, &ui.state)
            .await?;
        let Some(crate::extract::EnrollingSession(session)) = session else {
            return Ok(None);
        };
        // Validation read the account with the session, and refused an inactive one.
        Ok(Some(Viewer {
            account: session.account().clone(),
            session,
        }))
    }
}

/// A page that only says what went wrong.
#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    p: Page,
    text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_core::mail::MemoryMailer;
    use account_core::store::memory::MemoryStore;
    use account_core::{AccountConfig, Accounts};
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    fn state() -> AccountsState {
        let config = AccountConfig::new("http://localhost:3000".parse().expect("url"));
        let accounts = Accounts::builder(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryMailer::new()),
            config,
        )
        .build();
        AccountsState::new(accounts, crate::HttpConfig::default())
    }

    async fn get(app: Router, path: &str) -> (StatusCode, String, String) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            location,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn the_pages_follow_the_prefix_and_the_hosts_nesting() {
        let app = Router::new().nest(
            "/app",
            AccountPages::new(state()).prefix("settings/").into_router(),
        );
        let (status, location, _) = get(app.clone(), "/app/settings").await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/app/settings/login")
        );
        let (status, _, html) = get(app.clone(), "/app/settings/login").await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("action=\"/app/settings/login\""), "{html}");
        assert!(
            html.contains("href=\"/app/settings/assets/account."),
            "{html}"
        );
        let stylesheet = html
            .split("href=\"")
            .find(|s| s.starts_with("/app/settings/assets/"))
            .and_then(|s| s.split('"').next())
            .expect("the stylesheet link");
        let (status, _, css) = get(app.clone(), stylesheet).await;
        assert_eq!(status, StatusCode::OK);
        assert!(css.contains("--account-accent"));
        // A refusal by a shared layer is a page under the same nesting.
        let refused = app
            .oneshot(
                Request::delete("/app/settings/login")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        let body = axum::body::to_bytes(refused.into_body(), usize::MAX)
            .await
            .expect("body");
        let html = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(
            html.contains("href=\"/app/settings/assets/account."),
            "{html}"
        );
    }

    #[tokio::test]
    async fn a_hosts_translation_is_spoken_to_the_browsers_that_ask_for_it() {
        let french = account_core::domain::Language::parse("fr").expect("a tag");
        let app = AccountPages::new(state())
            .translation(&french, "Français", "login.title = Connexion")
            .into_router();
        let request = Request::get("/account/login")
            .header(header::ACCEPT_LANGUAGE, "fr-FR, en;q=0.5")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("infallible");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let html = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("<h1>Connexion</h1>"), "{html}");
        // What the host did not translate is in English.
        assert!(html.contains("Forgot Password"), "{html}");
    }

    #[tokio::test]
    async fn the_pages_may_live_at_the_root_and_old_assets_are_gone() {
        let app = AccountPages::new(state()).prefix("").into_router();
        let (status, location, _) = get(app.clone(), "/").await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/login")
        );
        let (status, _, _) = get(app, "/assets/account.000000000000.css").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn host_html_and_stylesheets_wrap_every_page() {
        let pages = AccountPages::new(state())
            .product_name("Example")
            .stylesheet("/static/brand.css")
            .header_html("<nav class=\"site\">Example</nav>")
            .footer_html("<footer>Imprint</footer>");
        let config = Arc::new(pages.config);
        let page = Page {
            t: Catalogs::built_in().english(),
            lang: "en",
            title: "login.title",
            base: "/account".into(),
            api: "/api".into(),
            css: "/a.css".into(),
            js: "/a.js".into(),
            me: None,
            notice: None,
            config,
        };
        let html = ErrorPage {
            p: page,
            text: "x".into(),
        }
        .render()
        .expect("renders");
        assert!(html.contains("<nav class=\"site\">Example</nav>"));
        assert!(html.contains("<footer>Imprint</footer>"));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/static/brand.css\">"));
        assert!(html.contains("<title>Log in · Example</title>"));
    }

    #[test]
    fn initials_take_the_first_and_last_word() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("Ada King Lovelace"), "AL");
        assert_eq!(initials("  "), "");
        assert_eq!(initials("élodie durand"), "ÉD");
    }
}
