//! Cases for programmatic access: [`ApiTokenStore`](crate::store::ApiTokenStore),
//! [`AppPasswordStore`](crate::store::AppPasswordStore) and
//! [`SshKeyStore`](crate::store::SshKeyStore), and their limited inserts under contention.
//!
//! The three kinds promise the same things in most respects: a limit per account that the
//! insert decides, a unique id and a unique key (a token's or app password's digest, a
//! key's fingerprint), lists oldest first, deletes of the account's own records only, and,
//! for tokens and app passwords, a last use that only moves forward. Each of those is
//! written once below, as a body generic over [`Kind`] (and [`Used`]), and each named
//! case runs that body for its kind, so the three cannot drift apart. What only one kind
//! does is written out in its own case: a token's networks, the address of its last use
//! and its new secret; an SSH key's fingerprint, which is checked before the limit and
//! which no two accounts may share.

use std::any::TypeId;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;

use super::{assert_conflict, ok, together};
use crate::api_token::ApiTokenSecret;
use crate::model::{
    AccountId, ApiTokenId, ApiTokenRecord, ApiTokenWithAccount, AppPasswordId, AppPasswordRecord,
    LimitedInsert, SshKeyId, SshKeyRecord, TokenScope,
};
use crate::random::{OsRandom, SecureRandom};
use crate::store::{Conflict, Store, StoreResult};
use crate::testing::fixtures::{self, time, time_ms};
use crate::token::TokenDigest;

/// A limit no case reaches, for inserts that are not about the limit.
const ROOMY: u32 = 100;

// ---------------------------------------------------------------------------------------
// The three kinds
// ---------------------------------------------------------------------------------------

/// What a method of the store traits returns (they are `async_trait` methods): a future
/// that a shared body can await, or move into a task of its own, since it is `Send`.
type Call<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// One kind of programmatic access as the shared bodies see it: how to make a record, its
/// id and unique key, and the four store methods every kind has.
trait Kind: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    type Id: Copy + Ord + fmt::Debug + Send + Sync;
    /// What the kind's lookup finds a record by, unique across all accounts.
    type Key: ?Sized + Sync;
    /// How messages name the kind (one record and several), its unique key, and its
    /// insert, lookup, list and delete methods.
    const ONE: &'static str;
    const MANY: &'static str;
    const KEY: &'static str;
    const INSERT: &'static str;
    const FIND: &'static str;
    const LIST: &'static str;
    const DELETE: &'static str;
    /// The conflict an insert whose key is taken fails with.
    const KEY_TAKEN: Conflict;

    /// A record of `account` from the fixtures, with a fresh id and key.
    fn plain(account: AccountId, created_at: DateTime<Utc>) -> Self;
    /// A record that fills every field the kind has, with quotes and non-ASCII text in
    /// its strings.
    fn full(account: AccountId, created_at: DateTime<Utc>) -> Self;
    fn id(&self) -> Self::Id;
    fn key(&self) -> &Self::Key;
    /// This record with the id of `other`.
    fn with_id_of(self, other: &Self) -> Self;
    /// This record with the unique key of `other` (for an SSH key, the same key pasted
    /// again).
    fn with_key_of(self, other: &Self) -> Self;

    fn insert<'a>(store: &'a dyn Store, record: &'a Self, limit: u32) -> Call<'a, LimitedInsert>;
    fn find<'a>(store: &'a dyn Store, key: &'a Self::Key) -> Call<'a, Option<Self>>;
    fn list(store: &dyn Store, account: AccountId) -> Call<'_, Vec<Self>>;
    fn delete(store: &dyn Store, account: AccountId, id: Self::Id) -> Call<'_, Option<Self>>;
}

/// Implements [`Kind`] for a record type from what differs between the kinds: its id, its
/// unique key field (and the fields that go with it), the conflict a taken key answers,
/// its fixtures and its four store methods. Messages name the methods with their own
/// identifiers, so a message cannot name another method than the one called.
macro_rules! kind {
    (
        $record:ident: $one:literal, $many:literal, id: $id:ty,
        key: $key:ident $(with $also:ident)*: $key_type:ty, taken: $taken:ident,
        plain: $plain:path, full: $full:path,
        methods: $insert:ident, $find:ident, $list:ident, $delete:ident $(,)?
    ) => {
        impl Kind for $record {
            type Id = $id;
            type Key = $key_type;
            const ONE: &'static str = $one;
            const MANY: &'static str = $many;
            const KEY: &'static str = stringify!($key);
            const INSERT: &'static str = stringify!($insert);
            const FIND: &'static str = stringify!($find);
            const LIST: &'static str = stringify!($list);
            const DELETE: &'static str = stringify!($delete);
            const KEY_TAKEN: Conflict = Conflict::$taken;

            fn plain(account: AccountId, created_at: DateTime<Utc>) -> Self {
                $plain(account, created_at)
            }
            fn full(account: AccountId, created_at: DateTime<Utc>) -> Self {
                $full(account, created_at)
            }
            fn id(&self) -> $id {
                self.id
            }
            fn key(&self) -> &$key_type {
                &self.$key
            }
            fn with_id_of(self, other: &Self) -> Self {
                Self { id: other.id, ..self }
            }
            fn with_key_of(self, other: &Self) -> Self {
                let other = other.clone();
                Self { $key: other.$key, $($also: other.$also,)* ..self }
            }
            fn insert<'a>(store: &'a dyn Store, record: &'a Self, limit: u32) -> Call<'a, LimitedInsert> {
                store.$insert(record, limit)
            }
            fn find<'a>(store: &'a dyn Store, key: &'a $key_type) -> Call<'a, Option<Self>> {
                store.$find(key)
            }
            fn list(store: &dyn Store, account: AccountId) -> Call<'_, Vec<Self>> {
                store.$list(account)
            }
            fn delete(store: &dyn Store, account: AccountId, id: $id) -> Call<'_, Option<Self>> {
                store.$delete(account, id)
            }
        }
    };
}

kind! {
    ApiTokenRecord: "token", "tokens", id: ApiTokenId,
    key: digest: TokenDigest, taken: Id,
    plain: fixtures::api_token, full: full_token,
    methods: insert_api_token, api_token_by_digest, api_tokens_of, delete_api_token,
}

kind! {
    AppPasswordRecord: "app password", "app passwords", id: AppPasswordId,
    key: digest: TokenDigest, taken: Id,
    plain: fixtures::app_password, full: full_app_password,
    methods: insert_app_password, app_password_by_digest, app_passwords_of, delete_app_password,
}

kind! {
    SshKeyRecord: "SSH key", "SSH keys", id: SshKeyId,
    key: fingerprint with public_key: str, taken: SshKey,
    plain: fixtures::ssh_key, full: full_ssh_key,
    methods: insert_ssh_key, ssh_key_by_fingerprint, ssh_keys_of, delete_ssh_key,
}

/// A token with the write scope, IPv4 `/24` and `/32` with IPv6 `/64` and `/128` networks
/// together, an expiry with milliseconds, and quotes and non-ASCII text in its name.
fn full_token(account: AccountId, created_at: DateTime<Utc>) -> ApiTokenRecord {
    ApiTokenRecord {
        name: "deploy 'prod' for Zoë 📈".to_owned(),
        scope: TokenScope::Write,
        allowed_networks: vec![
            net("10.0.0.0/24"),
            net("192.0.2.7/32"),
            net("2001:db8::1/128"),
            net("2001:db8:1234:5678::/64"),
        ],
        expires_at: Some(created_at + Duration::days(90) + Duration::milliseconds(567)),
        ..fixtures::api_token(account, created_at)
    }
}

/// An app password with quotes and an emoji in its name (it has no optional field).
fn full_app_password(account: AccountId, created_at: DateTime<Utc>) -> AppPasswordRecord {
    AppPasswordRecord {
        name: "Zoë's \"Mail\" on iPhone 📱".to_owned(),
        ..fixtures::app_password(account, created_at)
    }
}

/// An `ssh-rsa` key of 4096 bits (a public key line of some 700 characters) with random
/// key bytes and its real fingerprint, named and commented with quotes and non-ASCII text.
fn full_ssh_key(account: AccountId, created_at: DateTime<Utc>) -> SshKeyRecord {
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

/// A kind that records its last use: tokens and app passwords (an SSH server checks a key
/// itself and tells the store nothing).
trait Used: Kind {
    /// The name of the touch method, and what a use records, for messages.
    const TOUCH: &'static str;
    const USE: &'static str;

    /// Records a use at `at` from the client address `ip`.
    fn touch(
        store: &dyn Store,
        id: Self::Id,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Call<'_, ()>;
    /// This record as that use leaves it.
    fn used(&self, at: DateTime<Utc>, ip: Option<IpAddr>) -> Self;
}

impl Used for ApiTokenRecord {
    const TOUCH: &'static str = "touch_api_token";
    const USE: &'static str = "the last use and its address";

    fn touch(
        store: &dyn Store,
        id: ApiTokenId,
        at: DateTime<Utc>,
        ip: Option<IpAddr>,
    ) -> Call<'_, ()> {
        store.touch_api_token(id, at, ip)
    }

    /// A token keeps the address of its last use, so a use from no known address clears
    /// it.
    fn used(&self, at: DateTime<Utc>, ip: Option<IpAddr>) -> Self {
        Self {
            last_used_at: Some(at),
            last_used_ip: ip,
            ..self.clone()
        }
    }
}

impl Used for AppPasswordRecord {
    const TOUCH: &'static str = "touch_app_password";
    const USE: &'static str = "the last use";

    /// An app password keeps no address of its use, so `ip` goes nowhere.
    fn touch(
        store: &dyn Store,
        id: AppPasswordId,
        at: DateTime<Utc>,
        _ip: Option<IpAddr>,
    ) -> Call<'_, ()> {
        store.touch_app_password(id, at)
    }

    fn used(&self, at: DateTime<Utc>, _ip: Option<IpAddr>) -> Self {
        Self {
            last_used_at: Some(at),
            ..self.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

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

/// The first `N` of Alice, Bob and Carol, inserted as accounts.
async fn accounts<const N: usize>(store: &dyn Store) -> [AccountId; N] {
    let mut ids = Vec::with_capacity(N);
    for name in ["alice", "bob", "carol"].into_iter().take(N) {
        let address = format!("{name}@example.com");
        ids.push(fixtures::insert_account(store, name, &address).await.id);
    }
    ids.try_into()
        .unwrap_or_else(|_| panic!("a case asked for {N} accounts; there are three names"))
}

/// What the kind's insert answers for `record` with `limit`; panics on an error.
async fn try_insert<K: Kind>(store: &dyn Store, record: &K, limit: u32) -> LimitedInsert {
    ok(K::insert(store, record, limit).await, K::INSERT)
}

/// Inserts `record` with [`ROOMY`] as the limit and panics unless it is inserted.
async fn add<K: Kind>(store: &dyn Store, record: &K) {
    assert_eq!(
        try_insert(store, record, ROOMY).await,
        LimitedInsert::Inserted,
        "{} below the limit must insert",
        K::INSERT
    );
}

/// The stored record with the unique key of `record`, read through the kind's lookup.
async fn stored<K: Kind>(store: &dyn Store, record: &K) -> Option<K> {
    ok(K::find(store, record.key()).await, K::FIND)
}

/// The account's records, read through the kind's list.
async fn listed<K: Kind>(store: &dyn Store, account: AccountId) -> Vec<K> {
    ok(K::list(store, account).await, K::LIST)
}

/// What the kind's delete of `record` (by its id) on behalf of `account` returns.
async fn remove<K: Kind>(store: &dyn Store, account: AccountId, record: &K) -> Option<K> {
    ok(K::delete(store, account, record.id()).await, K::DELETE)
}

/// Records a use of `record` and returns the record as the use leaves it.
async fn use_once<K: Used>(
    store: &dyn Store,
    record: &K,
    at: DateTime<Utc>,
    ip: Option<IpAddr>,
) -> K {
    ok(K::touch(store, record.id(), at, ip).await, K::TOUCH);
    record.used(at, ip)
}

/// Panics unless each record reads back field for field through its key; `what` says
/// what it has that the others do not.
async fn assert_found<K: Kind>(store: &dyn Store, records: &[(&K, &str)]) {
    let (one, find) = (K::ONE, K::FIND);
    for &(record, what) in records {
        assert_eq!(
            stored(store, record).await.as_ref(),
            Some(record),
            "{find} must read back the {one} with {what}, field for field"
        );
    }
}

/// Inserts Alice's `alices` (given oldest first) and Bob's `bobs` in an order that is not
/// creation order, then checks that each reads back field for field through its key, on
/// whatever account, and that Alice's list is `alices`; a key and an account that have
/// nothing find nothing.
async fn assert_reads_back<K: Kind>(
    store: &dyn Store,
    alice: AccountId,
    alices: &[(&K, &str)],
    bobs: (&K, &str),
) {
    let (many, key, find, list) = (K::MANY, K::KEY, K::FIND, K::LIST);
    add(store, bobs.0).await;
    for &(record, _) in alices.iter().rev() {
        add(store, record).await;
    }
    assert_found(store, alices).await;
    assert_found(store, &[bobs]).await;
    let want: Vec<K> = alices.iter().map(|&(record, _)| record.clone()).collect();
    assert_eq!(
        listed::<K>(store, alice).await,
        want,
        "{list} must list the account's {many}, field for field"
    );

    let never_stored = K::plain(alice, time(0));
    assert_eq!(
        stored(store, &never_stored).await,
        None,
        "{find} of an unknown {key} must find nothing"
    );
    assert_eq!(
        listed::<K>(store, fixtures::account_id()).await,
        Vec::new(),
        "{list} of an unknown account must find nothing"
    );
}

/// Inserts three records of kind `O` for `account` with a limit of 3 and panics unless
/// each is inserted, whatever the account has of kind `K`: each kind has a limit of its
/// own. Does nothing when `O` is `K`.
async fn assert_counts_apart<K: Kind, O: Kind>(store: &dyn Store, account: AccountId) {
    if TypeId::of::<K>() == TypeId::of::<O>() {
        return;
    }
    let (one, many, others) = (O::ONE, K::MANY, O::MANY);
    for i in 0..3 {
        assert_eq!(
            try_insert(store, &O::plain(account, time(60 + i)), 3).await,
            LimitedInsert::Inserted,
            "{one} {i} must be inserted: {many} do not count against {others}"
        );
    }
}

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

// ---------------------------------------------------------------------------------------
// What the three kinds share: each body is documented by the cases that run it
// ---------------------------------------------------------------------------------------

/// The body of the `*_insert_conflict` cases: a taken id (on the same account or another)
/// and a taken key (likewise) are refused, and neither overwrites nor leaves anything.
async fn insert_conflict<K: Kind>(store: &dyn Store) {
    let (one, key, insert) = (K::ONE, K::KEY, K::INSERT);
    let [alice, bob] = accounts(store).await;
    let first = K::plain(alice, time(0));
    add(store, &first).await;

    for (owner, whose) in [(alice, "the same account"), (bob, "another account")] {
        let same_id = K::plain(owner, time(10)).with_id_of(&first);
        assert_conflict(
            K::insert(store, &same_id, ROOMY).await,
            Conflict::Id,
            &format!("{insert} with an id taken on {whose}"),
        );
        assert_eq!(
            stored(store, &same_id).await,
            None,
            "a refused {insert} must not store the {one}"
        );

        let same_key = K::plain(owner, time(20)).with_key_of(&first);
        assert_conflict(
            K::insert(store, &same_key, ROOMY).await,
            K::KEY_TAKEN,
            &format!("{insert} with a {key} taken on {whose}"),
        );
        assert_eq!(
            stored(store, &first).await,
            Some(first.clone()),
            "a refused {insert} must not overwrite the {one} that has the {key}"
        );
    }
    assert_eq!(
        (
            listed::<K>(store, alice).await,
            listed::<K>(store, bob).await
        ),
        (vec![first], Vec::new()),
        "refused {insert} calls must leave only the first {one}, and nothing on the other \
         account"
    );
}

/// The body of the `*_limit` cases. Returns Alice, who is at her limit of 3 again.
async fn limit<K: Kind>(store: &dyn Store) -> AccountId {
    let (one, many, insert, delete) = (K::ONE, K::MANY, K::INSERT, K::DELETE);
    let [alice, bob, carol] = accounts(store).await;
    let alices: Vec<K> = (0..3).map(|i| K::plain(alice, time(i * 10))).collect();
    for (i, record) in alices.iter().enumerate() {
        assert_eq!(
            try_insert(store, record, 3).await,
            LimitedInsert::Inserted,
            "{one} {i} of an account with a limit of 3 must be inserted"
        );
    }
    let fourth = K::plain(alice, time(30));
    assert_eq!(
        try_insert(store, &fourth, 3).await,
        LimitedInsert::LimitReached,
        "the fourth {one} of an account with a limit of 3 must answer LimitReached"
    );
    assert_eq!(
        (
            stored(store, &fourth).await,
            listed::<K>(store, alice).await
        ),
        (None, alices.clone()),
        "a {one} refused for the limit must not be stored, and must leave the account's \
         {many} as they were"
    );

    for i in 0..3 {
        assert_eq!(
            try_insert(store, &K::plain(bob, time(40 + i)), 3).await,
            LimitedInsert::Inserted,
            "{one} {i} of another account must be inserted while the first is at its limit"
        );
    }
    let carols = K::plain(carol, time(50));
    assert_eq!(
        try_insert(store, &carols, 0).await,
        LimitedInsert::LimitReached,
        "{insert} with a limit of 0 must answer LimitReached"
    );
    assert_eq!(
        (
            stored(store, &carols).await,
            listed::<K>(store, carol).await
        ),
        (None, Vec::new()),
        "a {one} refused for a limit of 0 must not be stored"
    );

    assert_counts_apart::<K, ApiTokenRecord>(store, alice).await;
    assert_counts_apart::<K, AppPasswordRecord>(store, alice).await;
    assert_counts_apart::<K, SshKeyRecord>(store, alice).await;
    assert_eq!(
        try_insert(store, &fourth, 3).await,
        LimitedInsert::LimitReached,
        "the other kinds must not make room for {many}"
    );

    assert!(
        remove(store, alice, &alices[1]).await.is_some(),
        "{delete} of the account's {one} must return it"
    );
    assert_eq!(
        try_insert(store, &fourth, 3).await,
        LimitedInsert::Inserted,
        "after a delete an account at its limit must have room for one {one} again"
    );
    assert_eq!(
        listed::<K>(store, alice).await,
        vec![alices[0].clone(), alices[2].clone(), fourth],
        "the {one} inserted after the delete must be stored"
    );
    alice
}

/// The body of the `*_list_of_account` cases.
async fn list_of_account<K: Kind>(store: &dyn Store) {
    let (many, list) = (K::MANY, K::LIST);
    let [alice, bob, carol] = accounts(store).await;
    let oldest = K::plain(alice, time(0));
    let newest = K::plain(alice, time(120));
    let mut same_time: [K; 3] = std::array::from_fn(|_| K::plain(alice, time_ms(60_500)));
    // Inserted largest id first, so that insertion order is not the expected order.
    same_time.sort_by_key(|r| std::cmp::Reverse(r.id()));
    let bobs = K::plain(bob, time(30));
    for record in [
        &newest,
        &same_time[0],
        &bobs,
        &oldest,
        &same_time[1],
        &same_time[2],
    ] {
        add(store, record).await;
    }

    same_time.sort_by_key(K::id);
    let mut want = vec![oldest];
    want.extend(same_time);
    want.push(newest);
    assert_eq!(
        listed::<K>(store, alice).await,
        want,
        "{list} must list the account's {many} oldest first, then by id"
    );
    assert_eq!(
        (
            listed::<K>(store, bob).await,
            listed::<K>(store, carol).await
        ),
        (vec![bobs], Vec::new()),
        "{list} must list only the account's own {many}, and none of an account without \
         {many}"
    );
}

/// The body of the `*_touch` cases.
async fn touch<K: Used>(store: &dyn Store) {
    let (one, touch, used) = (K::ONE, K::TOUCH, K::USE);
    let [alice] = accounts(store).await;
    let touched = K::full(alice, time(0));
    let other = K::plain(alice, time(10));
    add(store, &touched).await;
    add(store, &other).await;

    let mut want = use_once(store, &touched, time_ms(120_500), Some(ip("198.51.100.20"))).await;
    assert_eq!(
        (stored(store, &touched).await, stored(store, &other).await),
        (Some(want.clone()), Some(other.clone())),
        "{touch} must set {used} and change nothing else, in this {one} or another"
    );

    want = use_once(store, &touched, time(180), Some(ip("2001:db8::42"))).await;
    assert_eq!(
        stored(store, &touched).await,
        Some(want.clone()),
        "a later {touch} must replace {used}"
    );

    for (at, what) in [(time(60), "an earlier"), (time(180), "the same")] {
        // A use that is not later is dropped whole: its address must not be kept either.
        let elsewhere = Some(ip("192.0.2.99"));
        ok(K::touch(store, touched.id(), at, elsewhere).await, touch);
        assert_eq!(
            stored(store, &touched).await,
            Some(want.clone()),
            "{touch} with {what} time must not change {used}"
        );
    }

    want = use_once(store, &touched, time(240), None).await;
    assert_eq!(
        stored(store, &touched).await,
        Some(want.clone()),
        "a later {touch} from no known address must replace {used}"
    );

    let unknown = K::plain(alice, time(0)).id();
    ok(
        K::touch(store, unknown, time(300), Some(ip("198.51.100.20"))).await,
        &format!("{touch} of an unknown {one} (must succeed and do nothing)"),
    );
    assert_eq!(
        listed::<K>(store, alice).await,
        vec![want, other],
        "{touch} of an unknown {one} must change nothing"
    );
}

/// Inserts, for a `*_delete` case, Alice's record to delete (a [`Kind::full`] one) and
/// one to keep, and one of Bob's.
async fn insert_for_delete<K: Kind>(store: &dyn Store) -> (AccountId, AccountId, [K; 3]) {
    let [alice, bob] = accounts(store).await;
    let records = [
        K::full(alice, time(0)),
        K::plain(alice, time(10)),
        K::plain(bob, time(20)),
    ];
    for record in &records {
        add(store, record).await;
    }
    (alice, bob, records)
}

/// The body of the `*_delete` cases, on the records [`insert_for_delete`] made.
async fn delete<K: Kind>(
    store: &dyn Store,
    (alice, bob): (AccountId, AccountId),
    [gone, kept, bobs]: [K; 3],
) {
    let (one, key, delete) = (K::ONE, K::KEY, K::DELETE);
    let now = stored(store, &gone).await;
    let now = now.unwrap_or_else(|| panic!("the inserted {one} must be found by its {key}"));

    assert_eq!(
        remove(store, bob, &gone).await,
        None,
        "{delete} of another account's {one} must answer None"
    );
    assert_eq!(
        stored(store, &gone).await,
        Some(now.clone()),
        "{delete} of another account's {one} must not delete it"
    );
    assert_eq!(
        remove(store, alice, &K::plain(alice, time(0))).await,
        None,
        "{delete} of an unknown {one} must answer None"
    );

    assert_eq!(
        remove(store, alice, &gone).await,
        Some(now),
        "{delete} must return the deleted {one} as it was stored"
    );
    assert_eq!(
        stored(store, &gone).await,
        None,
        "a deleted {one} must not be found by its {key}"
    );
    assert_eq!(
        remove(store, alice, &gone).await,
        None,
        "{delete} of a {one} already deleted must answer None"
    );
    assert_eq!(
        (
            listed::<K>(store, alice).await,
            listed::<K>(store, bob).await
        ),
        (vec![kept], vec![bobs]),
        "{delete} must delete only the one {one}"
    );
}

/// The body of the `concurrent_insert_*_limit` cases: 20 distinct records for one account
/// with a limit of 5.
async fn concurrent_insert_limit<K: Kind>(store: Arc<dyn Store>) {
    let (one, many, key, insert) = (K::ONE, K::MANY, K::KEY, K::INSERT);
    let [alice] = accounts(&*store).await;
    let records: Vec<K> = (0..20).map(|i| K::plain(alice, time(i))).collect();

    let results = together(records.len(), |i| {
        let store = Arc::clone(&store);
        let record = records[i].clone();
        async move { K::insert(&*store, &record, 5).await }
    })
    .await;
    let winners = limited_winners(results, 5, insert);
    let want: Vec<K> = winners.iter().map(|&i| records[i].clone()).collect();
    assert_eq!(
        listed::<K>(&*store, alice).await,
        want,
        "after concurrent {insert} calls the account must have exactly the inserted {many}"
    );
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            stored(&*store, record).await.is_some(),
            winners.contains(&i),
            "only the inserted {many}' {key}s may find one ({one} {i})"
        );
    }
}

// ---------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------

/// `api_token_with_account` reads a token (every field) with its account as
/// `account_by_id` reads it, each token with its own account; an unknown digest finds
/// nothing.
pub async fn api_token_with_account_read_back(store: Arc<dyn Store>) {
    let [alice, bob] = accounts(&*store).await;
    let alices = full_token(alice, time_ms(5_678));
    let bobs = fixtures::api_token(bob, time(10));
    for token in [&alices, &bobs] {
        add(&*store, token).await;
    }
    for (token, account) in [(&alices, alice), (&bobs, bob)] {
        let expected = ApiTokenWithAccount {
            token: token.clone(),
            account: ok(store.account_by_id(account).await, "account_by_id")
                .expect("the account exists"),
        };
        assert_eq!(
            ok(
                store.api_token_with_account(&token.digest).await,
                "api_token_with_account"
            ),
            Some(expected),
            "api_token_with_account must read the token and its account exactly"
        );
    }
    assert_eq!(
        ok(
            store.api_token_with_account(&fixtures::digest()).await,
            "api_token_with_account"
        ),
        None,
        "api_token_with_account of an unknown digest must find nothing"
    );
}

/// Tokens that between them use every field (both scopes; no network, and IPv4 `/24` and
/// `/32` with IPv6 `/64` and `/128` together; no expiry, one, and one in the past; names
/// with quotes and non-ASCII text; millisecond times) read back field for field through
/// `api_token_by_digest`, on whatever account, and `api_tokens_of`; after a use from an
/// IPv4 and from an IPv6 address, the last use and its address read back too. Unknown
/// digests and accounts find nothing.
pub async fn api_token_insert_and_read_back(store: Arc<dyn Store>) {
    let [alice, bob] = accounts(&*store).await;
    let read = ApiTokenRecord {
        name: "Zoë's \"read-only\" token 📈".to_owned(),
        ..fixtures::api_token(alice, time_ms(1_234))
    };
    let write = full_token(alice, time_ms(5_678));
    let bobs = ApiTokenRecord {
        expires_at: Some(time(-60)),
        ..fixtures::api_token(bob, time(10))
    };
    assert_reads_back(
        &*store,
        alice,
        &[
            (&read, "the read scope, no network and no expiry"),
            (
                &write,
                "the write scope, IPv4 /24 and /32 and IPv6 /64 and /128 networks, and an \
                 expiry",
            ),
        ],
        (&bobs, "another account and an expiry in the past"),
    )
    .await;

    let v4 = use_once(&*store, &read, time_ms(61_500), Some(ip("203.0.113.9"))).await;
    let v6 = use_once(
        &*store,
        &write,
        time_ms(62_750),
        Some(ip("2001:db8:ffff::cafe")),
    )
    .await;
    assert_found(
        &*store,
        &[
            (&v4, "a last use from an IPv4 address"),
            (&v6, "a last use from an IPv6 address"),
        ],
    )
    .await;
    assert_eq!(
        listed::<ApiTokenRecord>(&*store, alice).await,
        vec![v4, v6],
        "api_tokens_of must list the last uses and their addresses too"
    );
}

/// A token whose id is taken (on the same account or another), or whose digest is taken
/// by a token of the same account or of another, fails with [`Conflict::Id`], neither
/// overwrites the first nor leaves anything behind.
pub async fn api_token_insert_conflict(store: Arc<dyn Store>) {
    insert_conflict::<ApiTokenRecord>(&*store).await;
}

/// With a limit of 3, an account's fourth token answers `LimitReached` and is not stored;
/// another account still gets its own 3, a limit of 0 refuses the first, a deleted token
/// makes room again, and a full set of tokens does not count against the account's app
/// passwords or SSH keys, nor do they make room for tokens.
pub async fn api_token_limit(store: Arc<dyn Store>) {
    limit::<ApiTokenRecord>(&*store).await;
}

/// `api_tokens_of` lists exactly the account's tokens, oldest first by `created_at` and
/// then by id, whatever the order of insertion.
pub async fn api_token_list_of_account(store: Arc<dyn Store>) {
    list_of_account::<ApiTokenRecord>(&*store).await;
}

/// `touch_api_token` sets the last use and its address and nothing else (of a token with
/// networks and an expiry); a later use replaces both (also one from no known address,
/// which clears the address), an earlier or equal one changes nothing, and an unknown
/// token is not an error and changes nothing.
pub async fn api_token_touch(store: Arc<dyn Store>) {
    touch::<ApiTokenRecord>(&*store).await;
}

/// `replace_api_token_secret` swaps the digest and last four characters of the account's
/// token and keeps every other field (its networks, expiry and last use among them): the
/// old digest finds nothing, the new one finds the token. Another account, an unknown
/// token, and a new digest that another token has (of another account or of the same) all
/// change nothing.
pub async fn api_token_replace_secret(store: Arc<dyn Store>) {
    let [alice, bob] = accounts(&*store).await;
    let original = full_token(alice, time_ms(1_500));
    let sibling = fixtures::api_token(alice, time(10));
    let bobs = fixtures::api_token(bob, time(20));
    for token in [&original, &sibling, &bobs] {
        add(&*store, token).await;
    }
    let used = use_once(&*store, &original, time_ms(30_125), Some(ip("10.0.0.3"))).await;

    let new = ApiTokenSecret::generate(&OsRandom);
    let replaced = ApiTokenRecord {
        digest: new.digest(),
        last_four: new.last_four(),
        ..used
    };
    assert_eq!(
        replace_secret(&*store, alice, original.id, &new).await,
        Some(replaced.clone()),
        "replace_api_token_secret must return the token with the new digest and last four \
         characters and every other field kept"
    );
    assert_eq!(
        stored(&*store, &original).await,
        None,
        "after replace_api_token_secret the old digest must find nothing"
    );
    assert_eq!(
        stored(&*store, &replaced).await,
        Some(replaced.clone()),
        "after replace_api_token_secret the new digest must find the token"
    );

    let stray = ApiTokenSecret::generate(&OsRandom);
    assert_eq!(
        replace_secret(&*store, bob, original.id, &stray).await,
        None,
        "replace_api_token_secret of another account's token must answer None"
    );
    let unknown = ApiTokenId::generate(time(0), &OsRandom);
    assert_eq!(
        replace_secret(&*store, alice, unknown, &stray).await,
        None,
        "replace_api_token_secret of an unknown token must answer None"
    );
    assert_eq!(
        ok(
            store.api_token_by_digest(&stray.digest()).await,
            "api_token_by_digest"
        ),
        None,
        "a replace_api_token_secret answering None must not store its digest"
    );

    for (taken, what) in [
        (&bobs, "another account's token"),
        (&sibling, "another token of the same account"),
    ] {
        assert_conflict(
            store
                .replace_api_token_secret(alice, original.id, &taken.digest, "XXXX")
                .await,
            Conflict::Id,
            &format!("replace_api_token_secret with the digest of {what}"),
        );
        assert_eq!(
            (
                stored(&*store, taken).await,
                stored(&*store, &replaced).await
            ),
            (Some(taken.clone()), Some(replaced.clone())),
            "a refused replace_api_token_secret must change neither the token that has the \
             digest nor the token it was asked to change"
        );
    }
    assert_eq!(
        (
            listed::<ApiTokenRecord>(&*store, alice).await,
            listed::<ApiTokenRecord>(&*store, bob).await
        ),
        (vec![replaced, sibling], vec![bobs]),
        "refused replace_api_token_secret calls must change nothing, on either account"
    );
}

/// Gives the account's token `id` the secret `secret` through `replace_api_token_secret`.
async fn replace_secret(
    store: &dyn Store,
    account: AccountId,
    id: ApiTokenId,
    secret: &ApiTokenSecret,
) -> Option<ApiTokenRecord> {
    let (digest, last_four) = (secret.digest(), secret.last_four());
    let replaced = store.replace_api_token_secret(account, id, &digest, &last_four);
    ok(replaced.await, "replace_api_token_secret")
}

/// `delete_api_token` deletes the account's token (one with networks and an expiry) and
/// returns it as stored (with its last use and its address); its digest finds nothing
/// afterwards and a second delete answers `None`. Another account's token and an unknown
/// one answer `None` and stay.
pub async fn api_token_delete(store: Arc<dyn Store>) {
    let (alice, bob, tokens) = insert_for_delete::<ApiTokenRecord>(&*store).await;
    use_once(&*store, &tokens[0], time(60), Some(ip("192.0.2.1"))).await;
    delete(&*store, (alice, bob), tokens).await;
}

// ---------------------------------------------------------------------------------------
// App passwords
// ---------------------------------------------------------------------------------------

/// App passwords (names with quotes and non-ASCII text, millisecond times, on two
/// accounts) read back field for field through `app_password_by_digest` and
/// `app_passwords_of`, and after a use with their last use; unknown digests and accounts
/// find nothing.
pub async fn app_password_insert_and_read_back(store: Arc<dyn Store>) {
    let [alice, bob] = accounts(&*store).await;
    let mail = full_app_password(alice, time_ms(1_234));
    let calendar = AppPasswordRecord {
        name: "DAVx⁵ calendar".to_owned(),
        ..fixtures::app_password(alice, time_ms(5_678))
    };
    let bobs = fixtures::app_password(bob, time(10));
    assert_reads_back(
        &*store,
        alice,
        &[
            (&mail, "quotes and an emoji in its name"),
            (&calendar, "non-ASCII text in its name"),
        ],
        (&bobs, "another account"),
    )
    .await;

    let mail = use_once(&*store, &mail, time_ms(61_500), None).await;
    assert_found(&*store, &[(&mail, "a last use")]).await;
    assert_eq!(
        listed::<AppPasswordRecord>(&*store, alice).await,
        vec![mail, calendar],
        "app_passwords_of must list the last use too"
    );
}

/// An app password whose id is taken (on the same account or another), or whose digest
/// is taken by an app password of the same account or of another, fails with
/// [`Conflict::Id`], neither overwrites the first nor leaves anything behind.
pub async fn app_password_insert_conflict(store: Arc<dyn Store>) {
    insert_conflict::<AppPasswordRecord>(&*store).await;
}

/// With a limit of 3, an account's fourth app password answers `LimitReached` and is not
/// stored; another account still gets its own 3, a limit of 0 refuses the first, a
/// deleted app password makes room again, and a full set of app passwords does not count
/// against the account's tokens or SSH keys, nor do they make room for app passwords.
pub async fn app_password_limit(store: Arc<dyn Store>) {
    limit::<AppPasswordRecord>(&*store).await;
}

/// `app_passwords_of` lists exactly the account's app passwords, oldest first by
/// `created_at` and then by id, whatever the order of insertion.
pub async fn app_password_list_of_account(store: Arc<dyn Store>) {
    list_of_account::<AppPasswordRecord>(&*store).await;
}

/// `touch_app_password` sets the last use and nothing else; a later use replaces it, an
/// earlier or equal one does not, and an unknown app password is not an error and changes
/// nothing.
pub async fn app_password_touch(store: Arc<dyn Store>) {
    touch::<AppPasswordRecord>(&*store).await;
}

/// `delete_app_password` deletes the account's app password and returns it as stored
/// (with its last use); its digest finds nothing afterwards and a second delete answers
/// `None`. Another account's app password and an unknown one answer `None` and stay.
pub async fn app_password_delete(store: Arc<dyn Store>) {
    let (alice, bob, passwords) = insert_for_delete::<AppPasswordRecord>(&*store).await;
    use_once(&*store, &passwords[0], time(60), None).await;
    delete(&*store, (alice, bob), passwords).await;
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
    let [alice, bob] = accounts(&*store).await;
    let ed25519 = fixtures::ssh_key(alice, time_ms(1_234));
    let rsa = full_ssh_key(alice, time_ms(5_678));
    let ecdsa = SshKeyRecord {
        name: "Yubikey".to_owned(),
        algorithm: "ecdsa-sha2-nistp521".to_owned(),
        bits: 521,
        comment: None,
        ..fixtures::ssh_key(alice, time_ms(9_999))
    };
    let bobs = SshKeyRecord {
        algorithm: "sk-ssh-ed25519@openssh.com".to_owned(),
        ..fixtures::ssh_key(bob, time(10))
    };
    assert!(
        rsa.public_key.len() > 700,
        "the fixture RSA key must have a long public key line"
    );
    assert_reads_back(
        &*store,
        alice,
        &[
            (&ed25519, "an Ed25519 key and a plain comment"),
            (
                &rsa,
                "a 4096-bit RSA key and quotes and non-ASCII text in its name and comment",
            ),
            (&ecdsa, "an ECDSA key and no comment"),
        ],
        (&bobs, "another account and a long algorithm name"),
    )
    .await;

    assert_eq!(
        ok(
            store
                .ssh_key_by_fingerprint(&ed25519.fingerprint[..20])
                .await,
            "ssh_key_by_fingerprint"
        ),
        None,
        "ssh_key_by_fingerprint must match the whole fingerprint, not a prefix"
    );
}

/// A key whose fingerprint is on another account, or on the same account already, fails
/// with [`Conflict::SshKey`]; a key whose id is taken (on either account) fails with
/// [`Conflict::Id`]. None overwrites the first or leaves anything behind.
pub async fn ssh_key_insert_conflict(store: Arc<dyn Store>) {
    insert_conflict::<SshKeyRecord>(&*store).await;
}

/// With a limit of 3, an account's fourth key answers `LimitReached` and is not stored;
/// another account still gets its own 3, a limit of 0 refuses the first, a deleted key
/// makes room again, and a full set of keys does not count against the account's tokens
/// or app passwords, nor do they make room for keys. A key whose fingerprint is taken
/// answers [`Conflict::SshKey`] on an account at its limit: the fingerprint is checked
/// before the limit.
pub async fn ssh_key_limit(store: Arc<dyn Store>) {
    let alice = limit::<SshKeyRecord>(&*store).await;
    let keys = listed::<SshKeyRecord>(&*store, alice).await;
    let taken = fixtures::ssh_key(alice, time(35)).with_key_of(&keys[0]);
    assert_conflict(
        store.insert_ssh_key(&taken, 3).await,
        Conflict::SshKey,
        "insert_ssh_key of a taken fingerprint on an account at its limit (the fingerprint \
         is checked before the limit)",
    );
    assert_eq!(
        listed::<SshKeyRecord>(&*store, alice).await,
        keys,
        "a key refused at the limit must leave the account's keys as they were"
    );
}

/// `ssh_keys_of` lists exactly the account's keys, oldest first by `created_at` and then
/// by id, whatever the order of insertion.
pub async fn ssh_key_list_of_account(store: Arc<dyn Store>) {
    list_of_account::<SshKeyRecord>(&*store).await;
}

/// `delete_ssh_key` deletes the account's key (an RSA key with a long public key line)
/// and returns it; its fingerprint finds nothing afterwards, a second delete answers
/// `None`, and the key can be added again (here by another account). Another account's
/// key and an unknown one answer `None` and stay.
pub async fn ssh_key_delete(store: Arc<dyn Store>) {
    let (alice, bob, keys) = insert_for_delete::<SshKeyRecord>(&*store).await;
    let (deleted, bobs) = (keys[0].clone(), keys[2].clone());
    delete(&*store, (alice, bob), keys).await;

    let re_added = SshKeyRecord {
        id: SshKeyId::generate(time(60), &OsRandom),
        account_id: bob,
        name: "Moved to Bob".to_owned(),
        created_at: time(60),
        ..deleted
    };
    add(&*store, &re_added).await;
    assert_eq!(
        stored(&*store, &re_added).await,
        Some(re_added.clone()),
        "the fingerprint of a deleted key must be free to add again"
    );
    assert_eq!(
        listed::<SshKeyRecord>(&*store, bob).await,
        vec![bobs, re_added],
        "the key added again must be listed on its new account"
    );
}

// ---------------------------------------------------------------------------------------
// Under contention
// ---------------------------------------------------------------------------------------

/// 20 concurrent `insert_api_token` calls for one account with a limit of 5: exactly 5
/// are inserted and 15 answer `LimitReached`, and the account has exactly the 5 winners,
/// whose digests alone find a token.
pub async fn concurrent_insert_api_token_limit(store: Arc<dyn Store>) {
    concurrent_insert_limit::<ApiTokenRecord>(store).await;
}

/// 20 concurrent `insert_app_password` calls for one account with a limit of 5: exactly
/// 5 are inserted and 15 answer `LimitReached`, and the account has exactly the 5
/// winners, whose digests alone find an app password.
pub async fn concurrent_insert_app_password_limit(store: Arc<dyn Store>) {
    concurrent_insert_limit::<AppPasswordRecord>(store).await;
}

/// 20 concurrent `insert_ssh_key` calls of distinct keys for one account with a limit of
/// 5: exactly 5 are inserted and 15 answer `LimitReached`, and the account has exactly
/// the 5 winners, whose fingerprints alone find a key.
pub async fn concurrent_insert_ssh_key_limit(store: Arc<dyn Store>) {
    concurrent_insert_limit::<SshKeyRecord>(store).await;
}

/// 10 concurrent `insert_ssh_key` calls of one fingerprint on 10 different accounts:
/// exactly one is inserted, the others fail with [`Conflict::SshKey`] and leave nothing.
pub async fn concurrent_insert_ssh_key_same_fingerprint(store: Arc<dyn Store>) {
    let mut accounts = Vec::new();
    for i in 0..10 {
        let (name, address) = (format!("user{i}"), format!("user{i}@example.com"));
        accounts.push(fixtures::insert_account(&*store, &name, &address).await.id);
    }
    let shared = fixtures::ssh_key(accounts[0], time(0));
    let keys: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(i, &account)| SshKeyRecord {
            id: SshKeyId::generate(time(0), &OsRandom),
            account_id: account,
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
        stored(&*store, &shared).await,
        Some(keys[winner].clone()),
        "the fingerprint must find the key that won"
    );
    for (i, &account) in accounts.iter().enumerate() {
        let want = if i == winner {
            vec![keys[winner].clone()]
        } else {
            Vec::new()
        };
        assert_eq!(
            listed::<SshKeyRecord>(&*store, account).await,
            want,
            "only the winning account may have the key (account {i})"
        );
    }
}
