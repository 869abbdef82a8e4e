//! The SMTP mailer against a real SMTP server: aiosmtpd (from PyPI) running
//! `tests/smtp/server.py`, with STARTTLS, AUTH and a certificate from a CA each test
//! makes, as a real submission server has them. The server writes down what it saw of
//! each session (whether it was encrypted, who authenticated, each message as it
//! arrived), and the tests read that, so they check the connection itself and not only
//! the mailer's answer.
//!
//! Without a Python that has aiosmtpd these tests say why and pass, except under
//! `CI=true`, where they fail (see `smtp/aiosmtpd.rs`).

#![cfg(feature = "smtp")]

#[path = "smtp/aiosmtpd.rs"]
mod aiosmtpd;

use std::sync::Arc;
use std::time::Duration;

use account_core::domain::{EmailAddress, Username};
use account_core::mail::{Mail, MailContext, MailError, Mailer, Message, SmtpMailer};
use account_core::password::HashingConfig;
use account_core::random::OsRandom;
use account_core::store::memory::MemoryStore;
use account_core::token::OpaqueToken;
use account_core::{AccountConfig, Accounts, RequestInfo, SignUp, SignUpOutcome};
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde_json::Value;

use aiosmtpd::{PASSWORD, ServerConfig, ServerTls, SmtpServer, TestCa, USER};

const PUBLIC_URL: &str = "https://accounts.example.com/";

fn from() -> Mailbox {
    "Example <noreply@example.com>"
        .parse()
        .expect("valid mailbox")
}

/// A mailer for `url` that trusts `root_pem` besides the built-in roots.
fn mailer(url: &str, root_pem: &str) -> SmtpMailer {
    SmtpMailer::from_url(url, from())
        .expect("a valid URL")
        .with_root_certificates(root_pem.as_bytes())
        .expect("a readable root certificate")
}

/// A password-reset mail for Alice, rendered as the services render it, and its link.
fn reset_mail() -> (Mail, String) {
    let ctx = MailContext::new(PUBLIC_URL.parse().expect("a URL"), "Example");
    let mail = Mail::new(
        EmailAddress::parse("alice@example.com").expect("an address"),
        Message::PasswordReset {
            username: Username::parse("alice").expect("a username"),
            token: OpaqueToken::generate(&OsRandom),
            valid_for_minutes: 30,
        },
        &ctx,
    );
    let link = mail.link().expect("a reset link").to_string();
    (mail, link)
}

/// Sends `mail`, bounded so that a hung connection fails the test instead of hanging it.
async fn send(mailer: &SmtpMailer, mail: &Mail) -> Result<(), MailError> {
    tokio::time::timeout(Duration::from_secs(60), mailer.send(mail))
        .await
        .expect("the mailer answers within a minute")
}

/// The header block and the body of a message as the server received it.
fn split(record: &Value) -> (String, String) {
    let content = record["content"].as_str().expect("the message's text");
    let (head, body) = content
        .split_once("\r\n\r\n")
        .or_else(|| content.split_once("\n\n"))
        .expect("headers, then a body");
    (head.to_owned(), body.replace("\r\n", "\n"))
}

fn has_header(head: &str, line: &str) -> bool {
    head.lines().any(|l| l.trim_end() == line)
}

/// The `token` parameter of a link.
fn token_of(link: &str) -> String {
    url::Url::parse(link)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("the link has a token")
}

/// The services over a memory store with `mailer`, hashing cheaply (the hashing itself
/// is tested elsewhere).
fn accounts(mailer: SmtpMailer) -> Accounts {
    let mut config = AccountConfig::new(PUBLIC_URL.parse().expect("a URL"));
    config.product_name = "Example".to_owned();
    config.hashing = HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
        max_waiting: 16,
    };
    Accounts::builder(Arc::new(MemoryStore::new()), Arc::new(mailer), config).build()
}

/// What a real deployment does: the services send their mail through a submission server
/// that requires STARTTLS before AUTH and AUTH before mail, with a certificate from a
/// private CA the mailer was told to trust. The sign-up's verification link arrives
/// intact and works, and a second mail goes through the same (pooled) mailer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_mail_arrives_through_starttls_and_auth() {
    let Some(mut server) = SmtpServer::start(ServerConfig::submission()).await else {
        return;
    };
    let url = server.url("smtp", Some((USER, PASSWORD)), "?tls=required");
    let accounts = accounts(mailer(&url, &server.root_pem));
    let info = RequestInfo::default();

    let form = SignUp::parse(
        "alice",
        "alice@example.com",
        "correct horse battery staple",
        None,
    )
    .expect("a valid form");
    let outcome = accounts.sign_up(form, &info).await.expect("signed up");
    assert!(matches!(outcome, SignUpOutcome::Created(_)), "{outcome:?}");

    // The mail leaves in a background task; the server's record of it is the proof that
    // it arrived, and says how.
    let message = server.next("message").await;
    assert_eq!(message["mail_from"], "noreply@example.com", "{message}");
    assert_eq!(
        message["rcpt_tos"],
        serde_json::json!(["alice@example.com"]),
        "{message}"
    );
    assert_eq!(message["tls"], true, "the message came over TLS: {message}");
    assert_eq!(message["authenticated"], true, "{message}");
    assert_eq!(message["user"], USER, "{message}");
    let (head, body) = split(&message);
    assert!(
        has_header(&head, "Subject: Example: confirm your email address"),
        "{head}"
    );
    assert!(has_header(&head, "To: alice@example.com"), "{head}");
    assert!(
        has_header(&head, "From: Example <noreply@example.com>"),
        "{head}"
    );
    let link = body
        .lines()
        .find(|l| l.starts_with("https://accounts.example.com/account/verify-email?token="))
        .unwrap_or_else(|| panic!("the verification link is on a line of its own: {body}"))
        .to_owned();
    let (account, _) = accounts
        .verify_email(&token_of(&link), &info)
        .await
        .expect("the link from the mail verifies the address");
    assert!(account.email_verified);

    // The client greeted again after STARTTLS, and authenticated once, over TLS.
    let records = server.stop().await;
    let auths: Vec<&Value> = records.iter().filter(|r| r["event"] == "auth").collect();
    assert_eq!(auths.len(), 1, "{records:?}");
    assert_eq!(auths[0]["ok"], true, "{records:?}");
    assert_eq!(auths[0]["tls"], true, "AUTH was sent over TLS: {records:?}");
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "ehlo" && r["tls"] == true),
        "{records:?}"
    );
}

/// A second message through the same mailer goes out too (lettre keeps the connection
/// in a pool), and the server sees both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailer_sends_one_mail_after_another() {
    let Some(mut server) = SmtpServer::start(ServerConfig::submission()).await else {
        return;
    };
    let url = server.url("smtp", Some((USER, PASSWORD)), "?tls=required");
    let mailer = mailer(&url, &server.root_pem);
    for _ in 0..2 {
        let (mail, link) = reset_mail();
        send(&mailer, &mail).await.expect("sent");
        let message = server.next("message").await;
        let (head, body) = split(&message);
        assert!(
            has_header(&head, "Subject: Example: reset your password"),
            "{head}"
        );
        assert!(body.lines().any(|l| l == link), "{body}");
        assert_eq!(message["tls"], true, "{message}");
    }
}

/// The mistake a person makes most often with a mail server: the wrong password. The
/// error says the server refused the login, in the server's words, and repeats neither
/// the password nor the mail; and the password was tried only over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_clear_error_without_the_password() {
    let Some(server) = SmtpServer::start(ServerConfig::submission()).await else {
        return;
    };
    let wrong = "not the p@ssword";
    let url = server.url("smtp", Some((USER, wrong)), "?tls=required");
    let mailer = mailer(&url, &server.root_pem);
    let (mail, link) = reset_mail();

    let error = send(&mailer, &mail)
        .await
        .expect_err("the login is refused");
    let text = error.to_string();
    let shown = format!("{text} {error:?} {mailer:?}");
    assert!(text.contains("535"), "the server's refusal: {text}");
    assert!(
        text.contains("Authentication credentials invalid"),
        "in the server's words: {text}"
    );
    assert!(
        text.contains("the server refused the user name or password"),
        "and in the mailer's: {text}"
    );
    assert!(
        text.contains("a***@example.com"),
        "the masked recipient: {text}"
    );
    for secret in [wrong, "not%20the%20p%40ssword", PASSWORD, link.as_str()] {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    assert!(!shown.contains(mail.text()), "{shown}");

    let records = server.stop().await;
    let auths: Vec<&Value> = records.iter().filter(|r| r["event"] == "auth").collect();
    assert!(!auths.is_empty(), "the password was tried: {records:?}");
    assert!(
        auths.iter().all(|a| a["ok"] == false && a["tls"] == true),
        "{auths:?}"
    );
    assert!(records.iter().all(|r| r["event"] != "message"));
}

/// With `tls=required`, a certificate the mailer does not trust ends the attempt: no
/// password, no mail, and above all no quiet retry in plain text. The server here would
/// take both without TLS (`ServerTls::Offered`), so a client that fell back would be
/// seen doing it. Three ways a certificate is not trusted: the mailer was given no root
/// for it, was given the wrong CA's root, or the certificate names another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_without_falling_back_to_plain_text() {
    for case in ["no root given", "another CA's root", "another host's name"] {
        let ca = match case {
            "another host's name" => TestCa::new(&["smtp.example.net"]),
            _ => TestCa::for_localhost(),
        };
        let config = ServerConfig {
            tls: ServerTls::Offered,
            auth: true,
            ca,
        };
        let Some(server) = SmtpServer::start(config).await else {
            return;
        };
        let url = server.url("smtp", Some((USER, PASSWORD)), "?tls=required");
        let mailer = match case {
            "no root given" => SmtpMailer::from_url(&url, from()).expect("a valid URL"),
            "another CA's root" => mailer(&url, &TestCa::for_localhost().root_pem),
            _ => mailer(&url, &server.root_pem),
        };
        let (mail, _) = reset_mail();

        let error = send(&mailer, &mail).await.expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("certificate"),
            "{case}: the error names the certificate: {text}"
        );
        assert!(!text.contains(PASSWORD), "{text}");

        let records = server.stop().await;
        assert_nothing_sent(&records, case);
        assert!(
            records.iter().all(|r| r["tls"] != true),
            "{case}: no TLS session was ever made: {records:?}"
        );
    }
}

/// Someone between the mailer and its server can remove STARTTLS from the server's
/// greeting. With `tls=required` the mailer then sends nothing, though this server would
/// take the password and the mail in plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_starttls_gets_nothing_when_tls_is_required() {
    let config = ServerConfig {
        tls: ServerTls::None,
        auth: true,
        ca: TestCa::for_localhost(),
    };
    let Some(server) = SmtpServer::start(config).await else {
        return;
    };
    let url = server.url("smtp", Some((USER, PASSWORD)), "?tls=required");
    let mailer = mailer(&url, &server.root_pem);
    let (mail, _) = reset_mail();

    let error = send(&mailer, &mail).await.expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("STARTTLS"),
        "the error names what is missing: {text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");

    let records = server.stop().await;
    assert_nothing_sent(&records, "no STARTTLS");
}

/// The server saw neither a login nor a message.
fn assert_nothing_sent(records: &[serde_json::Value], case: &str) {
    assert!(
        records
            .iter()
            .all(|r| r["event"] != "auth" && r["event"] != "message"),
        "{case}: nothing was sent: {records:?}"
    );
}

/// `smtps://` (TLS from the first byte, port 465) with the same private CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtps_with_a_private_ca_delivers_over_tls() {
    let config = ServerConfig {
        tls: ServerTls::Implicit,
        auth: true,
        ca: TestCa::for_localhost(),
    };
    let Some(mut server) = SmtpServer::start(config).await else {
        return;
    };
    let url = server.url("smtps", Some((USER, PASSWORD)), "");
    let mailer = mailer(&url, &server.root_pem);
    let (mail, link) = reset_mail();
    send(&mailer, &mail).await.expect("sent");

    let message = server.next("message").await;
    assert_eq!(message["tls"], true, "{message}");
    assert_eq!(message["user"], USER, "{message}");
    assert!(split(&message).1.lines().any(|l| l == link));
}

/// A relay on the same machine that takes mail without TLS or a login (a local Postfix,
/// say) is reached with the plain URL form, and the mail arrives in plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_relay_takes_mail_without_tls_or_a_login() {
    let config = ServerConfig {
        tls: ServerTls::None,
        auth: false,
        ca: TestCa::for_localhost(),
    };
    let Some(mut server) = SmtpServer::start(config).await else {
        return;
    };
    let mailer = SmtpMailer::from_url(&server.url("smtp", None, ""), from()).expect("valid");
    let (mail, link) = reset_mail();
    send(&mailer, &mail).await.expect("sent");

    let message = server.next("message").await;
    assert_eq!(message["tls"], false, "{message}");
    assert_eq!(message["authenticated"], false, "{message}");
    assert!(split(&message).1.lines().any(|l| l == link));
}

/// What the URL cannot say goes through lettre's own builder (here a timeout and TLS
/// parameters with the root certificate), and such a mailer sends as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_built_transport_with_its_own_tls_parameters_sends_too() {
    let Some(mut server) = SmtpServer::start(ServerConfig::submission()).await else {
        return;
    };
    let root = Certificate::from_pem(server.root_pem.as_bytes()).expect("a certificate");
    let tls = TlsParameters::builder("127.0.0.1".to_owned())
        .add_root_certificate(root)
        .build()
        .expect("TLS parameters");
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port)
        .tls(Tls::Required(tls))
        .credentials((USER, PASSWORD).into())
        .timeout(Some(Duration::from_secs(10)));
    let mailer = SmtpMailer::from_builder(builder, from());
    let (mail, link) = reset_mail();
    send(&mailer, &mail).await.expect("sent");

    let message = server.next("message").await;
    assert_eq!(message["tls"], true, "{message}");
    assert!(split(&message).1.lines().any(|l| l == link));
}
