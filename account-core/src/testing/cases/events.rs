//! Cases for [`SecurityEventStore`](crate::store::SecurityEventStore).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::ok;
use crate::model::{AccountId, EventFilter, EventPage, SecurityEvent, SecurityEventKind};
use crate::store::Store;
use crate::testing::fixtures::{self, time, time_ms};

/// Recorded events read back field for field (details, addresses, missing values),
/// newest first, only the account's own, at most `limit` of them.
pub async fn events_record_and_list(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    let login = SecurityEvent {
        details: BTreeMap::from([
            ("method".to_owned(), "password".to_owned()),
            (
                "session".to_owned(),
                "0197f0c2-7a4e-7000-8000-000000000001".to_owned(),
            ),
            ("note".to_owned(), "quotes \" and 'ünïcode' = ok".to_owned()),
        ]),
        ..fixtures::event(alice.id, time_ms(10_250), SecurityEventKind::LoginSucceeded)
    };
    let changed = SecurityEvent {
        ip: Some("2001:db8::1".parse::<IpAddr>().expect("valid address")),
        user_agent: None,
        details: BTreeMap::new(),
        ..fixtures::event(alice.id, time(20), SecurityEventKind::PasswordChanged)
    };
    let failed = SecurityEvent {
        ip: None,
        ..fixtures::event(alice.id, time(30), SecurityEventKind::LoginFailed)
    };
    let bobs = fixtures::event(bob.id, time(25), SecurityEventKind::SignedUp);
    for event in [&changed, &bobs, &login, &failed] {
        ok(store.record_event(event).await, "record_event");
    }

    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(alice.id), first_page(10))
                .await,
            "events"
        ),
        vec![failed.clone(), changed.clone(), login],
        "events must list the account's events newest first, field for field"
    );
    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(alice.id), first_page(2))
                .await,
            "events"
        ),
        vec![failed, changed],
        "events must return at most `limit` events, the newest"
    );
    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(bob.id), first_page(10))
                .await,
            "events"
        ),
        vec![bobs],
        "events must list only the account's own events"
    );
    assert_eq!(
        ok(
            store
                .events(
                    &EventFilter::account(fixtures::account_id()),
                    first_page(10)
                )
                .await,
            "events"
        ),
        Vec::new(),
        "events an account without events must be empty"
    );
}

/// Paging through 25 events (one of every kind, recorded out of order) ten at a time
/// returns each exactly once, newest first, in pages of 10, 10 and 5, then an empty page.
pub async fn events_paging(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let kinds = SecurityEventKind::ALL.iter().copied().cycle();
    let mut events: Vec<SecurityEvent> = kinds
        .zip(0..25)
        .map(|(kind, i)| fixtures::event(alice.id, time(i * 60), kind))
        .collect();
    // Recorded in a scrambled order, so the store cannot rely on insertion order.
    for i in 0..events.len() {
        let event = &events[(i * 7) % events.len()];
        ok(store.record_event(event).await, "record_event");
    }
    events.reverse();

    let pages = collect_pages(&*store, alice.id, 10).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 5, 0],
        "paging through 25 events by 10 must give pages of 10, 10, 5, then an empty one"
    );
    assert_eq!(
        pages.concat(),
        events,
        "the pages together must hold every event exactly once, newest first"
    );
}

/// Events at the same time are ordered by id (larger first), and a page cursor in the
/// middle of them continues exactly after it.
pub async fn events_same_time_ordered_by_id(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let at = time(100);
    let mut same_time: Vec<SecurityEvent> = (0..6)
        .map(|_| fixtures::event(alice.id, at, SecurityEventKind::LoginFailed))
        .collect();
    let older = fixtures::event(alice.id, time(50), SecurityEventKind::SignedUp);
    let newer = fixtures::event(alice.id, time(150), SecurityEventKind::LoginSucceeded);
    for event in same_time.iter().chain([&older, &newer]) {
        ok(store.record_event(event).await, "record_event");
    }
    same_time.sort_by_key(|e| std::cmp::Reverse(e.id));
    let mut want = vec![newer];
    want.extend(same_time);
    want.push(older);

    assert_eq!(
        ok(
            store
                .events(&EventFilter::account(alice.id), first_page(100))
                .await,
            "events"
        ),
        want,
        "events must order events at the same time by id, larger ids first"
    );
    let pages = collect_pages(&*store, alice.id, 3).await;
    assert_eq!(
        pages.concat(),
        want,
        "paging by 3 through events at the same time must return each exactly once, in order"
    );
}

/// The first page of at most `limit` events.
pub(super) fn first_page(limit: u32) -> EventPage {
    EventPage {
        before: None,
        limit,
    }
}

/// Every page of the account's log, each continuing after the last event of the one
/// before, up to and including the first empty one.
async fn collect_pages(
    store: &dyn Store,
    account: AccountId,
    limit: u32,
) -> Vec<Vec<SecurityEvent>> {
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = ok(
            store
                .events(&EventFilter::account(account), EventPage { before, limit })
                .await,
            "events",
        );
        assert!(
            u32::try_from(page.len()).is_ok_and(|n| n <= limit),
            "events must return at most `limit` events"
        );
        let last = page.last().map(SecurityEvent::cursor);
        pages.push(page);
        match last {
            Some(cursor) if pages.len() <= 100 => before = Some(cursor),
            Some(_) => panic!("events keeps returning events: is the cursor ignored?"),
            None => return pages,
        }
    }
}
