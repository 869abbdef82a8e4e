//! A mistyped personal API token or app password is refused before the store is asked.
//!
//! The services run over a [`CountingStore`], so each test can prove what an
//! authentication cost the store: one read by digest for a real token, nothing at all for
//! every one-character change of it (the prefix, length, alphabet and CRC-32 checksum
//! catch them all), and nothing for an app password that cannot be one.
#![cfg(feature = "testing")]

mod support;

use std::sync::Arc;

use account_core::clock::ManualClock;
use account_core::domain::Password;
use account_core::mail::MemoryMailer;
use account_core::model::TokenScope;
use account_core::store::memory::MemoryStore;
use account_core::testing::CountingStore;
use account_core::{
    AccountConfig, Accounts, Error, LoginOutcome, NewApiToken, SignUp, SignUpOutcome,
    SignedInSession,
};
use support::{PASSWORD, fast_hashing, info};

/// The 62 characters of base62, the alphabet of a token's body and checksum.
const BASE62: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters outside base62 that a copy, a paste or a keyboard slip can bring in.
const NOT_BASE62: [char; 5] = ['-', '_', ' ', 'é', '\0'];

/// The services over a counting memory store, and `ada` signed in with a fresh session.
struct Setup {
    accounts: Accounts,
    store: Arc<CountingStore>,
    session: SignedInSession,
}

async fn setup() -> Setup {
    let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
    config.hashing = fast_hashing();
    let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
    let accounts = Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config)
        .clock(Arc::new(ManualClock::default()))
        .build();

    let form = SignUp::parse("ada", "ada@example.com", PASSWORD, None).expect("valid sign-up");
    match accounts
        .sign_up(form, &info())
        .await
        .expect("sign-up works")
    {
        SignUpOutcome::Created(_) => {}
        other => panic!("expected an account, got {other:?}"),
    }
    let signed_in = match accounts
        .login("ada", &Password::new(PASSWORD), &info())
        .await
        .expect("login works")
    {
        LoginOutcome::SignedIn(s) => s,
        other => panic!("expected a session, got {other:?}"),
    };
    let session = accounts
        .authenticate(signed_in.token.expose())
        .await
        .expect("a new session is valid");
    Setup {
        accounts,
        store,
        session,
    }
}

/// Creates a personal API token for the session's account and returns its text.
async fn create_token(s: &Setup) -> String {
    let created = s
        .accounts
        .create_api_token(
            &s.session,
            NewApiToken {
                name: "deploy script".into(),
                scope: TokenScope::Write,
                allowed_networks: Vec::new(),
                expires_at: None,
            },
            &info(),
        )
        .await
        .expect("a fresh session creates a token");
    created.secret.expose().to_owned()
}

/// Every one-character change of `token` and the other near misses, with a label for
/// each kind. None equals `token`.
fn variants(token: &str) -> Vec<(&'static str, String)> {
    let chars: Vec<char> = token.chars().collect();
    let with = |pos: usize, c: char| -> String {
        let mut changed = chars.clone();
        changed[pos] = c;
        changed.into_iter().collect()
    };
    let mut out = Vec::new();
    for pos in 0..chars.len() {
        for c in BASE62.chars().filter(|&c| c != chars[pos]) {
            out.push(("base62 substitution", with(pos, c)));
        }
        for c in NOT_BASE62.into_iter().filter(|&c| c != chars[pos]) {
            out.push(("non-base62 substitution", with(pos, c)));
        }
        let mut deleted = chars.clone();
        deleted.remove(pos);
        out.push(("deletion", deleted.into_iter().collect()));
    }
    for pos in 0..=chars.len() {
        for c in BASE62.chars() {
            let mut inserted = chars.clone();
            inserted.insert(pos, c);
            out.push(("insertion", inserted.into_iter().collect()));
        }
    }
    let body = token
        .strip_prefix("acct_")
        .expect("tokens start with acct_");
    for prefix in ["acc_", "ACCT_", "ghp_"] {
        out.push(("other prefix", format!("{prefix}{body}")));
    }
    out.push(("no prefix", body.to_owned()));
    for len in 1..chars.len() {
        out.push(("truncation", chars[..len].iter().collect()));
    }
    out.push(("empty", String::new()));
    for padded in [
        format!(" {token}"),
        format!("{token} "),
        format!("{token}\n"),
        format!("Bearer {token}"),
    ] {
        out.push(("padding", padded));
    }
    for (kind, variant) in &out {
        assert_ne!(variant, token, "a {kind} left the token unchanged");
    }
    out
}

#[tokio::test]
async fn a_valid_token_costs_one_read_by_digest_and_every_typo_costs_nothing() {
    let s = setup().await;
    let token = create_token(&s).await;
    assert_eq!(token.chars().count(), 54);

    // The real token: one read by digest that brings the account, and the first use
    // recorded.
    s.store.reset();
    let access = s
        .accounts
        .authenticate_api_token(&token, None)
        .await
        .expect("the real token authenticates");
    assert_eq!(access.account.username.as_str(), "ada");
    assert_eq!(s.store.calls("api_token_with_account"), 1, "{:?}", s.store);
    assert_eq!(s.store.calls("touch_api_token"), 1, "{:?}", s.store);
    assert_eq!(s.store.total(), 2, "{:?}", s.store);

    // Within the touch interval, the use is not written again.
    s.store.reset();
    s.accounts
        .authenticate_api_token(&token, None)
        .await
        .expect("the real token authenticates again");
    assert_eq!(s.store.calls("api_token_with_account"), 1, "{:?}", s.store);
    assert_eq!(s.store.calls("touch_api_token"), 0, "{:?}", s.store);
    assert_eq!(s.store.total(), 1, "{:?}", s.store);

    // Every near miss: refused as unauthenticated, and the store never asked.
    let variants = variants(&token);
    s.store.reset();
    let mut tried = 0usize;
    let mut wrong = Vec::new();
    for (kind, variant) in &variants {
        let result = s.accounts.authenticate_api_token(variant, None).await;
        let calls = s.store.total();
        if !matches!(result, Err(Error::Unauthenticated)) || calls != 0 {
            wrong.push(format!(
                "{kind} {variant:?}: {:?} after {:?}",
                result.map(|a| a.token.id),
                s.store.counts()
            ));
            s.store.reset();
        }
        tried += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} of {tried} variants were not refused before the store:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(s.store.total(), 0);

    // 54 positions: 61 other base62 characters each, except the non-base62 `_` of the
    // prefix (62); 5 non-base62 characters each, except `_` at the `_` itself; one
    // deletion each; 62 insertions at each of 55 places; 3 other prefixes, the body
    // without prefix, 53 truncations, the empty string and 4 paddings.
    let expected = (53 * 61 + 62) + (54 * 5 - 1) + 54 + 55 * 62 + 3 + 1 + 53 + 1 + 4;
    assert_eq!(expected, 7090);
    assert_eq!(tried, expected);

    // The real token still works: the loop ran against a live token.
    s.accounts
        .authenticate_api_token(&token, None)
        .await
        .expect("the real token still authenticates");
    assert_eq!(s.store.calls("api_token_with_account"), 1);
}

#[tokio::test]
async fn a_malformed_app_password_costs_nothing() {
    let s = setup().await;
    let created = s
        .accounts
        .create_app_password(&s.session, "mail client", &info())
        .await
        .expect("a fresh session creates an app password");
    let password = created.secret.expose().to_owned();
    let token = create_token(&s).await;

    // The real one: one read by digest, the account by name, the first use recorded.
    s.store.reset();
    let login = s
        .accounts
        .authenticate_app_password("ada", &password)
        .await
        .expect("the real app password authenticates");
    assert_eq!(login.account.username.as_str(), "ada");
    assert_eq!(s.store.calls("app_password_by_digest"), 1, "{:?}", s.store);
    assert_eq!(s.store.calls("account_by_username"), 1, "{:?}", s.store);
    assert_eq!(s.store.calls("touch_app_password"), 1, "{:?}", s.store);
    assert_eq!(s.store.total(), 3, "{:?}", s.store);

    let without_last = &password[..password.len() - 1];
    let mut malformed: Vec<String> = vec![
        String::new(),
        without_last.to_owned(),
        format!("{password}a"),
        password.replace('-', "_"),
        format!("{without_last}é"),
        token,
        PASSWORD.to_owned(),
    ];
    // Each look-alike the alphabet leaves out, in either case, in place of the last
    // character.
    for c in ['0', 'o', 'O', '1', 'l', 'L', 'i', 'I'] {
        malformed.push(format!("{without_last}{c}"));
    }
    assert_eq!(malformed.len(), 15);

    s.store.reset();
    let mut tried = 0usize;
    for login in ["ada", "ada@example.com", "nobody"] {
        for candidate in &malformed {
            let result = s.accounts.authenticate_app_password(login, candidate).await;
            assert!(
                matches!(result, Err(Error::InvalidCredentials)),
                "{login} with {candidate:?}: {:?}",
                result.map(|l| l.app_password.id)
            );
            assert_eq!(
                s.store.total(),
                0,
                "{login} with {candidate:?} reached the store: {:?}",
                s.store
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 45);
}
