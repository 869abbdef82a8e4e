//! No secret reaches the database: after a user journey through the real services
//! (`account_core::Accounts`) that makes every kind of secret the library has, every cell
//! of every table is read back raw and searched for those secrets, as text and as bytes,
//! in hex and in base64.
//!
//! The journey: sign-up with a verification link, a login, a password reset link, an
//! email change link and a recovery address link, a personal API token, an app password,
//! an SSH key, a TOTP authenticator with its recovery codes, a passkey (a real WebAuthn
//! ceremony with the software passkey), two logins finished with a second factor (a
//! recovery code, a passkey), and a wrong password. The TOTP secret is necessarily kept,
//! to verify codes, so it is not searched for; SSH keys are public, so their table is
//! filled only to be scanned.
//!
//! The list of tables comes from the database itself (`sqlite_schema`,
//! `information_schema`), so a table added later is scanned too; and each table must have
//! a row after the journey, or be listed in [`NO_SECRET_TABLES`] with the reason it can
//! hold no secret, so that a new kind of secret cannot be missed by a journey that never
//! makes it.
//!
//! The scan checks itself too: it must find the stored form of the secrets (the session
//! token's digest, the password's PHC string, a recovery code's digest, the API token's
//! and the app password's digests, the SSH key's fingerprint), so that a scanner that
//! reads nothing cannot pass.

// Test code: a failed expectation panics with its message; the helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use account_core::api_token::{API_TOKEN_BODY_LEN, API_TOKEN_PREFIX, ApiTokenSecret};
use account_core::avatar::{Avatar, ImageType};
use account_core::domain::EmailAddress;
use account_core::mail::MemoryMailer;
use account_core::model::TokenScope;
use account_core::password::HashingConfig;
use account_core::policy::Policy;
use account_core::random::SecureRandom;
use account_core::store::Store;
use account_core::testing::passkey::SoftDevice;
use account_core::token::TokenDigest;
use account_core::{
    AccountConfig, Accounts, EnrollingSession, LoginOutcome, NewApiToken, RateLimit, RequestInfo,
    SignUp, SignedIn,
};
use account_store_sqlx::Backend;
use account_store_sqlx::testing::{self, TestDatabase};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

const PASSWORD: &str = "quartz-meadow-lantern-1852";
const WRONG_PASSWORD: &str = "velvet-harbour-compass-7731";
const PUBLIC_URL: &str = "https://accounts.example.com";
const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 ada@laptop";

/// Tables that may be empty after the journey because they can hold no secret of a user,
/// with the reason. They are scanned all the same when they have rows. Every other table
/// of the schema must have a row after the journey.
const NO_SECRET_TABLES: &[(&str, &str)] = &[
    (
        "_sqlx_migrations",
        "sqlx's record of the applied migrations: versions, names, checksums of the files",
    ),
    ("sqlite_sequence", "SQLite's AUTOINCREMENT counters"),
];

/// The tables the schema has today. The scan discovers the tables from the database;
/// this list only checks that the discovery sees them (a query on the wrong schema would
/// find nothing, and scan nothing).
const KNOWN_TABLES: &[&str] = &[
    "accounts",
    "usernames_taken",
    "avatars",
    "sessions",
    "challenges",
    "failures",
    "security_events",
    "policy",
    "rate_limits",
    "totp",
    "recovery_codes",
    "passkeys",
    "api_tokens",
    "app_passwords",
    "ssh_keys",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_no_secret() {
    check(Backend::Sqlite).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_no_secret() {
    check(Backend::Postgres).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_keeps_no_secret() {
    check(Backend::MySql).await;
}

/// The journey on a fresh database of `backend`, then the scan.
async fn check(backend: Backend) {
    let Some(db) = testing::fresh_database(backend).await else {
        return;
    };
    let store = db.store().await.expect("the test database can be migrated");
    let journey = journey(Arc::new(store)).await;
    let scan = scan(&db).await;

    // Every table is scanned, and has something to scan, or is known to hold no secret.
    for table in KNOWN_TABLES {
        assert!(
            scan.rows.contains_key(*table),
            "{backend}: the table discovery did not find {table}: it must list every table"
        );
    }
    for (table, rows) in &scan.rows {
        let exempt = NO_SECRET_TABLES.iter().any(|(name, _)| name == table);
        assert!(
            exempt || *rows > 0,
            "{backend}: the table {table} is empty after the journey, so the scan proves \
             nothing about it: make the journey store the secret it is for (through \
             Accounts), or, if it can hold none, list it in NO_SECRET_TABLES with why"
        );
    }

    // The scanner sees what it must see, or it proves nothing.
    for (table, what, stored) in &journey.stored {
        assert!(
            scan.cells
                .iter()
                .any(|c| c.table == *table && c.bytes == *stored),
            "{backend}: the scan must find {what} in {table}"
        );
    }

    for (what, secret) in &journey.secrets {
        let needles = needles(secret);
        for cell in &scan.cells {
            let lower = cell.bytes.to_ascii_lowercase();
            for needle in &needles {
                let found = contains(&cell.bytes, needle)
                    || (needle.is_ascii() && contains(&lower, &needle.to_ascii_lowercase()));
                assert!(
                    !found,
                    "{backend}: {what} (or an encoding of it) is stored in {}.{}",
                    cell.table, cell.column
                );
            }
        }
    }
    eprintln!(
        "{backend}: {} tables, {} cells scanned for {} secrets, none found",
        scan.rows.len(),
        scan.cells.len(),
        journey.secrets.len()
    );
}

/// What the journey leaves behind: the stored forms the scan must find (table, what,
/// bytes), and the secrets that must not be in the database.
struct Journey {
    stored: Vec<(&'static str, &'static str, Vec<u8>)>,
    secrets: Vec<(&'static str, Vec<u8>)>,
}

#[allow(clippy::too_many_lines)]
async fn journey(store: Arc<dyn Store>) -> Journey {
    let mut config = AccountConfig::new(PUBLIC_URL.parse().unwrap());
    config.hashing = HashingConfig::insecure_for_tests();
    let mailer = MemoryMailer::new();
    let accounts = Accounts::builder(Arc::clone(&store), Arc::new(mailer.clone()), config).build();
    let info = RequestInfo {
        ip: Some("203.0.113.9".parse().unwrap()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into(),
        ),
        ..RequestInfo::default()
    };
    let mut secrets: Vec<(&'static str, Vec<u8>)> = vec![
        ("the password", PASSWORD.into()),
        ("a wrong password tried at login", WRONG_PASSWORD.into()),
    ];
    let mut stored: Vec<(&'static str, &'static str, Vec<u8>)> = Vec::new();

    // Sign-up and a password login.
    let form = SignUp::parse("ada", "ada@example.com", PASSWORD, Some("Ada")).unwrap();
    accounts.sign_up(form, &info).await.unwrap();
    let verify_token = link_token(&mailer, "verify_email", "ada@example.com").await;
    let LoginOutcome::SignedIn(first) = accounts
        .login("ada", &PASSWORD.into(), &info)
        .await
        .unwrap()
    else {
        panic!("ada has no second factor yet");
    };
    let current = accounts.authenticate(first.token.expose()).await.unwrap();
    session_token(&mut secrets, "a session token (password login)", &first);

    // The one-time links: a password reset, an email change, a recovery address.
    accounts
        .request_password_reset(&EmailAddress::parse("ada@example.com").unwrap(), &info)
        .await
        .unwrap();
    let reset_token = link_token(&mailer, "password_reset", "ada@example.com").await;
    accounts
        .request_email_change(
            &current,
            EmailAddress::parse("ada@new.example").unwrap(),
            &info,
        )
        .await
        .unwrap();
    let change_token = link_token(&mailer, "verify_email", "ada@new.example").await;
    accounts
        .set_recovery_email(
            &current,
            Some(EmailAddress::parse("ada.backup@example.org").unwrap()),
            &info,
        )
        .await
        .unwrap();
    let recovery_token =
        link_token(&mailer, "verify_recovery_email", "ada.backup@example.org").await;
    for (what, token) in [
        ("the email verification token", &verify_token),
        ("the password reset token", &reset_token),
        ("the email change token", &change_token),
        ("the recovery address verification token", &recovery_token),
    ] {
        opaque_token(&mut secrets, what, token);
    }

    // Programmatic access: a personal API token, an app password, an SSH key.
    let api_token = accounts
        .create_api_token(
            &current,
            NewApiToken {
                name: "backup script".into(),
                scope: TokenScope::Read,
                allowed_networks: vec!["192.0.2.0/24".parse().unwrap()],
                expires_at: None,
            },
            &info,
        )
        .await
        .unwrap();
    let text = api_token.secret.expose();
    let body = &text[API_TOKEN_PREFIX.len()..API_TOKEN_PREFIX.len() + API_TOKEN_BODY_LEN];
    secrets.push(("the API token", text.as_bytes().to_vec()));
    secrets.push((
        "the API token without its prefix",
        text.strip_prefix(API_TOKEN_PREFIX)
            .unwrap()
            .as_bytes()
            .to_vec(),
    ));
    secrets.push(("the API token's random part", body.as_bytes().to_vec()));
    secrets.push((
        "the API token's 256 random bits",
        base62_to_bytes(body).to_vec(),
    ));
    stored.push((
        "api_tokens",
        "the API token's digest",
        api_token.token.digest.as_bytes().to_vec(),
    ));

    let app_password = accounts
        .create_app_password(&current, "Thunderbird", &info)
        .await
        .unwrap();
    let shown = app_password.secret.expose();
    secrets.push(("the app password as shown", shown.as_bytes().to_vec()));
    secrets.push((
        "the app password without dashes",
        shown.replace('-', "").into_bytes(),
    ));
    stored.push((
        "app_passwords",
        "the app password's digest",
        app_password.app_password.digest.as_bytes().to_vec(),
    ));

    let ssh_key = accounts
        .add_ssh_key(&current, "laptop", SSH_KEY, &info)
        .await
        .unwrap();
    stored.push((
        "ssh_keys",
        "the SSH key's fingerprint",
        ssh_key.fingerprint.clone().into_bytes(),
    ));

    // Second factors: TOTP with its recovery codes, then a passkey.
    let enrolling = EnrollingSession::from(current);
    let enrollment = accounts.start_totp_enrollment(&enrolling).await.unwrap();
    let code = totp_code(&enrollment.secret, accounts.now().timestamp());
    let confirmed = accounts
        .confirm_totp_enrollment(&enrolling, &code, &info)
        .await
        .unwrap();
    opaque_token(
        &mut secrets,
        "a session token (after confirming TOTP)",
        confirmed.token.expose(),
    );
    let codes = confirmed.recovery_codes.expose().to_vec();
    assert_eq!(codes.len(), 10);
    for code in &codes {
        let canonical = code.replace('-', "");
        secrets.push(("a recovery code as shown", code.as_bytes().to_vec()));
        secrets.push((
            "a recovery code in canonical form",
            canonical.as_bytes().to_vec(),
        ));
    }
    // The last code stays unused, so its digest must be in the table.
    stored.push((
        "recovery_codes",
        "an unused recovery code's digest",
        TokenDigest::of(codes[9].replace('-', "").as_bytes())
            .as_bytes()
            .to_vec(),
    ));

    let mut device = SoftDevice::at(PUBLIC_URL);
    let renewed = accounts
        .authenticate_enrolling(confirmed.token.expose())
        .await
        .unwrap();
    let ceremony = accounts
        .start_passkey_registration(&renewed, "Laptop")
        .await
        .unwrap();
    let credential = device.register(&ceremony.options).unwrap();
    let added = accounts
        .finish_passkey_registration(&renewed, &ceremony.ceremony_id, credential, &info)
        .await
        .unwrap();
    opaque_token(
        &mut secrets,
        "a session token (after adding a passkey)",
        added.token.expose(),
    );

    // Logins finished with a second factor: a recovery code, then the passkey. Each
    // leaves a pending token behind it.
    let pending = second_factor_required(&accounts, &info).await;
    session_token(&mut secrets, "a pending login's token", &pending);
    let waiting = accounts
        .authenticate_pending(pending.token.expose())
        .await
        .unwrap();
    let by_code = accounts
        .complete_login_with_recovery_code(&waiting, &codes[0], &info)
        .await
        .unwrap();
    session_token(&mut secrets, "a session token (recovery code)", &by_code);

    let pending = second_factor_required(&accounts, &info).await;
    session_token(&mut secrets, "a pending login's token", &pending);
    let waiting = accounts
        .authenticate_pending(pending.token.expose())
        .await
        .unwrap();
    let ceremony = accounts.start_login_passkey(&waiting).await.unwrap();
    let assertion = device.sign(&ceremony.options).unwrap();
    let by_passkey = accounts
        .complete_login_with_passkey(&waiting, &ceremony.ceremony_id, assertion, &info)
        .await
        .unwrap();
    session_token(&mut secrets, "a session token (passkey)", &by_passkey);
    stored.push((
        "sessions",
        "a session token's digest",
        by_passkey.session.token_digest.as_bytes().to_vec(),
    ));

    // Last, so that no later success clears the failure counter.
    assert!(
        accounts
            .login("ada", &WRONG_PASSWORD.into(), &info)
            .await
            .is_err()
    );

    // The tables no step of the journey reaches through the services: a rate-limit
    // window, the policy (an administrator's), and an avatar (the service would want a
    // real image to decode).
    accounts
        .check_rate_limit("login:203.0.113.9", RateLimit::per_minute(10))
        .await
        .unwrap();
    store.put_policy(&Policy::default()).await.unwrap();
    let avatar = Avatar {
        image_type: ImageType::Png,
        bytes: b"\x89PNG\r\n\x1a\nnot really an image".to_vec(),
    };
    store
        .set_avatar(first.account.id, Some(&avatar), accounts.now())
        .await
        .unwrap();

    let password_phc = store
        .password_hash(first.account.id)
        .await
        .unwrap()
        .expect("ada has a password")
        .as_phc()
        .to_owned();
    assert!(password_phc.starts_with("$argon2id$"));
    stored.push((
        "accounts",
        "the password's PHC string",
        password_phc.into_bytes(),
    ));

    Journey { stored, secrets }
}

/// Logs ada in with her password, which her second factors turn into a pending login.
async fn second_factor_required(accounts: &Accounts, info: &RequestInfo) -> SignedIn {
    match accounts.login("ada", &PASSWORD.into(), info).await.unwrap() {
        LoginOutcome::SecondFactorRequired { pending, .. } => pending,
        _ => panic!("ada has second factors"),
    }
}

/// A session's token as a secret.
fn session_token(secrets: &mut Vec<(&'static str, Vec<u8>)>, what: &'static str, s: &SignedIn) {
    opaque_token(secrets, what, s.token.expose());
}

/// An opaque token (sessions, links) as a secret: its text, and the 32 random bytes it
/// encodes, which are the secret too.
fn opaque_token(secrets: &mut Vec<(&'static str, Vec<u8>)>, what: &'static str, token: &str) {
    secrets.push((what, token.as_bytes().to_vec()));
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .expect("tokens are unpadded base64url");
    assert_eq!(raw.len(), 32);
    secrets.push((what, raw));
}

/// The code an authenticator app shows at `unix` for a base32 secret.
fn totp_code(secret: &str, unix: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(bytes.as_ref().to_vec())
        .build()
        .expect("valid TOTP");
    totp.generate(u64::try_from(unix).expect("after 1970"))
        .to_string()
}

/// The 256 bits an API token's base62 body carries, big-endian (the token format's own
/// order: its first digit is the most significant).
fn base62_to_bytes(body: &str) -> [u8; 32] {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = [0u8; 32];
    for c in body.bytes() {
        let digit = DIGITS.iter().position(|&d| d == c).expect("a base62 digit");
        let mut carry = u32::try_from(digit).unwrap();
        for byte in n.iter_mut().rev() {
            let acc = u32::from(*byte) * 62 + carry;
            *byte = (acc & 0xff) as u8;
            carry = acc >> 8;
        }
        assert_eq!(carry, 0, "an API token body holds at most 256 bits");
    }
    n
}

/// The decoder above reads tokens as the library writes them: a token made from known
/// random bytes decodes to those bytes.
#[test]
fn base62_decoding_matches_the_token_format() {
    #[derive(Debug)]
    struct Counting;
    impl SecureRandom for Counting {
        fn fill(&self, dest: &mut [u8]) {
            for (i, b) in dest.iter_mut().enumerate() {
                *b = u8::try_from(i * 7 % 256).unwrap() ^ 0xa5;
            }
        }
    }
    let mut expected = [0u8; 32];
    Counting.fill(&mut expected);
    let token = ApiTokenSecret::generate(&Counting);
    let body = &token.expose()[API_TOKEN_PREFIX.len()..API_TOKEN_PREFIX.len() + API_TOKEN_BODY_LEN];
    assert_eq!(base62_to_bytes(body), expected);
}

/// The `token` parameter of the link in the first mail of `kind` to `to` (mail goes out
/// from a task of its own, so this waits for it).
async fn link_token(mailer: &MemoryMailer, kind: &str, to: &str) -> String {
    let mut count = 1;
    loop {
        let sent = mailer.wait_for(count).await;
        if let Some(mail) = sent
            .iter()
            .find(|m| m.message.kind() == kind && m.to.as_str() == to)
        {
            let link = mail.link().expect("the mail has a link");
            return link
                .query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
                .expect("the link carries a token");
        }
        assert!(
            sent.len() >= count,
            "no {kind} mail to {to} arrived; sent: {sent:?}"
        );
        count = sent.len() + 1;
    }
}

/// A secret in every form it could be stored in: itself, hex, and base64 (standard and
/// URL-safe, padded or not).
fn needles(secret: &[u8]) -> Vec<Vec<u8>> {
    vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        STANDARD.encode(secret).into_bytes(),
        STANDARD_NO_PAD.encode(secret).into_bytes(),
        URL_SAFE.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Everything in the database: the row count of every table, and every non-null value
/// of every column of every table.
#[derive(Default)]
struct Scan {
    rows: BTreeMap<String, i64>,
    cells: Vec<Cell>,
}

/// One stored value, as bytes.
struct Cell {
    table: String,
    column: String,
    bytes: Vec<u8>,
}

/// Reads every table the database has, raw: binary columns as their bytes, everything
/// else as its text.
async fn scan(db: &TestDatabase) -> Scan {
    match db.backend() {
        Backend::Sqlite => sqlite_scan(db.url()).await,
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres_scan(db.url()).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => mysql_scan(db.url()).await,
        #[allow(unreachable_patterns)]
        other => panic!("{other} is not compiled in"),
    }
}

async fn sqlite_scan(url: &str) -> Scan {
    use sqlx::{Connection as _, SqliteConnection};
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut scan = Scan::default();
    for table in tables {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for column in columns {
            // CAST AS BLOB: the bytes of a blob, the UTF-8 of text, the digits of a number.
            let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(&format!(
                "SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\""
            ))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            scan.push(&table, &column, values);
        }
        scan.rows.insert(table, rows);
    }
    scan
}

#[cfg(feature = "postgres")]
async fn postgres_scan(url: &str) -> Scan {
    use sqlx::{Connection as _, PgConnection};
    let mut conn = PgConnection::connect(url).await.unwrap();
    // Every schema the migrations may have created tables in, not only `public`.
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' \
         AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut scan = Scan::default();
    for (schema, table) in tables {
        let qualified = format!("\"{schema}\".\"{table}\"");
        let name = if schema == "public" {
            table.clone()
        } else {
            format!("{schema}.{table}")
        };
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {qualified}"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = $1 AND table_name = $2",
        )
        .bind(&schema)
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for (column, data_type) in columns {
            let value = if data_type == "bytea" {
                format!("\"{column}\"")
            } else {
                format!("convert_to(\"{column}\"::text, 'UTF8')")
            };
            let values: Vec<Option<Vec<u8>>> =
                sqlx::query_scalar(&format!("SELECT {value} FROM {qualified}"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            scan.push(&name, &column, values);
        }
        scan.rows.insert(name, rows);
    }
    scan
}

#[cfg(feature = "mysql")]
async fn mysql_scan(url: &str) -> Scan {
    use sqlx::{Connection as _, MySqlConnection};
    let mut conn = MySqlConnection::connect(url).await.unwrap();
    // information_schema's names come back as binary strings on MariaDB: read as bytes.
    let tables: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut scan = Scan::default();
    for table in tables {
        let table = String::from_utf8(table).unwrap();
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM `{table}`"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let columns: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for column in columns {
            let column = String::from_utf8(column).unwrap();
            // CAST AS BINARY: the bytes of a binary column, the UTF-8 of text, the digits
            // of a number.
            let values: Vec<Option<Vec<u8>>> =
                sqlx::query_scalar(&format!("SELECT CAST(`{column}` AS BINARY) FROM `{table}`"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            scan.push(&table, &column, values);
        }
        scan.rows.insert(table, rows);
    }
    scan
}

impl Scan {
    fn push(&mut self, table: &str, column: &str, values: Vec<Option<Vec<u8>>>) {
        self.cells
            .extend(values.into_iter().flatten().map(|bytes| Cell {
                table: table.to_owned(),
                column: column.to_owned(),
                bytes,
            }));
    }
}
