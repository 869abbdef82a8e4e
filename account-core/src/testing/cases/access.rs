//! Cases for programmatic access: [`ApiTokenStore`](crate::store::ApiTokenStore),
//! [`AppPasswordStore`](crate::store::AppPasswordStore) and
//! [`SshKeyStore`](crate::store::SshKeyStore), and their limited inserts under contention.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use tokio::sync::Barrier;

use super::{assert_conflict, ok};
use crate::api_token::ApiTokenSecret;
use crate::model::{
    AccountId, ApiTokenId, ApiTokenRecord, AppPasswordId, AppPasswordRecord, LimitedInsert,
    SshKeyId, SshKeyRecord, TokenScope,
};
use crate::random::{OsRandom, SecureRandom};
use crate::store::{Conflict, Store, StoreResult};
use crate::testing::fixtures::{self, time, time_ms};
use crate::token::TokenDigest;

/// How long the tasks of one concurrent case may take together before the case fails.
const DEADLINE: StdDuration = StdDuration::from_secs(60);

/// A limit no case reaches, for inserts that are not about the limit.
const ROOMY: u32 = 100;

/// A network, parsed; panics on one that is not valid.
fn net(text: &str) -> IpNet {
    text.parse()
        .unwrap_or_else(|e| panic!("fixture network {text:?}: {e}"))
}

/// An address, parsed; panics on one that is not valid.
fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("fixture address {text:?}: {e}"))
}

/// A fresh API token secret's digest and last four characters.
fn new_secret() -> (TokenDigest, String) {
    let secret = ApiTokenSecret::generate(&OsRandom);
    (secret.digest(), secret.last_four())
}

/// An `ssh-rsa` key of 4096 bits (a public key line of some 700 characters) with random
/// key bytes and its real fingerprint, named and commented with quotes and non-ASCII text.
fn rsa_key(account: AccountId, created_at: DateTime<Utc>) -> SshKeyRecord {
    let mut modulus = vec![0u8; 513];
    OsRandom.fill(&mut modulus[1..]);
    modulus[0] = 0;
    modulus[1] |= 0x80;
    let mut wire = Vec::new();
    for part in [b"ssh-rsa".as_slice(), &[0x01, 0x00, 0x01], &modulus] {
        wire.extend_from_slice(&u32::try_from(part.len()).expect("short").to_be_bytes());
        wire.extend_from_slice(part);
    }
    SshKeyRecord {
        name: "Zoë's \"build\" server 🔑".to_owned(),
        algorithm: "ssh-rsa".to_owned(),
        bits: 4096,
        fingerprint: fixtures::ssh_fingerprint(&wire),
        public_key: format!("ssh-rsa {}", STANDARD.encode(&wire)),
        comment: Some("zoë@büro — \"ключ\" 🔑".to_owned()),
        ..fixtures::ssh_key(account, created_at)
    }
}

/// Inserts `token` with [`ROOMY`] as the limit and panics unless it is inserted.
async fn insert_token(store: &dyn Store, token: &ApiTokenRecord) {
    assert_eq!(
        ok(
            store.insert_api_token(token, ROOMY).await,
            "insert_api_token"
        ),
        LimitedInsert::Inserted,
        "insert_api_token below the limit must insert"
    );
}

/// Inserts `password` with [`ROOMY`] as the limit and panics unless it is inserted.
async fn insert_password(store: &dyn Store, password: &AppPasswordRecord) {
    assert_eq!(
        ok(
            store.insert_app_password(password, ROOMY).await,
            "insert_app_password"
        ),
        LimitedInsert::Inserted,
        "insert_app_password below the limit must insert"
    );
}

/// Inserts `key` with [`ROOMY`] as the limit and panics unless it is inserted.
async fn insert_key(store: &dyn Store, key: &SshKeyRecord) {
    assert_eq!(
        ok(store.insert_ssh_key(key, ROOMY).await, "insert_ssh_key"),
        LimitedInsert::Inserted,
        "insert_ssh_key below the limit must insert"
    );
}

/// The token with `digest`, read through `api_token_by_digest`.
async fn token_by_digest(store: &dyn Store, digest: &TokenDigest) -> Option<ApiTokenRecord> {
    ok(
        store.api_token_by_digest(digest).await,
        "api_token_by_digest",
    )
}

/// The app password with `digest`, read through `app_password_by_digest`.
async fn password_by_digest(store: &dyn Store, digest: &TokenDigest) -> Option<AppPasswordRecord> {
    ok(
        store.app_password_by_digest(digest).await,
        "app_password_by_digest",
    )
}

/// The key with `fingerprint`, read through `ssh_key_by_fingerprint`.
async fn key_by_fingerprint(store: &dyn Store, fingerprint: &str) -> Option<SshKeyRecord> {
    ok(
        store.ssh_key_by_fingerprint(fingerprint).await,
        "ssh_key_by_fingerprint",
    )
}

/// The account's tokens, read through `api_tokens_of`.
async fn tokens_of(store: &dyn Store, account: AccountId) -> Vec<ApiTokenRecord> {
    ok(store.api_tokens_of(account).await, "api_tokens_of")
}

/// The account's app passwords, read through `app_passwords_of`.
async fn passwords_of(store: &dyn Store, account: AccountId) -> Vec<AppPasswordRecord> {
    ok(store.app_passwords_of(account).await, "app_passwords_of")
}

/// The account's SSH keys, read through `ssh_keys_of`.
async fn keys_of(store: &dyn Store, account: AccountId) -> Vec<SshKeyRecord> {
    ok(store.ssh_keys_of(account).await, "ssh_keys_of")
}

// ---------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------

/// Tokens that between them use every field (both scopes; no network, and IPv4 `/24` and
/// `/32` with IPv6 `/64` and `/128` together; no expiry and one; names with quotes and
/// non-ASCII text; millisecond times) read back field for field through
/// `api_token_by_digest`, on whatever account, and `api_tokens_of`; after a use from an
/// IPv4 and from an IPv6 address, the last use and its address read back too. Unknown
/// digests and accounts find nothing.
pub async fn api_token_insert_and_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    let read = ApiTokenRecord {
        name: "Zoë's \"read-only\" token 📈".to_owned(),
        ..fixtures::api_token(alice.id, time_ms(1_234))
    };
    let write = ApiTokenRecord {
        name: "deploy 'prod'".to_owned(),
        scope: TokenScope::Write,
        allowed_networks: vec![
            net("10.0.0.0/24"),
            net("192.0.2.7/32"),
            net("2001:db8::1/128"),
            net("2001:db8:1234:5678::/64"),
        ],
        expires_at: Some(time_ms(1_234) + Duration::days(90) + Duration::milliseconds(567)),
        ..fixtures::api_token(alice.id, time_ms(5_678))
    };
    let bobs = ApiTokenRecord {
        expires_at: Some(time(-60)),
        ..fixtures::api_token(bob.id, time(10))
    };
    for token in [&write, &bobs, &read] {
        insert_token(&*store, token).await;
    }

    for (token, what) in [
        (&read, "the read scope, no network and no expiry"),
        (
            &write,
            "the write scope, IPv4 /24 and /32 and IPv6 /64 and /128 networks, and an expiry",
        ),
        (&bobs, "another account and an expiry in the past"),
    ] {
        assert_eq!(
            token_by_digest(&*store, &token.digest).await,
            Some(token.clone()),
            "api_token_by_digest must read back the token with {what}, field for field"
        );
    }
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![read.clone(), write.clone()],
        "api_tokens_of must list the account's tokens, field for field"
    );

    let v4 = ip("203.0.113.9");
    let v6 = ip("2001:db8:ffff::cafe");
    ok(
        store
            .touch_api_token(read.id, time_ms(61_500), Some(v4))
            .await,
        "touch_api_token",
    );
    ok(
        store
            .touch_api_token(write.id, time_ms(62_750), Some(v6))
            .await,
        "touch_api_token",
    );
    let read_used = ApiTokenRecord {
        last_used_at: Some(time_ms(61_500)),
        last_used_ip: Some(v4),
        ..read.clone()
    };
    let write_used = ApiTokenRecord {
        last_used_at: Some(time_ms(62_750)),
        last_used_ip: Some(v6),
        ..write.clone()
    };
    assert_eq!(
        token_by_digest(&*store, &read.digest).await,
        Some(read_used.clone()),
        "api_token_by_digest must read back a last use from an IPv4 address"
    );
    assert_eq!(
        token_by_digest(&*store, &write.digest).await,
        Some(write_used.clone()),
        "api_token_by_digest must read back a last use from an IPv6 address"
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![read_used, write_used],
        "api_tokens_of must list the last uses too"
    );

    assert_eq!(
        token_by_digest(&*store, &fixtures::digest()).await,
        None,
        "api_token_by_digest of an unknown digest must find nothing"
    );
    assert_eq!(
        tokens_of(&*store, fixtures::account_id()).await,
        Vec::new(),
        "api_tokens_of of an unknown account must find nothing"
    );
}

/// A token whose id is taken, or whose digest is taken by another account's token, fails
/// with [`Conflict::Id`], neither overwrites the first nor leaves anything behind.
pub async fn api_token_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::api_token(alice.id, time(0));
    insert_token(&*store, &first).await;

    let same_id = ApiTokenRecord {
        id: first.id,
        ..fixtures::api_token(alice.id, time(10))
    };
    assert_conflict(
        store.insert_api_token(&same_id, ROOMY).await,
        Conflict::Id,
        "insert_api_token with a taken id",
    );
    assert_eq!(
        token_by_digest(&*store, &same_id.digest).await,
        None,
        "a refused insert_api_token must not store the token"
    );

    let same_digest = ApiTokenRecord {
        digest: first.digest,
        ..fixtures::api_token(bob.id, time(20))
    };
    assert_conflict(
        store.insert_api_token(&same_digest, ROOMY).await,
        Conflict::Id,
        "insert_api_token with a digest taken by another account's token",
    );
    assert_eq!(
        token_by_digest(&*store, &first.digest).await,
        Some(first.clone()),
        "a refused insert_api_token must not overwrite the token that has the digest"
    );
    assert_eq!(
        tokens_of(&*store, bob.id).await,
        Vec::new(),
        "a refused insert_api_token must leave nothing on the other account"
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![first],
        "refused insert_api_token calls must leave only the first token"
    );
}

/// With a limit of 3, an account's fourth token answers `LimitReached` and is not stored;
/// another account still gets its own 3, a limit of 0 refuses the first, a deleted token
/// makes room again, and a full set of tokens does not count against the account's app
/// passwords or SSH keys.
pub async fn api_token_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let alices: Vec<_> = (0..3)
        .map(|i| fixtures::api_token(alice.id, time(i * 10)))
        .collect();
    for (i, token) in alices.iter().enumerate() {
        assert_eq!(
            ok(store.insert_api_token(token, 3).await, "insert_api_token"),
            LimitedInsert::Inserted,
            "token {i} of an account with a limit of 3 must be inserted"
        );
    }
    let fourth = fixtures::api_token(alice.id, time(30));
    assert_eq!(
        ok(store.insert_api_token(&fourth, 3).await, "insert_api_token"),
        LimitedInsert::LimitReached,
        "the fourth token of an account with a limit of 3 must answer LimitReached"
    );
    assert_eq!(
        token_by_digest(&*store, &fourth.digest).await,
        None,
        "a token refused for the limit must not be stored"
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        alices,
        "a token refused for the limit must leave the account's tokens as they were"
    );

    for i in 0..3 {
        let token = fixtures::api_token(bob.id, time(40 + i));
        assert_eq!(
            ok(store.insert_api_token(&token, 3).await, "insert_api_token"),
            LimitedInsert::Inserted,
            "token {i} of another account must be inserted while the first is at its limit"
        );
    }
    assert_eq!(
        ok(
            store
                .insert_api_token(&fixtures::api_token(carol.id, time(50)), 0)
                .await,
            "insert_api_token"
        ),
        LimitedInsert::LimitReached,
        "insert_api_token with a limit of 0 must answer LimitReached"
    );
    assert_eq!(
        tokens_of(&*store, carol.id).await,
        Vec::new(),
        "a token refused for a limit of 0 must not be stored"
    );

    for i in 0..3 {
        assert_eq!(
            ok(
                store
                    .insert_app_password(&fixtures::app_password(alice.id, time(60 + i)), 3)
                    .await,
                "insert_app_password"
            ),
            LimitedInsert::Inserted,
            "app password {i} must be inserted: tokens do not count against app passwords"
        );
        assert_eq!(
            ok(
                store
                    .insert_ssh_key(&fixtures::ssh_key(alice.id, time(60 + i)), 3)
                    .await,
                "insert_ssh_key"
            ),
            LimitedInsert::Inserted,
            "SSH key {i} must be inserted: tokens do not count against SSH keys"
        );
    }
    assert_eq!(
        ok(store.insert_api_token(&fourth, 3).await, "insert_api_token"),
        LimitedInsert::LimitReached,
        "app passwords and SSH keys must not make room for tokens"
    );

    assert!(
        ok(
            store.delete_api_token(alice.id, alices[1].id).await,
            "delete_api_token"
        )
        .is_some(),
        "delete_api_token of the account's token must return it"
    );
    assert_eq!(
        ok(store.insert_api_token(&fourth, 3).await, "insert_api_token"),
        LimitedInsert::Inserted,
        "after a delete an account at its limit must have room for one token again"
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![alices[0].clone(), alices[2].clone(), fourth],
        "the token inserted after the delete must be stored"
    );
}

/// `api_tokens_of` lists exactly the account's tokens, oldest first by `created_at` and
/// then by id, whatever the order of insertion.
pub async fn api_token_list_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let oldest = fixtures::api_token(alice.id, time(0));
    let newest = fixtures::api_token(alice.id, time(120));
    let mut same_time = [
        fixtures::api_token(alice.id, time_ms(60_500)),
        fixtures::api_token(alice.id, time_ms(60_500)),
        fixtures::api_token(alice.id, time_ms(60_500)),
    ];
    // Inserted largest id first, so that insertion order is not the expected order.
    same_time.sort_by_key(|t| std::cmp::Reverse(t.id));
    let bobs = fixtures::api_token(bob.id, time(30));
    for token in [
        &newest,
        &same_time[0],
        &bobs,
        &oldest,
        &same_time[1],
        &same_time[2],
    ] {
        insert_token(&*store, token).await;
    }

    same_time.sort_by_key(|t| t.id);
    let mut want = vec![oldest];
    want.extend(same_time);
    want.push(newest);
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        want,
        "api_tokens_of must list the account's tokens oldest first, then by id"
    );
    assert_eq!(
        tokens_of(&*store, bob.id).await,
        vec![bobs],
        "api_tokens_of must list only the account's own tokens"
    );
    assert_eq!(
        tokens_of(&*store, carol.id).await,
        Vec::new(),
        "api_tokens_of of an account without tokens must be empty"
    );
}

/// `touch_api_token` sets the last use and its address and nothing else; a later use
/// replaces both (also with no address), an earlier or equal one changes nothing, and an
/// unknown token is not an error and changes nothing.
pub async fn api_token_touch(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let touched = ApiTokenRecord {
        scope: TokenScope::Write,
        allowed_networks: vec![net("198.51.100.0/24")],
        expires_at: Some(time(86_400)),
        ..fixtures::api_token(alice.id, time(0))
    };
    let other = fixtures::api_token(alice.id, time(10));
    insert_token(&*store, &touched).await;
    insert_token(&*store, &other).await;

    let first_ip = ip("198.51.100.20");
    ok(
        store
            .touch_api_token(touched.id, time_ms(120_500), Some(first_ip))
            .await,
        "touch_api_token",
    );
    let mut want = ApiTokenRecord {
        last_used_at: Some(time_ms(120_500)),
        last_used_ip: Some(first_ip),
        ..touched.clone()
    };
    assert_eq!(
        token_by_digest(&*store, &touched.digest).await,
        Some(want.clone()),
        "touch_api_token must set last_used_at and last_used_ip and change nothing else"
    );
    assert_eq!(
        token_by_digest(&*store, &other.digest).await,
        Some(other.clone()),
        "touch_api_token must not change another token"
    );

    let later_ip = ip("2001:db8::42");
    ok(
        store
            .touch_api_token(touched.id, time(180), Some(later_ip))
            .await,
        "touch_api_token",
    );
    want.last_used_at = Some(time(180));
    want.last_used_ip = Some(later_ip);
    assert_eq!(
        token_by_digest(&*store, &touched.digest).await,
        Some(want.clone()),
        "a later touch_api_token must replace the last use and its address"
    );

    for (at, what) in [(time(60), "an earlier"), (time(180), "the same")] {
        ok(
            store
                .touch_api_token(touched.id, at, Some(ip("192.0.2.99")))
                .await,
            "touch_api_token",
        );
        assert_eq!(
            token_by_digest(&*store, &touched.digest).await,
            Some(want.clone()),
            "touch_api_token with {what} time must change neither the last use nor its address"
        );
    }

    ok(
        store.touch_api_token(touched.id, time(240), None).await,
        "touch_api_token",
    );
    want.last_used_at = Some(time(240));
    want.last_used_ip = None;
    assert_eq!(
        token_by_digest(&*store, &touched.digest).await,
        Some(want.clone()),
        "a later touch_api_token without an address must clear the address of the last use"
    );

    let unknown = ApiTokenId::generate(time(0), &OsRandom);
    ok(
        store
            .touch_api_token(unknown, time(300), Some(first_ip))
            .await,
        "touch_api_token of an unknown token (must succeed and do nothing)",
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![want, other],
        "touch_api_token of an unknown token must change nothing"
    );
}

/// `replace_api_token_secret` swaps the digest and last four characters of the account's
/// token and keeps every other field: the old digest finds nothing, the new one finds the
/// token. Another account, an unknown token, and a new digest that another token has
/// (of another account or of the same) all change nothing.
pub async fn api_token_replace_secret(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let original = ApiTokenRecord {
        name: "Zoë's \"CI\"".to_owned(),
        scope: TokenScope::Write,
        allowed_networks: vec![net("10.1.2.0/24"), net("2001:db8:1::/64")],
        expires_at: Some(time_ms(7_776_000_250)),
        ..fixtures::api_token(alice.id, time_ms(1_500))
    };
    let sibling = fixtures::api_token(alice.id, time(10));
    let bobs = fixtures::api_token(bob.id, time(20));
    for token in [&original, &sibling, &bobs] {
        insert_token(&*store, token).await;
    }
    let used_from = ip("10.1.2.3");
    ok(
        store
            .touch_api_token(original.id, time_ms(30_125), Some(used_from))
            .await,
        "touch_api_token",
    );
    let used = ApiTokenRecord {
        last_used_at: Some(time_ms(30_125)),
        last_used_ip: Some(used_from),
        ..original.clone()
    };

    let (new_digest, new_last_four) = new_secret();
    let replaced = ApiTokenRecord {
        digest: new_digest,
        last_four: new_last_four.clone(),
        ..used.clone()
    };
    assert_eq!(
        ok(
            store
                .replace_api_token_secret(alice.id, original.id, &new_digest, &new_last_four)
                .await,
            "replace_api_token_secret"
        ),
        Some(replaced.clone()),
        "replace_api_token_secret must return the token with the new digest and last four \
         characters and every other field kept"
    );
    assert_eq!(
        token_by_digest(&*store, &original.digest).await,
        None,
        "after replace_api_token_secret the old digest must find nothing"
    );
    assert_eq!(
        token_by_digest(&*store, &new_digest).await,
        Some(replaced.clone()),
        "after replace_api_token_secret the new digest must find the token"
    );

    let (stray_digest, stray_last_four) = new_secret();
    assert_eq!(
        ok(
            store
                .replace_api_token_secret(bob.id, original.id, &stray_digest, &stray_last_four)
                .await,
            "replace_api_token_secret"
        ),
        None,
        "replace_api_token_secret of another account's token must answer None"
    );
    let unknown = ApiTokenId::generate(time(0), &OsRandom);
    assert_eq!(
        ok(
            store
                .replace_api_token_secret(alice.id, unknown, &stray_digest, &stray_last_four)
                .await,
            "replace_api_token_secret"
        ),
        None,
        "replace_api_token_secret of an unknown token must answer None"
    );
    assert_eq!(
        token_by_digest(&*store, &stray_digest).await,
        None,
        "a replace_api_token_secret answering None must not store its digest"
    );

    for (taken, what) in [
        (&bobs, "another account's token"),
        (&sibling, "another token of the same account"),
    ] {
        assert_conflict(
            store
                .replace_api_token_secret(alice.id, original.id, &taken.digest, "XXXX")
                .await,
            Conflict::Id,
            &format!("replace_api_token_secret with the digest of {what}"),
        );
        assert_eq!(
            token_by_digest(&*store, &taken.digest).await,
            Some(taken.clone()),
            "a refused replace_api_token_secret must not change the token that has the digest"
        );
    }
    assert_eq!(
        token_by_digest(&*store, &new_digest).await,
        Some(replaced.clone()),
        "a refused replace_api_token_secret must leave the token as it was"
    );
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        vec![replaced, sibling],
        "refused replace_api_token_secret calls must change nothing"
    );
    assert_eq!(
        tokens_of(&*store, bob.id).await,
        vec![bobs],
        "replace_api_token_secret must not change another account's tokens"
    );
}

/// `delete_api_token` deletes the account's token and returns it as stored (with its last
/// use); its digest finds nothing afterwards and a second delete answers `None`. Another
/// account's token and an unknown one answer `None` and stay.
pub async fn api_token_delete(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let deleted = ApiTokenRecord {
        allowed_networks: vec![net("192.0.2.0/24")],
        ..fixtures::api_token(alice.id, time(0))
    };
    let kept = fixtures::api_token(alice.id, time(10));
    let bobs = fixtures::api_token(bob.id, time(20));
    for token in [&deleted, &kept, &bobs] {
        insert_token(&*store, token).await;
    }
    ok(
        store
            .touch_api_token(deleted.id, time(60), Some(ip("192.0.2.1")))
            .await,
        "touch_api_token",
    );
    let stored = token_by_digest(&*store, &deleted.digest)
        .await
        .expect("the inserted token must be found by its digest");

    assert_eq!(
        ok(
            store.delete_api_token(bob.id, deleted.id).await,
            "delete_api_token"
        ),
        None,
        "delete_api_token of another account's token must answer None"
    );
    assert_eq!(
        token_by_digest(&*store, &deleted.digest).await,
        Some(stored.clone()),
        "delete_api_token of another account's token must not delete it"
    );
    assert_eq!(
        ok(
            store
                .delete_api_token(alice.id, ApiTokenId::generate(time(0), &OsRandom))
                .await,
            "delete_api_token"
        ),
        None,
        "delete_api_token of an unknown token must answer None"
    );

    assert_eq!(
        ok(
            store.delete_api_token(alice.id, deleted.id).await,
            "delete_api_token"
        ),
        Some(stored),
        "delete_api_token must return the deleted token as it was stored"
    );
    assert_eq!(
        token_by_digest(&*store, &deleted.digest).await,
        None,
        "a deleted token must not be found by its digest"
    );
    assert_eq!(
        ok(
            store.delete_api_token(alice.id, deleted.id).await,
            "delete_api_token"
        ),
        None,
        "delete_api_token of a token already deleted must answer None"
    );
    assert_eq!(
        (
            tokens_of(&*store, alice.id).await,
            tokens_of(&*store, bob.id).await
        ),
        (vec![kept], vec![bobs]),
        "delete_api_token must delete only the one token"
    );
}

// ---------------------------------------------------------------------------------------
// App passwords
// ---------------------------------------------------------------------------------------

/// App passwords (names with quotes and non-ASCII text, millisecond times, on two
/// accounts) read back field for field through `app_password_by_digest` and
/// `app_passwords_of`, and after a use with their last use; unknown digests and accounts
/// find nothing.
pub async fn app_password_insert_and_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    let mail = AppPasswordRecord {
        name: "Zoë's \"Mail\" on iPhone 📱".to_owned(),
        ..fixtures::app_password(alice.id, time_ms(1_234))
    };
    let calendar = AppPasswordRecord {
        name: "DAVx⁵ calendar".to_owned(),
        ..fixtures::app_password(alice.id, time_ms(5_678))
    };
    let bobs = fixtures::app_password(bob.id, time(10));
    for password in [&calendar, &bobs, &mail] {
        insert_password(&*store, password).await;
    }

    for (password, what) in [
        (&mail, "quotes and an emoji in its name"),
        (&calendar, "non-ASCII text in its name"),
        (&bobs, "another account"),
    ] {
        assert_eq!(
            password_by_digest(&*store, &password.digest).await,
            Some(password.clone()),
            "app_password_by_digest must read back the app password with {what}, field for \
             field"
        );
    }
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        vec![mail.clone(), calendar.clone()],
        "app_passwords_of must list the account's app passwords, field for field"
    );

    ok(
        store.touch_app_password(mail.id, time_ms(61_500)).await,
        "touch_app_password",
    );
    let mail_used = AppPasswordRecord {
        last_used_at: Some(time_ms(61_500)),
        ..mail.clone()
    };
    assert_eq!(
        password_by_digest(&*store, &mail.digest).await,
        Some(mail_used.clone()),
        "app_password_by_digest must read back the last use"
    );
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        vec![mail_used, calendar],
        "app_passwords_of must list the last use too"
    );

    assert_eq!(
        password_by_digest(&*store, &fixtures::digest()).await,
        None,
        "app_password_by_digest of an unknown digest must find nothing"
    );
    assert_eq!(
        passwords_of(&*store, fixtures::account_id()).await,
        Vec::new(),
        "app_passwords_of of an unknown account must find nothing"
    );
}

/// An app password whose id is taken, or whose digest is taken by another account's app
/// password, fails with [`Conflict::Id`], neither overwrites the first nor leaves anything
/// behind.
pub async fn app_password_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::app_password(alice.id, time(0));
    insert_password(&*store, &first).await;

    let same_id = AppPasswordRecord {
        id: first.id,
        ..fixtures::app_password(alice.id, time(10))
    };
    assert_conflict(
        store.insert_app_password(&same_id, ROOMY).await,
        Conflict::Id,
        "insert_app_password with a taken id",
    );
    assert_eq!(
        password_by_digest(&*store, &same_id.digest).await,
        None,
        "a refused insert_app_password must not store the app password"
    );

    let same_digest = AppPasswordRecord {
        digest: first.digest,
        ..fixtures::app_password(bob.id, time(20))
    };
    assert_conflict(
        store.insert_app_password(&same_digest, ROOMY).await,
        Conflict::Id,
        "insert_app_password with a digest taken by another account's app password",
    );
    assert_eq!(
        password_by_digest(&*store, &first.digest).await,
        Some(first.clone()),
        "a refused insert_app_password must not overwrite the app password that has the digest"
    );
    assert_eq!(
        passwords_of(&*store, bob.id).await,
        Vec::new(),
        "a refused insert_app_password must leave nothing on the other account"
    );
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        vec![first],
        "refused insert_app_password calls must leave only the first app password"
    );
}

/// With a limit of 3, an account's fourth app password answers `LimitReached` and is not
/// stored; another account still gets its own 3, a limit of 0 refuses the first, a
/// deleted app password makes room again, and a full set of app passwords does not count
/// against the account's tokens or SSH keys.
pub async fn app_password_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let alices: Vec<_> = (0..3)
        .map(|i| fixtures::app_password(alice.id, time(i * 10)))
        .collect();
    for (i, password) in alices.iter().enumerate() {
        assert_eq!(
            ok(
                store.insert_app_password(password, 3).await,
                "insert_app_password"
            ),
            LimitedInsert::Inserted,
            "app password {i} of an account with a limit of 3 must be inserted"
        );
    }
    let fourth = fixtures::app_password(alice.id, time(30));
    assert_eq!(
        ok(
            store.insert_app_password(&fourth, 3).await,
            "insert_app_password"
        ),
        LimitedInsert::LimitReached,
        "the fourth app password of an account with a limit of 3 must answer LimitReached"
    );
    assert_eq!(
        password_by_digest(&*store, &fourth.digest).await,
        None,
        "an app password refused for the limit must not be stored"
    );
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        alices,
        "an app password refused for the limit must leave the account's app passwords as \
         they were"
    );

    for i in 0..3 {
        let password = fixtures::app_password(bob.id, time(40 + i));
        assert_eq!(
            ok(
                store.insert_app_password(&password, 3).await,
                "insert_app_password"
            ),
            LimitedInsert::Inserted,
            "app password {i} of another account must be inserted while the first is at its \
             limit"
        );
    }
    assert_eq!(
        ok(
            store
                .insert_app_password(&fixtures::app_password(carol.id, time(50)), 0)
                .await,
            "insert_app_password"
        ),
        LimitedInsert::LimitReached,
        "insert_app_password with a limit of 0 must answer LimitReached"
    );
    assert_eq!(
        passwords_of(&*store, carol.id).await,
        Vec::new(),
        "an app password refused for a limit of 0 must not be stored"
    );

    for i in 0..3 {
        assert_eq!(
            ok(
                store
                    .insert_api_token(&fixtures::api_token(alice.id, time(60 + i)), 3)
                    .await,
                "insert_api_token"
            ),
            LimitedInsert::Inserted,
            "token {i} must be inserted: app passwords do not count against tokens"
        );
        assert_eq!(
            ok(
                store
                    .insert_ssh_key(&fixtures::ssh_key(alice.id, time(60 + i)), 3)
                    .await,
                "insert_ssh_key"
            ),
            LimitedInsert::Inserted,
            "SSH key {i} must be inserted: app passwords do not count against SSH keys"
        );
    }
    assert_eq!(
        ok(
            store.insert_app_password(&fourth, 3).await,
            "insert_app_password"
        ),
        LimitedInsert::LimitReached,
        "tokens and SSH keys must not make room for app passwords"
    );

    assert!(
        ok(
            store.delete_app_password(alice.id, alices[1].id).await,
            "delete_app_password"
        )
        .is_some(),
        "delete_app_password of the account's app password must return it"
    );
    assert_eq!(
        ok(
            store.insert_app_password(&fourth, 3).await,
            "insert_app_password"
        ),
        LimitedInsert::Inserted,
        "after a delete an account at its limit must have room for one app password again"
    );
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        vec![alices[0].clone(), alices[2].clone(), fourth],
        "the app password inserted after the delete must be stored"
    );
}

/// `app_passwords_of` lists exactly the account's app passwords, oldest first by
/// `created_at` and then by id, whatever the order of insertion.
pub async fn app_password_list_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let oldest = fixtures::app_password(alice.id, time(0));
    let newest = fixtures::app_password(alice.id, time(120));
    let mut same_time = [
        fixtures::app_password(alice.id, time_ms(60_500)),
        fixtures::app_password(alice.id, time_ms(60_500)),
        fixtures::app_password(alice.id, time_ms(60_500)),
    ];
    same_time.sort_by_key(|p| std::cmp::Reverse(p.id));
    let bobs = fixtures::app_password(bob.id, time(30));
    for password in [
        &newest,
        &same_time[0],
        &bobs,
        &oldest,
        &same_time[1],
        &same_time[2],
    ] {
        insert_password(&*store, password).await;
    }

    same_time.sort_by_key(|p| p.id);
    let mut want = vec![oldest];
    want.extend(same_time);
    want.push(newest);
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        want,
        "app_passwords_of must list the account's app passwords oldest first, then by id"
    );
    assert_eq!(
        passwords_of(&*store, bob.id).await,
        vec![bobs],
        "app_passwords_of must list only the account's own app passwords"
    );
    assert_eq!(
        passwords_of(&*store, carol.id).await,
        Vec::new(),
        "app_passwords_of of an account without app passwords must be empty"
    );
}

/// `touch_app_password` sets the last use and nothing else; a later use replaces it, an
/// earlier or equal one does not, and an unknown app password is not an error and changes
/// nothing.
pub async fn app_password_touch(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let touched = fixtures::app_password(alice.id, time(0));
    let other = fixtures::app_password(alice.id, time(10));
    insert_password(&*store, &touched).await;
    insert_password(&*store, &other).await;

    ok(
        store.touch_app_password(touched.id, time_ms(120_500)).await,
        "touch_app_password",
    );
    let mut want = AppPasswordRecord {
        last_used_at: Some(time_ms(120_500)),
        ..touched.clone()
    };
    assert_eq!(
        password_by_digest(&*store, &touched.digest).await,
        Some(want.clone()),
        "touch_app_password must set last_used_at and change nothing else"
    );
    assert_eq!(
        password_by_digest(&*store, &other.digest).await,
        Some(other.clone()),
        "touch_app_password must not change another app password"
    );

    ok(
        store.touch_app_password(touched.id, time(180)).await,
        "touch_app_password",
    );
    want.last_used_at = Some(time(180));
    assert_eq!(
        password_by_digest(&*store, &touched.digest).await,
        Some(want.clone()),
        "a later touch_app_password must move last_used_at forward"
    );

    for (at, what) in [(time(60), "an earlier"), (time(180), "the same")] {
        ok(
            store.touch_app_password(touched.id, at).await,
            "touch_app_password",
        );
        assert_eq!(
            password_by_digest(&*store, &touched.digest).await,
            Some(want.clone()),
            "touch_app_password with {what} time must not move last_used_at"
        );
    }

    let unknown = AppPasswordId::generate(time(0), &OsRandom);
    ok(
        store.touch_app_password(unknown, time(300)).await,
        "touch_app_password of an unknown app password (must succeed and do nothing)",
    );
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        vec![want, other],
        "touch_app_password of an unknown app password must change nothing"
    );
}

/// `delete_app_password` deletes the account's app password and returns it as stored
/// (with its last use); its digest finds nothing afterwards and a second delete answers
/// `None`. Another account's app password and an unknown one answer `None` and stay.
pub async fn app_password_delete(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let deleted = fixtures::app_password(alice.id, time(0));
    let kept = fixtures::app_password(alice.id, time(10));
    let bobs = fixtures::app_password(bob.id, time(20));
    for password in [&deleted, &kept, &bobs] {
        insert_password(&*store, password).await;
    }
    ok(
        store.touch_app_password(deleted.id, time(60)).await,
        "touch_app_password",
    );
    let stored = password_by_digest(&*store, &deleted.digest)
        .await
        .expect("the inserted app password must be found by its digest");

    assert_eq!(
        ok(
            store.delete_app_password(bob.id, deleted.id).await,
            "delete_app_password"
        ),
        None,
        "delete_app_password of another account's app password must answer None"
    );
    assert_eq!(
        password_by_digest(&*store, &deleted.digest).await,
        Some(stored.clone()),
        "delete_app_password of another account's app password must not delete it"
    );
    assert_eq!(
        ok(
            store
                .delete_app_password(alice.id, AppPasswordId::generate(time(0), &OsRandom))
                .await,
            "delete_app_password"
        ),
        None,
        "delete_app_password of an unknown app password must answer None"
    );

    assert_eq!(
        ok(
            store.delete_app_password(alice.id, deleted.id).await,
            "delete_app_password"
        ),
        Some(stored),
        "delete_app_password must return the deleted app password as it was stored"
    );
    assert_eq!(
        password_by_digest(&*store, &deleted.digest).await,
        None,
        "a deleted app password must not be found by its digest"
    );
    assert_eq!(
        ok(
            store.delete_app_password(alice.id, deleted.id).await,
            "delete_app_password"
        ),
        None,
        "delete_app_password of an app password already deleted must answer None"
    );
    assert_eq!(
        (
            passwords_of(&*store, alice.id).await,
            passwords_of(&*store, bob.id).await
        ),
        (vec![kept], vec![bobs]),
        "delete_app_password must delete only the one app password"
    );
}

// ---------------------------------------------------------------------------------------
// SSH keys
// ---------------------------------------------------------------------------------------

/// SSH keys that between them use every field (an Ed25519 key with a plain comment, an
/// RSA key of 4096 bits with a public key line of some 700 characters and a comment and
/// name of quotes and non-ASCII text, an ECDSA key without a comment, millisecond times)
/// read back field for field through `ssh_key_by_fingerprint`, on whatever account, and
/// `ssh_keys_of`; unknown fingerprints (also a prefix of a known one) and accounts find
/// nothing.
pub async fn ssh_key_insert_and_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    let ed25519 = fixtures::ssh_key(alice.id, time_ms(1_234));
    let rsa = rsa_key(alice.id, time_ms(5_678));
    let ecdsa = SshKeyRecord {
        name: "Yubikey".to_owned(),
        algorithm: "ecdsa-sha2-nistp521".to_owned(),
        bits: 521,
        comment: None,
        ..fixtures::ssh_key(alice.id, time_ms(9_999))
    };
    let bobs = SshKeyRecord {
        algorithm: "sk-ssh-ed25519@openssh.com".to_owned(),
        ..fixtures::ssh_key(bob.id, time(10))
    };
    assert!(
        rsa.public_key.len() > 700,
        "the fixture RSA key must have a long public key line"
    );
    for key in [&rsa, &bobs, &ecdsa, &ed25519] {
        insert_key(&*store, key).await;
    }

    for (key, what) in [
        (&ed25519, "an Ed25519 key and a plain comment"),
        (
            &rsa,
            "a 4096-bit RSA key and quotes and non-ASCII text in its name and comment",
        ),
        (&ecdsa, "an ECDSA key and no comment"),
        (&bobs, "another account and a long algorithm name"),
    ] {
        assert_eq!(
            key_by_fingerprint(&*store, &key.fingerprint).await,
            Some(key.clone()),
            "ssh_key_by_fingerprint must read back the key with {what}, field for field"
        );
    }
    assert_eq!(
        keys_of(&*store, alice.id).await,
        vec![ed25519.clone(), rsa, ecdsa],
        "ssh_keys_of must list the account's keys, field for field"
    );

    let unknown = fixtures::ssh_key(alice.id, time(0)).fingerprint;
    assert_eq!(
        key_by_fingerprint(&*store, &unknown).await,
        None,
        "ssh_key_by_fingerprint of an unknown fingerprint must find nothing"
    );
    assert_eq!(
        key_by_fingerprint(&*store, &ed25519.fingerprint[..20]).await,
        None,
        "ssh_key_by_fingerprint must match the whole fingerprint, not a prefix"
    );
    assert_eq!(
        keys_of(&*store, fixtures::account_id()).await,
        Vec::new(),
        "ssh_keys_of of an unknown account must find nothing"
    );
}

/// A key whose fingerprint is on another account, or on the same account already, fails
/// with [`Conflict::SshKey`]; a key whose id is taken fails with [`Conflict::Id`]. None
/// overwrites the first or leaves anything behind.
pub async fn ssh_key_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::ssh_key(alice.id, time(0));
    insert_key(&*store, &first).await;

    let on_bob = SshKeyRecord {
        fingerprint: first.fingerprint.clone(),
        public_key: first.public_key.clone(),
        ..fixtures::ssh_key(bob.id, time(10))
    };
    assert_conflict(
        store.insert_ssh_key(&on_bob, ROOMY).await,
        Conflict::SshKey,
        "insert_ssh_key with a fingerprint on another account",
    );
    let again = SshKeyRecord {
        fingerprint: first.fingerprint.clone(),
        name: "The same key again".to_owned(),
        ..fixtures::ssh_key(alice.id, time(20))
    };
    assert_conflict(
        store.insert_ssh_key(&again, ROOMY).await,
        Conflict::SshKey,
        "insert_ssh_key with a fingerprint on the same account",
    );
    assert_eq!(
        key_by_fingerprint(&*store, &first.fingerprint).await,
        Some(first.clone()),
        "a refused insert_ssh_key must not overwrite the key that has the fingerprint"
    );

    let same_id = SshKeyRecord {
        id: first.id,
        ..fixtures::ssh_key(bob.id, time(30))
    };
    assert_conflict(
        store.insert_ssh_key(&same_id, ROOMY).await,
        Conflict::Id,
        "insert_ssh_key with a taken id",
    );
    assert_eq!(
        key_by_fingerprint(&*store, &same_id.fingerprint).await,
        None,
        "a refused insert_ssh_key must not store the key"
    );

    assert_eq!(
        keys_of(&*store, bob.id).await,
        Vec::new(),
        "refused insert_ssh_key calls must leave nothing on the other account"
    );
    assert_eq!(
        keys_of(&*store, alice.id).await,
        vec![first],
        "refused insert_ssh_key calls must leave only the first key"
    );
}

/// With a limit of 3, an account's fourth key answers `LimitReached` and is not stored,
/// while a fourth key whose fingerprint is taken answers [`Conflict::SshKey`] (checked
/// before the limit); another account still gets its own 3, a limit of 0 refuses the
/// first, a deleted key makes room again, and a full set of keys does not count against
/// the account's tokens or app passwords.
pub async fn ssh_key_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let alices: Vec<_> = (0..3)
        .map(|i| fixtures::ssh_key(alice.id, time(i * 10)))
        .collect();
    for (i, key) in alices.iter().enumerate() {
        assert_eq!(
            ok(store.insert_ssh_key(key, 3).await, "insert_ssh_key"),
            LimitedInsert::Inserted,
            "key {i} of an account with a limit of 3 must be inserted"
        );
    }
    let fourth = fixtures::ssh_key(alice.id, time(30));
    assert_eq!(
        ok(store.insert_ssh_key(&fourth, 3).await, "insert_ssh_key"),
        LimitedInsert::LimitReached,
        "the fourth key of an account with a limit of 3 must answer LimitReached"
    );
    assert_eq!(
        key_by_fingerprint(&*store, &fourth.fingerprint).await,
        None,
        "a key refused for the limit must not be stored"
    );
    let taken = SshKeyRecord {
        fingerprint: alices[0].fingerprint.clone(),
        ..fixtures::ssh_key(alice.id, time(35))
    };
    assert_conflict(
        store.insert_ssh_key(&taken, 3).await,
        Conflict::SshKey,
        "insert_ssh_key of a taken fingerprint on an account at its limit (the fingerprint \
         is checked before the limit)",
    );
    assert_eq!(
        keys_of(&*store, alice.id).await,
        alices,
        "keys refused at the limit must leave the account's keys as they were"
    );

    for i in 0..3 {
        let key = fixtures::ssh_key(bob.id, time(40 + i));
        assert_eq!(
            ok(store.insert_ssh_key(&key, 3).await, "insert_ssh_key"),
            LimitedInsert::Inserted,
            "key {i} of another account must be inserted while the first is at its limit"
        );
    }
    let carols = fixtures::ssh_key(carol.id, time(50));
    assert_eq!(
        ok(store.insert_ssh_key(&carols, 0).await, "insert_ssh_key"),
        LimitedInsert::LimitReached,
        "insert_ssh_key with a limit of 0 must answer LimitReached"
    );
    assert_eq!(
        key_by_fingerprint(&*store, &carols.fingerprint).await,
        None,
        "a key refused for a limit of 0 must not be stored"
    );

    for i in 0..3 {
        assert_eq!(
            ok(
                store
                    .insert_api_token(&fixtures::api_token(alice.id, time(60 + i)), 3)
                    .await,
                "insert_api_token"
            ),
            LimitedInsert::Inserted,
            "token {i} must be inserted: SSH keys do not count against tokens"
        );
        assert_eq!(
            ok(
                store
                    .insert_app_password(&fixtures::app_password(alice.id, time(60 + i)), 3)
                    .await,
                "insert_app_password"
            ),
            LimitedInsert::Inserted,
            "app password {i} must be inserted: SSH keys do not count against app passwords"
        );
    }
    assert_eq!(
        ok(store.insert_ssh_key(&fourth, 3).await, "insert_ssh_key"),
        LimitedInsert::LimitReached,
        "tokens and app passwords must not make room for SSH keys"
    );

    assert!(
        ok(
            store.delete_ssh_key(alice.id, alices[1].id).await,
            "delete_ssh_key"
        )
        .is_some(),
        "delete_ssh_key of the account's key must return it"
    );
    assert_eq!(
        ok(store.insert_ssh_key(&fourth, 3).await, "insert_ssh_key"),
        LimitedInsert::Inserted,
        "after a delete an account at its limit must have room for one key again"
    );
    assert_eq!(
        keys_of(&*store, alice.id).await,
        vec![alices[0].clone(), alices[2].clone(), fourth],
        "the key inserted after the delete must be stored"
    );
}

/// `ssh_keys_of` lists exactly the account's keys, oldest first by `created_at` and then
/// by id, whatever the order of insertion.
pub async fn ssh_key_list_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let oldest = fixtures::ssh_key(alice.id, time(0));
    let newest = fixtures::ssh_key(alice.id, time(120));
    let mut same_time = [
        fixtures::ssh_key(alice.id, time_ms(60_500)),
        fixtures::ssh_key(alice.id, time_ms(60_500)),
        fixtures::ssh_key(alice.id, time_ms(60_500)),
    ];
    same_time.sort_by_key(|k| std::cmp::Reverse(k.id));
    let bobs = fixtures::ssh_key(bob.id, time(30));
    for key in [
        &newest,
        &same_time[0],
        &bobs,
        &oldest,
        &same_time[1],
        &same_time[2],
    ] {
        insert_key(&*store, key).await;
    }

    same_time.sort_by_key(|k| k.id);
    let mut want = vec![oldest];
    want.extend(same_time);
    want.push(newest);
    assert_eq!(
        keys_of(&*store, alice.id).await,
        want,
        "ssh_keys_of must list the account's keys oldest first, then by id"
    );
    assert_eq!(
        keys_of(&*store, bob.id).await,
        vec![bobs],
        "ssh_keys_of must list only the account's own keys"
    );
    assert_eq!(
        keys_of(&*store, carol.id).await,
        Vec::new(),
        "ssh_keys_of of an account without keys must be empty"
    );
}

/// `delete_ssh_key` deletes the account's key and returns it; its fingerprint finds
/// nothing afterwards, a second delete answers `None`, and the key can be added again (here
/// by another account). Another account's key and an unknown one answer `None` and stay.
pub async fn ssh_key_delete(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let deleted = rsa_key(alice.id, time(0));
    let kept = fixtures::ssh_key(alice.id, time(10));
    let bobs = fixtures::ssh_key(bob.id, time(20));
    for key in [&deleted, &kept, &bobs] {
        insert_key(&*store, key).await;
    }

    assert_eq!(
        ok(
            store.delete_ssh_key(bob.id, deleted.id).await,
            "delete_ssh_key"
        ),
        None,
        "delete_ssh_key of another account's key must answer None"
    );
    assert_eq!(
        key_by_fingerprint(&*store, &deleted.fingerprint).await,
        Some(deleted.clone()),
        "delete_ssh_key of another account's key must not delete it"
    );
    assert_eq!(
        ok(
            store
                .delete_ssh_key(alice.id, SshKeyId::generate(time(0), &OsRandom))
                .await,
            "delete_ssh_key"
        ),
        None,
        "delete_ssh_key of an unknown key must answer None"
    );

    assert_eq!(
        ok(
            store.delete_ssh_key(alice.id, deleted.id).await,
            "delete_ssh_key"
        ),
        Some(deleted.clone()),
        "delete_ssh_key must return the deleted key"
    );
    assert_eq!(
        key_by_fingerprint(&*store, &deleted.fingerprint).await,
        None,
        "a deleted key must not be found by its fingerprint"
    );
    assert_eq!(
        ok(
            store.delete_ssh_key(alice.id, deleted.id).await,
            "delete_ssh_key"
        ),
        None,
        "delete_ssh_key of a key already deleted must answer None"
    );
    assert_eq!(
        (
            keys_of(&*store, alice.id).await,
            keys_of(&*store, bob.id).await
        ),
        (vec![kept.clone()], vec![bobs.clone()]),
        "delete_ssh_key must delete only the one key"
    );

    let re_added = SshKeyRecord {
        id: SshKeyId::generate(time(60), &OsRandom),
        account_id: bob.id,
        name: "Moved to Bob".to_owned(),
        created_at: time(60),
        ..deleted
    };
    insert_key(&*store, &re_added).await;
    assert_eq!(
        key_by_fingerprint(&*store, &re_added.fingerprint).await,
        Some(re_added.clone()),
        "the fingerprint of a deleted key must be free to add again"
    );
    assert_eq!(
        keys_of(&*store, bob.id).await,
        vec![bobs, re_added],
        "the key added again must be listed on its new account"
    );
}

// ---------------------------------------------------------------------------------------
// Under contention
// ---------------------------------------------------------------------------------------

/// Panics unless exactly `limit` of `results` are `Inserted` and the rest `LimitReached`;
/// returns the indexes of the inserted ones.
#[track_caller]
fn limited_winners(
    results: Vec<StoreResult<LimitedInsert>>,
    limit: usize,
    what: &str,
) -> BTreeSet<usize> {
    let n = results.len();
    let mut inserted = BTreeSet::new();
    let mut refused = 0;
    for (i, result) in results.into_iter().enumerate() {
        match ok(result, what) {
            LimitedInsert::Inserted => {
                inserted.insert(i);
            }
            LimitedInsert::LimitReached => refused += 1,
        }
    }
    assert_eq!(
        (inserted.len(), refused),
        (limit, n - limit),
        "of {n} concurrent {what} calls for one account with a limit of {limit}, exactly \
         {limit} must answer Inserted and {} LimitReached",
        n - limit
    );
    inserted
}

/// 20 concurrent `insert_api_token` calls for one account with a limit of 5: exactly 5
/// are inserted and 15 answer `LimitReached`, and the account has exactly the 5 winners.
pub async fn concurrent_insert_api_token_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let tokens: Vec<_> = (0..20)
        .map(|i| fixtures::api_token(alice.id, time(i)))
        .collect();

    let results = together(tokens.len(), |i| {
        let store = Arc::clone(&store);
        let token = tokens[i].clone();
        async move { store.insert_api_token(&token, 5).await }
    })
    .await;
    let winners = limited_winners(results, 5, "insert_api_token");
    let want: Vec<_> = winners.iter().map(|&i| tokens[i].clone()).collect();
    assert_eq!(
        tokens_of(&*store, alice.id).await,
        want,
        "after concurrent insert_api_token calls the account must have exactly the inserted \
         tokens"
    );
    for (i, token) in tokens.iter().enumerate() {
        assert_eq!(
            token_by_digest(&*store, &token.digest).await.is_some(),
            winners.contains(&i),
            "only the inserted tokens' digests may find a token (token {i})"
        );
    }
}

/// 20 concurrent `insert_app_password` calls for one account with a limit of 5: exactly
/// 5 are inserted and 15 answer `LimitReached`, and the account has exactly the 5
/// winners.
pub async fn concurrent_insert_app_password_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let passwords: Vec<_> = (0..20)
        .map(|i| fixtures::app_password(alice.id, time(i)))
        .collect();

    let results = together(passwords.len(), |i| {
        let store = Arc::clone(&store);
        let password = passwords[i].clone();
        async move { store.insert_app_password(&password, 5).await }
    })
    .await;
    let winners = limited_winners(results, 5, "insert_app_password");
    let want: Vec<_> = winners.iter().map(|&i| passwords[i].clone()).collect();
    assert_eq!(
        passwords_of(&*store, alice.id).await,
        want,
        "after concurrent insert_app_password calls the account must have exactly the \
         inserted app passwords"
    );
    for (i, password) in passwords.iter().enumerate() {
        assert_eq!(
            password_by_digest(&*store, &password.digest)
                .await
                .is_some(),
            winners.contains(&i),
            "only the inserted app passwords' digests may find one (app password {i})"
        );
    }
}

/// 20 concurrent `insert_ssh_key` calls of distinct keys for one account with a limit of
/// 5: exactly 5 are inserted and 15 answer `LimitReached`, and the account has exactly
/// the 5 winners.
pub async fn concurrent_insert_ssh_key_limit(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let keys: Vec<_> = (0..20)
        .map(|i| fixtures::ssh_key(alice.id, time(i)))
        .collect();

    let results = together(keys.len(), |i| {
        let store = Arc::clone(&store);
        let key = keys[i].clone();
        async move { store.insert_ssh_key(&key, 5).await }
    })
    .await;
    let winners = limited_winners(results, 5, "insert_ssh_key");
    let want: Vec<_> = winners.iter().map(|&i| keys[i].clone()).collect();
    assert_eq!(
        keys_of(&*store, alice.id).await,
        want,
        "after concurrent insert_ssh_key calls the account must have exactly the inserted keys"
    );
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            key_by_fingerprint(&*store, &key.fingerprint)
                .await
                .is_some(),
            winners.contains(&i),
            "only the inserted keys' fingerprints may find a key (key {i})"
        );
    }
}

/// 10 concurrent `insert_ssh_key` calls of one fingerprint on 10 different accounts:
/// exactly one is inserted, the others fail with [`Conflict::SshKey`] and leave nothing.
pub async fn concurrent_insert_ssh_key_same_fingerprint(store: Arc<dyn Store>) {
    let mut accounts = Vec::new();
    for i in 0..10 {
        accounts.push(
            fixtures::insert_account(
                &*store,
                &format!("user{i}"),
                &format!("user{i}@example.com"),
            )
            .await,
        );
    }
    let shared = fixtures::ssh_key(accounts[0].id, time(0));
    let keys: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(i, account)| SshKeyRecord {
            id: SshKeyId::generate(time(0), &OsRandom),
            account_id: account.id,
            name: format!("Key of user{i}"),
            ..shared.clone()
        })
        .collect();

    let results = together(keys.len(), |i| {
        let store = Arc::clone(&store);
        let key = keys[i].clone();
        async move { store.insert_ssh_key(&key, ROOMY).await }
    })
    .await;
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(LimitedInsert::Inserted) => winners.push(i),
            other => assert_conflict(
                other,
                Conflict::SshKey,
                "a losing concurrent insert_ssh_key of a taken fingerprint",
            ),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "of 10 concurrent insert_ssh_key calls of one fingerprint on 10 accounts exactly one \
         must succeed"
    );
    let winner = winners[0];
    assert_eq!(
        key_by_fingerprint(&*store, &shared.fingerprint).await,
        Some(keys[winner].clone()),
        "the fingerprint must find the key that won"
    );
    for (i, account) in accounts.iter().enumerate() {
        let want = if i == winner {
            vec![keys[winner].clone()]
        } else {
            Vec::new()
        };
        assert_eq!(
            keys_of(&*store, account.id).await,
            want,
            "only the winning account may have the key (account {i})"
        );
    }
}

/// Runs `n` tasks made by `task(0..n)` on the runtime's workers, released together by a
/// barrier, and returns their outputs in task order.
async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let work = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let all = async {
        let mut outputs = Vec::with_capacity(n);
        for handle in handles {
            match handle.await {
                Ok(output) => outputs.push(output),
                Err(e) => panic!("a concurrent store call panicked or was cancelled: {e}"),
            }
        }
        outputs
    };
    match tokio::time::timeout(DEADLINE, all).await {
        Ok(outputs) => outputs,
        Err(_) => panic!(
            "{n} concurrent store calls did not finish within {DEADLINE:?}: a deadlock in the \
             store?"
        ),
    }
}
