//! Cases for [`RateLimitStore`](crate::store::RateLimitStore).

use std::sync::Arc;

use tokio::sync::Barrier;

use super::ok;
use crate::store::Store;
use crate::testing::fixtures::time;

/// `hit_rate_limit` counts per key and per window, starting at one; `purge_rate_limits`
/// removes only windows that started before the cut-off.
pub async fn rate_limit_counts_per_key_and_window(store: Arc<dyn Store>) {
    let w1 = time(0);
    let w2 = time(60);
    for n in 1..=3 {
        assert_eq!(
            ok(store.hit_rate_limit("login:203.0.113.7", w1).await, "hit"),
            n,
            "hit {n} in the first window"
        );
    }
    assert_eq!(
        ok(store.hit_rate_limit("login:203.0.113.8", w1).await, "hit"),
        1,
        "another key counts on its own"
    );
    assert_eq!(
        ok(store.hit_rate_limit("login:203.0.113.7", w2).await, "hit"),
        1,
        "a new window starts at one"
    );
    assert_eq!(
        ok(store.purge_rate_limits(w2).await, "purge"),
        2,
        "the two counters of the first window go"
    );
    assert_eq!(
        ok(store.hit_rate_limit("login:203.0.113.7", w2).await, "hit"),
        2,
        "the second window survives the purge"
    );
    assert_eq!(
        ok(store.hit_rate_limit("login:203.0.113.7", w1).await, "hit"),
        1,
        "a purged window starts again"
    );
}

/// Fifty concurrent hits on one key and window: none is lost, and each caller sees a
/// different count.
pub async fn concurrent_rate_limit_hits(store: Arc<dyn Store>) {
    const N: usize = 50;
    let barrier = Arc::new(Barrier::new(N));
    let window = time(0);
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.hit_rate_limit("signup:198.51.100.1", window).await
            })
        })
        .collect();
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(ok(task.await.expect("task"), "concurrent hit"));
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=N as u32).collect::<Vec<_>>(),
        "every concurrent hit must count once"
    );
}
