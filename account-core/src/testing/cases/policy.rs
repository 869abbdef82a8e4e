//! Cases for [`PolicyStore`](crate::store::PolicyStore).

use std::sync::Arc;

use super::ok;
use crate::password::PasswordRules;
use crate::policy::{Policy, SessionPolicy};
use crate::store::Store;

/// A fresh store has no policy; `put_policy` stores one that `policy` reads back field for
/// field, and a second `put_policy` replaces it.
pub async fn policy_put_and_get(store: Arc<dyn Store>) {
    assert_eq!(
        ok(store.policy().await, "policy"),
        None,
        "a fresh store must have no policy"
    );

    let first = Policy {
        allow_signup: false,
        allow_reserved_usernames: true,
        lock_profiles: true,
        require_second_factor: false,
        directory_provides_second_factor: true,
        sign_in_notices: false,
        sessions: SessionPolicy {
            idle_timeout_secs: 15 * 60,
            absolute_timeout_secs: 8 * 3600,
            reauthentication_window_secs: 5 * 60,
        },
        passwords: PasswordRules::default(),
    };
    ok(store.put_policy(&first).await, "put_policy");
    assert_eq!(
        ok(store.policy().await, "policy"),
        Some(first),
        "policy must read back the stored policy, field for field"
    );

    let second = Policy {
        require_second_factor: true,
        passwords: PasswordRules {
            min_length: 12,
            min_length_single_factor: 16,
            strict_single_factor: true,
            max_length: 128,
        },
        ..Policy::default()
    };
    ok(store.put_policy(&second).await, "put_policy");
    assert_eq!(
        ok(store.policy().await, "policy"),
        Some(second),
        "a second put_policy must replace the first"
    );
}
