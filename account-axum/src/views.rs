//! The JSON the routes take and give. Field names are the contract of DESIGN.md ("HTTP
//! contract"): clients and the UI rely on them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use account_core::domain::Password;
use account_core::model::{
    Account, AccountCursor, AccountSource, AccountState, ApiTokenRecord, AppPasswordRecord,
    EventCursor, Role, SecurityEvent, SshKeyRecord, TokenScope,
};
use account_core::{CreatedApiToken, CreatedAppPassword, SessionView as CoreSessionView};

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

/// `POST /api/auth/reauthenticate`: exactly one of the two fields. Once the account has a
/// second factor, the password alone does not make the session fresh enough for changing
/// factors.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ReauthenticateRequest {
    /// The account's password.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) password: Option<Password>,
    /// A code from the account's authenticator app.
    #[serde(default)]
    pub(crate) totp_code: Option<String>,
}

/// `POST /api/auth/login/totp`, `/api/auth/login/recovery-code`,
/// `/api/account/totp/confirm`: a code.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CodeRequest {
    /// Six digits from the authenticator app, or a recovery code (case, spaces and
    /// dashes do not matter).
    pub(crate) code: String,
}

/// The second step of a passkey ceremony: the browser's answer.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PasskeyFinishRequest {
    /// The `ceremony_id` of the first step.
    pub(crate) ceremony_id: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create()` or `.get()`, as
    /// WebAuthn's JSON.
    #[schema(value_type = Object)]
    pub(crate) credential: serde_json::Value,
}

/// `POST /api/account/passkeys/start`, `PATCH /api/account/passkeys/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct PasskeyNameRequest {
    /// The name the user gives the passkey (1 to 100 characters).
    pub(crate) name: String,
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

/// `POST /api/account/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewApiTokenRequest {
    /// The token's name (1 to 100 characters), to recognise it in the list.
    pub(crate) name: String,
    /// What the token may do: `read` (only `GET`, `HEAD`, `OPTIONS`) or `write`. Anything
    /// else is 422 `validation_failed` on `scope`.
    #[schema(value_type = TokenScopeBody)]
    pub(crate) scope: String,
    /// The networks the token may be used from: CIDR blocks (`10.0.0.0/24`,
    /// `2001:db8::/48`) or single addresses; absent or empty for anywhere. At most 100.
    #[serde(default)]
    pub(crate) allowed_networks: Option<Vec<String>>,
    /// When the token stops working (RFC 3339, in the future); absent or `null` for
    /// never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub(crate) expires_at: Option<String>,
}

/// `POST /api/account/app-passwords`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewAppPasswordRequest {
    /// The name of the app password (1 to 100 characters), usually the client it is for.
    pub(crate) name: String,
}

/// `POST /api/account/ssh-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewSshKeyRequest {
    /// The key's name (1 to 100 characters).
    pub(crate) name: String,
    /// One OpenSSH public-key line, as in `~/.ssh/id_ed25519.pub`: Ed25519, ECDSA
    /// (P-256, P-384, P-521) or RSA of at least 2048 bits.
    #[schema(
        example = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 ada@laptop"
    )]
    pub(crate) public_key: String,
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

/// The answer of a login: `ok` with a full session, or `second_factor_required` with a
/// pending session that only the second-factor login routes accept.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LoginResult)]
pub(crate) struct LoginBody {
    /// `ok` or `second_factor_required`.
    #[schema(example = "second_factor_required")]
    pub(crate) status: &'static str,
    /// The second factors that can finish the login (with `second_factor_required` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) methods: Option<Vec<SecondFactorMethodBody>>,
}

/// A second factor that can finish a login.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SecondFactorMethod)]
pub(crate) enum SecondFactorMethodBody {
    /// A code from an authenticator app: `POST /api/auth/login/totp`.
    Totp,
    /// A recovery code: `POST /api/auth/login/recovery-code`.
    RecoveryCode,
    /// A passkey: `POST /api/auth/login/passkey/start`, then `/finish`.
    Passkey,
}

impl SecondFactorMethodBody {
    pub(crate) fn of(method: account_core::SecondFactorMethod) -> Self {
        use account_core::SecondFactorMethod as M;
        match method {
            M::Totp => Self::Totp,
            M::RecoveryCode => Self::RecoveryCode,
            M::Passkey => Self::Passkey,
        }
    }
}

/// The first step of a passkey ceremony.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PasskeyCeremony)]
pub(crate) struct CeremonyBody {
    /// The single-use id of the ceremony (5 minutes), to send back with the answer.
    pub(crate) ceremony_id: String,
    /// The options for `navigator.credentials.create()` or `.get()`, as WebAuthn's JSON
    /// (`{"publicKey": {...}}`).
    #[schema(value_type = Object)]
    pub(crate) options: serde_json::Value,
}

impl From<account_core::PasskeyCeremony> for CeremonyBody {
    fn from(c: account_core::PasskeyCeremony) -> Self {
        Self {
            ceremony_id: c.ceremony_id,
            options: c.options,
        }
    }
}

/// A TOTP enrolment just started: show it once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TotpEnrollment)]
pub(crate) struct TotpEnrollmentBody {
    /// The secret in base32, for typing into an app that cannot scan.
    pub(crate) secret: String,
    /// The `otpauth://totp/...` URI (Key Uri Format) the QR code holds.
    pub(crate) otpauth_uri: String,
    /// The QR code as a `data:image/png;base64,...` URL.
    pub(crate) qr_png: String,
}

/// A new set of recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RecoveryCodes)]
pub(crate) struct RecoveryCodesBody {
    /// Ten single-use codes; any earlier set is void.
    pub(crate) recovery_codes: Vec<String>,
}

/// A passkey of the signed-in account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Passkey)]
pub(crate) struct PasskeyBody {
    /// The passkey's id.
    pub(crate) id: Uuid,
    /// The name the user gave it.
    pub(crate) name: String,
    /// When it was added.
    pub(crate) created_at: DateTime<Utc>,
    /// When it was last used.
    pub(crate) last_used_at: Option<DateTime<Utc>>,
    /// Whether the authenticator may back it up (sync it to other devices).
    pub(crate) backup_eligible: bool,
    /// Whether it is backed up (synced) now.
    pub(crate) backed_up: bool,
}

impl From<&account_core::model::PasskeyRecord> for PasskeyBody {
    fn from(p: &account_core::model::PasskeyRecord) -> Self {
        Self {
            id: p.id.as_uuid(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backup_eligible: p.backup_eligible,
            backed_up: p.backup_state,
        }
    }
}

/// What a personal API token may do.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TokenScope)]
pub(crate) enum TokenScopeBody {
    /// `GET`, `HEAD` and `OPTIONS` only.
    Read,
    /// Reading and writing, except the account's security settings, which need a session.
    Write,
}

impl From<TokenScope> for TokenScopeBody {
    fn from(scope: TokenScope) -> Self {
        match scope {
            TokenScope::Read => Self::Read,
            TokenScope::Write => Self::Write,
        }
    }
}

/// A personal API token of the signed-in account. Never the token itself.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub(crate) struct ApiTokenBody {
    /// The token's id (not the token).
    pub(crate) id: Uuid,
    /// The name its owner gave it.
    pub(crate) name: String,
    /// What it may do.
    pub(crate) scope: TokenScopeBody,
    /// The networks it may be used from, as CIDR blocks; empty for anywhere.
    #[schema(example = json!(["10.0.0.0/24", "2001:db8::/64"]))]
    pub(crate) allowed_networks: Vec<String>,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub(crate) last_used_at: Option<DateTime<Utc>>,
    /// The client address of that use.
    #[schema(value_type = Option<String>)]
    pub(crate) last_used_ip: Option<std::net::IpAddr>,
    /// The token's last four characters, to recognise it.
    pub(crate) last_four: String,
}

impl From<&ApiTokenRecord> for ApiTokenBody {
    fn from(t: &ApiTokenRecord) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.clone(),
            scope: t.scope.into(),
            allowed_networks: t.allowed_networks.iter().map(ToString::to_string).collect(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            last_used_ip: t.last_used_ip,
            last_four: t.last_four.clone(),
        }
    }
}

/// A personal API token just created or regenerated, with the token: shown this once.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedApiToken)]
pub(crate) struct CreatedApiTokenBody {
    /// The token as the list shows it.
    #[serde(flatten)]
    pub(crate) info: ApiTokenBody,
    /// The token, for `Authorization: Bearer`. It cannot be shown again.
    #[schema(example = "acct_...")]
    pub(crate) token: String,
}

impl From<&CreatedApiToken> for CreatedApiTokenBody {
    fn from(created: &CreatedApiToken) -> Self {
        Self {
            info: ApiTokenBody::from(&created.token),
            token: created.secret.expose().to_owned(),
        }
    }
}

/// An app password of the signed-in account. Never the password itself.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AppPassword)]
pub(crate) struct AppPasswordBody {
    /// The app password's id.
    pub(crate) id: Uuid,
    /// The name its owner gave it.
    pub(crate) name: String,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub(crate) last_used_at: Option<DateTime<Utc>>,
}

impl From<&AppPasswordRecord> for AppPasswordBody {
    fn from(p: &AppPasswordRecord) -> Self {
        Self {
            id: p.id.as_uuid(),
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

/// An app password just created, with the password: shown this once.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedAppPassword)]
pub(crate) struct CreatedAppPasswordBody {
    /// The app password as the list shows it.
    #[serde(flatten)]
    pub(crate) info: AppPasswordBody,
    /// The password, to type into the client with the username. It cannot be shown again.
    pub(crate) password: String,
}

impl From<&CreatedAppPassword> for CreatedAppPasswordBody {
    fn from(created: &CreatedAppPassword) -> Self {
        Self {
            info: AppPasswordBody::from(&created.app_password),
            password: created.secret.expose().to_owned(),
        }
    }
}

/// An SSH key of the signed-in account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SshKey)]
pub(crate) struct SshKeyBody {
    /// The key's id.
    pub(crate) id: Uuid,
    /// The name its owner gave it.
    pub(crate) name: String,
    /// The key type as OpenSSH names it.
    #[schema(example = "ssh-ed25519")]
    pub(crate) algorithm: String,
    /// The key size in bits, as `ssh-keygen -l` prints it.
    pub(crate) bits: u32,
    /// The SHA-256 fingerprint, as `ssh-keygen -l` prints it.
    #[schema(example = "SHA256:Wqqa2HlfGas9Bxg8NHvhdio9M58jg/DUklhxAypGetQ")]
    pub(crate) fingerprint: String,
    /// The comment of the pasted line, if it had one.
    pub(crate) comment: Option<String>,
    /// When it was added.
    pub(crate) created_at: DateTime<Utc>,
}

impl From<&SshKeyRecord> for SshKeyBody {
    fn from(k: &SshKeyRecord) -> Self {
        Self {
            id: k.id.as_uuid(),
            name: k.name.clone(),
            algorithm: k.algorithm.clone(),
            bits: k.bits,
            fingerprint: k.fingerprint.clone(),
            comment: k.comment.clone(),
            created_at: k.created_at,
        }
    }
}

/// `POST /api/admin/users/{id}/reset-2fa`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecondFactorsReset)]
pub(crate) struct ResetBody {
    /// How many authenticators (TOTP, recovery codes, passkeys) were removed.
    pub(crate) removed: u64,
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
    /// `active`, or `disabled` by an administrator.
    pub(crate) state: StateBody,
    /// The second factors set up.
    pub(crate) second_factors: SecondFactorsBody,
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AccountState)]
pub(crate) enum StateBody {
    /// It may sign in.
    Active,
    /// An administrator disabled it.
    Disabled,
}

impl From<RoleBody> for Role {
    fn from(role: RoleBody) -> Self {
        match role {
            RoleBody::User => Self::User,
            RoleBody::Admin => Self::Admin,
        }
    }
}

impl From<AccountState> for StateBody {
    fn from(state: AccountState) -> Self {
        match state {
            AccountState::Active => Self::Active,
            AccountState::Disabled => Self::Disabled,
        }
    }
}

impl From<StateBody> for AccountState {
    fn from(state: StateBody) -> Self {
        match state {
            StateBody::Active => Self::Active,
            StateBody::Disabled => Self::Disabled,
        }
    }
}

/// Where an account is managed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = AccountSource)]
pub(crate) enum SourceBody {
    /// Here.
    Local,
    /// By an external directory, which owns the password and the profile fields it
    /// manages.
    External {
        /// The directory's name.
        directory: String,
    },
}

/// What an account may do beyond its own settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
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

/// The account's avatar under the API at `api` (`/api`, or the host's nesting of it), its
/// query changing with each upload so that caches never show an old picture; `None` when
/// the account has none. The JSON and the pages link it alike.
pub(crate) fn avatar_url(account: &Account, api: &str) -> Option<String> {
    account.avatar_updated_at.map(|at| {
        format!(
            "{api}/users/{}/avatar?v={}",
            account.id,
            at.timestamp_millis()
        )
    })
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
            avatar_url: avatar_url(account, &format!("{}/api", mount.0)),
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
            state: account.state.into(),
            // The real values come from `with_second_factors`.
            second_factors: SecondFactorsBody {
                totp: false,
                recovery_codes_left: 0,
                passkeys: 0,
            },
        }
    }

    /// The account as answered by the routes, with its second factors read from the store.
    pub(crate) async fn load(
        accounts: &account_core::Accounts,
        account: &Account,
        mount: &Mount,
    ) -> Result<Self, crate::error::ApiError> {
        let factors = accounts.second_factors(account.id).await?;
        Ok(Self::with_second_factors(account, factors, mount))
    }

    /// The account with second factors the caller has read already.
    pub(crate) fn with_second_factors(
        account: &Account,
        factors: account_core::model::SecondFactors,
        mount: &Mount,
    ) -> Self {
        Self {
            second_factors: factors.into(),
            ..Self::new(account, mount)
        }
    }
}

impl From<account_core::model::SecondFactors> for SecondFactorsBody {
    fn from(factors: account_core::model::SecondFactors) -> Self {
        Self {
            totp: factors.totp,
            recovery_codes_left: factors.recovery_codes_left,
            passkeys: factors.passkeys,
        }
    }
}

/// One session of the signed-in account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionBody {
    /// The session's id (not its secret).
    pub(crate) id: Uuid,
    /// Whether this is the session the list was asked from (never, when a personal API
    /// token asked).
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

/// An opaque page cursor: the event's time (to the nanosecond) and id.
pub(crate) fn encode_cursor(cursor: &EventCursor) -> String {
    encode_position(cursor.at, cursor.id)
}

/// The cursor [`encode_cursor`] made, or `None` for anything else.
pub(crate) fn decode_cursor(s: &str) -> Option<EventCursor> {
    let (at, id) = decode_position(s)?;
    Some(EventCursor { at, id })
}

/// An opaque cursor of the list of accounts, made like an event's.
pub(crate) fn encode_account_cursor(cursor: &AccountCursor) -> String {
    encode_position(cursor.created_at, cursor.id)
}

/// The cursor [`encode_account_cursor`] made, or `None` for anything else.
pub(crate) fn decode_account_cursor(s: &str) -> Option<AccountCursor> {
    let (created_at, id) = decode_position(s)?;
    Some(AccountCursor { created_at, id })
}

/// A position in a list ordered by time, then id: `<nanoseconds since 1970>_<id>`, the
/// id a hyphenated UUID. The form is plain so that the OpenAPI document can state it
/// exactly (`openapi::CURSOR_PATTERN`): whatever has that form is a position, and the
/// route never refuses a cursor its document allows. Nanoseconds, because a store may
/// keep them, and a cursor rounded off would skip the events within its last microsecond.
fn encode_position(at: DateTime<Utc>, id: impl std::fmt::Display) -> String {
    let nanos =
        i128::from(at.timestamp()) * 1_000_000_000 + i128::from(at.timestamp_subsec_nanos());
    format!("{}_{id}", nanos.max(0))
}

fn decode_position<I: std::str::FromStr>(s: &str) -> Option<(DateTime<Utc>, I)> {
    let (nanos, id) = s.split_once('_')?;
    // At most 19 digits, which any `u64` holds; a time before 1970 has no account or
    // event to point at.
    if nanos.is_empty() || nanos.len() > 19 || !nanos.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only the hyphenated form, which is what the pattern says and what we hand out.
    let hyphens = [8, 13, 18, 23];
    let hyphenated = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| {
            if hyphens.contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    if !hyphenated {
        return None;
    }
    let nanos: u64 = nanos.parse().ok()?;
    let seconds = i64::try_from(nanos / 1_000_000_000).ok()?;
    // Below a billion, so the conversion cannot fail.
    let subsec = u32::try_from(nanos % 1_000_000_000).ok()?;
    let at = DateTime::from_timestamp(seconds, subsec)?;
    Some((at, id.parse::<I>().ok()?))
}

// ---------------------------------------------------------------------------------------
// Lifecycle and administration

/// `DELETE /api/account`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct DeleteAccountRequest {
    /// The account's username, typed again to confirm.
    pub(crate) confirm_username: String,
}

/// `POST /api/admin/users`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreateUserRequest {
    /// 2 to 32 characters: letters, digits, `.`, `_`, `-`; reserved names are allowed.
    pub(crate) username: String,
    /// The address the setup link goes to.
    pub(crate) email: String,
    /// The name to show; the username when absent.
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// `user` (the default) or `admin`.
    #[serde(default)]
    pub(crate) role: Option<RoleBody>,
    /// The name of the external directory that manages the account; absent for a local
    /// account. A directory's account gets no setup link: its password is the directory's.
    #[serde(default)]
    pub(crate) directory: Option<String>,
}

/// `PATCH /api/admin/users/{id}`: fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateUserRequest {
    /// A new display name.
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    /// A new primary address; unverified until its owner opens the link mailed there.
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// A new role.
    #[serde(default)]
    pub(crate) role: Option<RoleBody>,
    /// `active` or `disabled`. Disabling ends every session at once and stops every token
    /// and app password.
    #[serde(default)]
    pub(crate) state: Option<StateBody>,
}

/// One page of `GET /api/admin/users`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserPage)]
pub(crate) struct UserPageBody {
    /// The accounts, oldest first.
    pub(crate) users: Vec<UserBody>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub(crate) next_cursor: Option<String>,
}

/// An account in an administrator's list. No secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserBody {
    /// The account's id.
    pub(crate) id: Uuid,
    /// The username.
    pub(crate) username: String,
    /// The name shown.
    pub(crate) display_name: String,
    /// The primary address.
    pub(crate) email: String,
    /// Whether the primary address was confirmed.
    pub(crate) email_verified: bool,
    /// Where the account is managed.
    pub(crate) source: SourceBody,
    /// `user` or `admin`.
    pub(crate) role: RoleBody,
    /// `active` or `disabled`.
    pub(crate) state: StateBody,
    /// When the account was created.
    pub(crate) created_at: DateTime<Utc>,
}

impl From<&Account> for UserBody {
    fn from(a: &Account) -> Self {
        let full = AccountBody::new(a, &Mount(String::new()));
        Self {
            id: full.id,
            username: full.username,
            display_name: full.display_name,
            email: full.email,
            email_verified: full.email_verified,
            source: full.source,
            role: full.role,
            state: full.state,
            created_at: full.created_at,
        }
    }
}

/// `GET /api/admin/users/{id}`: the account, and what helps with a support request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserDetails)]
pub(crate) struct UserDetailsBody {
    /// The account, with its second factors.
    pub(crate) account: AccountBody,
    /// How many sessions are signed in now.
    pub(crate) live_sessions: u32,
    /// When it last logged in.
    pub(crate) last_login_at: Option<DateTime<Utc>>,
    /// How it last logged in: `password`, `passkey`, `totp`, `recovery_code`, `external`.
    pub(crate) last_login_method: Option<String>,
}

/// `GET /api/account/export`: everything kept of the account, without a secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AccountExport)]
pub(crate) struct ExportBody {
    /// When the export was made.
    pub(crate) exported_at: DateTime<Utc>,
    /// The profile, addresses and second-factor summary.
    pub(crate) account: AccountBody,
    /// The passkeys.
    pub(crate) passkeys: Vec<PasskeyBody>,
    /// The live sessions.
    pub(crate) sessions: Vec<SessionBody>,
    /// The personal API tokens (never the tokens themselves).
    pub(crate) api_tokens: Vec<ApiTokenBody>,
    /// The app passwords (never the passwords themselves).
    pub(crate) app_passwords: Vec<AppPasswordBody>,
    /// The SSH keys.
    pub(crate) ssh_keys: Vec<SshKeyBody>,
    /// The whole security log, newest first.
    pub(crate) security_events: Vec<SecurityEventBody>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_core::model::EventId;
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
            "1_x",
            "_01a231d0-6343-7000-869c-40ece8cdde84",
            "-1_01a231d0-6343-7000-869c-40ece8cdde84",
            "12345678901234567890_01a231d0-6343-7000-869c-40ece8cdde84",
            "1_01a231d063437000869c40ece8cdde84",
            "1_{01a231d0-6343-7000-869c-40ece8cdde84}",
            "1_01a231d0-6343-7000-869c-40ece8cdde8g",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
        // Whatever has the documented form is a position, the largest number included.
        for good in [
            "0_00000000-0000-0000-0000-000000000000",
            "9999999999999999999_01A231D0-6343-7000-869C-40ECE8CDDE84",
        ] {
            assert!(decode_cursor(good).is_some(), "{good}");
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
