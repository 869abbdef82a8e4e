//! Developer settings: personal API tokens, app passwords and SSH keys.
//!
//! Creating a token, regenerating one, creating an app password and adding an SSH key
//! need a recent authentication, so they run through [`act`], which asks for the password
//! when the session is stale and then finishes the action. A new token or app password is
//! shown once, in the answer of the action that made it (the page itself with status 201
//! or 200, never a redirect, so that the secret is in no URL and in no history entry);
//! every other action redirects to the page with a notice.

use std::str::FromStr;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use account_core::domain::{Field, Rule, ValidationError};
use account_core::model::{
    ApiTokenId, ApiTokenRecord, AppPasswordRecord, SshKeyRecord, TokenScope,
};
use account_core::{CreatedApiToken, Error, NewApiToken, SignedInSession, parse_network};

use super::form::act;
use super::view::When;
use super::{Ctx, Notice, Page, PageForm, Ui, Viewer, render};
use crate::extract::ClientInfo;

pub(crate) fn routes(prefix: &str) -> Router<Ui> {
    Router::new()
        .route(&format!("{prefix}/developer"), get(developer_page))
        .route(&format!("{prefix}/developer/tokens"), post(create_token))
        .route(
            &format!("{prefix}/developer/tokens/{{id}}/regenerate"),
            post(regenerate_token),
        )
        .route(
            &format!("{prefix}/developer/tokens/{{id}}/delete"),
            post(delete_token),
        )
        .route(
            &format!("{prefix}/developer/app-passwords"),
            post(create_app_password),
        )
        .route(
            &format!("{prefix}/developer/app-passwords/{{id}}/delete"),
            post(delete_app_password),
        )
        .route(&format!("{prefix}/developer/ssh-keys"), post(add_ssh_key))
        .route(
            &format!("{prefix}/developer/ssh-keys/{{id}}/delete"),
            post(delete_ssh_key),
        )
}

/// The forms' ids, which the notices name.
const TOKEN_NEW: &str = "token-new";
const TOKENS: &str = "tokens";
const APP_PASSWORD_NEW: &str = "app-password-new";
const APP_PASSWORDS: &str = "app-passwords";
const SSH_KEY_NEW: &str = "ssh-key-new";
const SSH_KEYS: &str = "ssh-keys";

/// A token in the list.
struct TokenRow {
    id: String,
    name: String,
    /// The catalog key of its scope's label.
    scope: &'static str,
    networks: Vec<String>,
    created: When,
    expires: Option<When>,
    expired: bool,
    last_used: Option<When>,
    last_used_ip: Option<String>,
    last_four: String,
}

impl TokenRow {
    fn of(token: &ApiTokenRecord, now: DateTime<Utc>) -> TokenRow {
        TokenRow {
            id: token.id.to_string(),
            name: token.name.clone(),
            scope: scope_key(token.scope),
            networks: token
                .allowed_networks
                .iter()
                .map(ToString::to_string)
                .collect(),
            created: When::of(token.created_at),
            expires: token.expires_at.map(When::of),
            expired: token.is_expired(now),
            last_used: token.last_used_at.map(When::of),
            last_used_ip: token.last_used_ip.map(|ip| ip.to_string()),
            last_four: token.last_four.clone(),
        }
    }
}

fn scope_key(scope: TokenScope) -> &'static str {
    match scope {
        TokenScope::Read => "developer.scope_read",
        TokenScope::Write => "developer.scope_write",
    }
}

/// An app password in the list.
struct AppPasswordRow {
    id: String,
    name: String,
    created: When,
    last_used: Option<When>,
}

impl AppPasswordRow {
    fn of(record: &AppPasswordRecord) -> AppPasswordRow {
        AppPasswordRow {
            id: record.id.to_string(),
            name: record.name.clone(),
            created: When::of(record.created_at),
            last_used: record.last_used_at.map(When::of),
        }
    }
}

/// An SSH key in the list.
struct SshKeyRow {
    id: String,
    name: String,
    algorithm: String,
    bits: u32,
    fingerprint: String,
    comment: Option<String>,
    created: When,
}

impl SshKeyRow {
    fn of(key: &SshKeyRecord) -> SshKeyRow {
        SshKeyRow {
            id: key.id.to_string(),
            name: key.name.clone(),
            algorithm: key.algorithm.clone(),
            bits: key.bits,
            fingerprint: key.fingerprint.clone(),
            comment: key.comment.clone(),
            created: When::of(key.created_at),
        }
    }
}

/// A secret just made, shown this once: what it is called, and the secret.
struct Revealed {
    name: String,
    secret: String,
    /// The catalog key of the notice that says it was made (or replaced an older one).
    key: &'static str,
}

/// What the token form had, to show it again with a refusal instead of making the person
/// type it all again.
#[derive(Default)]
struct TokenDraft {
    name: String,
    write: bool,
    networks: String,
    expires: String,
}

/// What a page shows beyond the lists: a notice, the forms' drafts after a refusal, and a
/// secret just made.
#[derive(Default)]
struct Shown {
    notice: Option<Notice>,
    token: TokenDraft,
    app_password_name: String,
    ssh_name: String,
    ssh_key: String,
    new_token: Option<Revealed>,
    new_app_password: Option<Revealed>,
}

impl Shown {
    /// A token just made or regenerated, shown once.
    fn new_token(created: &CreatedApiToken, key: &'static str) -> Shown {
        Shown {
            new_token: Some(Revealed {
                name: created.token.name.clone(),
                secret: created.secret.expose().to_owned(),
                key,
            }),
            ..Shown::default()
        }
    }
}

#[derive(Template)]
#[template(path = "ui/developer.html")]
struct DeveloperPage {
    p: Page,
    username: String,
    tokens: Vec<TokenRow>,
    app_passwords: Vec<AppPasswordRow>,
    ssh_keys: Vec<SshKeyRow>,
    shown: Shown,
    /// Today (UTC), the earliest expiry the date field offers.
    today: String,
}

async fn developer_page(ctx: Ctx, viewer: Viewer) -> Response {
    show(&ctx, &viewer, Shown::default(), StatusCode::OK).await
}

async fn show(ctx: &Ctx, viewer: &Viewer, mut shown: Shown, status: StatusCode) -> Response {
    if viewer.signed_in().is_none() {
        return ctx.see_other("/security#two-factor");
    }
    let accounts = ctx.accounts();
    let id = viewer.account.id;
    let lists = async {
        Ok::<_, Error>((
            accounts.api_tokens(id).await?,
            accounts.app_passwords(id).await?,
            accounts.ssh_keys(id).await?,
        ))
    };
    let (tokens, app_passwords, ssh_keys) = match lists.await {
        Ok(lists) => lists,
        Err(e) => return ctx.error_page(Some(viewer), e),
    };
    let now = accounts.now();
    let page = ctx
        .page(Some(viewer), "developer.title")
        .with_notice(shown.notice.take());
    render(
        status,
        &DeveloperPage {
            p: page,
            username: viewer.account.username.as_str().to_owned(),
            tokens: tokens.iter().map(|t| TokenRow::of(t, now)).collect(),
            app_passwords: app_passwords.iter().map(AppPasswordRow::of).collect(),
            ssh_keys: ssh_keys.iter().map(SshKeyRow::of).collect(),
            shown,
            today: now.format("%Y-%m-%d").to_string(),
        },
    )
}

/// Shows the page again with a refusal next to `form`, as the API's status, keeping what
/// the forms had.
async fn refused(
    ctx: &Ctx,
    viewer: &Viewer,
    form: &'static str,
    error: Error,
    mut shown: Shown,
) -> Response {
    let (status, notice) = super::refusal(ctx.tr(Some(viewer)), form, error);
    shown.notice = Some(notice);
    show(ctx, viewer, shown, status).await
}

/// The token form as the person filled it in.
fn token_draft(form: &PageForm) -> TokenDraft {
    TokenDraft {
        name: form.text("name").to_owned(),
        write: form.text("scope") == "write",
        networks: form.text("allowed_networks").to_owned(),
        expires: form.text("expires").to_owned(),
    }
}

/// The allowed networks of the form: one per line or separated by commas (or spaces);
/// none for anywhere.
fn networks(text: &str) -> Result<Vec<ipnet::IpNet>, ValidationError> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(parse_network)
        .collect()
}

/// The expiry of the date field: the end of that day in UTC, or never when it is empty.
fn expiry(text: &str) -> Result<Option<DateTime<Utc>>, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ValidationError {
        field: Field::ExpiresAt,
        rule: Rule::InvalidSyntax,
    })?;
    let end = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    Ok(Some(day.and_time(end).and_utc()))
}

/// The answer of an action run through [`act`]: its own response, or the page again with
/// the refusal next to `form_id`, keeping what `keep` holds of the forms.
async fn answer(
    ctx: &Ctx,
    viewer: &Viewer,
    outcome: Result<Response, Error>,
    form_id: &'static str,
    keep: Shown,
) -> Response {
    match outcome {
        Ok(response) => response,
        Err(e) => refused(ctx, viewer, form_id, e, keep).await,
    }
}

/// Deletes one thing of a list: with a full session (a recent authentication is not
/// needed), the id of the path, and the list's section (`list` is both the form the
/// notices name and the anchor) for the notice `done` or the refusal.
async fn delete<Id: FromStr>(
    ctx: &Ctx,
    viewer: &Viewer,
    id: &str,
    list: &'static str,
    done: &str,
    action: impl AsyncFnOnce(&SignedInSession, Id) -> Result<(), Error>,
) -> Response {
    let Some(session) = viewer.signed_in() else {
        return ctx.see_other("/security#two-factor");
    };
    let Ok(id) = id.parse::<Id>() else {
        return refused(ctx, viewer, list, Error::NotFound, Shown::default()).await;
    };
    match action(session, id).await {
        Ok(()) => ctx.done("/developer", done, list),
        Err(e) => refused(ctx, viewer, list, e, Shown::default()).await,
    }
}

async fn create_token(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    let keep = Shown {
        token: token_draft(&form),
        ..Shown::default()
    };
    let scope = form
        .optional("scope")
        .unwrap_or("read")
        .parse::<TokenScope>();
    let Ok(scope) = scope else {
        let t = ctx.tr(Some(&viewer));
        let notice = Notice::message(t, TOKEN_NEW, "developer.scope_invalid", true);
        let shown = Shown {
            notice: Some(notice),
            ..keep
        };
        return show(&ctx, &viewer, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let fields = networks(form.text("allowed_networks"))
        .and_then(|networks| Ok((networks, expiry(form.text("expires"))?)));
    let (allowed_networks, expires_at) = match fields {
        Ok(fields) => fields,
        Err(e) => return refused(&ctx, &viewer, TOKEN_NEW, e.into(), keep).await,
    };
    let new = NewApiToken {
        name: form.text("name").to_owned(),
        scope,
        allowed_networks,
        expires_at,
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        let created = ctx.accounts().create_api_token(session, new, &info).await?;
        let shown = Shown::new_token(&created, "developer.token_created");
        Ok(show(&ctx, &viewer, shown, StatusCode::CREATED).await)
    })
    .await;
    answer(&ctx, &viewer, outcome, TOKEN_NEW, keep).await
}

async fn regenerate_token(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
    form: PageForm,
) -> Response {
    let Ok(id) = id.parse::<ApiTokenId>() else {
        return refused(&ctx, &viewer, TOKENS, Error::NotFound, Shown::default()).await;
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        let accounts = ctx.accounts();
        let created = accounts.regenerate_api_token(session, id, &info).await?;
        let shown = Shown::new_token(&created, "developer.token_regenerated");
        Ok(show(&ctx, &viewer, shown, StatusCode::OK).await)
    })
    .await;
    answer(&ctx, &viewer, outcome, TOKENS, Shown::default()).await
}

async fn delete_token(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
) -> Response {
    delete(
        &ctx,
        &viewer,
        &id,
        TOKENS,
        "token_deleted",
        async |session, id| ctx.accounts().delete_api_token(session, id, &info).await,
    )
    .await
}

async fn create_app_password(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    let name = form.text("name");
    let keep = Shown {
        app_password_name: name.to_owned(),
        ..Shown::default()
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        let accounts = ctx.accounts();
        let created = accounts.create_app_password(session, name, &info).await?;
        let shown = Shown {
            new_app_password: Some(Revealed {
                name: created.app_password.name.clone(),
                secret: created.secret.expose().to_owned(),
                key: "developer.app_password_created",
            }),
            ..Shown::default()
        };
        Ok(show(&ctx, &viewer, shown, StatusCode::CREATED).await)
    })
    .await;
    answer(&ctx, &viewer, outcome, APP_PASSWORD_NEW, keep).await
}

async fn delete_app_password(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
) -> Response {
    delete(
        &ctx,
        &viewer,
        &id,
        APP_PASSWORDS,
        "app_password_deleted",
        async |session, id| ctx.accounts().revoke_app_password(session, id, &info).await,
    )
    .await
}

async fn add_ssh_key(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    form: PageForm,
) -> Response {
    let name = form.text("name");
    // A pasted key often ends with the newline of the file it came from; the key is the
    // one line without it.
    let public_key = form.text("public_key").trim();
    let keep = Shown {
        ssh_name: name.to_owned(),
        ssh_key: public_key.to_owned(),
        ..Shown::default()
    };
    let outcome = act(&ctx, &viewer, &info, &form, async |session| {
        ctx.accounts()
            .add_ssh_key(session, name, public_key, &info)
            .await?;
        Ok(ctx.done("/developer", "ssh_key_added", SSH_KEYS))
    })
    .await;
    answer(&ctx, &viewer, outcome, SSH_KEY_NEW, keep).await
}

async fn delete_ssh_key(
    ctx: Ctx,
    viewer: Viewer,
    ClientInfo(info): ClientInfo,
    Path(id): Path<String>,
) -> Response {
    delete(
        &ctx,
        &viewer,
        &id,
        SSH_KEYS,
        "ssh_key_deleted",
        async |session, id| ctx.accounts().delete_ssh_key(session, id, &info).await,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_read_one_per_line_or_comma_separated() {
        let read = networks("10.0.0.5/24\r\n192.0.2.7, 2001:db8::/48 ,\n").expect("valid");
        let texts: Vec<String> = read.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["10.0.0.0/24", "192.0.2.7/32", "2001:db8::/48"]);
        assert!(networks("  \n ").expect("valid").is_empty());
        let refused = networks("10.0.0.0/24\nnot a network").expect_err("refused");
        assert_eq!(refused.field, Field::AllowedNetworks);
    }

    #[test]
    fn an_expiry_date_means_the_end_of_that_day_in_utc() {
        assert_eq!(expiry(" ").expect("valid"), None);
        let at = expiry("2031-05-17").expect("valid").expect("a date");
        assert_eq!(at.to_rfc3339(), "2031-05-17T23:59:59+00:00");
        let refused = expiry("17.05.2031").expect_err("refused");
        assert_eq!(refused.field, Field::ExpiresAt);
        assert_eq!(refused.rule, Rule::InvalidSyntax);
    }
}
