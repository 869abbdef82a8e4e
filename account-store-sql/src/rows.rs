//! Rows back into core records, and records into the values columns keep: written once
//! for every backend, over [`Row`], which hides how each backend keeps a time or text.
//! The column lists (`account_columns!` and the rest) name what each conversion reads.

use std::collections::BTreeMap;
use std::net::IpAddr;

use account_core::avatar::{Avatar, ImageType};
use account_core::device::DeviceDetails;
use account_core::domain::{DisplayName, EmailAddress, Language, Username};
use account_core::model::{
    Account, AccountId, AccountSource, AccountState, ApiTokenId, ApiTokenRecord,
    ApiTokenWithAccount, AppPasswordId, AppPasswordRecord, AssuranceLevel, Authentication,
    Challenge, ChallengePurpose, EventId, Failures, PasskeyId, PasskeyRecord, Role, SecondFactors,
    SecurityEvent, SecurityEventKind, SecurityStamp, SessionId, SessionRecord, SessionStage,
    SessionWithAccount, SourceKind, SshKeyId, SshKeyRecord, TokenScope, TotpRecord, TotpSecret,
};
use account_core::policy::Policy;
use account_core::store::{StoreError, StoreResult};
use account_core::token::TokenDigest;
use chrono::Duration;
use uuid::Uuid;

use crate::db::{Row, RowExt as _};

/// The columns of a table that the record of the same name below reads, in one string
/// (`columns!(sessions)`), for statements written with `concat!`.
macro_rules! columns {
    (accounts) => {
        "id, username, email, email_verified, recovery_email, language, display_name, \
         avatar_updated_at, source, source_directory, state, role, security_stamp, created_at, \
         updated_at"
    };
    (sessions) => {
        "id, token_digest, account_id, created_at, last_seen_at, idle_timeout_secs, \
         absolute_expires_at, ip, user_agent, browser, os, device, engine, cpu_arch, \
         authentications, assurance, stage, second_factor_attempts"
    };
    (totp) => {
        "secret, confirmed_at, created_at, last_step"
    };
    (passkeys) => {
        "id, account_id, credential_id, name, credential, created_at, last_used_at, \
         sign_count, backup_eligible, backup_state"
    };
    (challenges) => {
        "digest, purpose, account_id, security_stamp, payload, created_at, expires_at"
    };
    (security_events) => {
        "id, account_id, at, kind, ip, user_agent, details"
    };
    (api_tokens) => {
        "id, account_id, name, scope, allowed_networks, digest, last_four, created_at, \
         expires_at, last_used_at, last_used_ip"
    };
    (app_passwords) => {
        "id, account_id, name, digest, created_at, last_used_at"
    };
    (ssh_keys) => {
        "id, account_id, name, algorithm, bits, fingerprint, public_key, comment, created_at"
    };
}

pub(crate) use columns;

/// A stored value that does not read back as what it should be: a row written by
/// something else, or by a future version of this crate. The value itself is left out,
/// since it may be personal data.
#[derive(Debug, thiserror::Error)]
#[error("the stored value of {column} is not valid: {reason}")]
pub struct CorruptValue {
    column: String,
    reason: String,
}

/// A [`StoreError::Backend`] for a stored value that does not parse: a driver's answer
/// for a column whose value is not what the schema keeps there.
pub fn corrupt(column: &str, reason: impl ToString) -> StoreError {
    StoreError::backend(CorruptValue {
        column: column.to_owned(),
        reason: reason.to_string(),
    })
}

/// A value that the schema cannot hold, refused before it reaches the database.
#[derive(Debug, thiserror::Error)]
#[error("{what} cannot be stored: {reason}")]
pub(crate) struct Unstorable {
    what: &'static str,
    reason: String,
}

/// A [`StoreError::Backend`] for a value that cannot be written.
pub(crate) fn unstorable(what: &'static str, reason: impl ToString) -> StoreError {
    StoreError::backend(Unstorable {
        what,
        reason: reason.to_string(),
    })
}

/// The account in a row of `columns!(accounts)`.
pub(crate) fn account(row: &Row) -> StoreResult<Account> {
    let source = match (
        row.text("source")?.as_str(),
        row.opt_text("source_directory")?,
    ) {
        ("local", None) => AccountSource::Local,
        ("external", Some(directory)) => AccountSource::External { directory },
        (other, _) => {
            return Err(corrupt(
                "accounts.source",
                format!("unknown source {other:?}"),
            ));
        }
    };
    let state = row.text("state")?;
    let role = row.text("role")?;
    Ok(Account {
        id: AccountId::from_uuid(row.get::<Uuid>("id")?),
        username: Username::parse(&row.text("username")?)
            .map_err(|e| corrupt("accounts.username", e))?,
        display_name: DisplayName::parse(&row.text("display_name")?)
            .map_err(|e| corrupt("accounts.display_name", e))?,
        email: email(row.text("email")?, "accounts.email")?,
        email_verified: row.get::<bool>("email_verified")?,
        recovery_email: row
            .opt_text("recovery_email")?
            .map(|e| email(e, "accounts.recovery_email"))
            .transpose()?,
        language: row
            .opt_text("language")?
            .map(|l| Language::parse(&l).map_err(|e| corrupt("accounts.language", e)))
            .transpose()?,
        avatar_updated_at: row.opt_time("avatar_updated_at")?,
        source,
        state: AccountState::parse(&state)
            .ok_or_else(|| corrupt("accounts.state", format!("unknown state {state:?}")))?,
        role: Role::parse(&role)
            .ok_or_else(|| corrupt("accounts.role", format!("unknown role {role:?}")))?,
        security_stamp: SecurityStamp::from_stored(row.text("security_stamp")?),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn email(stored: String, column: &'static str) -> StoreResult<EmailAddress> {
    EmailAddress::parse(&stored).map_err(|e| corrupt(column, e))
}

/// The `source` and `source_directory` columns of an account source.
pub(crate) fn source_columns(source: &AccountSource) -> (&'static str, Option<&str>) {
    match source {
        AccountSource::Local => ("local", None),
        AccountSource::External { directory } => ("external", Some(directory)),
    }
}

/// The `source` column of the accounts of a kind of source.
pub(crate) fn source_kind(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Local => "local",
        SourceKind::External => "external",
    }
}

/// The `display_name_key` column: the display name in lowercase, as the search of the
/// list of accounts compares it. Folded here rather than by the database, because
/// SQLite's lower() folds ASCII only and MySQL's binary collation does not fold at all:
/// so every backend finds "Élodie" by "élo".
pub(crate) fn display_name_key(name: &DisplayName) -> String {
    name.as_str().to_lowercase()
}

/// A search term as a `LIKE` pattern for "contains", with `!` as the escape character
/// (`LIKE ? ESCAPE '!'`): `%` and `_` in the term match only themselves. Not backslash,
/// which MySQL's string literals treat as an escape of their own.
pub(crate) fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The session in a row of `columns!(sessions)`.
pub(crate) fn session(row: &Row) -> StoreResult<SessionRecord> {
    session_named(row, "id", "created_at")
}

/// The session, its account and the account's second factors in a row of
/// `SessionStore::session_with_account`'s join, where the session's `id` and `created_at`
/// are named `session_id` and `session_created_at` (the account's keep their names).
pub(crate) fn session_with_account(row: &Row) -> StoreResult<SessionWithAccount> {
    Ok(SessionWithAccount {
        session: session_named(row, "session_id", "session_created_at")?,
        account: account(row)?,
        second_factors: second_factors(row)?,
    })
}

/// The session in a row whose `id` and `created_at` columns have these names.
fn session_named(
    row: &Row,
    id: &'static str,
    created_at: &'static str,
) -> StoreResult<SessionRecord> {
    let idle = row.get::<i64>("idle_timeout_secs")?;
    let assurance = row.get::<i16>("assurance")?;
    let stage = row.text("stage")?;
    let attempts = u32::try_from(row.get::<i32>("second_factor_attempts")?)
        .map_err(|e| corrupt("sessions.second_factor_attempts", e))?;
    Ok(SessionRecord {
        id: SessionId::from_uuid(row.get::<Uuid>(id)?),
        token_digest: digest(row.get::<Vec<u8>>("token_digest")?, "sessions.token_digest")?,
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        created_at: row.time(created_at)?,
        last_seen_at: row.time("last_seen_at")?,
        idle_timeout: Duration::try_seconds(idle)
            .ok_or_else(|| corrupt("sessions.idle_timeout_secs", "out of range"))?,
        absolute_expires_at: row.time("absolute_expires_at")?,
        ip: ip(row.opt_text("ip")?, "sessions.ip")?,
        user_agent: row.opt_text("user_agent")?,
        device: DeviceDetails {
            browser: row.opt_text("browser")?,
            os: row.opt_text("os")?,
            device: row.opt_text("device")?,
            engine: row.opt_text("engine")?,
            cpu_arch: row.opt_text("cpu_arch")?,
        },
        authentications: serde_json::from_str(&row.text("authentications")?)
            .map_err(|e| corrupt("sessions.authentications", e))?,
        assurance: u8::try_from(assurance)
            .map_err(|e| e.to_string())
            .and_then(AssuranceLevel::try_from)
            .map_err(|e| corrupt("sessions.assurance", e))?,
        stage: SessionStage::parse(&stage, attempts)
            .ok_or_else(|| corrupt("sessions.stage", format!("unknown stage {stage:?}")))?,
    })
}

/// The attempts of a session stage as stored (the name is [`SessionStage::as_str`]).
pub(crate) fn stage_attempts(stage: SessionStage) -> i32 {
    i32::try_from(stage.attempts()).unwrap_or(i32::MAX)
}

/// The TOTP authenticator in a row of `columns!(totp)`.
pub(crate) fn totp(row: &Row) -> StoreResult<TotpRecord> {
    Ok(TotpRecord {
        secret: TotpSecret::from_bytes(row.get::<Vec<u8>>("secret")?),
        confirmed_at: row.opt_time("confirmed_at")?,
        created_at: row.time("created_at")?,
        last_step: row.get::<Option<i64>>("last_step")?,
    })
}

/// The passkey in a row of `columns!(passkeys)`.
pub(crate) fn passkey(row: &Row) -> StoreResult<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: PasskeyId::from_uuid(row.get::<Uuid>("id")?),
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        credential_id: row.get::<Vec<u8>>("credential_id")?,
        name: row.text("name")?,
        credential: row.text("credential")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        sign_count: u32::try_from(row.get::<i64>("sign_count")?)
            .map_err(|e| corrupt("passkeys.sign_count", e))?,
        backup_eligible: row.get::<bool>("backup_eligible")?,
        backup_state: row.get::<bool>("backup_state")?,
    })
}

/// The second factors in a row of `totp, recovery_codes, passkeys` (counts).
pub(crate) fn second_factors(row: &Row) -> StoreResult<SecondFactors> {
    Ok(SecondFactors {
        totp: row.get::<i64>("totp")? > 0,
        recovery_codes_left: count(row.get::<i64>("recovery_codes")?),
        passkeys: count(row.get::<i64>("passkeys")?),
    })
}

/// Recovery code digests without repeats, in a stable order: a set, as the trait means.
pub(crate) fn distinct_codes(codes: &[TokenDigest]) -> Vec<TokenDigest> {
    let set: std::collections::BTreeSet<TokenDigest> = codes.iter().copied().collect();
    set.into_iter().collect()
}

/// The idle timeout of a session in whole seconds, as stored.
pub(crate) fn idle_timeout_secs(session: &SessionRecord) -> i64 {
    session.idle_timeout.num_seconds()
}

/// The authentications of a session as stored: JSON.
pub(crate) fn authentications_json(authentications: &[Authentication]) -> StoreResult<String> {
    serde_json::to_string(authentications).map_err(|e| unstorable("the authentications", e))
}

/// The assurance level as stored.
pub(crate) fn assurance(level: AssuranceLevel) -> i16 {
    i16::from(u8::from(level))
}

/// The challenge in a row of `columns!(challenges)`.
pub(crate) fn challenge(row: &Row) -> StoreResult<Challenge> {
    let purpose = row.text("purpose")?;
    Ok(Challenge {
        digest: digest(row.get::<Vec<u8>>("digest")?, "challenges.digest")?,
        purpose: ChallengePurpose::parse(&purpose)
            .ok_or_else(|| corrupt("challenges.purpose", format!("unknown purpose {purpose:?}")))?,
        account_id: row
            .get::<Option<Uuid>>("account_id")?
            .map(AccountId::from_uuid),
        security_stamp: row
            .opt_text("security_stamp")?
            .map(SecurityStamp::from_stored),
        payload: row.text("payload")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

/// The security event in a row of `columns!(security_events)`.
pub(crate) fn event(row: &Row) -> StoreResult<SecurityEvent> {
    let kind = row.text("kind")?;
    Ok(SecurityEvent {
        id: EventId::from_uuid(row.get::<Uuid>("id")?),
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        at: row.time("at")?,
        kind: SecurityEventKind::parse(&kind)
            .ok_or_else(|| corrupt("security_events.kind", format!("unknown kind {kind:?}")))?,
        ip: ip(row.opt_text("ip")?, "security_events.ip")?,
        user_agent: row.opt_text("user_agent")?,
        details: serde_json::from_str(&row.text("details")?)
            .map_err(|e| corrupt("security_events.details", e))?,
    })
}

/// The details of an event as stored: JSON.
pub(crate) fn details_json(details: &BTreeMap<String, String>) -> StoreResult<String> {
    serde_json::to_string(details).map_err(|e| unstorable("the event details", e))
}

/// The failure counter in a row of `count, last_at`.
pub(crate) fn failures(row: &Row) -> StoreResult<Failures> {
    Ok(Failures {
        count: count(row.get::<i64>("count")?),
        last_at: Some(row.time("last_at")?),
    })
}

/// A stored counter as the `u32` the traits return, saturating.
pub(crate) fn count(stored: i64) -> u32 {
    u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
}

/// The avatar in a row of `content_type, bytes`.
pub(crate) fn avatar(row: &Row) -> StoreResult<Avatar> {
    let content_type = row.text("content_type")?;
    Ok(Avatar {
        image_type: ImageType::from_content_type(&content_type).ok_or_else(|| {
            corrupt(
                "avatars.content_type",
                format!("unknown image type {content_type:?}"),
            )
        })?,
        bytes: row.get::<Vec<u8>>("bytes")?,
    })
}

/// The policy in its stored JSON.
pub(crate) fn policy(body: &str) -> StoreResult<Policy> {
    serde_json::from_str(body).map_err(|e| corrupt("policy.body", e))
}

/// The policy as stored: JSON.
pub(crate) fn policy_json(policy: &Policy) -> StoreResult<String> {
    serde_json::to_string(policy).map_err(|e| unstorable("the policy", e))
}

/// The API token in a row of `columns!(api_tokens)`.
pub(crate) fn api_token(row: &Row) -> StoreResult<ApiTokenRecord> {
    api_token_named(row, "id", "created_at")
}

/// The token and its account in a row of `ApiTokenStore::api_token_with_account`'s join,
/// where the token's `id` and `created_at` are named `token_id` and `token_created_at`.
pub(crate) fn api_token_with_account(row: &Row) -> StoreResult<ApiTokenWithAccount> {
    Ok(ApiTokenWithAccount {
        token: api_token_named(row, "token_id", "token_created_at")?,
        account: account(row)?,
    })
}

/// The token in a row whose `id` and `created_at` columns have these names.
fn api_token_named(
    row: &Row,
    id: &'static str,
    created_at: &'static str,
) -> StoreResult<ApiTokenRecord> {
    let scope = row.text("scope")?;
    Ok(ApiTokenRecord {
        id: ApiTokenId::from_uuid(row.get::<Uuid>(id)?),
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        name: row.text("name")?,
        scope: scope
            .parse::<TokenScope>()
            .map_err(|_| corrupt("api_tokens.scope", format!("unknown scope {scope:?}")))?,
        allowed_networks: networks(&row.text("allowed_networks")?)?,
        digest: digest(row.get::<Vec<u8>>("digest")?, "api_tokens.digest")?,
        last_four: row.text("last_four")?,
        created_at: row.time(created_at)?,
        expires_at: row.opt_time("expires_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        last_used_ip: ip(row.opt_text("last_used_ip")?, "api_tokens.last_used_ip")?,
    })
}

/// The allowed networks of a token as stored: a JSON array of CIDR strings, each in the
/// network's own notation (`10.0.0.0/24`), so that the column reads back exactly.
///
/// Generic over the network type so that this crate needs no dependency of its own on the
/// one `account-core` uses; the record's field fixes it.
pub(crate) fn networks_json<N: ToString>(networks: &[N]) -> StoreResult<String> {
    let texts: Vec<String> = networks.iter().map(ToString::to_string).collect();
    serde_json::to_string(&texts).map_err(|e| unstorable("the allowed networks", e))
}

/// The allowed networks of a token from their stored JSON. Anything but an array of
/// strings that each parse as a network is a corrupt row, reported as a backend error
/// rather than read as "no restriction": an unreadable allowlist must never widen a
/// token's reach.
fn networks<N>(stored: &str) -> StoreResult<Vec<N>>
where
    N: std::str::FromStr,
    N::Err: std::fmt::Display,
{
    const COLUMN: &str = "api_tokens.allowed_networks";
    let texts: Vec<String> = serde_json::from_str(stored).map_err(|e| corrupt(COLUMN, e))?;
    texts
        .iter()
        .map(|text| text.parse().map_err(|e| corrupt(COLUMN, e)))
        .collect()
}

/// The app password in a row of `columns!(app_passwords)`.
pub(crate) fn app_password(row: &Row) -> StoreResult<AppPasswordRecord> {
    Ok(AppPasswordRecord {
        id: AppPasswordId::from_uuid(row.get::<Uuid>("id")?),
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        name: row.text("name")?,
        digest: digest(row.get::<Vec<u8>>("digest")?, "app_passwords.digest")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// The SSH key in a row of `columns!(ssh_keys)`.
pub(crate) fn ssh_key(row: &Row) -> StoreResult<SshKeyRecord> {
    Ok(SshKeyRecord {
        id: SshKeyId::from_uuid(row.get::<Uuid>("id")?),
        account_id: AccountId::from_uuid(row.get::<Uuid>("account_id")?),
        name: row.text("name")?,
        algorithm: row.text("algorithm")?,
        bits: u32::try_from(row.get::<i64>("bits")?).map_err(|e| corrupt("ssh_keys.bits", e))?,
        fingerprint: row.text("fingerprint")?,
        public_key: row.text("public_key")?,
        comment: row.opt_text("comment")?,
        created_at: row.time("created_at")?,
    })
}

fn digest(bytes: Vec<u8>, column: &'static str) -> StoreResult<TokenDigest> {
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| corrupt(column, format!("{} bytes instead of 32", b.len())))?;
    Ok(TokenDigest::from_bytes(bytes))
}

fn ip(stored: Option<String>, column: &'static str) -> StoreResult<Option<IpAddr>> {
    stored
        .map(|s| s.parse().map_err(|e| corrupt(column, e)))
        .transpose()
}

/// A unique violation of `usernames_taken` means the username is taken, whatever the
/// backend calls the constraint (MySQL calls every primary key `PRIMARY`).
pub(crate) fn username_taken(error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict(_) => StoreError::Conflict(account_core::store::Conflict::Username),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_escape_like_wildcards_and_the_escape() {
        assert_eq!(contains_pattern("ann"), "%ann%");
        assert_eq!(contains_pattern("100%_x!"), "%100!%!_x!!%");
        assert_eq!(contains_pattern("zoë"), "%zoë%");
    }
}
