//! Programmatic access through the services: personal API tokens (creation after a fresh
//! authentication, networks, expiry, regeneration, deletion, "last used" at most once a
//! minute), app passwords (a login for clients that only send a username and a password,
//! which never opens the account itself) and SSH keys (unique across accounts, found by
//! fingerprint), with the per-account limits, events and notices. SECURITY.md section I.

mod support;

use account_core::model::{AccountState, SecurityEventKind, TokenScope};
use account_core::{AccessKind, Error, NewApiToken, parse_network};
use chrono::Duration;
use support::{Harness, PASSWORD, info, info_from};

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMROdKbP6qcd/dttCqs8TuOwfc7tC/Otdk4q/eyP5n84 ada@laptop";
const ECDSA_P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBML71P+6ZfubHYDUgeoZX48d2eRCqCwG9JgOJs5BbpYNsk5hQ8C4V95k5Q733jUqNbC2/1bUD3nyh8DANjcKRFY=";
const ED25519_FINGERPRINT: &str = "SHA256:Wqqa2HlfGas9Bxg8NHvhdio9M58jg/DUklhxAypGetQ";

fn new_token(name: &str, scope: TokenScope) -> NewApiToken {
    NewApiToken {
        name: name.to_owned(),
        scope,
        allowed_networks: Vec::new(),
        expires_at: None,
    }
}

fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter()
        .map(|n| parse_network(n).expect("network"))
        .collect()
}

fn ip(text: &str) -> Option<std::net::IpAddr> {
    Some(text.parse().expect("ip"))
}

/// Waits for the background mail task and answers whether `kind` reached `to`.
async fn mailed(h: &Harness, to: &str, kind: &str) -> bool {
    for _ in 0..200 {
        if h.mailer
            .sent_to(to)
            .iter()
            .any(|m| m.message.kind() == kind)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn i33_i34_a_token_is_shown_once_and_stored_as_digest_and_last_four() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let created = h
        .accounts
        .create_api_token(&session, new_token("ci", TokenScope::Write), &info())
        .await
        .expect("create");
    let secret = created.secret.expose().to_owned();
    assert!(secret.starts_with("acct_"));
    assert_eq!(created.token.last_four, secret[secret.len() - 4..]);
    assert_eq!(created.token.digest, created.secret.digest());
    assert!(!format!("{created:?}").contains(&secret[5..secret.len() - 4]));

    let listed = h
        .accounts
        .api_tokens(session.account_id)
        .await
        .expect("list");
    assert_eq!(listed, vec![created.token.clone()]);
    let access = h
        .accounts
        .authenticate_api_token(&secret, ip("192.0.2.1"))
        .await
        .expect("the token works");
    assert_eq!(access.account.id, session.account_id);
    assert_eq!(access.token.scope, TokenScope::Write);

    let events = h.events("ada").await;
    let event = events
        .iter()
        .find(|e| e.kind == SecurityEventKind::ApiTokenCreated)
        .expect("an event");
    assert_eq!(event.details.get("name").map(String::as_str), Some("ci"));
    for e in &events {
        assert!(!format!("{e:?}").contains(&secret), "no secret in the log");
    }
    assert!(mailed(&h, "ada@example.com", "access_created").await);
}

#[tokio::test]
async fn creating_programmatic_access_needs_a_fresh_authentication() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    h.clock.advance(Duration::minutes(11));
    let stale = session.clone();
    assert!(matches!(
        h.accounts
            .create_api_token(&stale, new_token("ci", TokenScope::Read), &info())
            .await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(matches!(
        h.accounts
            .create_app_password(&stale, "mail", &info())
            .await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(matches!(
        h.accounts
            .add_ssh_key(&stale, "laptop", ED25519, &info())
            .await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(
        h.accounts
            .api_tokens(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        h.accounts
            .app_passwords(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        h.accounts
            .ssh_keys(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn token_settings_are_checked_before_anything_is_stored() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let refused = |e: Result<account_core::CreatedApiToken, Error>| match e {
        Err(Error::Validation(v)) => v.code(),
        other => panic!("expected a validation error, got {other:?}"),
    };
    let mut t = new_token("", TokenScope::Read);
    assert_eq!(
        refused(
            h.accounts
                .create_api_token(&session, t.clone(), &info())
                .await
        ),
        "name_empty"
    );
    t.name = "x".repeat(101);
    assert_eq!(
        refused(
            h.accounts
                .create_api_token(&session, t.clone(), &info())
                .await
        ),
        "name_too_long"
    );
    t.name = "x".repeat(100);
    t.expires_at = Some(h.accounts.now());
    assert_eq!(
        refused(
            h.accounts
                .create_api_token(&session, t.clone(), &info())
                .await
        ),
        "expires_at_in_the_past"
    );
    t.expires_at = None;
    t.allowed_networks = (0..101u8)
        .map(|i| parse_network(&format!("10.0.{i}.0/24")).expect("net"))
        .collect();
    assert_eq!(
        refused(
            h.accounts
                .create_api_token(&session, t.clone(), &info())
                .await
        ),
        "allowed_networks_too_long"
    );
    assert!(
        h.accounts
            .api_tokens(session.account_id)
            .await
            .expect("list")
            .is_empty()
    );

    // Networks: a bare address is a /32 or /128, host bits are dropped, junk is refused.
    assert_eq!(
        parse_network("192.0.2.7").expect("v4").to_string(),
        "192.0.2.7/32"
    );
    assert_eq!(
        parse_network("10.0.0.5/24").expect("v4").to_string(),
        "10.0.0.0/24"
    );
    assert_eq!(
        parse_network(" 2001:db8::1 ").expect("v6").to_string(),
        "2001:db8::1/128"
    );
    assert_eq!(
        parse_network("2001:db8::77/64").expect("v6").to_string(),
        "2001:db8::/64"
    );
    for bad in [
        "",
        "10.0.0.0/33",
        "10.0.0",
        "example.com",
        "2001:db8::/129",
        "10.0.0.0/-1",
    ] {
        let e = parse_network(bad).expect_err(bad);
        assert_eq!(e.code(), "allowed_networks_invalid_syntax");
    }
}

#[tokio::test]
async fn i36_a_token_is_used_only_from_its_networks() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut t = new_token("deploy", TokenScope::Write);
    t.allowed_networks = nets(&["10.0.0.5/24", "2001:db8::/64"]);
    let created = h
        .accounts
        .create_api_token(&session, t, &info())
        .await
        .expect("create");
    assert_eq!(
        created.token.allowed_networks,
        nets(&["10.0.0.0/24", "2001:db8::/64"]),
        "stored truncated"
    );
    let secret = created.secret.expose();
    for admitted in ["10.0.0.5", "10.0.0.255", "::ffff:10.0.0.9", "2001:db8::1"] {
        h.accounts
            .authenticate_api_token(secret, ip(admitted))
            .await
            .unwrap_or_else(|e| panic!("{admitted} is inside: {e:?}"));
    }
    for refused in ["10.0.1.5", "192.0.2.1", "2001:db8:1::1", "::1"] {
        assert!(
            matches!(
                h.accounts.authenticate_api_token(secret, ip(refused)).await,
                Err(Error::NetworkNotAllowed)
            ),
            "{refused} is outside"
        );
    }
    assert!(matches!(
        h.accounts.authenticate_api_token(secret, None).await,
        Err(Error::NetworkNotAllowed)
    ));
}

#[tokio::test]
async fn i37_expiry_deletion_and_a_disabled_account_end_a_token_at_once() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut t = new_token("short", TokenScope::Read);
    t.expires_at = Some(h.accounts.now() + Duration::hours(1));
    let short = h
        .accounts
        .create_api_token(&session, t, &info())
        .await
        .expect("create");
    let long = h
        .accounts
        .create_api_token(&session, new_token("long", TokenScope::Read), &info())
        .await
        .expect("create");

    h.clock.advance(Duration::minutes(59));
    h.accounts
        .authenticate_api_token(short.secret.expose(), None)
        .await
        .expect("still valid a minute before");
    h.clock.advance(Duration::minutes(1));
    assert!(matches!(
        h.accounts
            .authenticate_api_token(short.secret.expose(), None)
            .await,
        Err(Error::Unauthenticated)
    ));

    let session = h.fresh_session("ada").await;
    h.accounts
        .delete_api_token(&session, long.token.id, &info())
        .await
        .expect("delete");
    assert!(matches!(
        h.accounts
            .authenticate_api_token(long.secret.expose(), None)
            .await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        h.accounts
            .delete_api_token(&session, long.token.id, &info())
            .await,
        Err(Error::NotFound)
    ));
    assert!(mailed(&h, "ada@example.com", "access_removed").await);
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::ApiTokenDeleted)
    );

    let third = h
        .accounts
        .create_api_token(&session, new_token("third", TokenScope::Read), &info())
        .await
        .expect("create");
    h.disable("ada").await;
    assert!(matches!(
        h.accounts
            .authenticate_api_token(third.secret.expose(), None)
            .await,
        Err(Error::Unauthenticated)
    ));
    assert_eq!(h.account("ada").await.state, AccountState::Disabled);
}

#[tokio::test]
async fn i37_last_use_is_written_at_most_once_a_minute() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let created = h
        .accounts
        .create_api_token(&session, new_token("ci", TokenScope::Read), &info())
        .await
        .expect("create");
    let secret = created.secret.expose();
    let first = h.accounts.now();
    h.accounts
        .authenticate_api_token(secret, ip("192.0.2.1"))
        .await
        .expect("use");
    h.clock.advance(Duration::seconds(59));
    let again = h
        .accounts
        .authenticate_api_token(secret, ip("192.0.2.2"))
        .await
        .expect("use");
    assert_eq!(again.token.last_used_at, Some(first));
    let stored = &h
        .accounts
        .api_tokens(session.account_id)
        .await
        .expect("list")[0];
    assert_eq!(
        stored.last_used_at,
        Some(first),
        "no write within the minute"
    );
    assert_eq!(stored.last_used_ip, ip("192.0.2.1"));

    h.clock.advance(Duration::seconds(1));
    h.accounts
        .authenticate_api_token(secret, ip("192.0.2.3"))
        .await
        .expect("use");
    let stored = &h
        .accounts
        .api_tokens(session.account_id)
        .await
        .expect("list")[0];
    assert_eq!(stored.last_used_at, Some(h.accounts.now()));
    assert_eq!(stored.last_used_ip, ip("192.0.2.3"));
}

#[tokio::test]
async fn regenerating_keeps_the_settings_and_kills_the_old_secret() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let mut t = new_token("ci", TokenScope::Read);
    t.allowed_networks = nets(&["192.0.2.0/24"]);
    t.expires_at = Some(h.accounts.now() + Duration::days(30));
    let old = h
        .accounts
        .create_api_token(&session, t, &info())
        .await
        .expect("create");
    let new = h
        .accounts
        .regenerate_api_token(&session, old.token.id, &info())
        .await
        .expect("regenerate");
    assert_ne!(new.secret.expose(), old.secret.expose());
    assert_eq!(new.token.id, old.token.id);
    assert_eq!(new.token.name, old.token.name);
    assert_eq!(new.token.scope, old.token.scope);
    assert_eq!(new.token.allowed_networks, old.token.allowed_networks);
    assert_eq!(new.token.expires_at, old.token.expires_at);
    assert_eq!(new.token.created_at, old.token.created_at);
    assert_eq!(new.token.last_four, &new.secret.expose()[50..]);
    assert!(matches!(
        h.accounts
            .authenticate_api_token(old.secret.expose(), ip("192.0.2.9"))
            .await,
        Err(Error::Unauthenticated)
    ));
    h.accounts
        .authenticate_api_token(new.secret.expose(), ip("192.0.2.9"))
        .await
        .expect("the new secret works");
    assert!(
        h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == SecurityEventKind::ApiTokenRegenerated)
    );

    // Another account cannot regenerate or delete it.
    h.sign_up("bob", "bob@example.com").await;
    let bob = h.fresh_session("bob").await;
    assert!(matches!(
        h.accounts
            .regenerate_api_token(&bob, old.token.id, &info())
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        h.accounts
            .delete_api_token(&bob, old.token.id, &info())
            .await,
        Err(Error::NotFound)
    ));
    h.accounts
        .authenticate_api_token(new.secret.expose(), ip("192.0.2.9"))
        .await
        .expect("still works");
}

#[tokio::test]
async fn limits_are_per_account_and_per_kind() {
    let h = Harness::with_config(|c| {
        c.access_limits.api_tokens = 2;
        c.access_limits.app_passwords = 1;
        c.access_limits.ssh_keys = 1;
    })
    .await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let ada = h.fresh_session("ada").await;
    let bob = h.fresh_session("bob").await;
    for name in ["one", "two"] {
        h.accounts
            .create_api_token(&ada, new_token(name, TokenScope::Read), &info())
            .await
            .expect("under the limit");
    }
    let over = h
        .accounts
        .create_api_token(&ada, new_token("three", TokenScope::Read), &info())
        .await
        .expect_err("over the limit");
    assert!(matches!(over, Error::LimitReached(AccessKind::ApiTokens)));
    assert_eq!(over.code(), "too_many_api_tokens");
    h.accounts
        .create_api_token(&bob, new_token("one", TokenScope::Read), &info())
        .await
        .expect("bob has his own limit");

    h.accounts
        .create_app_password(&ada, "mail", &info())
        .await
        .expect("first");
    let over = h
        .accounts
        .create_app_password(&ada, "calendar", &info())
        .await
        .expect_err("over");
    assert_eq!(over.code(), "too_many_app_passwords");

    h.accounts
        .add_ssh_key(&ada, "laptop", ED25519, &info())
        .await
        .expect("first");
    let over = h
        .accounts
        .add_ssh_key(&ada, "desktop", ECDSA_P256, &info())
        .await
        .expect_err("over");
    assert!(matches!(over, Error::LimitReached(AccessKind::SshKeys)));
    h.accounts
        .add_ssh_key(&bob, "desktop", ECDSA_P256, &info())
        .await
        .expect("bob has his own limit");
}

#[tokio::test]
async fn i39_an_app_password_logs_in_a_client_and_nothing_else() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let session = h.fresh_session("ada").await;
    let created = h
        .accounts
        .create_app_password(&session, "Thunderbird", &info())
        .await
        .expect("create");
    let password = created.secret.expose().to_owned();
    assert_eq!(password.split('-').count(), 5);
    assert!(!format!("{created:?}").contains(&password));
    assert!(mailed(&h, "ada@example.com", "access_created").await);

    for login in ["ada", "ADA", "ada@example.com"] {
        let ok = h
            .accounts
            .authenticate_app_password(login, &password)
            .await
            .expect("accepted");
        assert_eq!(ok.account.id, session.account_id);
        assert_eq!(ok.app_password.id, created.app_password.id);
    }
    // Typed loosely, as people type into mail clients.
    h.accounts
        .authenticate_app_password("ada", &password.to_uppercase().replace('-', " "))
        .await
        .expect("case and separators do not matter");
    for (login, pass) in [
        ("bob", password.as_str()),
        ("nobody", password.as_str()),
        ("ada", PASSWORD),
        ("ada", "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa"),
        ("ada", ""),
    ] {
        assert!(
            matches!(
                h.accounts.authenticate_app_password(login, pass).await,
                Err(Error::InvalidCredentials)
            ),
            "{login}"
        );
    }
    // The login route wants the account password: an app password is not one.
    assert!(matches!(
        h.login_with("ada", &password, &info()).await,
        Err(Error::InvalidCredentials)
    ));

    let listed = h
        .accounts
        .app_passwords(session.account_id)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(h.accounts.now()));

    h.accounts
        .revoke_app_password(&session, created.app_password.id, &info())
        .await
        .expect("revoke");
    assert!(matches!(
        h.accounts.authenticate_app_password("ada", &password).await,
        Err(Error::InvalidCredentials)
    ));
    let kinds: Vec<_> = h.events("ada").await.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&SecurityEventKind::AppPasswordCreated));
    assert!(kinds.contains(&SecurityEventKind::AppPasswordRevoked));
    assert!(mailed(&h, "ada@example.com", "access_removed").await);
}

#[tokio::test]
async fn an_app_password_of_a_disabled_account_fails() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    let session = h.fresh_session("ada").await;
    let created = h
        .accounts
        .create_app_password(&session, "git", &info())
        .await
        .expect("create");
    h.disable("ada").await;
    assert!(matches!(
        h.accounts
            .authenticate_app_password("ada", created.secret.expose())
            .await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn ssh_keys_are_unique_across_accounts_and_found_by_fingerprint() {
    let h = Harness::new().await;
    h.sign_up("ada", "ada@example.com").await;
    h.sign_up("bob", "bob@example.com").await;
    let ada = h.fresh_session("ada").await;
    let bob = h.fresh_session("bob").await;
    let key = h
        .accounts
        .add_ssh_key(&ada, " laptop ", ED25519, &info_from("192.0.2.1", "test"))
        .await
        .expect("add");
    assert_eq!(key.name, "laptop");
    assert_eq!(key.algorithm, "ssh-ed25519");
    assert_eq!(key.bits, 256);
    assert_eq!(key.fingerprint, ED25519_FINGERPRINT);
    assert_eq!(key.comment.as_deref(), Some("ada@laptop"));
    assert!(ED25519.starts_with(&key.public_key));
    assert!(mailed(&h, "ada@example.com", "access_created").await);

    for session in [&ada, &bob] {
        assert!(matches!(
            h.accounts
                .add_ssh_key(session, "again", ED25519, &info())
                .await,
            Err(Error::SshKeyInUse)
        ));
    }
    let owner = h
        .accounts
        .ssh_key_owner(ED25519_FINGERPRINT)
        .await
        .expect("lookup")
        .expect("an owner");
    assert_eq!(owner.account.id, ada.account_id);
    assert_eq!(owner.key, key);

    let refused = h
        .accounts
        .add_ssh_key(&ada, "old", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", &info())
        .await
        .expect_err("DSA is refused");
    assert_eq!(refused.code(), "invalid_ssh_key");
    assert!(refused.reason().is_some());

    h.accounts
        .delete_ssh_key(&ada, key.id, &info())
        .await
        .expect("delete");
    assert!(
        h.accounts
            .ssh_key_owner(ED25519_FINGERPRINT)
            .await
            .expect("lookup")
            .is_none()
    );
    let kinds: Vec<_> = h.events("ada").await.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&SecurityEventKind::SshKeyAdded));
    assert!(kinds.contains(&SecurityEventKind::SshKeyRemoved));

    // Free again: bob may add it now; once bob is disabled the key opens nothing.
    h.accounts
        .add_ssh_key(&bob, "bob's", ED25519, &info())
        .await
        .expect("add");
    h.disable("bob").await;
    assert!(
        h.accounts
            .ssh_key_owner(ED25519_FINGERPRINT)
            .await
            .expect("lookup")
            .is_none()
    );
}
