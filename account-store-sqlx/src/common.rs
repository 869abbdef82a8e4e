//! What the backends share: reading rows back into core records, the column lists, the
//! encodings of enums, lists and maps, and retrying a transaction that lost a deadlock.
//!
//! Each backend reads its own rows through [`Columns`], which hides how it keeps a time
//! (microsecond integers on SQLite, native types elsewhere) or text (MySQL's binary
//! collation reaches sqlx as binary strings). Everything from a decoded column to a core
//! record is written once, here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use account_core::avatar::{Avatar, ImageType};
use account_core::device::DeviceDetails;
use account_core::domain::{DisplayName, EmailAddress, Language, Username};
use account_core::model::{
    Account, AccountId, AccountSource, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId,
    AppPasswordRecord, AssuranceLevel, Authentication, Challenge, ChallengePurpose, EventId,
    Failures, PasskeyId, PasskeyRecord, Role, SecondFactors, SecurityEvent, SecurityEventKind,
    SecurityStamp, SessionId, SessionRecord, SessionStage, SshKeyId, SshKeyRecord, TokenScope,
    TotpRecord, TotpSecret,
};
use account_core::policy::Policy;
use account_core::store::{Conflict, StoreError, StoreResult};
use account_core::token::TokenDigest;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// The columns of `accounts` that make an [`Account`], in the order of [`account`].
macro_rules! account_columns {
    () => {
        "id, username, email, email_verified, recovery_email, language, display_name, \
         avatar_updated_at, source, source_directory, state, role, security_stamp, created_at, \
         updated_at"
    };
}

/// The columns of `sessions` that make a [`SessionRecord`].
macro_rules! session_columns {
    () => {
        "id, token_digest, account_id, created_at, last_seen_at, idle_timeout_secs, \
         absolute_expires_at, ip, user_agent, browser, os, device, engine, cpu_arch, \
         authentications, assurance, stage, second_factor_attempts"
    };
}

/// The columns of `totp` that make a [`TotpRecord`].
macro_rules! totp_columns {
    () => {
        "secret, confirmed_at, created_at, last_step"
    };
}

/// The columns of `passkeys` that make a [`PasskeyRecord`].
macro_rules! passkey_columns {
    () => {
        "id, account_id, credential_id, name, credential, created_at, last_used_at, \
         sign_count, backup_eligible, backup_state"
    };
}

/// The columns of `challenges` that make a [`Challenge`].
macro_rules! challenge_columns {
    () => {
        "digest, purpose, account_id, security_stamp, payload, created_at, expires_at"
    };
}

/// The columns of `security_events` that make a [`SecurityEvent`].
macro_rules! event_columns {
    () => {
        "id, account_id, at, kind, ip, user_agent, details"
    };
}

/// The columns of `api_tokens` that make an [`ApiTokenRecord`].
macro_rules! api_token_columns {
    () => {
        "id, account_id, name, scope, allowed_networks, digest, last_four, created_at, \
         expires_at, last_used_at, last_used_ip"
    };
}

/// The columns of `app_passwords` that make an [`AppPasswordRecord`].
macro_rules! app_password_columns {
    () => {
        "id, account_id, name, digest, created_at, last_used_at"
    };
}

/// The columns of `ssh_keys` that make an [`SshKeyRecord`].
macro_rules! ssh_key_columns {
    () => {
        "id, account_id, name, algorithm, bits, fingerprint, public_key, comment, created_at"
    };
}

pub(crate) use {
    account_columns, api_token_columns, app_password_columns, challenge_columns, event_columns,
    passkey_columns, session_columns, ssh_key_columns, totp_columns,
};

/// Typed access to the columns of one row, as each backend stores them.
///
/// Every method fails with [`StoreError::Backend`] when the column is missing or holds a
/// value of another type.
pub(crate) trait Columns {
    /// A text column.
    fn text(&self, column: &'static str) -> StoreResult<String>;
    /// A nullable text column.
    fn opt_text(&self, column: &'static str) -> StoreResult<Option<String>>;
    /// A point in time.
    fn time(&self, column: &'static str) -> StoreResult<DateTime<Utc>>;
    /// A nullable point in time.
    fn opt_time(&self, column: &'static str) -> StoreResult<Option<DateTime<Utc>>>;
    /// A UUID.
    fn uuid(&self, column: &'static str) -> StoreResult<Uuid>;
    /// A nullable UUID.
    fn opt_uuid(&self, column: &'static str) -> StoreResult<Option<Uuid>>;
    /// A binary column.
    fn bytes(&self, column: &'static str) -> StoreResult<Vec<u8>>;
    /// A 64-bit integer column.
    fn int(&self, column: &'static str) -> StoreResult<i64>;
    /// A nullable 64-bit integer column.
    fn opt_int(&self, column: &'static str) -> StoreResult<Option<i64>>;
    /// A 32-bit integer column.
    fn int32(&self, column: &'static str) -> StoreResult<i32>;
    /// A 16-bit integer column.
    fn small_int(&self, column: &'static str) -> StoreResult<i16>;
    /// A boolean column.
    fn flag(&self, column: &'static str) -> StoreResult<bool>;
}

/// A stored value that does not read back as what it should be: a row written by
/// something else, or by a future version of this crate. The value itself is left out,
/// since it may be personal data.
#[derive(Debug, thiserror::Error)]
#[error("the stored value of {column} is not valid: {reason}")]
pub(crate) struct CorruptValue {
    column: &'static str,
    reason: String,
}

/// A [`StoreError::Backend`] for a stored value that does not parse.
pub(crate) fn corrupt(column: &'static str, reason: impl ToString) -> StoreError {
    StoreError::backend(CorruptValue {
        column,
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

/// The account in a row of [`account_columns!`].
pub(crate) fn account(row: &impl Columns) -> StoreResult<Account> {
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
        id: AccountId::from_uuid(row.uuid("id")?),
        username: Username::parse(&row.text("username")?)
            .map_err(|e| corrupt("accounts.username", e))?,
        display_name: DisplayName::parse(&row.text("display_name")?)
            .map_err(|e| corrupt("accounts.display_name", e))?,
        email: email(row.text("email")?, "accounts.email")?,
        email_verified: row.flag("email_verified")?,
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

/// The session in a row of [`session_columns!`].
pub(crate) fn session(row: &impl Columns) -> StoreResult<SessionRecord> {
    let idle = row.int("idle_timeout_secs")?;
    let assurance = row.small_int("assurance")?;
    let stage = row.text("stage")?;
    let attempts = u32::try_from(row.int32("second_factor_attempts")?)
        .map_err(|e| corrupt("sessions.second_factor_attempts", e))?;
    Ok(SessionRecord {
        id: SessionId::from_uuid(row.uuid("id")?),
        token_digest: digest(row.bytes("token_digest")?, "sessions.token_digest")?,
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        created_at: row.time("created_at")?,
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

/// The TOTP authenticator in a row of [`totp_columns!`].
pub(crate) fn totp(row: &impl Columns) -> StoreResult<TotpRecord> {
    Ok(TotpRecord {
        secret: TotpSecret::from_bytes(row.bytes("secret")?),
        confirmed_at: row.opt_time("confirmed_at")?,
        created_at: row.time("created_at")?,
        last_step: row.opt_int("last_step")?,
    })
}

/// The passkey in a row of [`passkey_columns!`].
pub(crate) fn passkey(row: &impl Columns) -> StoreResult<PasskeyRecord> {
    Ok(PasskeyRecord {
        id: PasskeyId::from_uuid(row.uuid("id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        credential_id: row.bytes("credential_id")?,
        name: row.text("name")?,
        credential: row.text("credential")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        sign_count: u32::try_from(row.int("sign_count")?)
            .map_err(|e| corrupt("passkeys.sign_count", e))?,
        backup_eligible: row.flag("backup_eligible")?,
        backup_state: row.flag("backup_state")?,
    })
}

/// The second factors in a row of `totp, recovery_codes, passkeys` (counts).
pub(crate) fn second_factors(row: &impl Columns) -> StoreResult<SecondFactors> {
    Ok(SecondFactors {
        totp: row.int("totp")? > 0,
        recovery_codes_left: count(row.int("recovery_codes")?),
        passkeys: count(row.int("passkeys")?),
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

/// The challenge in a row of [`challenge_columns!`].
pub(crate) fn challenge(row: &impl Columns) -> StoreResult<Challenge> {
    let purpose = row.text("purpose")?;
    Ok(Challenge {
        digest: digest(row.bytes("digest")?, "challenges.digest")?,
        purpose: ChallengePurpose::parse(&purpose)
            .ok_or_else(|| corrupt("challenges.purpose", format!("unknown purpose {purpose:?}")))?,
        account_id: row.opt_uuid("account_id")?.map(AccountId::from_uuid),
        security_stamp: row
            .opt_text("security_stamp")?
            .map(SecurityStamp::from_stored),
        payload: row.text("payload")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

/// The security event in a row of [`event_columns!`].
pub(crate) fn event(row: &impl Columns) -> StoreResult<SecurityEvent> {
    let kind = row.text("kind")?;
    Ok(SecurityEvent {
        id: EventId::from_uuid(row.uuid("id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
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
pub(crate) fn failures(row: &impl Columns) -> StoreResult<Failures> {
    Ok(Failures {
        count: count(row.int("count")?),
        last_at: Some(row.time("last_at")?),
    })
}

/// A stored counter as the `u32` the traits return, saturating.
pub(crate) fn count(stored: i64) -> u32 {
    u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
}

/// The avatar in a row of `content_type, bytes`.
pub(crate) fn avatar(row: &impl Columns) -> StoreResult<Avatar> {
    let content_type = row.text("content_type")?;
    Ok(Avatar {
        image_type: ImageType::from_content_type(&content_type).ok_or_else(|| {
            corrupt(
                "avatars.content_type",
                format!("unknown image type {content_type:?}"),
            )
        })?,
        bytes: row.bytes("bytes")?,
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

/// The API token in a row of [`api_token_columns!`].
pub(crate) fn api_token(row: &impl Columns) -> StoreResult<ApiTokenRecord> {
    let scope = row.text("scope")?;
    Ok(ApiTokenRecord {
        id: ApiTokenId::from_uuid(row.uuid("id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        name: row.text("name")?,
        scope: scope
            .parse::<TokenScope>()
            .map_err(|_| corrupt("api_tokens.scope", format!("unknown scope {scope:?}")))?,
        allowed_networks: networks(&row.text("allowed_networks")?)?,
        digest: digest(row.bytes("digest")?, "api_tokens.digest")?,
        last_four: row.text("last_four")?,
        created_at: row.time("created_at")?,
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

/// The app password in a row of [`app_password_columns!`].
pub(crate) fn app_password(row: &impl Columns) -> StoreResult<AppPasswordRecord> {
    Ok(AppPasswordRecord {
        id: AppPasswordId::from_uuid(row.uuid("id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        name: row.text("name")?,
        digest: digest(row.bytes("digest")?, "app_passwords.digest")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// The SSH key in a row of [`ssh_key_columns!`].
pub(crate) fn ssh_key(row: &impl Columns) -> StoreResult<SshKeyRecord> {
    Ok(SshKeyRecord {
        id: SshKeyId::from_uuid(row.uuid("id")?),
        account_id: AccountId::from_uuid(row.uuid("account_id")?),
        name: row.text("name")?,
        algorithm: row.text("algorithm")?,
        bits: u32::try_from(row.int("bits")?).map_err(|e| corrupt("ssh_keys.bits", e))?,
        fingerprint: row.text("fingerprint")?,
        public_key: row.text("public_key")?,
        comment: row.opt_text("comment")?,
        created_at: row.time("created_at")?,
    })
}

/// The unique values an API token or app password insert checks before the limit, as
/// columns of its check row: a taken id or digest is [`Conflict::Id`].
pub(crate) const SECRET_CLASHES: &[(&str, Conflict)] =
    &[("id_taken", Conflict::Id), ("digest_taken", Conflict::Id)];

/// The unique values an SSH key insert checks before the limit, fingerprint first (the
/// trait reports a key that is on an account already as such, whatever else is wrong).
pub(crate) const SSH_KEY_CLASHES: &[(&str, Conflict)] = &[
    ("fingerprint_taken", Conflict::SshKey),
    ("id_taken", Conflict::Id),
];

/// Decides an insert that counts against a per-account limit from its check row, read
/// inside the transaction that then inserts, once the account's turn has come (the lock
/// each backend takes first): the `clashes` columns count existing rows with each unique
/// value, checked in order, and `taken` counts the account's rows. Returns whether the
/// row may go in; `false` means the account is at its limit.
///
/// # Errors
///
/// The conflict of the first clash found. The unique indexes still guard the insert
/// itself, since a clash with another account's concurrent insert is not behind the same
/// lock.
pub(crate) fn room_for_one(
    row: &impl Columns,
    clashes: &[(&'static str, Conflict)],
    limit: u32,
) -> StoreResult<bool> {
    for &(column, conflict) in clashes {
        if row.int(column)? > 0 {
            return Err(StoreError::Conflict(conflict));
        }
    }
    Ok(row.int("taken")? < i64::from(limit))
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

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// How often a transaction that the database chose as a deadlock victim (or that failed
/// to serialize) is tried again before its error is returned.
const DEADLOCK_ATTEMPTS: u32 = 5;

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Runs `attempt` again while it fails because the database broke a deadlock by rolling
/// it back.
///
/// MySQL's InnoDB can pick any of two transactions that lock rows in different orders as
/// the victim, and says so with SQLSTATE `40001`; PostgreSQL uses `40P01` for deadlocks.
/// The victim's work was rolled back whole, so doing it again is safe. Other errors, and
/// the last deadlock, are returned as they are.
pub(crate) async fn retry_deadlocks<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < DEADLOCK_ATTEMPTS && is_deadlock(&e) => {
                tracing::debug!(attempt = tries, "transaction lost a deadlock; trying again");
                // A short, growing pause lets the winner finish first.
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries) * 2)).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// Whether the error is the database rolling back a deadlock victim or a serialization
/// failure.
fn is_deadlock(error: &StoreError) -> bool {
    let StoreError::Backend(inner) = error else {
        return false;
    };
    inner
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// Maps a driver error to the store's error: a unique violation that `conflict` names
/// becomes [`StoreError::Conflict`], anything else (a lost connection, a pool timeout, a
/// failed statement) [`StoreError::Backend`] with the driver's error inside for the log.
///
/// Each backend calls this from its one `map_err` function with its own way of naming
/// the violated constraint.
pub(crate) fn store_error(
    error: sqlx::Error,
    conflict: impl FnOnce(&dyn sqlx::error::DatabaseError) -> Option<account_core::store::Conflict>,
) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
        && let Some(c) = conflict(db.as_ref())
    {
        return StoreError::Conflict(c);
    }
    StoreError::backend(error)
}

/// A unique violation of `usernames_taken` means the username is taken, whatever the
/// backend calls the constraint (MySQL calls every primary key `PRIMARY`).
pub(crate) fn username_taken(error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict(_) => StoreError::Conflict(account_core::store::Conflict::Username),
        other => other,
    }
}
