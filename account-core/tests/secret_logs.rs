//! No secret reaches a log line, from any thread: every event of a whole journey is
//! captured at TRACE level and searched for every secret the journey used.
//!
//! This binary holds one test, because its capture is the process's global subscriber
//! ([`GlobalLogs`], which says why only a global one sees every thread).

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use account_core::clock::ManualClock;
use account_core::domain::EmailAddress;
use account_core::mail::{FileOutbox, MemoryMailer};
use account_core::store::memory::MemoryStore;
use account_core::testing::logs::GlobalLogs;
use account_core::{AccountConfig, Accounts, SignUp};
use support::{Harness, PASSWORD, info, token_of};

fn assert_hidden(shown: &str, secret: &str) {
    assert!(!secret.is_empty());
    assert!(!shown.contains(secret), "{secret:?} leaked into {shown:?}");
}

/// The token of the newest `kind` mail in the outbox, read from its `.eml` file as a
/// person would copy it out of the link, waiting for the file to be written.
async fn token_in_outbox(outbox: &Path, kind: &str) -> String {
    for _ in 0..200 {
        let mut found: Vec<PathBuf> = std::fs::read_dir(outbox)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        found.retain(|p| p.to_string_lossy().ends_with(&format!("-{kind}.eml")));
        found.sort();
        if let Some(path) = found.last() {
            let text = std::fs::read_to_string(path).expect("read the mail");
            let start = text.find("token=").expect("a link with a token") + "token=".len();
            return text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no {kind} mail in {}", outbox.display());
}

#[tokio::test]
async fn logs_of_a_whole_journey_hold_no_secret() {
    let logs = GlobalLogs::install().await;

    let mut secrets = vec![
        PASSWORD.to_owned(),
        "a brand new passphrase".to_owned(),
        "wrong password here".to_owned(),
    ];
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    secrets.push(token_of(
        &h.link_sent_to("ada@example.com", "verify_email").await,
    ));
    let _ = h.login_with("ada", "wrong password here", &info()).await;
    let signed_in = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    secrets.push(signed_in.token.expose().to_owned());
    let session = h
        .accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("valid");
    h.accounts
        .request_email_change(
            &session,
            EmailAddress::parse("ada@new.example").expect("valid"),
            &info(),
        )
        .await
        .expect("requested");
    secrets.push(token_of(
        &h.link_sent_to("ada@new.example", "verify_email").await,
    ));
    h.accounts
        .request_password_reset(
            &EmailAddress::parse("ada@example.com").expect("valid"),
            &info(),
        )
        .await
        .expect("requested");
    let reset = token_of(&h.link_sent_to("ada@example.com", "password_reset").await);
    secrets.push(reset.clone());
    h.accounts
        .reset_password(&reset, &"a brand new passphrase".into(), &info())
        .await
        .expect("reset");
    // An avatar, decoded and re-encoded on the blocking pool.
    h.accounts
        .set_avatar(session.account_id, support::png(64, 48), &info())
        .await
        .expect("the avatar is accepted");

    // Programmatic access: a token and an app password made, used and used wrongly.
    let session = h.fresh_session_with("ada", "a brand new passphrase").await;
    let created = h
        .accounts
        .create_api_token(
            &session,
            account_core::NewApiToken {
                name: "ci".to_owned(),
                scope: account_core::model::TokenScope::Write,
                allowed_networks: vec![account_core::parse_network("10.0.0.0/8").expect("net")],
                expires_at: None,
            },
            &info(),
        )
        .await
        .expect("token");
    secrets.push(created.secret.expose()[5..].to_owned());
    let _ = h
        .accounts
        .authenticate_api_token(created.secret.expose(), Some([10, 1, 2, 3].into()))
        .await
        .expect("inside its network");
    let _ = h
        .accounts
        .authenticate_api_token(created.secret.expose(), Some([192, 0, 2, 1].into()))
        .await;
    let app = h
        .accounts
        .create_app_password(&session, "mail", &info())
        .await
        .expect("app password");
    secrets.push(app.secret.expose().to_owned());
    secrets.push(app.secret.expose().replace('-', ""));
    let _ = h
        .accounts
        .authenticate_app_password("ada", app.secret.expose())
        .await
        .expect("accepted");

    // The same journey's mail through a mailer that fails: its errors are logged.
    let failing = Harness::with_mailer(MemoryMailer::failing()).await;
    failing.sign_up("bob", "bob@example.com").await;
    failing
        .accounts
        .request_password_reset(
            &EmailAddress::parse("bob@example.com").expect("valid"),
            &info(),
        )
        .await
        .expect("requested");
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }

    // A reset link through the file outbox, which writes each file on the blocking pool.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
    config.hashing = support::fast_hashing();
    let outbox = FileOutbox::new(
        dir.path(),
        "Account <noreply@example.com>".parse().expect("a mailbox"),
    );
    let with_outbox = Accounts::builder(Arc::new(MemoryStore::new()), Arc::new(outbox), config)
        .clock(Arc::new(ManualClock::default()))
        .build();
    with_outbox
        .sign_up(
            SignUp::parse("cleo", "cleo@example.com", PASSWORD, None).expect("valid"),
            &info(),
        )
        .await
        .expect("signed up");
    with_outbox
        .request_password_reset(
            &EmailAddress::parse("cleo@example.com").expect("valid"),
            &info(),
        )
        .await
        .expect("requested");
    let outbox_reset = token_in_outbox(dir.path(), "password_reset").await;
    with_outbox
        .reset_password(
            &outbox_reset,
            &"an entirely fresh passphrase".into(),
            &info(),
        )
        .await
        .expect("the whole token was read from the file");
    secrets.push(outbox_reset);
    secrets.push("an entirely fresh passphrase".to_owned());

    let text = logs.text();
    assert!(
        text.contains("a mail could not be sent"),
        "the failing mailer was logged: {text}"
    );
    assert!(
        text.contains("mail written to the outbox"),
        "the outbox was logged: {text}"
    );
    for secret in &secrets {
        assert_hidden(&text, secret);
    }
}
