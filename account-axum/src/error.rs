//! Errors as responses: the one place where every error becomes a status and an
//! `application/problem+json` body (RFC 9457).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use account_core::Error;
use account_core::avatar::AvatarError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why a request failed: an error of the services, or one that only HTTP knows.
///
/// Every handler of this crate and every extractor it offers fails with an `ApiError`, and
/// its [`IntoResponse`] is the only code that turns errors into responses, so a client
/// always gets the same shape: a [`Problem`] with a stable `code`.
///
/// | code | status |
/// |---|---|
/// | `validation_failed`, `weak_password`, `invalid_policy` | 422 |
/// | `invalid_avatar` | 422; 413 with reason `avatar_too_large`; 415 with reason `avatar_unsupported_format` |
/// | `malformed_json` | 400 |
/// | `invalid_token` | 400 |
/// | `invalid_credentials`, `unauthenticated`, `invalid_second_factor` | 401 |
/// | `unauthenticated` for a bad bearer token | 401, with `WWW-Authenticate: Bearer error="invalid_token"` |
/// | `unauthenticated` from the app-password extractor | 401, with `WWW-Authenticate: Basic realm="<product name>", charset="UTF-8"` |
/// | `current_password_incorrect`, `reauthentication_required`, `signup_disabled`, `profile_locked`, `managed_by_directory`, `forbidden`, `csrf_refused`, `second_factor_enrollment_required`, `network_not_allowed`, `session_required` | 403 |
/// | `insufficient_scope` | 403, with `WWW-Authenticate: Bearer error="insufficient_scope"` |
/// | `not_found` | 404 |
/// | `method_not_allowed` | 405 |
/// | `username_taken`, `last_admin`, `own_account`, `deletion_refused` (the detail gives the application's reason), `already_enrolled`, `no_second_factor`, `last_login_method`, `too_many_api_tokens`, `too_many_app_passwords`, `too_many_ssh_keys`, `ssh_key_in_use` | 409 |
/// | `passkey_rejected` | 422 |
/// | `invalid_ssh_key` | 422, with the core's `reason` (`ssh_key_too_weak`, `ssh_key_unsupported_type`, ...) |
/// | `payload_too_large` | 413 |
/// | `unsupported_media_type` | 415 |
/// | `rate_limited` | 429, with `Retry-After` |
/// | `directory_unavailable` | 503: the external directory that checks the account's password cannot answer (the cause is in the log); no `Retry-After`, since nobody here knows when it will be back |
/// | `storage_unavailable` | 503, with `Retry-After`: the database cannot be reached (the cause is in the log) |
/// | `internal` | 500, with the detail only in the log |
///
/// Under [`serve`](crate::serve), the requests hyper cannot parse get problem+json too,
/// though no handler sees them: `malformed_request` (400), `uri_too_long` (414) and
/// `headers_too_large` (431).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// An error of the services.
    #[error(transparent)]
    Core(#[from] Error),
    /// An unsafe request came from another site (CSRF defence).
    #[error("cross-site request refused")]
    CsrfRefused,
    /// The body is larger than the route accepts.
    #[error("the request body is larger than {max_bytes} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        max_bytes: usize,
    },
    /// The body's `Content-Type` is not one the route accepts.
    #[error("the request body must be {expected}")]
    UnsupportedMediaType {
        /// What the route accepts, for the message.
        expected: &'static str,
    },
    /// The body is not JSON, or not the JSON the route expects.
    #[error("{}", match field {
        Some(field) => format!("the request body lacks the field {field}"),
        None => "the request body is not the JSON this route expects".to_owned(),
    })]
    MalformedJson {
        /// The missing field, when that is the problem.
        field: Option<String>,
    },
    /// A query parameter or a field of the body is not in the form the route expects
    /// (422 `validation_failed` naming it, rule `invalid_syntax`).
    #[error("the parameter {name} is invalid")]
    InvalidParameter {
        /// The parameter's or field's name.
        name: &'static str,
    },
    /// The signed-in account may not do this (an administrator's route).
    #[error("this needs an administrator")]
    Forbidden,
    /// No such route, or no such thing.
    #[error("not found")]
    NotFound,
    /// The route exists but not with this method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// An `Authorization: Bearer` token is malformed, unknown, expired or deleted, or its
    /// account is disabled: 401 `unauthenticated` with a `WWW-Authenticate: Bearer` challenge
    /// (RFC 6750) that tells the client to get a new token.
    #[error("the bearer token is not valid")]
    InvalidBearerToken,
    /// A `read` personal API token was used for a request that may change something (any
    /// method but `GET`, `HEAD` and `OPTIONS`).
    #[error("this token may only read: the request needs a write token")]
    InsufficientScope,
    /// A valid personal API token was used on a route that only a signed-in browser
    /// session may use: the password, addresses, second factors, tokens, app passwords,
    /// SSH keys, sessions, administration.
    #[error("this needs a signed-in session: a token cannot do it")]
    SessionRequired,
    /// HTTP Basic credentials with an app password are missing or wrong (the app-password
    /// extractor): 401 `unauthenticated` with a `WWW-Authenticate: Basic` challenge, so that
    /// a client (a mail or CalDAV client, git) asks its user for the credentials.
    #[error("sign in with your username and an app password")]
    AppPasswordRequired {
        /// The realm of the challenge: the product's name.
        realm: String,
    },
}

/// An error body (RFC 9457 problem details) with the stable `code` of the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[non_exhaustive]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "the password was refused: the password is too common: it is among the most used passwords",
    "code": "weak_password",
    "reason": "common"
}))]
pub struct Problem {
    /// Always `about:blank`: `code` tells the problems apart.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A sentence for people. It never repeats a secret or the refused input.
    pub detail: String,
    /// The stable error code clients match on, such as `invalid_credentials`.
    pub code: String,
    /// A finer stable reason, where the error has one: `username_too_short` for
    /// `validation_failed`, `common` for `weak_password`, `avatar_too_large` for
    /// `invalid_avatar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The request field the problem is about, where one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule the field broke (`too_short`, `invalid_syntax`, ...), for
    /// `validation_failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ApiError {
    /// The stable code this error answers with.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Core(e) => e.code(),
            ApiError::CsrfRefused => "csrf_refused",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::MalformedJson { .. } => "malformed_json",
            ApiError::InvalidParameter { .. } => "validation_failed",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::InvalidBearerToken | ApiError::AppPasswordRequired { .. } => {
                "unauthenticated"
            }
            ApiError::InsufficientScope => "insufficient_scope",
            ApiError::SessionRequired => "session_required",
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(e) => core_status(e),
            ApiError::CsrfRefused
            | ApiError::Forbidden
            | ApiError::InsufficientScope
            | ApiError::SessionRequired => StatusCode::FORBIDDEN,
            ApiError::InvalidBearerToken | ApiError::AppPasswordRequired { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MalformedJson { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidParameter { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The problem body, without logging.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let mut problem = Problem {
            problem_type: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            reason: None,
            field: None,
            rule: None,
        };
        match self {
            ApiError::Core(e) => {
                problem.reason = e.reason();
                if let Error::Validation(v) = e {
                    problem.field = Some(v.field.as_str().to_owned());
                    problem.rule = Some(v.rule.as_str().to_owned());
                }
                if let Error::StorageUnavailable { .. } = e {
                    // Which database, and how it failed, is the operator's business.
                    problem.detail = "the database cannot be reached just now".to_owned();
                }
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    // Whatever failed inside (a database, a thread) is the operator's
                    // business: the client learns nothing about it.
                    problem.detail = "internal error".to_owned();
                }
            }
            ApiError::MalformedJson { field } => problem.field.clone_from(field),
            ApiError::InvalidParameter { name } => {
                problem.field = Some((*name).to_owned());
                problem.rule = Some("invalid_syntax".to_owned());
                problem.reason = Some(format!("{name}_invalid_syntax"));
            }
            _ => {}
        }
        problem
    }
}

/// The status of a service error.
fn core_status(e: &Error) -> StatusCode {
    match e {
        Error::Validation(_) | Error::WeakPassword(_) | Error::InvalidPolicy(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::InvalidAvatar(AvatarError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::InvalidAvatar(AvatarError::UnsupportedFormat) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::InvalidAvatar(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::InvalidCredentials | Error::Unauthenticated | Error::InvalidSecondFactor => {
            StatusCode::UNAUTHORIZED
        }
        Error::CurrentPasswordIncorrect
        | Error::SecondFactorEnrollmentRequired
        | Error::ReauthenticationRequired
        | Error::SignUpDisabled
        | Error::ProfileLocked
        | Error::ManagedExternally
        | Error::NetworkNotAllowed => StatusCode::FORBIDDEN,
        Error::InvalidToken => StatusCode::BAD_REQUEST,
        Error::UsernameTaken
        | Error::LastAdmin
        | Error::OwnAccount
        | Error::DeletionRefused(_)
        | Error::AlreadyEnrolled
        | Error::NoSecondFactor
        | Error::LastLoginMethod
        | Error::LimitReached(_)
        | Error::SshKeyInUse => StatusCode::CONFLICT,
        Error::PasskeyRejected | Error::InvalidSshKey(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        // The request was fine and may well succeed later: the directory, not the client
        // nor this server, is what failed.
        Error::DirectoryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        // The database cannot be reached: the same request may work in a moment.
        Error::StorageUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        // Storage and internal failures, and any variant a newer core adds before this
        // crate knows it: opaque.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        }
        if let ApiError::Core(Error::StorageUnavailable { .. }) = &self {
            tracing::warn!(error = %self, "the database cannot be reached");
        }
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| {
            br#"{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal"}"#.to_vec()
        });
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            ApiError::Core(
                Error::RateLimited { retry_after_secs }
                | Error::StorageUnavailable {
                    retry_after_secs, ..
                },
            ) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from((*retry_after_secs).max(1).unsigned_abs()),
                );
            }
            // RFC 6750 §3: the challenge names the bearer scheme and why the token failed,
            // so that a client knows to get a new token rather than retry.
            ApiError::InvalidBearerToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            ApiError::InsufficientScope => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
                );
            }
            // RFC 7617: the challenge makes a client that speaks Basic (a mail or CalDAV
            // client, git) ask its user for a username and password.
            ApiError::AppPasswordRequired { realm } => {
                headers.insert(header::WWW_AUTHENTICATE, basic_challenge(realm));
            }
            _ => {}
        }
        response
    }
}

/// `Basic realm="<realm>", charset="UTF-8"`, with the realm as a valid quoted string: quotes
/// and backslashes escaped, control characters dropped. A realm that still cannot be a
/// header value falls back to `Account`.
fn basic_challenge(realm: &str) -> HeaderValue {
    let mut quoted = String::with_capacity(realm.len());
    for c in realm.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    HeaderValue::from_bytes(format!(r#"Basic realm="{quoted}", charset="UTF-8""#).as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static(r#"Basic realm="Account", charset="UTF-8""#))
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_core::domain::{Field, Rule, ValidationError};
    use account_core::store::StoreError;

    fn check(error: impl Into<ApiError>, status: u16, code: &str) -> Problem {
        let error = error.into();
        assert_eq!(error.status().as_u16(), status, "{error:?}");
        let problem = error.problem();
        assert_eq!(problem.code, code);
        assert_eq!(problem.status, status);
        problem
    }

    #[test]
    fn statuses_follow_the_contract() {
        let v = check(
            Error::Validation(ValidationError {
                field: Field::Username,
                rule: Rule::TooShort { min: 2 },
            }),
            422,
            "validation_failed",
        );
        assert_eq!(v.field.as_deref(), Some("username"));
        assert_eq!(v.rule.as_deref(), Some("too_short"));
        assert_eq!(v.reason.as_deref(), Some("username_too_short"));
        check(
            Error::InvalidAvatar(AvatarError::TooLarge { max_bytes: 1 }),
            413,
            "invalid_avatar",
        );
        check(
            Error::InvalidAvatar(AvatarError::UnsupportedFormat),
            415,
            "invalid_avatar",
        );
        check(
            Error::InvalidAvatar(AvatarError::Undecodable),
            422,
            "invalid_avatar",
        );
        check(Error::InvalidCredentials, 401, "invalid_credentials");
        check(Error::Unauthenticated, 401, "unauthenticated");
        check(
            Error::CurrentPasswordIncorrect,
            403,
            "current_password_incorrect",
        );
        check(
            Error::ReauthenticationRequired,
            403,
            "reauthentication_required",
        );
        check(Error::SignUpDisabled, 403, "signup_disabled");
        check(Error::ProfileLocked, 403, "profile_locked");
        check(Error::ManagedExternally, 403, "managed_by_directory");
        check(Error::LastAdmin, 409, "last_admin");
        check(Error::OwnAccount, 409, "own_account");
        let refused = check(
            Error::DeletionRefused("owns an organisation".into()),
            409,
            "deletion_refused",
        );
        assert!(refused.detail.contains("owns an organisation"));
        check(Error::InvalidToken, 400, "invalid_token");
        check(Error::UsernameTaken, 409, "username_taken");
        check(Error::NotFound, 404, "not_found");
        check(Error::InvalidPolicy("x".into()), 422, "invalid_policy");
        check(
            Error::RateLimited {
                retry_after_secs: 3,
            },
            429,
            "rate_limited",
        );
        check(Error::InvalidSecondFactor, 401, "invalid_second_factor");
        check(Error::AlreadyEnrolled, 409, "already_enrolled");
        check(Error::NoSecondFactor, 409, "no_second_factor");
        check(Error::LastLoginMethod, 409, "last_login_method");
        check(Error::PasskeyRejected, 422, "passkey_rejected");
        let p = check(
            Error::SecondFactorEnrollmentRequired,
            403,
            "second_factor_enrollment_required",
        );
        assert_eq!(
            p.detail,
            "set up a second factor first: the policy requires one"
        );
        check(ApiError::CsrfRefused, 403, "csrf_refused");
        check(ApiError::Forbidden, 403, "forbidden");
        check(ApiError::NotFound, 404, "not_found");
        check(
            ApiError::PayloadTooLarge { max_bytes: 1 },
            413,
            "payload_too_large",
        );
        check(
            ApiError::UnsupportedMediaType {
                expected: "application/json",
            },
            415,
            "unsupported_media_type",
        );
        check(
            ApiError::MalformedJson { field: None },
            400,
            "malformed_json",
        );
    }

    #[test]
    fn programmatic_access_errors_follow_the_contract() {
        use account_core::AccessKind;
        use account_core::ssh_key::SshPublicKey;

        check(Error::NetworkNotAllowed, 403, "network_not_allowed");
        check(
            Error::LimitReached(AccessKind::ApiTokens),
            409,
            "too_many_api_tokens",
        );
        check(
            Error::LimitReached(AccessKind::AppPasswords),
            409,
            "too_many_app_passwords",
        );
        check(
            Error::LimitReached(AccessKind::SshKeys),
            409,
            "too_many_ssh_keys",
        );
        check(Error::SshKeyInUse, 409, "ssh_key_in_use");
        let refused = SshPublicKey::parse("ssh-dss AAAA").expect_err("refused");
        let reason = refused.code();
        let p = check(Error::InvalidSshKey(refused), 422, "invalid_ssh_key");
        assert_eq!(p.reason.as_deref(), Some(reason));
        check(ApiError::InsufficientScope, 403, "insufficient_scope");
        check(ApiError::SessionRequired, 403, "session_required");
        check(ApiError::InvalidBearerToken, 401, "unauthenticated");
        check(
            ApiError::AppPasswordRequired {
                realm: "x".to_owned(),
            },
            401,
            "unauthenticated",
        );
    }

    #[test]
    fn authentication_failures_carry_their_challenge() {
        let response = ApiError::InvalidBearerToken.into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        let response = ApiError::InsufficientScope.into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="insufficient_scope""#
        );
        let response = ApiError::AppPasswordRequired {
            realm: "Example \"Mail\"".to_owned(),
        }
        .into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Basic realm="Example \"Mail\"", charset="UTF-8""#
        );
        // A product name outside ASCII is sent as its UTF-8 bytes; a control character is
        // dropped rather than break the header.
        let response = ApiError::AppPasswordRequired {
            realm: "Zürich\nPost".to_owned(),
        }
        .into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE].as_bytes(),
            "Basic realm=\"ZürichPost\", charset=\"UTF-8\"".as_bytes()
        );
        // The session cookie's 401 has no challenge: a browser would show a login dialog.
        let response = ApiError::from(Error::Unauthenticated).into_response();
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    }

    #[test]
    fn internal_errors_are_opaque() {
        let p = check(
            Error::Storage(StoreError::backend("disk full at /var/lib/db")),
            500,
            "internal",
        );
        assert_eq!(p.detail, "internal error");
        let p = check(Error::Internal("thread panicked".into()), 500, "internal");
        assert_eq!(p.detail, "internal error");
    }

    #[test]
    fn an_unavailable_directory_is_a_503_that_names_no_cause() {
        let p = check(Error::DirectoryUnavailable, 503, "directory_unavailable");
        assert_eq!(p.title, "Service Unavailable");
        assert_eq!(p.detail, "the directory is unavailable");
        let response = ApiError::from(Error::DirectoryUnavailable).into_response();
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn rate_limits_say_when_to_come_back() {
        let response = ApiError::from(Error::RateLimited {
            retry_after_secs: 42,
        })
        .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
