//! No secret — password, token, hash, mail body — appears in any `Debug`, `Display` or
//! error. This test formats every secret-bearing type; `secret_logs.rs`, a binary of its
//! own with a global subscriber, captures every log line of a whole journey and searches
//! it for every secret the journey used.

mod support;

use std::sync::Arc;

use account_core::clock::Clock;
use account_core::domain::{EmailAddress, Password, Username};
use account_core::mail::{Mail, MailContext, Message};
use account_core::model::{Challenge, ChallengePurpose, SecurityStamp};
use account_core::password::{HashingConfig, PasswordHasher, PasswordRejection};
use account_core::random::OsRandom;
use account_core::token::OpaqueToken;
use account_core::{Error, SignUp};
use support::{Harness, PASSWORD, info};

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
            max_waiting: 1024,
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
