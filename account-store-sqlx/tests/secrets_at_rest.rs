//! No secret reaches the database: after a user journey through the real services
//! (sign-up with a verification link, a wrong password, a login, a reset link), every
//! cell of every table is read back raw and searched for the passwords and tokens the
//! journey used, as text and as bytes, in hex and in base64.
//!
//! Second factors are stored through the store directly: a confirmed TOTP authenticator
//! (its secret is necessarily kept, to verify codes, so it is not searched for), recovery
//! codes (kept as digests only: the codes themselves are searched for) and a passkey.
//!
//! The scan checks itself too: it must find the session's token digest, the password's
//! PHC string and a recovery code's digest, so that a scanner that reads nothing cannot
//! pass.

// Test code: a failed expectation panics with its message; the helpers outside `#[test]`
// functions are test code too.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use account_core::avatar::{Avatar, ImageType};
use account_core::domain::EmailAddress;
use account_core::mail::MemoryMailer;
use account_core::model::{PasskeyId, PasskeyRecord, TotpSecret};
use account_core::password::HashingConfig;
use account_core::policy::Policy;
use account_core::store::Store;
use account_core::token::TokenDigest;
use account_core::{AccountConfig, Accounts, LoginOutcome, RateLimit, RequestInfo, SignUp};
use account_store_sqlx::Backend;
use account_store_sqlx::testing::{self, TestDatabase};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

const PASSWORD: &str = "quartz-meadow-lantern-1852";
const WRONG_PASSWORD: &str = "velvet-harbour-compass-7731";

/// The tables of the schema.
const TABLES: &[&str] = &[
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
];

/// Recovery codes as shown to the user, and in the canonical form the core digests
/// (lowercase, without dashes).
const RECOVERY_CODES: &[(&str, &str)] = &[
    ("k3vq8-2mxnr-a7tzp-0hw4c-9gbfe", "k3vq82mxnra7tzp0hw4c9gbfe"),
    ("7hd2q-pn4xw-c8rte-5mzkb-1vj6a", "7hd2qpn4xwc8rte5mzkb1vj6a"),
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
    let cells = raw_cells(&db).await;

    // The scanner sees what it must see, or it proves nothing.
    for table in TABLES {
        assert!(
            cells.iter().any(|c| c.table == *table),
            "the journey must leave a row in {table} for the scan to read"
        );
    }
    assert!(
        cells.iter().any(|c| c.bytes == journey.session_digest),
        "the scan must find the session's token digest as bytes in sessions.token_digest"
    );
    assert!(
        cells
            .iter()
            .any(|c| c.bytes == journey.password_phc.as_bytes()),
        "the scan must find the password's PHC string in accounts.password_hash"
    );
    assert!(
        cells
            .iter()
            .any(|c| c.table == "recovery_codes" && c.bytes == journey.recovery_code_digest),
        "the scan must find a recovery code's digest as bytes in recovery_codes.digest"
    );

    for (what, secret) in &journey.secrets {
        let needles = needles(secret);
        for cell in &cells {
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
        "{backend}: {} cells scanned, no secret found in any",
        cells.len()
    );
}

/// What the journey leaves behind, and the secrets that must not be in the database.
struct Journey {
    session_digest: Vec<u8>,
    password_phc: String,
    recovery_code_digest: Vec<u8>,
    secrets: Vec<(&'static str, Vec<u8>)>,
}

async fn journey(store: Arc<dyn Store>) -> Journey {
    let mut config = AccountConfig::new("https://accounts.example.com".parse().unwrap());
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

    let form = SignUp::parse("ada", "ada@example.com", PASSWORD, Some("Ada")).unwrap();
    accounts.sign_up(form, &info).await.unwrap();
    let verify_token = link_token(&mailer, 1).await;

    let LoginOutcome::SignedIn(signed_in) = accounts
        .login("ada", &PASSWORD.into(), &info)
        .await
        .unwrap()
    else {
        panic!("ada has no second factor");
    };
    let session_token = signed_in.token.expose().to_owned();
    // After the success, so that the failure counter is not cleared.
    assert!(
        accounts
            .login("ada", &WRONG_PASSWORD.into(), &info)
            .await
            .is_err()
    );

    accounts
        .request_password_reset(&EmailAddress::parse("ada@example.com").unwrap(), &info)
        .await
        .unwrap();
    let reset_token = link_token(&mailer, 2).await;

    // The tables the journey does not reach, so that every table has a row to scan.
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
        .set_avatar(signed_in.account.id, Some(&avatar), accounts.now())
        .await
        .unwrap();

    // Second factors: a confirmed TOTP with its recovery codes, and a passkey.
    let id = signed_in.account.id;
    let secret = TotpSecret::from_bytes(b"twenty bytes secret!".to_vec());
    assert!(
        store
            .put_pending_totp(id, &secret, accounts.now())
            .await
            .unwrap()
    );
    let digests: Vec<TokenDigest> = RECOVERY_CODES
        .iter()
        .map(|(_, canonical)| TokenDigest::of(canonical.as_bytes()))
        .collect();
    assert!(
        store
            .confirm_totp(id, 59_000_000, &digests, accounts.now())
            .await
            .unwrap()
    );
    store
        .insert_passkey(&PasskeyRecord {
            id: PasskeyId::from_uuid(uuid::Uuid::from_u128(
                0x0190_0000_0000_7000_8000_0000_0000_0001,
            )),
            account_id: id,
            credential_id: b"credential id of a passkey".to_vec(),
            name: "Laptop".into(),
            credential: r#"{"cred":{"public_key":"..."},"counter":0}"#.into(),
            created_at: accounts.now(),
            last_used_at: None,
            sign_count: 0,
            backup_eligible: true,
            backup_state: false,
        })
        .await
        .unwrap();

    let password_phc = store
        .password_hash(signed_in.account.id)
        .await
        .unwrap()
        .expect("ada has a password")
        .as_phc()
        .to_owned();
    assert!(password_phc.starts_with("$argon2id$"));

    let mut secrets: Vec<(&'static str, Vec<u8>)> = vec![
        ("the password", PASSWORD.into()),
        ("a wrong password tried at login", WRONG_PASSWORD.into()),
    ];
    for (shown, canonical) in RECOVERY_CODES {
        secrets.push(("a recovery code as shown", shown.as_bytes().to_vec()));
        secrets.push((
            "a recovery code in canonical form",
            canonical.as_bytes().to_vec(),
        ));
    }
    for (what, token) in [
        ("the session token", &session_token),
        ("the email verification token", &verify_token),
        ("the password reset token", &reset_token),
    ] {
        secrets.push((what, token.as_bytes().to_vec()));
        // The 32 random bytes the token encodes are the secret too.
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .expect("tokens are unpadded base64url");
        assert_eq!(raw.len(), 32);
        secrets.push((what, raw));
    }
    Journey {
        session_digest: signed_in.session.token_digest.as_bytes().to_vec(),
        password_phc,
        recovery_code_digest: digests[0].as_bytes().to_vec(),
        secrets,
    }
}

/// The `token` parameter of the link in mail number `n` (mail goes out from a task of
/// its own, so this waits for it).
async fn link_token(mailer: &MemoryMailer, n: usize) -> String {
    let mail = mailer.wait_for(n).await.pop().expect("a mail was sent");
    let link = mail.link().expect("the mail has a link");
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("the link carries a token")
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

/// One stored value, as bytes.
struct Cell {
    table: String,
    column: String,
    bytes: Vec<u8>,
}

/// Every non-null value of every column of every table, read raw: binary columns as
/// their bytes, everything else as its text.
async fn raw_cells(db: &TestDatabase) -> Vec<Cell> {
    match db.backend() {
        Backend::Sqlite => sqlite_cells(db.url()).await,
        #[cfg(feature = "postgres")]
        Backend::Postgres => postgres_cells(db.url()).await,
        #[cfg(feature = "mysql")]
        Backend::MySql => mysql_cells(db.url()).await,
        other => panic!("{other} is not compiled in"),
    }
}

async fn sqlite_cells(url: &str) -> Vec<Cell> {
    use sqlx::{Connection as _, SqliteConnection};
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut cells = Vec::new();
    for table in tables {
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
            push_cells(&mut cells, &table, &column, values);
        }
    }
    cells
}

#[cfg(feature = "postgres")]
async fn postgres_cells(url: &str) -> Vec<Cell> {
    use sqlx::{Connection as _, PgConnection};
    let mut conn = PgConnection::connect(url).await.unwrap();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut cells = Vec::new();
    for (table, column, data_type) in columns {
        let value = if data_type == "bytea" {
            format!("\"{column}\"")
        } else {
            format!("convert_to(\"{column}\"::text, 'UTF8')")
        };
        let values: Vec<Option<Vec<u8>>> =
            sqlx::query_scalar(&format!("SELECT {value} FROM \"{table}\""))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        push_cells(&mut cells, &table, &column, values);
    }
    cells
}

#[cfg(feature = "mysql")]
async fn mysql_cells(url: &str) -> Vec<Cell> {
    use sqlx::{Connection as _, MySqlConnection};
    let mut conn = MySqlConnection::connect(url).await.unwrap();
    let columns: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut cells = Vec::new();
    for (table, column) in columns {
        let (table, column) = (
            String::from_utf8(table).unwrap(),
            String::from_utf8(column).unwrap(),
        );
        // CAST AS BINARY: the bytes of a binary column, the UTF-8 of text, the digits of
        // a number.
        let values: Vec<Option<Vec<u8>>> =
            sqlx::query_scalar(&format!("SELECT CAST(`{column}` AS BINARY) FROM `{table}`"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        push_cells(&mut cells, &table, &column, values);
    }
    cells
}

fn push_cells(cells: &mut Vec<Cell>, table: &str, column: &str, values: Vec<Option<Vec<u8>>>) {
    cells.extend(values.into_iter().flatten().map(|bytes| Cell {
        table: table.to_owned(),
        column: column.to_owned(),
        bytes,
    }));
}
