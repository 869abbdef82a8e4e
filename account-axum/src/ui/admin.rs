//! Administration: the list of accounts (search, filters, paging) with the invitation of
//! a new user, one account in detail with what an administrator may do to it, and the
//! policy every account lives under.
//!
//! Every page needs a signed-in administrator with a full session, as the API's admin
//! routes do; anyone else gets 403. Every change needs a recent authentication (the API
//! checks `require_fresh` before each), so each post runs through [`fresh_act`], which
//! asks for the password when the session is stale and then finishes the change.

use std::str::FromStr;

use askama::Template;
use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use account_core::domain::{DisplayName, EmailAddress, Username, ValidationError};
use account_core::model::{
    Account, AccountId, AccountQuery, AccountSource, AccountState, EventCursor, EventFilter,
    EventPage, RequestInfo, Role, SessionStage, SourceKind,
};
use account_core::password::PasswordRules;
use account_core::policy::{Policy, SessionPolicy};
use account_core::{AccountChangeByAdmin, Error, FieldAccess, NewAccountByAdmin};

use super::form::act;
use super::view::{EventRow, When, query_value};
use super::{Ctx, Notice, Page, PageForm, Tr, Ui, Viewer, refusal, render};
use crate::error::ApiError;
use crate::extract::ClientInfo;
use crate::views::{decode_account_cursor, decode_cursor, encode_account_cursor, encode_cursor};

/// Accounts per page of the list, as the API's default.
const USERS_PER_PAGE: u32 = 50;

/// Events per page of an account's security log.
const EVENTS_PER_PAGE: u32 = 50;

pub(crate) fn routes(prefix: &str) -> Router<Ui> {
    Router::new()
        .route(&format!("{prefix}/admin"), get(admin_home))
        .route(
            &format!("{prefix}/admin/users"),
            get(users_page).post(invite),
        )
        .route(
            &format!("{prefix}/admin/users/{{id}}"),
            get(user_page).post(edit_user),
        )
        .route(
            &format!("{prefix}/admin/users/{{id}}/state"),
            post(set_state),
        )
        .route(
            &format!("{prefix}/admin/users/{{id}}/reset-2fa"),
            post(reset_second_factors),
        )
        .route(
            &format!("{prefix}/admin/users/{{id}}/sessions/revoke"),
            post(end_sessions),
        )
        .route(
            &format!("{prefix}/admin/users/{{id}}/delete"),
            post(delete_user),
        )
        .route(
            &format!("{prefix}/admin/policy"),
            get(policy_page).post(save_policy),
        )
}

/// Lets only a signed-in administrator through: anyone else gets the API's 403, and an
/// administrator whose session may only enrol a second factor goes to the set-up first.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page to answer with"
)]
fn admin_only(ctx: &Ctx, viewer: &Viewer) -> Result<(), Response> {
    if viewer.account.role != Role::Admin {
        return Err(ctx.error_page(Some(viewer), ApiError::Forbidden));
    }
    if viewer.signed_in().is_none() {
        return Err(ctx.see_other("/security#two-factor"));
    }
    Ok(())
}

/// The account an address names, for an administrator only (see [`admin_only`]); an id
/// that is no account's is simply not found.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page to answer with"
)]
fn admin_target(ctx: &Ctx, viewer: &Viewer, id: &str) -> Result<AccountId, Response> {
    admin_only(ctx, viewer)?;
    AccountId::from_str(id).map_err(|_| ctx.error_page(Some(viewer), ApiError::NotFound))
}

/// Runs an administrator's change through [`act`], after the one check of a recent
/// authentication: the admin services leave that check to their caller (the API's routes
/// make it too), and `act` turns its refusal into the re-authentication prompt.
async fn fresh_act(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    form: &PageForm,
    action: impl AsyncFnOnce() -> Result<Response, Error>,
) -> Result<Response, Error> {
    act(ctx, viewer, info, form, async |session| {
        ctx.accounts().require_fresh(session.record()).await?;
        action().await
    })
    .await
}

/// The catalog key of a role.
fn role_key(role: Role) -> &'static str {
    match role {
        Role::User => "admin.role.user",
        Role::Admin => "admin.role.admin",
    }
}

/// The catalog key of a state.
fn state_key(state: AccountState) -> &'static str {
    match state {
        AccountState::Active => "admin.state.active",
        AccountState::Disabled => "admin.state.disabled",
    }
}

/// Where an account is managed, in words.
fn source_label(t: Tr, source: &AccountSource) -> String {
    match source {
        AccountSource::Local => t.get("admin.source.local").to_owned(),
        AccountSource::External { directory } => t.fill(
            "admin.source.external",
            &[("directory", directory.as_str())],
        ),
    }
}

/// A refusal of a form value no honest form sends (a role or state the select does not
/// offer): 422 with a plain sentence.
fn bad_choice(t: Tr, form: &'static str) -> (StatusCode, Notice) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Notice::message(t, form, "admin.invalid_choice", true),
    )
}

/// `/admin` leads to the list of accounts.
async fn admin_home(ctx: Ctx, viewer: Viewer) -> Response {
    if let Err(response) = admin_only(&ctx, &viewer) {
        return response;
    }
    ctx.see_other("/admin/users")
}

// ---------------------------------------------------------------------------------------
// The list of accounts and the invitation.

/// The search as the form and the address carry it.
#[derive(Default)]
struct Search {
    q: String,
    state: String,
    role: String,
    source: String,
    /// A page size other than the default, carried from page to page.
    limit: Option<u32>,
    /// Whether this is a later page (so the page offers the first one again).
    paged: bool,
}

impl Search {
    /// The search from the query string, as the API reads it. A value it cannot read is
    /// left out of the search and named in the refusal.
    fn parse(query: Option<&str>) -> (Search, AccountQuery, Option<ApiError>) {
        let mut search = Search::default();
        let mut q = AccountQuery {
            limit: USERS_PER_PAGE,
            ..AccountQuery::default()
        };
        let mut problem = None;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let mut bad = |name| {
                problem.get_or_insert(ApiError::InvalidParameter { name });
            };
            match &*key {
                "q" => {
                    q.search = AccountQuery::search(&value);
                    search.q = value.into_owned();
                }
                // The form's "any" choice sends the field empty.
                "state" if value.is_empty() => {}
                "state" => match AccountState::parse(&value) {
                    Some(state) => {
                        q.state = Some(state);
                        search.state = value.into_owned();
                    }
                    None => bad("state"),
                },
                "role" if value.is_empty() => {}
                "role" => match Role::parse(&value) {
                    Some(role) => {
                        q.role = Some(role);
                        search.role = value.into_owned();
                    }
                    None => bad("role"),
                },
                "source" if value.is_empty() => {}
                "source" => match &*value {
                    "local" => {
                        q.source = Some(SourceKind::Local);
                        search.source = value.into_owned();
                    }
                    "external" => {
                        q.source = Some(SourceKind::External);
                        search.source = value.into_owned();
                    }
                    _ => bad("source"),
                },
                "limit" => match value.parse() {
                    Ok(limit) => {
                        q.limit = limit;
                        search.limit = Some(limit);
                    }
                    Err(_) => bad("limit"),
                },
                "cursor" => match decode_account_cursor(&value) {
                    Some(cursor) => {
                        q.after = Some(cursor);
                        search.paged = true;
                    }
                    None => bad("cursor"),
                },
                _ => {}
            }
        }
        (search, q, problem)
    }

    /// The address of this search, from `cursor` on (the first page without one).
    fn link(&self, base: &str, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", self.q.as_str()),
            ("state", self.state.as_str()),
            ("role", self.role.as_str()),
            ("source", self.source.as_str()),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        if let Some(limit) = self.limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let query = query.finish();
        if query.is_empty() {
            format!("{base}/admin/users")
        } else {
            format!("{base}/admin/users?{query}")
        }
    }
}

/// One account in the list.
struct UserRow {
    href: String,
    username: String,
    display_name: String,
    email: String,
    role: &'static str,
    state: &'static str,
    disabled: bool,
    source: String,
    created: When,
}

/// What the invitation form holds: empty, or what was typed when it was refused.
#[derive(Default)]
struct InviteValues {
    username: String,
    email: String,
    display_name: String,
    admin: bool,
}

impl InviteValues {
    fn of(form: &PageForm) -> InviteValues {
        InviteValues {
            username: form.text("username").trim().to_owned(),
            email: form.text("email").trim().to_owned(),
            display_name: form.text("display_name").trim().to_owned(),
            admin: form.text("role") == "admin",
        }
    }
}

#[derive(Template)]
#[template(path = "ui/admin_users.html")]
struct UsersPage {
    p: Page,
    search: Search,
    users: Vec<UserRow>,
    next: Option<String>,
    first: Option<String>,
    invite: InviteValues,
}

async fn users_page(ctx: Ctx, viewer: Viewer, RawQuery(query): RawQuery) -> Response {
    if let Err(response) = admin_only(&ctx, &viewer) {
        return response;
    }
    let (search, q, problem) = Search::parse(query.as_deref());
    let (status, notice) = match problem {
        Some(e) => {
            let (status, notice) = refusal(ctx.tr(Some(&viewer)), "search", e);
            (status, Some(notice))
        }
        None => (StatusCode::OK, None),
    };
    show_users(
        &ctx,
        &viewer,
        search,
        q,
        InviteValues::default(),
        notice,
        status,
    )
    .await
}

async fn show_users(
    ctx: &Ctx,
    viewer: &Viewer,
    search: Search,
    q: AccountQuery,
    invite: InviteValues,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let page = match ctx.accounts().list_accounts(q).await {
        Ok(page) => page,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let p = ctx
        .page(Some(viewer), "admin.users.title")
        .with_notice(notice);
    let t = p.t;
    let users = page
        .accounts
        .iter()
        .map(|account| UserRow {
            href: format!("{}/admin/users/{}", ctx.base, account.id),
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
            role: role_key(account.role),
            state: state_key(account.state),
            disabled: account.state == AccountState::Disabled,
            source: source_label(t, &account.source),
            created: When::of(account.created_at),
        })
        .collect();
    let next = page
        .next
        .as_ref()
        .map(|cursor| search.link(&ctx.base, Some(&encode_account_cursor(cursor))));
    let first = search.paged.then(|| search.link(&ctx.base, None));
    render(
        status,
        &UsersPage {
            p,
            search,
            users,
            next,
            first,
            invite,
        },
    )
}

/// Shows the first page of the list again with the invitation refused next to its form.
async fn invite_refused(
    ctx: &Ctx,
    viewer: &Viewer,
    values: InviteValues,
    (status, notice): (StatusCode, Notice),
) -> Response {
    let q = AccountQuery {
        limit: USERS_PER_PAGE,
        ..AccountQuery::default()
    };
    show_users(
        ctx,
        viewer,
        Search::default(),
        q,
        values,
        Some(notice),
        status,
    )
    .await
}

/// The invitation as the service takes it, or why the form cannot be one.
fn new_account(t: Tr, form: &PageForm) -> Result<NewAccountByAdmin, (StatusCode, Notice)> {
    let invalid = |e: ValidationError| refusal(t, "invite", Error::from(e));
    let username = Username::parse(form.text("username").trim()).map_err(invalid)?;
    let email = EmailAddress::parse(form.text("email").trim()).map_err(invalid)?;
    let display_name = form
        .optional("display_name")
        .map(DisplayName::parse)
        .transpose()
        .map_err(invalid)?;
    let role = match form.optional("role") {
        None => Role::User,
        Some(role) => Role::parse(role).ok_or_else(|| bad_choice(t, "invite"))?,
    };
    Ok(NewAccountByAdmin {
        username,
        email,
        display_name,
        role,
        source: AccountSource::Local,
    })
}

/// Creates an account; its owner gets a link by mail to choose a password.
async fn invite(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    if let Err(response) = admin_only(&ctx, &viewer) {
        return response;
    }
    let t = ctx.tr(Some(&viewer));
    let new = match new_account(t, &form) {
        Ok(new) => new,
        Err(refused) => {
            return invite_refused(&ctx, &viewer, InviteValues::of(&form), refused).await;
        }
    };
    let outcome = fresh_act(&ctx, &viewer, &info, &form, async || {
        let account = ctx
            .accounts()
            .create_account(viewer.account.id, new, &info)
            .await?;
        Ok(ctx.done(&format!("/admin/users/{}", account.id), "user_invited", ""))
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(e) => {
            invite_refused(
                &ctx,
                &viewer,
                InviteValues::of(&form),
                refusal(t, "invite", e),
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------
// One account.

/// One live session of the account.
struct SessionRow {
    device: String,
    ip: String,
    created: When,
    last_seen: When,
}

/// What the edit form holds: the account's values, or what was typed when it was refused.
struct EditValues {
    display_name: String,
    email: String,
    admin: bool,
}

impl EditValues {
    fn of(form: &PageForm) -> EditValues {
        EditValues {
            display_name: form.text("display_name").trim().to_owned(),
            email: form.text("email").trim().to_owned(),
            admin: form.text("role") == "admin",
        }
    }
}

#[derive(Template)]
#[template(path = "ui/admin_user.html")]
struct UserPage {
    p: Page,
    /// The account's page, which its forms post to (and under).
    here: String,
    username: String,
    display_name: String,
    email: String,
    email_verified: bool,
    role: &'static str,
    state: &'static str,
    disabled: bool,
    source: String,
    created: When,
    last_login: Option<When>,
    last_login_method: Option<String>,
    totp: bool,
    passkeys: u32,
    recovery_codes_left: u32,
    live_sessions: u32,
    sessions: Vec<SessionRow>,
    events: Vec<EventRow>,
    log_older: Option<String>,
    log_newest: Option<String>,
    edit: EditValues,
    /// Whether the directory manages the display name (read-only here, as in the API).
    name_managed: bool,
    /// Whether the directory manages the address.
    email_managed: bool,
    /// Whether this is the administrator's own account.
    own: bool,
}

async fn user_page(
    ctx: Ctx,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    // An older page of the log; a cursor that is not one shows the newest.
    let before = query_value(query.as_deref(), "before").and_then(|c| decode_cursor(&c));
    show_user(&ctx, &viewer, id, before, None, None, StatusCode::OK).await
}

async fn show_user(
    ctx: &Ctx,
    viewer: &Viewer,
    id: AccountId,
    before: Option<EventCursor>,
    edit: Option<EditValues>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let accounts = ctx.accounts();
    let details = match accounts.account_details(id).await {
        Ok(details) => details,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let loaded = async {
        let fields = accounts.editable_fields(&details.account).await?;
        let sessions = accounts.sessions(id, None).await?;
        let events = accounts
            .security_events(
                EventFilter::account(id),
                EventPage {
                    before,
                    limit: EVENTS_PER_PAGE,
                },
            )
            .await?;
        Ok::<_, Error>((fields, sessions, events))
    }
    .await;
    let (fields, sessions, events) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let account = &details.account;
    let p = ctx
        .page(Some(viewer), "admin.user.title")
        .with_notice(notice);
    let t = p.t;
    let here = format!("{}/admin/users/{}", ctx.base, account.id);
    let log_older = (events.len() >= EVENTS_PER_PAGE as usize)
        .then(|| events.last())
        .flatten()
        .map(|last| {
            format!(
                "{here}?before={}#log",
                super::form::encode(&encode_cursor(&last.cursor()))
            )
        });
    let log_newest = before.map(|_| format!("{here}#log"));
    render(
        status,
        &UserPage {
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
            email_verified: account.email_verified,
            role: role_key(account.role),
            state: state_key(account.state),
            disabled: account.state == AccountState::Disabled,
            source: source_label(t, &account.source),
            created: When::of(account.created_at),
            last_login: details.last_login_at.map(When::of),
            last_login_method: details
                .last_login_method
                .as_deref()
                .map(|m| t.text_or(&format!("admin.method.{m}"), m).to_owned()),
            totp: details.second_factors.totp,
            passkeys: details.second_factors.passkeys,
            recovery_codes_left: details.second_factors.recovery_codes_left,
            live_sessions: details.live_sessions,
            sessions: sessions
                .into_iter()
                .map(|view| view.session)
                .filter(|s| s.stage == SessionStage::Full)
                .map(|s| SessionRow {
                    device: device_label(t, &s.device),
                    ip: s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    created: When::of(s.created_at),
                    last_seen: When::of(s.last_seen_at),
                })
                .collect(),
            events: events.iter().map(|e| EventRow::of(t, e)).collect(),
            log_older,
            log_newest,
            edit: edit.unwrap_or_else(|| EditValues {
                display_name: account.display_name.as_str().to_owned(),
                email: account.email.as_str().to_owned(),
                admin: account.role == Role::Admin,
            }),
            name_managed: fields.display_name == FieldAccess::ManagedByDirectory,
            email_managed: fields.email == FieldAccess::ManagedByDirectory,
            own: account.id == viewer.account.id,
            here,
            p,
        },
    )
}

/// A session's device in a few words: browser, system, device.
fn device_label(t: Tr, device: &account_core::device::DeviceDetails) -> String {
    let parts: Vec<&str> = [&device.browser, &device.os, &device.device]
        .into_iter()
        .filter_map(|part| part.as_deref())
        .collect();
    if parts.is_empty() {
        t.get("admin.session.unknown_device").to_owned()
    } else {
        parts.join(" · ")
    }
}

/// Shows the account's page again with a refusal next to the form it is about; a refused
/// edit form keeps what was typed into it. An account that is gone (deleted meanwhile)
/// has no page, so the answer is then the not-found page.
async fn user_refused(
    ctx: &Ctx,
    viewer: &Viewer,
    id: AccountId,
    form: &PageForm,
    (status, notice): (StatusCode, Notice),
) -> Response {
    let edit = (notice.form == "edit").then(|| EditValues::of(form));
    show_user(ctx, viewer, id, None, edit, Some(notice), status).await
}

/// Runs a change to the account `id` posted by its page's form `form_id` (see
/// [`fresh_act`]); a refusal is shown next to that form.
async fn user_action(
    ctx: &Ctx,
    viewer: &Viewer,
    info: &RequestInfo,
    id: AccountId,
    form: &PageForm,
    form_id: &'static str,
    action: impl AsyncFnOnce() -> Result<Response, Error>,
) -> Response {
    match fresh_act(ctx, viewer, info, form, action).await {
        Ok(response) => response,
        Err(e) => {
            let t = ctx.tr(Some(viewer));
            user_refused(ctx, viewer, id, form, refusal(t, form_id, e)).await
        }
    }
}

/// The change the edit form asks for: only the fields that differ from the account, so
/// that a field the directory manages, sent back unchanged, is no change.
fn account_change(
    t: Tr,
    form: &PageForm,
    account: &Account,
) -> Result<AccountChangeByAdmin, (StatusCode, Notice)> {
    let mut change = AccountChangeByAdmin::default();
    if let Some(text) = form.get("display_name") {
        let name =
            DisplayName::parse(text.trim()).map_err(|e| refusal(t, "edit", Error::from(e)))?;
        change.display_name = (name != account.display_name).then_some(name);
    }
    if let Some(text) = form.get("email") {
        let email =
            EmailAddress::parse(text.trim()).map_err(|e| refusal(t, "edit", Error::from(e)))?;
        change.email = (email != account.email).then_some(email);
    }
    if let Some(text) = form.get("role") {
        let role = Role::parse(text).ok_or_else(|| bad_choice(t, "edit"))?;
        change.role = (role != account.role).then_some(role);
    }
    Ok(change)
}

/// Changes the display name, the address and the role.
async fn edit_user(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let account = match ctx.accounts().account(id).await {
        Ok(account) => account,
        Err(e) => return ctx.error_page(Some(&viewer), e),
    };
    let t = ctx.tr(Some(&viewer));
    let change = match account_change(t, &form, &account) {
        Ok(change) => change,
        Err(refused) => return user_refused(&ctx, &viewer, id, &form, refused).await,
    };
    let path = format!("/admin/users/{id}");
    if change.display_name.is_none() && change.email.is_none() && change.role.is_none() {
        return ctx.done(&path, "nothing_changed", "edit");
    }
    user_action(&ctx, &viewer, &info, id, &form, "edit", async || {
        ctx.accounts()
            .change_account(viewer.account.id, id, change, &info)
            .await?;
        Ok(ctx.done(&path, "user_saved", "edit"))
    })
    .await
}

/// Disables (ending every session at once) or enables the account.
async fn set_state(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let Some(state) = AccountState::parse(form.text("state")) else {
        let t = ctx.tr(Some(&viewer));
        return user_refused(&ctx, &viewer, id, &form, bad_choice(t, "state")).await;
    };
    let done = match state {
        AccountState::Active => "user_enabled",
        AccountState::Disabled => "user_disabled",
    };
    let change = AccountChangeByAdmin {
        state: Some(state),
        ..AccountChangeByAdmin::default()
    };
    user_action(&ctx, &viewer, &info, id, &form, "state", async || {
        ctx.accounts()
            .change_account(viewer.account.id, id, change, &info)
            .await?;
        Ok(ctx.done(&format!("/admin/users/{id}"), done, "state"))
    })
    .await
}

/// Removes every second factor of the account and ends its sessions.
async fn reset_second_factors(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    user_action(&ctx, &viewer, &info, id, &form, "factors", async || {
        ctx.accounts()
            .reset_second_factors(viewer.account.id, id, &info)
            .await?;
        let path = format!("/admin/users/{id}");
        Ok(ctx.done(&path, "user_factors_reset", "factors"))
    })
    .await
}

/// Ends every session of the account (its tokens and app passwords stay).
async fn end_sessions(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    user_action(&ctx, &viewer, &info, id, &form, "sessions", async || {
        ctx.accounts()
            .revoke_sessions_as_admin(viewer.account.id, id, &info)
            .await?;
        let path = format!("/admin/users/{id}");
        Ok(ctx.done(&path, "user_sessions_ended", "sessions"))
    })
    .await
}

/// Deletes the account, then goes back to the list.
async fn delete_user(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let id = match admin_target(&ctx, &viewer, &id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    user_action(&ctx, &viewer, &info, id, &form, "delete", async || {
        ctx.accounts()
            .delete_account_as_admin(viewer.account.id, id, &info)
            .await?;
        Ok(ctx.done("/admin/users", "user_deleted", ""))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// The policy.

/// The policy's fields as the form holds them: the numbers as typed, so that a refused
/// value is shown again for correcting.
struct PolicyValues {
    allow_signup: bool,
    allow_reserved_usernames: bool,
    lock_profiles: bool,
    require_second_factor: bool,
    directory_provides_second_factor: bool,
    sign_in_notices: bool,
    idle_timeout_secs: String,
    absolute_timeout_secs: String,
    reauthentication_window_secs: String,
    min_length: String,
    min_length_single_factor: String,
    strict_single_factor: bool,
    max_length: String,
}

impl PolicyValues {
    fn of_policy(policy: &Policy) -> PolicyValues {
        PolicyValues {
            allow_signup: policy.allow_signup,
            allow_reserved_usernames: policy.allow_reserved_usernames,
            lock_profiles: policy.lock_profiles,
            require_second_factor: policy.require_second_factor,
            directory_provides_second_factor: policy.directory_provides_second_factor,
            sign_in_notices: policy.sign_in_notices,
            idle_timeout_secs: policy.sessions.idle_timeout_secs.to_string(),
            absolute_timeout_secs: policy.sessions.absolute_timeout_secs.to_string(),
            reauthentication_window_secs: policy.sessions.reauthentication_window_secs.to_string(),
            min_length: policy.passwords.min_length.to_string(),
            min_length_single_factor: policy.passwords.min_length_single_factor.to_string(),
            strict_single_factor: policy.passwords.strict_single_factor,
            max_length: policy.passwords.max_length.to_string(),
        }
    }

    /// The form's values. A checkbox left unticked is not sent at all: absent is off.
    fn of_form(form: &PageForm) -> PolicyValues {
        let on = |name| form.get(name).is_some();
        let number = |name| form.text(name).trim().to_owned();
        PolicyValues {
            allow_signup: on("allow_signup"),
            allow_reserved_usernames: on("allow_reserved_usernames"),
            lock_profiles: on("lock_profiles"),
            require_second_factor: on("require_second_factor"),
            directory_provides_second_factor: on("directory_provides_second_factor"),
            sign_in_notices: on("sign_in_notices"),
            idle_timeout_secs: number("idle_timeout_secs"),
            absolute_timeout_secs: number("absolute_timeout_secs"),
            reauthentication_window_secs: number("reauthentication_window_secs"),
            min_length: number("min_length"),
            min_length_single_factor: number("min_length_single_factor"),
            strict_single_factor: on("strict_single_factor"),
            max_length: number("max_length"),
        }
    }

    /// The policy these values make, or the label key of the first number that is not a
    /// whole number. Every field is set here, so a field added to the policy must be
    /// added to the form too (this does not compile until it is).
    fn policy(&self) -> Result<Policy, &'static str> {
        fn whole<N: FromStr>(text: &str, label: &'static str) -> Result<N, &'static str> {
            text.parse().map_err(|_| label)
        }
        Ok(Policy {
            allow_signup: self.allow_signup,
            allow_reserved_usernames: self.allow_reserved_usernames,
            lock_profiles: self.lock_profiles,
            require_second_factor: self.require_second_factor,
            directory_provides_second_factor: self.directory_provides_second_factor,
            sign_in_notices: self.sign_in_notices,
            sessions: SessionPolicy {
                idle_timeout_secs: whole(&self.idle_timeout_secs, "admin.policy.idle_timeout")?,
                absolute_timeout_secs: whole(
                    &self.absolute_timeout_secs,
                    "admin.policy.absolute_timeout",
                )?,
                reauthentication_window_secs: whole(
                    &self.reauthentication_window_secs,
                    "admin.policy.reauthentication_window",
                )?,
            },
            passwords: PasswordRules {
                min_length: whole(&self.min_length, "admin.policy.min_length")?,
                min_length_single_factor: whole(
                    &self.min_length_single_factor,
                    "admin.policy.min_length_single_factor",
                )?,
                strict_single_factor: self.strict_single_factor,
                max_length: whole(&self.max_length, "admin.policy.max_length")?,
            },
        })
    }
}

/// The rule a policy check names, in the page's language: the core's message starts with
/// the field it is about.
fn policy_rule(message: &str) -> Option<&'static str> {
    [
        (
            "sessions.idle_timeout_secs",
            "admin.policy.idle_timeout_rule",
        ),
        (
            "sessions.absolute_timeout_secs",
            "admin.policy.absolute_timeout_rule",
        ),
        (
            "sessions.reauthentication_window_secs",
            "admin.policy.reauthentication_window_rule",
        ),
        ("passwords.min_length", "admin.policy.min_length_rule"),
        ("passwords.max_length", "admin.policy.max_length_rule"),
    ]
    .into_iter()
    .find(|(field, _)| message.starts_with(field))
    .map(|(_, key)| key)
}

#[derive(Template)]
#[template(path = "ui/admin_policy.html")]
struct PolicyPage {
    p: Page,
    v: PolicyValues,
}

async fn policy_page(ctx: Ctx, viewer: Viewer) -> Response {
    if let Err(response) = admin_only(&ctx, &viewer) {
        return response;
    }
    let policy = match ctx.accounts().policy().await {
        Ok(policy) => policy,
        Err(e) => return ctx.error_page(Some(&viewer), e),
    };
    show_policy(
        &ctx,
        &viewer,
        PolicyValues::of_policy(&policy),
        None,
        StatusCode::OK,
    )
}

fn show_policy(
    ctx: &Ctx,
    viewer: &Viewer,
    v: PolicyValues,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let p = ctx
        .page(Some(viewer), "admin.policy.title")
        .with_notice(notice);
    render(status, &PolicyPage { p, v })
}

/// Replaces the policy with the form's; a value out of range is refused and nothing is
/// saved.
async fn save_policy(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    if let Err(response) = admin_only(&ctx, &viewer) {
        return response;
    }
    let t = ctx.tr(Some(&viewer));
    let values = PolicyValues::of_form(&form);
    let policy = match values.policy() {
        Ok(policy) => policy,
        Err(label) => {
            let notice = Notice {
                error: true,
                text: t.fill("admin.policy.not_a_number", &[("field", t.get(label))]),
                form: "policy",
            };
            return show_policy(
                &ctx,
                &viewer,
                values,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let outcome = fresh_act(&ctx, &viewer, &info, &form, async || {
        ctx.accounts()
            .set_policy(viewer.account.id, policy, &info)
            .await?;
        Ok(ctx.done("/admin/policy", "policy_saved", "policy"))
    })
    .await;
    match outcome {
        Ok(response) => response,
        Err(Error::InvalidPolicy(message)) => {
            // The core names the field in English; the page says its rule in the
            // page's language.
            let mut text = t.get("error.invalid_policy").to_owned();
            if let Some(rule) = policy_rule(&message) {
                text = format!("{text} {}", t.get(rule));
            }
            let notice = Notice {
                error: true,
                text,
                form: "policy",
            };
            show_policy(
                &ctx,
                &viewer,
                values,
                Some(notice),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => {
            let (status, notice) = refusal(t, "policy", e);
            show_policy(&ctx, &viewer, values, Some(notice), status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::Catalogs;

    #[test]
    fn every_rule_the_policy_check_names_has_a_text() {
        let checks = [
            Policy {
                sessions: SessionPolicy {
                    idle_timeout_secs: 0,
                    ..SessionPolicy::default()
                },
                ..Policy::default()
            },
            Policy {
                sessions: SessionPolicy {
                    absolute_timeout_secs: 0,
                    ..SessionPolicy::default()
                },
                ..Policy::default()
            },
            Policy {
                sessions: SessionPolicy {
                    reauthentication_window_secs: 0,
                    ..SessionPolicy::default()
                },
                ..Policy::default()
            },
            Policy {
                passwords: PasswordRules {
                    min_length: 1,
                    ..PasswordRules::default()
                },
                ..Policy::default()
            },
            Policy {
                passwords: PasswordRules {
                    max_length: 10,
                    ..PasswordRules::default()
                },
                ..Policy::default()
            },
        ];
        for policy in checks {
            let message = policy.check().expect_err("out of range");
            let key = policy_rule(&message).expect("a rule for the message");
            assert_ne!(
                Catalogs::built_in().english().get(key),
                key,
                "no text for {message}"
            );
        }
    }

    #[test]
    fn the_next_page_keeps_the_search() {
        let (search, query, problem) =
            Search::parse(Some("q=Ada&state=disabled&role=&source=local&limit=2"));
        assert!(problem.is_none());
        assert_eq!(query.search.as_deref(), Some("ada"));
        assert_eq!(query.state, Some(AccountState::Disabled));
        assert_eq!(query.role, None);
        assert_eq!(
            search.link("/account", Some("abc")),
            "/account/admin/users?q=Ada&state=disabled&source=local&limit=2&cursor=abc"
        );
        let (_, query, problem) = Search::parse(Some("state=asleep&q=x"));
        assert!(problem.is_some());
        assert_eq!(query.state, None);
        assert_eq!(query.search.as_deref(), Some("x"));
    }
}
