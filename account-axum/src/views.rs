//! The JSON the routes take and give. Field names are the contract of DESIGN.md ("HTTP
//! contract"): clients and the UI rely on them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use account_core::SessionView as CoreSessionView;
use account_core::domain::Password;
use account_core::model::{Account, AccountSource, EventCursor, EventId, Role, SecurityEvent};

use crate::extract::Mount;

// ---------------------------------------------------------------------------------------
// Requests

/// `POST /api/auth/signup`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SignUpRequest {
    /// 2 to 32 characters: letters, digits, `.`, `_`, `-`; folded to lowercase.
    pub(crate) username: String,
    /// The address a verification link goes to.
    pub(crate) email: String,
    /// The password.
    #[schema(value_type = String, format = Password)]
    pub(crate) password: Password,
    /// The name to show; the username when absent.
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

/// `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LoginRequest {
    /// A username or an email address.
    pub(crate) login: String,
    /// The password.
    #[schema(value_type = String, format = Password)]
    pub(crate) password: Password,
}

/// `POST /api/auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ForgotPasswordRequest {
    /// The account's primary address.
    pub(crate) email: String,
}

/// `POST /api/auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ResetPasswordRequest {
    /// The `token` query parameter of the link in the reset mail.
    pub(crate) token: String,
    /// The new password.
    #[schema(value_type = String, format = Password)]
    pub(crate) new_password: Password,
}

/// `POST /api/auth/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct VerifyEmailRequest {
    /// The `token` query parameter of the link in the verification mail.
    pub(crate) token: String,
}

/// `POST /api/auth/reauthenticate`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ReauthenticateRequest {
    /// The account's password.
    #[schema(value_type = String, format = Password)]
    pub(crate) password: Password,
}

/// `PATCH /api/account`: fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateAccountRequest {
    /// A new display name.
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// A BCP 47 language tag such as `de-CH`; `null` clears the preference.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) language: Option<Option<String>>,
}

/// `POST /api/account/email`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChangeEmailRequest {
    /// The new primary address; it takes effect when the link sent there is opened.
    pub(crate) email: String,
}

/// `PUT /api/account/recovery-email`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RecoveryEmailRequest {
    /// The new recovery address (a link goes there first), or `null` to remove it. The
    /// field is required, so that an empty body cannot remove the address by accident.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = true)]
    pub(crate) email: Option<Option<String>>,
}

/// `PUT /api/account/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChangePasswordRequest {
    /// The password in use now.
    #[schema(value_type = String, format = Password)]
    pub(crate) current_password: Password,
    /// The new password.
    #[schema(value_type = String, format = Password)]
    pub(crate) new_password: Password,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------
// Responses

/// The raw bytes of an image, as a request or response body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code, reason = "a schema only; never built")]
pub(crate) struct Image(Vec<u8>);

/// `{"status": "ok"}` and the like: the answer of an action with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Status)]
pub(crate) struct StatusBody {
    /// `ok`, or `accepted` when the action continues by mail.
    #[schema(example = "ok")]
    pub(crate) status: &'static str,
}

impl StatusBody {
    pub(crate) const OK: StatusBody = StatusBody { status: "ok" };
    pub(crate) const ACCEPTED: StatusBody = StatusBody { status: "accepted" };
}

/// The signed-in user's account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Account)]
pub(crate) struct AccountBody {
    /// The account's id.
    pub(crate) id: Uuid,
    /// The username; it never changes.
    pub(crate) username: String,
    /// The name shown for the account.
    pub(crate) display_name: String,
    /// The primary address.
    pub(crate) email: String,
    /// Whether the primary address was confirmed.
    pub(crate) email_verified: bool,
    /// The verified password-recovery address.
    pub(crate) recovery_email: Option<String>,
    /// The preferred language (BCP 47).
    pub(crate) language: Option<String>,
    /// Where the avatar is served, versioned so that it can be cached; `null` without one.
    pub(crate) avatar_url: Option<String>,
    /// When the account was created.
    pub(crate) created_at: DateTime<Utc>,
    /// Where the account is managed.
    pub(crate) source: SourceBody,
    /// `user` or `admin`.
    pub(crate) role: RoleBody,
    /// The second factors set up.
    pub(crate) second_factors: SecondFactorsBody,
}

/// Where an account is managed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = AccountSource)]
pub(crate) enum SourceBody {
    /// Here.
    Local,
    /// By an external directory, which owns the profile fields and the password.
    External {
        /// The directory's name.
        directory: String,
    },
}

/// What an account may do beyond its own settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Role)]
pub(crate) enum RoleBody {
    /// Its own account only.
    User,
    /// The admin routes too.
    Admin,
}

/// The second factors of an account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecondFactors)]
pub(crate) struct SecondFactorsBody {
    /// Whether TOTP is set up.
    pub(crate) totp: bool,
    /// How many unused recovery codes are left.
    pub(crate) recovery_codes_left: u32,
    /// How many passkeys are registered.
    pub(crate) passkeys: u32,
}

impl AccountBody {
    pub(crate) fn new(account: &Account, mount: &Mount) -> Self {
        Self {
            id: account.id.as_uuid(),
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            email: account.email.as_str().to_owned(),
            email_verified: account.email_verified,
            recovery_email: account
                .recovery_email
                .as_ref()
                .map(|e| e.as_str().to_owned()),
            language: account.language.as_ref().map(|l| l.as_str().to_owned()),
            avatar_url: account.avatar_updated_at.map(|at| {
                format!(
                    "{}/api/users/{}/avatar?v={}",
                    mount.0,
                    account.id,
                    at.timestamp_millis()
                )
            }),
            created_at: account.created_at,
            source: match &account.source {
                AccountSource::External { directory } => SourceBody::External {
                    directory: directory.clone(),
                },
                AccountSource::Local => SourceBody::Local,
            },
            role: match account.role {
                Role::Admin => RoleBody::Admin,
                Role::User => RoleBody::User,
            },
            // Second factors arrive with a later version of the core; until then no
            // account has one, and these are the true values.
            second_factors: SecondFactorsBody {
                totp: false,
                recovery_codes_left: 0,
                passkeys: 0,
            },
        }
    }
}

/// One session of the signed-in account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionBody {
    /// The session's id (not its secret).
    pub(crate) id: Uuid,
    /// Whether this is the session the list was asked from.
    pub(crate) current: bool,
    /// The IP address the session was opened from.
    #[schema(value_type = Option<String>)]
    pub(crate) ip: Option<std::net::IpAddr>,
    /// The browser and its major version, such as `Firefox 128`.
    pub(crate) browser: Option<String>,
    /// The operating system, such as `Windows 10`.
    pub(crate) os: Option<String>,
    /// The device model or kind, such as `Pixel 7` or `Desktop`.
    pub(crate) device: Option<String>,
    /// The browser engine, such as `Gecko`.
    pub(crate) engine: Option<String>,
    /// The CPU architecture, such as `arm64`.
    pub(crate) cpu_arch: Option<String>,
    /// When the session was opened.
    pub(crate) created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub(crate) last_seen_at: DateTime<Utc>,
    /// When it ends unless used again.
    pub(crate) expires_at: DateTime<Utc>,
    /// When it last authenticated (login or re-authentication).
    pub(crate) last_authenticated_at: Option<DateTime<Utc>>,
}

impl From<CoreSessionView> for SessionBody {
    fn from(view: CoreSessionView) -> Self {
        let s = view.session;
        Self {
            id: s.id.as_uuid(),
            current: view.current,
            ip: s.ip,
            expires_at: s.expires_at(),
            last_authenticated_at: s.last_authenticated_at(),
            browser: s.device.browser,
            os: s.device.os,
            device: s.device.device,
            engine: s.device.engine,
            cpu_arch: s.device.cpu_arch,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
        }
    }
}

/// The answer of `DELETE /api/account/sessions`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Revoked)]
pub(crate) struct RevokedBody {
    /// How many sessions ended.
    pub(crate) revoked: u64,
}

/// One entry of the account's security log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecurityEvent)]
pub(crate) struct SecurityEventBody {
    /// The event's id.
    pub(crate) id: Uuid,
    /// When it happened.
    pub(crate) at: DateTime<Utc>,
    /// What happened, such as `login_succeeded` or `password_changed`.
    #[schema(example = "login_succeeded")]
    pub(crate) kind: String,
    /// The client's IP address.
    #[schema(value_type = Option<String>)]
    pub(crate) ip: Option<std::net::IpAddr>,
    /// The client's user agent.
    pub(crate) user_agent: Option<String>,
    /// Further facts, such as the login method.
    pub(crate) details: BTreeMap<String, String>,
    /// Pass as `before` to get the events older than this one.
    pub(crate) cursor: String,
}

impl From<SecurityEvent> for SecurityEventBody {
    fn from(e: SecurityEvent) -> Self {
        Self {
            cursor: encode_cursor(&e.cursor()),
            id: e.id.as_uuid(),
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
        }
    }
}

/// An opaque page cursor: base64url of the event's time (RFC 3339, full precision) and id.
pub(crate) fn encode_cursor(cursor: &EventCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        cursor.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        cursor.id
    ))
}

/// The cursor [`encode_cursor`] made, or `None` for anything else.
pub(crate) fn decode_cursor(s: &str) -> Option<EventCursor> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (at, id) = text.split_once('|')?;
    Some(EventCursor {
        at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id: id.parse::<EventId>().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_core::random::OsRandom;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let at = DateTime::from_timestamp(1_767_225_600, 123_456_789).expect("time");
        let cursor = EventCursor {
            at,
            id: EventId::generate(at, &OsRandom),
        };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        for bad in [
            "",
            "!!",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("2026-01-01T00:00:00Z|x"),
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn null_and_absent_differ() {
        let absent: UpdateAccountRequest = serde_json::from_str("{}").expect("json");
        assert_eq!(absent.language, None);
        let null: UpdateAccountRequest =
            serde_json::from_str(r#"{"language": null}"#).expect("json");
        assert_eq!(null.language, Some(None));
        let set: UpdateAccountRequest =
            serde_json::from_str(r#"{"language": "de"}"#).expect("json");
        assert_eq!(set.language, Some(Some("de".to_owned())));
    }
}
