//! No secret — password, token, hash, mail body — appears in any `Debug`, `Display`, error
//! or log line. One test formats every secret-bearing type; another captures every log
//! line of a whole journey and searches it for every secret the journey used.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use account_core::clock::Clock;
use account_core::domain::{EmailAddress, Password, Username};
use account_core::mail::{Mail, MailContext, MemoryMailer, Message};
use account_core::model::{Challenge, ChallengePurpose, SecurityStamp};
use account_core::password::{HashingConfig, PasswordHasher, PasswordRejection};
use account_core::random::OsRandom;
use account_core::token::OpaqueToken;
use account_core::{Error, SignUp};
use support::{Harness, PASSWORD, info, token_of};

fn assert_hidden(shown: &str, secret: &str) {
    assert!(!secret.is_empty());
    assert!(!shown.contains(secret), "{secret:?} leaked into {shown:?}");
}

#[tokio::test]
async fn every_secret_bearing_type_hides_its_secret() {
    let password = Password::new("hunter2 is my secret passphrase");
    assert_hidden(&format!("{password:?}"), "hunter2");

    let token = OpaqueToken::generate(&OsRandom);
    assert_hidden(&format!("{token:?}"), token.expose());
    assert_hidden(&format!("{:?}", token.digest()), &token.digest().to_hex());

    let hasher = PasswordHasher::new(
        HashingConfig {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        },
        Arc::new(OsRandom),
    );
    let hash = hasher.hash(&password).await.expect("hash");
    let digest_part = hash.as_phc().rsplit('$').next().expect("phc").to_owned();
    let salt_part = hash.as_phc().rsplit('$').nth(1).expect("phc").to_owned();
    assert_hidden(&format!("{hash:?}"), &digest_part);
    assert_hidden(&format!("{hash:?}"), &salt_part);
    assert_hidden(&format!("{hasher:?}"), &digest_part);

    let stamp = SecurityStamp::generate(&OsRandom);
    assert_hidden(&format!("{stamp:?}"), stamp.as_str());

    // The API token shows its prefix and last four characters, never the random body.
    let api_token = account_core::api_token::ApiTokenSecret::generate(&OsRandom);
    let body = &api_token.expose()[5..api_token.expose().len() - 4];
    assert_hidden(&format!("{api_token:?}"), body);
    let app_password = account_core::api_token::AppPasswordSecret::generate(&OsRandom);
    for group in app_password.expose().split('-') {
        assert_hidden(&format!("{app_password:?}"), group);
    }

    let ctx = MailContext::new(
        "https://accounts.example.com".parse().expect("url"),
        "Account",
    );
    let username = Username::parse("ada").expect("valid");
    let to = EmailAddress::parse("ada@example.com").expect("valid");
    for message in [
        Message::PasswordReset {
            username: username.clone(),
            token: token.clone(),
            valid_for_minutes: 30,
        },
        Message::VerifyEmail {
            username: username.clone(),
            token: token.clone(),
            valid_for_minutes: 60,
        },
        Message::VerifyRecoveryEmail {
            username: username.clone(),
            token: token.clone(),
            valid_for_minutes: 60,
        },
    ] {
        assert_hidden(&format!("{message:?}"), token.expose());
        let mail = Mail::new(to.clone(), message, &ctx);
        assert!(
            mail.text().contains(token.expose()),
            "the body does carry the link"
        );
        assert_hidden(&format!("{mail:?}"), token.expose());
    }

    let challenge = Challenge {
        digest: token.digest(),
        purpose: ChallengePurpose::PasswordReset,
        account_id: None,
        security_stamp: Some(stamp.clone()),
        payload: String::new(),
        created_at: OsClock.now(),
        expires_at: OsClock.now(),
    };
    assert_hidden(&format!("{challenge:?}"), stamp.as_str());
    assert_hidden(&format!("{challenge:?}"), &token.digest().to_hex());

    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let signed_in = h.login_with("ada", PASSWORD, &info()).await.expect("login");
    assert_hidden(&format!("{signed_in:?}"), signed_in.token.expose());
    assert_hidden(
        &format!("{:?}", signed_in.account),
        signed_in.account.security_stamp.as_str(),
    );
    assert_hidden(&format!("{:?}", h.accounts), PASSWORD);

    let refused = SignUp::parse(
        "robert",
        "robert@example.com",
        "robert-is-my-password",
        None,
    )
    .expect("parses");
    assert_hidden(&format!("{refused:?}"), "robert-is-my-password");
    let err = h
        .accounts
        .sign_up(refused, &info())
        .await
        .expect_err("weak");
    assert_hidden(&format!("{err:?} {err}"), "robert-is-my-password");
    for err in [
        Error::InvalidCredentials,
        Error::InvalidToken,
        Error::WeakPassword(PasswordRejection::Common),
    ] {
        assert!(!format!("{err:?} {err}").contains(PASSWORD));
    }
}

#[derive(Debug)]
struct OsClock;
impl Clock for OsClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

/// A log sink: every line the subscriber writes lands in one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_of_a_whole_journey_hold_no_secret() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(
        text.contains("a mail could not be sent"),
        "the failing mailer was logged: {text}"
    );
    for secret in &secrets {
        assert_hidden(&text, secret);
    }
}
