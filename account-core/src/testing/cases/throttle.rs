//! Cases for [`ThrottleStore`](crate::store::ThrottleStore).

use std::sync::Arc;

use super::ok;
use crate::model::{FailureKind, Failures};
use crate::store::Store;
use crate::testing::fixtures::{self, time, time_ms};

const KIND: FailureKind = FailureKind::Password;

/// `record_failure` counts up and returns the counter with the time of the last failure;
/// `failures` reads it (the default for a counter never bumped); `clear_failures` resets
/// it; every account, and every kind of failure, has its own counter.
pub async fn throttle_count_and_clear(store: Arc<dyn Store>) {
    let alice = fixtures::insert_account(&*store, "alice", "alice@example.com").await;
    let bob = fixtures::insert_account(&*store, "bob", "bob@example.com").await;

    assert_eq!(
        ok(store.failures(alice.id, KIND).await, "failures"),
        Failures::default(),
        "failures of a counter never bumped must be zero with no time"
    );
    for (n, at) in [(1, time(1)), (2, time(2)), (3, time_ms(3_500))] {
        assert_eq!(
            ok(
                store.record_failure(alice.id, KIND, at).await,
                "record_failure"
            ),
            Failures {
                count: n,
                last_at: Some(at)
            },
            "record_failure number {n} must return the counter after it"
        );
    }
    assert_eq!(
        ok(store.failures(alice.id, KIND).await, "failures"),
        Failures {
            count: 3,
            last_at: Some(time_ms(3_500))
        },
        "failures must read the counter as record_failure left it"
    );
    assert_eq!(
        ok(store.failures(bob.id, KIND).await, "failures"),
        Failures::default(),
        "one account's failures must not count for another"
    );
    assert_eq!(
        ok(
            store.record_failure(bob.id, KIND, time(4)).await,
            "record_failure"
        ),
        Failures {
            count: 1,
            last_at: Some(time(4))
        },
        "another account's counter must start at one"
    );

    ok(store.clear_failures(alice.id, KIND).await, "clear_failures");
    assert_eq!(
        ok(store.failures(alice.id, KIND).await, "failures"),
        Failures::default(),
        "clear_failures must reset the counter"
    );
    assert_eq!(
        ok(store.failures(bob.id, KIND).await, "failures").count,
        1,
        "clear_failures must not reset another account's counter"
    );
    ok(
        store.clear_failures(alice.id, KIND).await,
        "clear_failures of a counter already clear",
    );
    assert_eq!(
        ok(
            store.record_failure(alice.id, KIND, time(5)).await,
            "record_failure"
        ),
        Failures {
            count: 1,
            last_at: Some(time(5))
        },
        "record_failure after clear_failures must count from one again"
    );

    // Each kind has its own counter: a known device's wrong passwords are not a
    // stranger's (SECURITY.md M47), nor second factors either.
    for other in [FailureKind::KnownDevicePassword, FailureKind::SecondFactor] {
        assert_eq!(
            ok(
                store.record_failure(alice.id, other, time(6)).await,
                "record_failure"
            )
            .count,
            1,
            "the {} counter must start at one beside the {} counter",
            other.as_str(),
            KIND.as_str()
        );
    }
    assert_eq!(
        ok(store.failures(alice.id, KIND).await, "failures").count,
        1,
        "other kinds must not count for this one"
    );
    ok(
        store
            .clear_failures(alice.id, FailureKind::KnownDevicePassword)
            .await,
        "clear_failures",
    );
    assert_eq!(
        ok(store.failures(alice.id, KIND).await, "failures").count,
        1,
        "clearing another kind must not reset this one"
    );
}
