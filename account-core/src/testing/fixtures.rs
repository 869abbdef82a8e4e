//! Records for the conformance cases, and for an adapter's own tests.
//!
//! Every builder returns a complete, valid record with fresh random identifiers and
//! secrets (from [`OsRandom`]) and times counted from [`base_time`], so a case changes
//! only the fields it is about:
//!
//! ```
//! use account_core::model::AssuranceLevel;
//! use account_core::testing::fixtures;
//!
//! let alice = fixtures::new_account("alice", "alice@example.com");
//! let session = fixtures::session(alice.account.id, fixtures::time(60));
//! let strong = account_core::model::SessionRecord {
//!     assurance: AssuranceLevel::Two,
//!     ..session
//! };
//! assert_eq!(strong.created_at, fixtures::time(60));
//! ```
//!
//! Times are whole milliseconds and durations whole seconds: the precision the suite asks
//! every store to keep.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256};

use crate::api_token::{ApiTokenSecret, AppPasswordSecret};
use crate::device::DeviceDetails;
use crate::domain::{DisplayName, EmailAddress, Username};
use crate::model::{
    Account, AccountId, AccountSource, AccountState, ApiTokenId, ApiTokenRecord, AppPasswordId,
    AppPasswordRecord, AssuranceLevel, AuthMethod, Authentication, Challenge, ChallengePurpose,
    EventId, NewAccount, PasskeyId, PasskeyRecord, Role, SecurityEvent, SecurityEventKind,
    SecurityStamp, SessionId, SessionRecord, SessionStage, SshKeyId, SshKeyRecord, TokenScope,
    TotpSecret,
};
use crate::password::PasswordHash;
use crate::random::{OsRandom, SecureRandom};
use crate::store::Store;
use crate::token::{OpaqueToken, TokenDigest};

/// 2026-01-01T00:00:00Z, in seconds since the Unix epoch.
const BASE_UNIX_SECS: i64 = 1_767_225_600;

/// The fixed point every fixture time counts from: 2026-01-01T00:00:00Z.
pub fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp(BASE_UNIX_SECS, 0).expect("2026-01-01 is a valid time")
}

/// [`base_time`] plus `secs` seconds (negative for earlier).
pub fn time(secs: i64) -> DateTime<Utc> {
    base_time() + Duration::seconds(secs)
}

/// [`base_time`] plus `millis` milliseconds, for cases about sub-second precision.
pub fn time_ms(millis: i64) -> DateTime<Utc> {
    base_time() + Duration::milliseconds(millis)
}

/// A username, parsed; panics on a name that is not valid.
pub fn username(name: &str) -> Username {
    Username::parse(name).unwrap_or_else(|e| panic!("fixture username {name:?}: {e}"))
}

/// An address, parsed; panics on an address that is not valid.
pub fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).unwrap_or_else(|e| panic!("fixture address {address:?}: {e}"))
}

/// A display name, parsed; panics on a name that is not valid.
pub fn display_name(name: &str) -> DisplayName {
    DisplayName::parse(name).unwrap_or_else(|e| panic!("fixture display name {name:?}: {e}"))
}

/// A fresh, unguessable token digest.
pub fn digest() -> TokenDigest {
    OpaqueToken::generate(&OsRandom).digest()
}

/// A fresh security stamp.
pub fn stamp() -> SecurityStamp {
    SecurityStamp::generate(&OsRandom)
}

/// A fresh account id that no store has seen.
pub fn account_id() -> AccountId {
    AccountId::generate(base_time(), &OsRandom)
}

/// A password hash in argon2id PHC form with a fresh random salt and hash, so any two
/// differ. It verifies no password; the store only keeps and compares it.
pub fn password_hash() -> PasswordHash {
    let mut salt = [0u8; 16];
    let mut hash = [0u8; 32];
    OsRandom.fill(&mut salt);
    OsRandom.fill(&mut hash);
    PasswordHash::from_phc(format!(
        "$argon2id$v=19$m=19456,t=2,p=1${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    ))
}

/// A new active local user with a password, created at [`base_time`], with an unverified
/// primary address and no optional field set.
pub fn new_account(name: &str, address: &str) -> NewAccount {
    let at = base_time();
    NewAccount {
        account: Account {
            id: AccountId::generate(at, &OsRandom),
            username: username(name),
            display_name: display_name(&format!("User {name}")),
            email: email(address),
            email_verified: false,
            recovery_email: None,
            language: None,
            avatar_updated_at: None,
            source: AccountSource::Local,
            state: AccountState::Active,
            role: Role::User,
            security_stamp: stamp(),
            created_at: at,
            updated_at: at,
        },
        password_hash: Some(password_hash()),
    }
}

/// Inserts [`new_account`]`(name, address)` and returns the account as inserted.
///
/// Cases insert the account before any row that refers to it (sessions, challenges,
/// counters, events), so stores with foreign keys pass.
pub async fn insert_account(store: &dyn Store, name: &str, address: &str) -> Account {
    let new = new_account(name, address);
    store
        .insert_account(&new)
        .await
        .unwrap_or_else(|e| panic!("insert_account({name:?}, {address:?}) failed: {e}"));
    new.account
}

/// [`new_account`]`(name, address)` without a password: an account that logs in only
/// with a passkey.
pub fn new_account_without_password(name: &str, address: &str) -> NewAccount {
    NewAccount {
        password_hash: None,
        ..new_account(name, address)
    }
}

/// Inserts [`new_account_without_password`]`(name, address)` and returns the account as
/// inserted.
pub async fn insert_account_without_password(
    store: &dyn Store,
    name: &str,
    address: &str,
) -> Account {
    let new = new_account_without_password(name, address);
    store.insert_account(&new).await.unwrap_or_else(|e| {
        panic!("insert_account({name:?}, {address:?}) without a password failed: {e}")
    });
    new.account
}

/// A session of `account` created (and last seen) at `created_at`: one hour idle, 24 hours
/// in all, opened from an IPv4 address by Firefox on Linux with a password.
pub fn session(account: AccountId, created_at: DateTime<Utc>) -> SessionRecord {
    SessionRecord {
        id: SessionId::generate(created_at, &OsRandom),
        token_digest: digest(),
        account_id: account,
        created_at,
        last_seen_at: created_at,
        idle_timeout: Duration::hours(1),
        absolute_expires_at: created_at + Duration::hours(24),
        ip: Some(IpAddr::from([203, 0, 113, 7])),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_owned(),
        ),
        device: DeviceDetails {
            browser: Some("Firefox 128".to_owned()),
            os: Some("Linux".to_owned()),
            device: Some("Desktop".to_owned()),
            engine: Some("Gecko".to_owned()),
            cpu_arch: Some("x86_64".to_owned()),
        },
        authentications: vec![Authentication {
            method: AuthMethod::Password,
            at: created_at,
        }],
        assurance: AssuranceLevel::One,
        stage: SessionStage::Full,
    }
}

/// Inserts [`session`]`(account, created_at)` and returns it.
pub async fn insert_session(
    store: &dyn Store,
    account: AccountId,
    created_at: DateTime<Utc>,
) -> SessionRecord {
    let session = session(account, created_at);
    store
        .insert_session(&session)
        .await
        .unwrap_or_else(|e| panic!("insert_session failed: {e}"));
    session
}

/// A challenge of `account` for `purpose`, issued at [`base_time`] under a fresh security
/// stamp, dying 30 minutes later, with a small JSON payload.
pub fn challenge(account: AccountId, purpose: ChallengePurpose) -> Challenge {
    let created_at = base_time();
    Challenge {
        digest: digest(),
        purpose,
        account_id: Some(account),
        security_stamp: Some(stamp()),
        payload: r#"{"email":"Zoë.New@example.com"}"#.to_owned(),
        created_at,
        expires_at: created_at + Duration::minutes(30),
    }
}

/// Inserts [`challenge`]`(account, purpose)` without replacing others and returns it.
pub async fn insert_challenge(
    store: &dyn Store,
    account: AccountId,
    purpose: ChallengePurpose,
) -> Challenge {
    let challenge = challenge(account, purpose);
    store
        .insert_challenge(&challenge, false)
        .await
        .unwrap_or_else(|e| panic!("insert_challenge failed: {e}"));
    challenge
}

/// A security event of `account` at `at`, from an IPv4 address and a browser, with one
/// detail.
pub fn event(account: AccountId, at: DateTime<Utc>, kind: SecurityEventKind) -> SecurityEvent {
    SecurityEvent {
        id: EventId::generate(at, &OsRandom),
        account_id: account,
        at,
        kind,
        ip: Some(IpAddr::from([198, 51, 100, 23])),
        user_agent: Some("Mozilla/5.0 (Macintosh) Safari/605.1.15".to_owned()),
        details: BTreeMap::from([("method".to_owned(), "password".to_owned())]),
    }
}

/// A fresh TOTP secret: [`TotpSecret::LEN`] random bytes.
pub fn totp_secret() -> TotpSecret {
    TotpSecret::generate(&OsRandom)
}

/// `n` fresh, distinct recovery-code digests.
pub fn recovery_codes(n: usize) -> Vec<TokenDigest> {
    (0..n).map(|_| digest()).collect()
}

/// A passkey of `account` with the WebAuthn credential id `credential_id`, added at
/// `created_at` and never used, named "Security key", with a signature counter of 7, backup
/// eligible but not backed up, and a credential of a few KB of JSON text (the size a real
/// serialised credential with its attestation reaches).
pub fn passkey(
    account: AccountId,
    credential_id: &[u8],
    created_at: DateTime<Utc>,
) -> PasskeyRecord {
    let mut x = [0u8; 32];
    let mut y = [0u8; 32];
    let mut attestation = [0u8; 2048];
    OsRandom.fill(&mut x);
    OsRandom.fill(&mut y);
    OsRandom.fill(&mut attestation);
    let credential = format!(
        r#"{{"cred":{{"cred_id":"{}","cred":{{"type_":"ES256","key":{{"EC_EC2":{{"curve":"SECP256R1","x":"{}","y":"{}"}}}}}},"counter":7,"transports":["usb","nfc"],"user_verified":true,"backup_eligible":true,"backup_state":false,"registration_policy":"required","extensions":{{"cred_protect":"Ignored","hmac_create_secret":"NotRequested"}},"attestation":{{"data":"{}","metadata":"None"}},"attestation_format":"packed"}}}}"#,
        STANDARD_NO_PAD.encode(credential_id),
        STANDARD_NO_PAD.encode(x),
        STANDARD_NO_PAD.encode(y),
        STANDARD_NO_PAD.encode(attestation),
    );
    PasskeyRecord {
        id: PasskeyId::generate(created_at, &OsRandom),
        account_id: account,
        credential_id: credential_id.to_vec(),
        name: "Security key".to_owned(),
        credential,
        created_at,
        last_used_at: None,
        sign_count: 7,
        backup_eligible: true,
        backup_state: false,
    }
}

/// Inserts [`passkey`]`(account, credential_id, created_at)` and returns it.
pub async fn insert_passkey(
    store: &dyn Store,
    account: AccountId,
    credential_id: &[u8],
    created_at: DateTime<Utc>,
) -> PasskeyRecord {
    let passkey = passkey(account, credential_id, created_at);
    store
        .insert_passkey(&passkey)
        .await
        .unwrap_or_else(|e| panic!("insert_passkey failed: {e}"));
    passkey
}

/// A personal API token of `account` created at `created_at`: the digest and last four
/// characters of a fresh token, named "CI deploy", read-only, usable from anywhere, never
/// expiring and never used.
pub fn api_token(account: AccountId, created_at: DateTime<Utc>) -> ApiTokenRecord {
    api_token_with_secret(account, created_at).0
}

/// [`api_token`], with the token itself, for a test or benchmark that presents it.
pub fn api_token_with_secret(
    account: AccountId,
    created_at: DateTime<Utc>,
) -> (ApiTokenRecord, ApiTokenSecret) {
    let secret = ApiTokenSecret::generate(&OsRandom);
    let record = ApiTokenRecord {
        id: ApiTokenId::generate(created_at, &OsRandom),
        account_id: account,
        name: "CI deploy".to_owned(),
        scope: TokenScope::Read,
        allowed_networks: Vec::new(),
        digest: secret.digest(),
        last_four: secret.last_four(),
        created_at,
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
    };
    (record, secret)
}

/// What [`signed_in_accounts`] stored, in clear, for a benchmark to present: the API
/// tokens and the session tokens.
#[derive(Debug)]
pub struct SignedIn {
    /// The API tokens, as a client sends them.
    pub tokens: Vec<ApiTokenSecret>,
    /// The session tokens, as a cookie carries them.
    pub sessions: Vec<OpaqueToken>,
}

/// Inserts `accounts` accounts (`user0`, `user1`, ...) with `per_account` API tokens and
/// `per_account` sessions each, all created now and valid for a day, and returns their
/// tokens: the load of a validation benchmark.
pub async fn signed_in_accounts(
    store: &dyn Store,
    accounts: usize,
    per_account: usize,
) -> SignedIn {
    let now = Utc::now();
    let mut signed_in = SignedIn {
        tokens: Vec::new(),
        sessions: Vec::new(),
    };
    for n in 0..accounts {
        let new = new_account(&format!("user{n}"), &format!("user{n}@example.com"));
        store.insert_account(&new).await.expect("insert_account");
        for _ in 0..per_account {
            let (record, secret) = api_token_with_secret(new.account.id, now);
            store
                .insert_api_token(&record, u32::MAX)
                .await
                .expect("insert_api_token");
            signed_in.tokens.push(secret);

            let token = OpaqueToken::generate(&OsRandom);
            let session = SessionRecord {
                token_digest: token.digest(),
                ..session(new.account.id, now)
            };
            store
                .insert_session(&session)
                .await
                .expect("insert_session");
            signed_in.sessions.push(token);
        }
    }
    signed_in
}

/// An app password of `account` created at `created_at`: the digest of a fresh app
/// password, named "Thunderbird", never used.
pub fn app_password(account: AccountId, created_at: DateTime<Utc>) -> AppPasswordRecord {
    AppPasswordRecord {
        id: AppPasswordId::generate(created_at, &OsRandom),
        account_id: account,
        name: "Thunderbird".to_owned(),
        digest: AppPasswordSecret::generate(&OsRandom).digest(),
        created_at,
        last_used_at: None,
    }
}

/// The SHA-256 fingerprint of an SSH public key's wire encoding, as `ssh-keygen -lf`
/// prints it: `SHA256:` and 43 characters of unpadded base64.
pub fn ssh_fingerprint(wire: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(wire)))
}

/// An SSH key of `account` added at `created_at`: an `ssh-ed25519` key of 256 bits with
/// fresh random key bytes (well-formed, though not necessarily a point on the curve; the
/// store does not parse keys), its real fingerprint, named "Laptop", with the comment
/// `me@laptop`.
pub fn ssh_key(account: AccountId, created_at: DateTime<Utc>) -> SshKeyRecord {
    let mut key = [0u8; 32];
    OsRandom.fill(&mut key);
    let mut wire = Vec::with_capacity(51);
    for part in [b"ssh-ed25519".as_slice(), key.as_slice()] {
        wire.extend_from_slice(&u32::try_from(part.len()).expect("short").to_be_bytes());
        wire.extend_from_slice(part);
    }
    SshKeyRecord {
        id: SshKeyId::generate(created_at, &OsRandom),
        account_id: account,
        name: "Laptop".to_owned(),
        algorithm: "ssh-ed25519".to_owned(),
        bits: 256,
        fingerprint: ssh_fingerprint(&wire),
        public_key: format!("ssh-ed25519 {}", STANDARD.encode(&wire)),
        comment: Some("me@laptop".to_owned()),
        created_at,
    }
}
