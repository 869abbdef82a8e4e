//! Cases for [`SessionStore`](crate::store::SessionStore).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;

use super::{assert_conflict, ok};
use crate::device::DeviceDetails;
use crate::model::{
    AssuranceLevel, AuthMethod, Authentication, SecondFactors, SessionRecord, SessionRotation,
    SessionWithAccount,
};
use crate::store::{Conflict, Store};
use crate::testing::fixtures::{self, time, time_ms};

/// Inserts sessions that between them use every field (IPv6 and IPv4 and no address,
/// full and empty device details, several authentications and none, both assurance
/// levels, odd timeouts, millisecond times) and reads each back by its token digest,
/// field for field; an unknown digest finds nothing.
pub async fn session_insert_and_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;

    let full = SessionRecord {
        created_at: time_ms(1_234),
        last_seen_at: time_ms(61_789),
        idle_timeout: Duration::minutes(45) + Duration::seconds(7),
        absolute_expires_at: time_ms(1_234) + Duration::days(30),
        ip: Some(
            "2001:db8::8a2e:370:7334"
                .parse::<IpAddr>()
                .expect("valid address"),
        ),
        user_agent: Some(
            "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/126.0.0.0 Mobile Safari/537.36 \"quoted\" ünïcode"
                .to_owned(),
        ),
        device: DeviceDetails {
            browser: Some("Chrome 126".to_owned()),
            os: Some("Android 14".to_owned()),
            device: Some("Pixel 7".to_owned()),
            engine: Some("Blink".to_owned()),
            cpu_arch: Some("arm64".to_owned()),
        },
        authentications: vec![
            Authentication {
                method: AuthMethod::Password,
                at: time_ms(1_234),
            },
            Authentication {
                method: AuthMethod::Totp,
                at: time_ms(9_876),
            },
            Authentication {
                method: AuthMethod::Passkey,
                at: time(30),
            },
            Authentication {
                method: AuthMethod::RecoveryCode,
                at: time(40),
            },
        ],
        assurance: AssuranceLevel::Two,
        ..fixtures::session(alice.id, time(0))
    };
    let v4 = SessionRecord {
        ip: Some(IpAddr::from([192, 0, 2, 255])),
        ..fixtures::session(alice.id, time(10))
    };
    let bare = SessionRecord {
        ip: None,
        user_agent: None,
        device: DeviceDetails::default(),
        authentications: Vec::new(),
        ..fixtures::session(alice.id, time(20))
    };

    for session in [&full, &v4, &bare] {
        ok(store.insert_session(session).await, "insert_session");
    }
    for (session, what) in [
        (&full, "every field"),
        (&v4, "IPv4"),
        (&bare, "empty fields"),
    ] {
        assert_eq!(
            ok(
                store.session_by_token(&session.token_digest).await,
                "session_by_token"
            ),
            Some(session.clone()),
            "session_by_token must read back the session inserted with {what}, field for field"
        );
    }
    assert_eq!(
        ok(
            store.session_by_token(&fixtures::digest()).await,
            "session_by_token"
        ),
        None,
        "session_by_token of an unknown digest must find nothing"
    );
}

/// `session_with_account` reads a session with its account (as `account_by_id` reads it)
/// and that account's second factors (as `second_factors` counts them) in one read, each
/// session with its own account; an unknown digest finds nothing.
pub async fn session_with_account_read_back(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    ok(
        store
            .put_pending_totp(alice.id, &fixtures::totp_secret(), time(0))
            .await,
        "put_pending_totp",
    );
    let codes = fixtures::recovery_codes(6);
    ok(
        store.confirm_totp(alice.id, 3, &codes, time(5)).await,
        "confirm_totp",
    );
    fixtures::insert_passkey(&*store, alice.id, b"alice-1", time(6)).await;
    fixtures::insert_passkey(&*store, alice.id, b"alice-2", time(7)).await;
    fixtures::insert_passkey(&*store, bob.id, b"bob-1", time(8)).await;
    let alices = SessionRecord {
        assurance: AssuranceLevel::Two,
        ..fixtures::session(alice.id, time(10))
    };
    let bobs = fixtures::session(bob.id, time(20));
    for session in [&alices, &bobs] {
        ok(store.insert_session(session).await, "insert_session");
    }

    for (session, account) in [(&alices, &alice), (&bobs, &bob)] {
        let expected = SessionWithAccount {
            session: session.clone(),
            account: ok(store.account_by_id(account.id).await, "account_by_id")
                .expect("the account exists"),
            second_factors: ok(store.second_factors(account.id).await, "second_factors"),
        };
        assert_eq!(
            ok(
                store.session_with_account(&session.token_digest).await,
                "session_with_account"
            ),
            Some(expected),
            "session_with_account must read {}'s session, account and second factors exactly",
            account.username.as_str()
        );
    }
    let alices_read = ok(
        store.session_with_account(&alices.token_digest).await,
        "session_with_account",
    )
    .expect("alice's session exists");
    assert_eq!(
        alices_read.second_factors,
        SecondFactors {
            totp: true,
            recovery_codes_left: 6,
            passkeys: 2,
        },
        "session_with_account must count alice's TOTP, 6 recovery codes and 2 passkeys"
    );
    assert_eq!(
        ok(
            store.session_with_account(&fixtures::digest()).await,
            "session_with_account"
        ),
        None,
        "session_with_account of an unknown digest must find nothing"
    );
}

/// A session whose id or token digest is taken fails with [`Conflict::Id`] and neither
/// overwrites the first nor leaves anything behind.
pub async fn session_insert_conflict(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let first = fixtures::insert_session(&*store, alice.id, time(0)).await;

    let same_id = SessionRecord {
        id: first.id,
        ..fixtures::session(alice.id, time(10))
    };
    assert_conflict(
        store.insert_session(&same_id).await,
        Conflict::Id,
        "insert_session with a taken id",
    );
    assert_eq!(
        ok(
            store.session_by_token(&same_id.token_digest).await,
            "session_by_token"
        ),
        None,
        "a refused insert_session must not store the session"
    );

    let same_digest = SessionRecord {
        token_digest: first.token_digest,
        ..fixtures::session(alice.id, time(20))
    };
    assert_conflict(
        store.insert_session(&same_digest).await,
        Conflict::Id,
        "insert_session with a taken token digest",
    );
    assert_eq!(
        ok(
            store.session_by_token(&first.token_digest).await,
            "session_by_token"
        ),
        Some(first.clone()),
        "a refused insert_session must not overwrite the session that has the digest"
    );
    assert_eq!(
        ok(store.sessions_of(alice.id).await, "sessions_of"),
        vec![first],
        "refused insert_session calls must leave only the first session"
    );
}

/// `touch_session` moves `last_seen_at` forward and never back, and ignores an unknown
/// session.
pub async fn session_touch(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let mut want = fixtures::insert_session(&*store, alice.id, time(0)).await;

    ok(
        store.touch_session(want.id, time_ms(120_500)).await,
        "touch_session",
    );
    want.last_seen_at = time_ms(120_500);
    assert_eq!(
        ok(
            store.session_by_token(&want.token_digest).await,
            "session_by_token"
        ),
        Some(want.clone()),
        "touch_session must move last_seen_at forward and change nothing else"
    );

    ok(
        store.touch_session(want.id, time(60)).await,
        "touch_session",
    );
    assert_eq!(
        ok(
            store.session_by_token(&want.token_digest).await,
            "session_by_token"
        )
        .map(|s| s.last_seen_at),
        Some(time_ms(120_500)),
        "touch_session with an earlier time must not move last_seen_at back"
    );

    let unknown = fixtures::session(alice.id, time(0)).id;
    ok(
        store.touch_session(unknown, time(180)).await,
        "touch_session of an unknown session (must succeed and do nothing)",
    );
}

/// `rotate_session` with the current digest replaces the digest, the authentications and
/// the assurance and sets `last_seen_at`; the old digest finds nothing afterwards. A
/// stale digest, another session's digest and an unknown session answer `false` and
/// change nothing.
pub async fn session_rotate(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let before = fixtures::insert_session(&*store, alice.id, time(0)).await;
    let other = fixtures::insert_session(&*store, alice.id, time(5)).await;

    let rotation = SessionRotation {
        token_digest: fixtures::digest(),
        authentications: vec![
            Authentication {
                method: AuthMethod::Password,
                at: time(0),
            },
            Authentication {
                method: AuthMethod::Totp,
                at: time(30),
            },
        ],
        assurance: AssuranceLevel::Two,
        stage: crate::model::SessionStage::Full,
        at: time_ms(30_250),
    };
    assert!(
        ok(
            store
                .rotate_session(before.id, &before.token_digest, &rotation)
                .await,
            "rotate_session"
        ),
        "rotate_session with the current digest must answer true"
    );
    let after = SessionRecord {
        token_digest: rotation.token_digest,
        authentications: rotation.authentications.clone(),
        assurance: rotation.assurance,
        last_seen_at: rotation.at,
        ..before.clone()
    };
    assert_eq!(
        ok(
            store.session_by_token(&rotation.token_digest).await,
            "session_by_token"
        ),
        Some(after.clone()),
        "after rotate_session the new digest must find the session with the new \
         authentication state and last_seen_at, every other field unchanged"
    );
    assert_eq!(
        ok(
            store.session_by_token(&before.token_digest).await,
            "session_by_token"
        ),
        None,
        "after rotate_session the old digest must find nothing"
    );

    let late = SessionRotation {
        token_digest: fixtures::digest(),
        assurance: AssuranceLevel::One,
        at: time(60),
        ..rotation.clone()
    };
    assert!(
        !ok(
            store
                .rotate_session(before.id, &before.token_digest, &late)
                .await,
            "rotate_session"
        ),
        "rotate_session with a stale digest must answer false"
    );
    assert!(
        !ok(
            store
                .rotate_session(other.id, &after.token_digest, &late)
                .await,
            "rotate_session"
        ),
        "rotate_session with another session's digest must answer false"
    );
    assert!(
        !ok(
            store
                .rotate_session(
                    fixtures::session(alice.id, time(0)).id,
                    &other.token_digest,
                    &late
                )
                .await,
            "rotate_session"
        ),
        "rotate_session of an unknown session must answer false"
    );
    assert_eq!(
        ok(
            store.session_by_token(&late.token_digest).await,
            "session_by_token"
        ),
        None,
        "a refused rotate_session must not store its digest"
    );
    assert_eq!(
        ok(
            store.session_by_token(&after.token_digest).await,
            "session_by_token"
        ),
        Some(after),
        "a refused rotate_session must not change the session"
    );
    assert_eq!(
        ok(
            store.session_by_token(&other.token_digest).await,
            "session_by_token"
        ),
        Some(other),
        "a refused rotate_session must not change another session"
    );
}

/// `sessions_of` lists exactly the account's sessions, newest first by creation time,
/// expired ones included.
pub async fn session_list_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let carol = fixtures::insert_account(&*store, "carol", "carol@example.com").await;

    let middle = fixtures::insert_session(&*store, alice.id, time(60)).await;
    let expired = SessionRecord {
        absolute_expires_at: time(1),
        ..fixtures::session(alice.id, time(0))
    };
    ok(store.insert_session(&expired).await, "insert_session");
    let newest = fixtures::insert_session(&*store, alice.id, time(120)).await;
    let bobs = fixtures::insert_session(&*store, bob.id, time(90)).await;

    assert_eq!(
        ok(store.sessions_of(alice.id).await, "sessions_of"),
        vec![newest, middle, expired],
        "sessions_of must list the account's sessions newest first, expired ones included"
    );
    assert_eq!(
        ok(store.sessions_of(bob.id).await, "sessions_of"),
        vec![bobs],
        "sessions_of must list only the account's own sessions"
    );
    assert_eq!(
        ok(store.sessions_of(carol.id).await, "sessions_of"),
        Vec::new(),
        "sessions_of an account without sessions must be empty"
    );
}

/// `delete_session` deletes one session of the account and answers whether it existed;
/// another account's session is not deleted.
pub async fn session_delete(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::insert_session(&*store, alice.id, time(0)).await;
    let second = fixtures::insert_session(&*store, alice.id, time(10)).await;
    let bobs = fixtures::insert_session(&*store, bob.id, time(20)).await;

    assert!(
        ok(
            store.delete_session(alice.id, first.id).await,
            "delete_session"
        ),
        "delete_session of the account's session must answer true"
    );
    assert_eq!(
        ok(
            store.session_by_token(&first.token_digest).await,
            "session_by_token"
        ),
        None,
        "a deleted session must not be found by its digest"
    );
    assert!(
        !ok(
            store.delete_session(alice.id, first.id).await,
            "delete_session"
        ),
        "delete_session of a session already deleted must answer false"
    );
    assert!(
        !ok(
            store.delete_session(alice.id, bobs.id).await,
            "delete_session"
        ),
        "delete_session of another account's session must answer false"
    );
    assert_eq!(
        ok(
            store.session_by_token(&bobs.token_digest).await,
            "session_by_token"
        ),
        Some(bobs),
        "delete_session must not delete another account's session"
    );
    assert_eq!(
        ok(store.sessions_of(alice.id).await, "sessions_of"),
        vec![second],
        "delete_session must delete only the one session"
    );
}

/// `delete_sessions_of` deletes every session of the account except the one kept, counts
/// them, and leaves other accounts alone.
pub async fn session_delete_all_of_account(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;
    let first = fixtures::insert_session(&*store, alice.id, time(0)).await;
    let kept = fixtures::insert_session(&*store, alice.id, time(10)).await;
    let third = fixtures::insert_session(&*store, alice.id, time(20)).await;
    let bobs = fixtures::insert_session(&*store, bob.id, time(30)).await;

    assert_eq!(
        ok(
            store.delete_sessions_of(alice.id, Some(kept.id)).await,
            "delete_sessions_of"
        ),
        2,
        "delete_sessions_of with a session kept must count the others"
    );
    assert_eq!(
        ok(store.sessions_of(alice.id).await, "sessions_of"),
        vec![kept.clone()],
        "delete_sessions_of must keep the session it is told to keep"
    );
    for gone in [&first, &third] {
        assert_eq!(
            ok(
                store.session_by_token(&gone.token_digest).await,
                "session_by_token"
            ),
            None,
            "a deleted session must not be found by its digest"
        );
    }

    assert_eq!(
        ok(
            store.delete_sessions_of(alice.id, None).await,
            "delete_sessions_of"
        ),
        1,
        "delete_sessions_of without a session kept must delete them all"
    );
    assert_eq!(
        ok(
            store.session_by_token(&kept.token_digest).await,
            "session_by_token"
        ),
        None,
        "a deleted session must not be found by its digest"
    );
    assert_eq!(
        ok(
            store.delete_sessions_of(alice.id, None).await,
            "delete_sessions_of"
        ),
        0,
        "delete_sessions_of an account without sessions must count 0"
    );
    assert_eq!(
        ok(store.sessions_of(bob.id).await, "sessions_of"),
        vec![bobs],
        "delete_sessions_of must not delete another account's sessions"
    );
}

/// `purge_expired_sessions` deletes the sessions past their idle expiry (counted from
/// `last_seen_at`, so a touch extends it) or their absolute expiry, counts them, and
/// keeps the live ones.
pub async fn session_purge_expired(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let hours = |h: i64| time(h * 3600);
    let now = hours(10);

    let live = SessionRecord {
        last_seen_at: hours(9) + Duration::minutes(30),
        ..fixtures::session(alice.id, hours(9))
    };
    let idle = SessionRecord {
        last_seen_at: hours(8),
        ..fixtures::session(alice.id, hours(0))
    };
    let touched = SessionRecord {
        last_seen_at: hours(1),
        ..fixtures::session(alice.id, hours(0))
    };
    let absolute = SessionRecord {
        last_seen_at: hours(10) - Duration::minutes(5),
        absolute_expires_at: hours(9),
        ..fixtures::session(alice.id, hours(0))
    };
    for session in [&live, &idle, &touched, &absolute] {
        ok(store.insert_session(session).await, "insert_session");
    }
    ok(
        store
            .touch_session(touched.id, hours(9) + Duration::minutes(45))
            .await,
        "touch_session",
    );

    assert_eq!(
        ok(
            store.purge_expired_sessions(now).await,
            "purge_expired_sessions"
        ),
        2,
        "purge_expired_sessions must delete the idle-expired and the absolutely expired \
         session, and only those"
    );
    for (session, alive, what) in [
        (&live, true, "a live session"),
        (&touched, true, "a session kept alive by touch_session"),
        (
            &idle,
            false,
            "a session idle for longer than its idle timeout",
        ),
        (&absolute, false, "a session past its absolute expiry"),
    ] {
        assert_eq!(
            ok(
                store.session_by_token(&session.token_digest).await,
                "session_by_token"
            )
            .is_some(),
            alive,
            "after purge_expired_sessions, {what} must {}",
            if alive { "remain" } else { "be gone" }
        );
    }
    assert_eq!(
        ok(
            store.purge_expired_sessions(now).await,
            "purge_expired_sessions"
        ),
        0,
        "a second purge_expired_sessions must find nothing left to delete"
    );
}
