//! No operation that changes several things in the store leaves a half-done state when
//! the store fails part-way through it.
//!
//! Each test runs one operation once without faults over a [`FaultyStore`], which lists
//! its k store calls; then k more times, each time on a fresh store with call i failing,
//! once with `StoreError::Backend` (one statement fails) and once with
//! `StoreError::Unavailable` (the outage breaker then answers every later call at once,
//! as a database that went away from call i on). After each run the test reads the
//! state and names it: the state before, the state the operation promises when it
//! succeeds, or one of the few safe states in between that the services document (a
//! session whose new token never reached its client is as good as ended; a verification
//! link used up without its change is asked for again). Any other state fails the test.
//!
//! The security log is written after the change it records, in a separate call: a store
//! that fails that write leaves the change made and unlogged, and the call answers the
//! error. The notice by mail leaves before the log write, so the owner hears of every
//! change that was made; the tests check that notice in every complete state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use account_core::clock::{Clock, ManualClock};
use account_core::domain::{EmailAddress, Password};
use account_core::mail::MemoryMailer;
use account_core::model::{
    Account, AccountId, AccountState, ChallengePurpose, EventFilter, EventPage, FailureKind,
    RequestInfo, SecurityEventKind,
};
use account_core::password::HashingConfig;
use account_core::policy::Policy;
use account_core::random::SeededRandom;
use account_core::store::Store;
use account_core::store::memory::MemoryStore;
use account_core::testing::passkey::SoftDevice;
use account_core::testing::{FailAt, Failure, FaultyStore};
use account_core::token::OpaqueToken;
use account_core::{
    AccountChangeByAdmin, AccountConfig, Accounts, EnrollingSession, Error, LoginOutcome, SignUp,
    SignUpOutcome, SignedInSession,
};

const ORIGIN: &str = "https://accounts.example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a new and rather long passphrase";

/// The services over a memory store behind a [`FaultyStore`], with a manual clock, seeded
/// randomness and cheap hashing: everything a run needs, cheap to clone.
#[derive(Clone)]
struct World {
    accounts: Accounts,
    store: Arc<FaultyStore>,
    mailer: MemoryMailer,
    clock: Arc<ManualClock>,
}

impl World {
    fn new() -> Self {
        let mut config = AccountConfig::new(ORIGIN.parse().expect("url"));
        config.hashing = HashingConfig {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
            max_waiting: 64,
        };
        let store = Arc::new(FaultyStore::new(Arc::new(MemoryStore::new())));
        let clock = Arc::new(ManualClock::new(
            "2030-01-01T12:00:00Z".parse().expect("a time"),
        ));
        let mailer = MemoryMailer::new();
        let accounts = Accounts::builder(store.clone(), Arc::new(mailer.clone()), config)
            .clock(clock.clone())
            .random(Arc::new(SeededRandom::new(7)))
            .build();
        Self {
            accounts,
            store,
            mailer,
            clock,
        }
    }

    /// The store itself, past the faults and the services' outage breaker.
    fn db(&self) -> &Arc<dyn Store> {
        self.store.inner()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn sign_up(&self, username: &str) -> Account {
        let form = SignUp::parse(username, &format!("{username}@example.com"), PASSWORD, None)
            .expect("a valid form");
        match self.accounts.sign_up(form, &info()).await.expect("sign-up") {
            SignUpOutcome::Created(account) => *account,
            other => panic!("expected an account, got {other:?}"),
        }
    }

    /// A new full session's token.
    async fn login(&self, username: &str, password: &str) -> String {
        match self
            .accounts
            .login(username, &Password::new(password), &info())
            .await
            .expect("login")
        {
            LoginOutcome::SignedIn(s) => s.token.expose().to_owned(),
            other => panic!("expected a session, got {other:?}"),
        }
    }

    async fn session(&self, token: &str) -> SignedInSession {
        self.accounts
            .authenticate(token)
            .await
            .expect("a live session")
    }

    /// Whether a session token still signs its client in.
    async fn signs_in(&self, token: &str) -> bool {
        self.accounts.authenticate_enrolling(token).await.is_ok()
    }

    async fn account(&self, id: AccountId) -> Option<Account> {
        self.db().account_by_id(id).await.unwrap()
    }

    /// Whether the account's stored hash verifies this password.
    async fn password_is(&self, id: AccountId, password: &str) -> bool {
        let Some(hash) = self.db().password_hash(id).await.unwrap() else {
            return false;
        };
        let verified = self
            .accounts
            .password_hasher()
            .verify(&Password::new(password), &hash)
            .await
            .expect("a hash");
        verified.is_valid()
    }

    async fn events(&self, id: AccountId, kind: SecurityEventKind) -> usize {
        let filter = EventFilter {
            account: Some(id),
            kind: Some(kind),
            since: None,
        };
        let page = EventPage {
            before: None,
            limit: 100,
        };
        self.db().events(&filter, page).await.unwrap().len()
    }

    /// Lets the mail the services sent in the background arrive.
    async fn settle(&self) {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// How many mails of this kind (`Message::kind`) went to `address`.
    async fn mails(&self, address: &str, kind: &str) -> usize {
        self.settle().await;
        self.mailer
            .sent_to(address)
            .iter()
            .filter(|m| m.message.kind() == kind)
            .count()
    }

    /// Whether a link still does what it was sent to do: unexpired, unused, and issued
    /// under the account's current security stamp.
    async fn link_alive(&self, token: &str, purpose: ChallengePurpose) -> bool {
        let digest = OpaqueToken::parse(token).expect("a token").digest();
        let Some(challenge) = self
            .db()
            .find_challenge(&digest, purpose, self.now())
            .await
            .unwrap()
        else {
            return false;
        };
        let account = self
            .account(challenge.account_id.expect("an account's link"))
            .await;
        account.is_some_and(|a| {
            challenge
                .security_stamp
                .is_none_or(|s| s == a.security_stamp)
        })
    }
}

fn info() -> RequestInfo {
    RequestInfo {
        ip: Some("192.0.2.10".parse().expect("ip")),
        ..RequestInfo::default()
    }
}

fn enrolling(session: &SignedInSession) -> EnrollingSession {
    EnrollingSession::from(session.clone())
}

/// The token of the link in the last mail of this kind to `address`.
fn link_token(w: &World, address: &str, kind: &str) -> String {
    let mail = w
        .mailer
        .sent_to(address)
        .into_iter()
        .rev()
        .find(|m| m.message.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} mail to {address}"));
    let link = mail.link().expect("the mail has a link");
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no token in {link}"))
}

/// What a run left, as its check names it.
type State = &'static str;

/// The state the operation promises when it succeeds.
const COMPLETE: State = "complete";
/// Nothing changed.
const BEFORE: State = "before";

/// Runs the operation without faults to learn its calls, then once for every call and
/// both kinds of failure with that call failing, each on a fresh world from `setup`, and
/// has `check` name the state each run left. `check` panics on a half-done state; a run
/// that succeeded must leave the complete state. Returns how many runs had a fault.
async fn each_failure<C, S, SF, O, OF, K, KF>(name: &str, setup: S, op: O, check: K) -> usize
where
    C: Clone,
    S: Fn() -> SF,
    SF: Future<Output = (World, C)>,
    O: Fn(World, C) -> OF,
    OF: Future<Output = Result<(), Error>>,
    K: Fn(World, C, bool) -> KF,
    KF: Future<Output = State>,
{
    let (w, c) = setup().await;
    w.store.heal();
    op(w.clone(), c.clone())
        .await
        .unwrap_or_else(|e| panic!("{name} without faults: {e:?}"));
    let calls = w.store.calls();
    w.store.heal();
    assert_eq!(check(w, c, true).await, COMPLETE, "{name} without faults");

    let mut seen: BTreeMap<State, Vec<String>> = BTreeMap::new();
    for kind in [
        Failure::Backend("injected: the statement failed"),
        Failure::Unavailable("injected: connection reset"),
    ] {
        for (i, method) in calls.iter().enumerate() {
            let (w, c) = setup().await;
            w.store.fail(FailAt::Call(i), kind);
            let result = op(w.clone(), c.clone()).await;
            assert_eq!(
                w.store.failed(),
                Some((i, *method)),
                "{name}: the run with call {i} ({method}) failing made other calls: {:?}",
                w.store.calls()
            );
            w.store.heal();
            // Past the outage breaker's second, so the check reads the store again.
            w.clock.advance(Duration::seconds(2));
            let what = format!("{name} with call {i} ({method}) failing: {kind:?}");
            // Printed (and shown by the harness when a check fails) so that a half-done
            // state names the call that left it.
            eprintln!("{what}: {:?}", result.as_ref().err());
            let state = check(w, c, result.is_ok()).await;
            if result.is_ok() {
                assert_eq!(state, COMPLETE, "{what} succeeded, so it must be complete");
            }
            seen.entry(state).or_default().push(format!("{i}:{method}"));
        }
    }
    eprintln!("{name}: {} calls {calls:?}; states {seen:?}", calls.len());
    2 * calls.len()
}

/// Names a state from what a check found, or fails the test with everything it found.
macro_rules! state {
    ($ok:expr, [$($fact:ident),+ $(,)?], { $($pattern:pat => $state:expr),+ $(,)? }) => {
        match ($($fact),+) {
            $($pattern => $state,)+
            #[allow(unreachable_patterns)]
            _ => panic!(
                "a half-done state (the call {}): {}",
                if $ok { "succeeded" } else { "failed" },
                [$(format!("{} = {:?}", stringify!($fact), $fact)),+].join(", ")
            ),
        }
    };
}

// ---- The password ----------------------------------------------------------------

#[derive(Clone)]
struct TwoSessions {
    id: AccountId,
    current: String,
    other: String,
}

async fn two_sessions() -> (World, TwoSessions) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    let current = w.login("alice", PASSWORD).await;
    let other = w.login("alice", PASSWORD).await;
    w.settle().await;
    w.mailer.clear();
    (w, TwoSessions { id, current, other })
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_with_it_or_not_at_all() {
    let runs = each_failure(
        "change_password",
        two_sessions,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.current).await?;
            w.accounts
                .change_password(
                    &session,
                    &Password::new(PASSWORD),
                    &Password::new(NEW_PASSWORD),
                    &info(),
                )
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let changed = w.password_is(c.id, NEW_PASSWORD).await;
            let other = w.signs_in(&c.other).await;
            let old_token = w.signs_in(&c.current).await;
            let told = w.mails("alice@example.com", "password_changed").await > 0;
            state!(ok, [changed, other, old_token, told], {
                (false, true, true, false) => BEFORE,
                // The current session got its new token, which never reached its client:
                // signed out, with the old password and nothing else changed.
                (false, true, false, false) => "signed out",
                (true, false, false, true) => COMPLETE,
            })
        },
    )
    .await;
    assert!(runs > 0);
}

#[derive(Clone)]
struct ResetLink {
    id: AccountId,
    session: String,
    link: String,
}

async fn reset_link() -> (World, ResetLink) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    let session = w.login("alice", PASSWORD).await;
    for _ in 0..3 {
        let _ = w
            .accounts
            .login("alice", &Password::new("not the password"), &info())
            .await;
    }
    w.accounts
        .request_password_reset(&EmailAddress::parse("alice@example.com").unwrap(), &info())
        .await
        .expect("a reset link");
    w.settle().await;
    let link = link_token(&w, "alice@example.com", "password_reset");
    w.mailer.clear();
    (w, ResetLink { id, session, link })
}

#[tokio::test]
async fn a_reset_link_is_used_up_only_with_the_new_password_and_the_sessions_ended() {
    each_failure(
        "reset_password",
        reset_link,
        |w, c| async move {
            w.accounts
                .reset_password(&c.link, &Password::new(NEW_PASSWORD), &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let changed = w.password_is(c.id, NEW_PASSWORD).await;
            let session = w.signs_in(&c.session).await;
            let link = w.link_alive(&c.link, ChallengePurpose::PasswordReset).await;
            let told = w.mails("alice@example.com", "password_was_reset").await > 0;
            let throttle = w
                .db()
                .failures(c.id, FailureKind::Password)
                .await
                .unwrap()
                .count;
            state!(ok, [changed, session, link, told, throttle], {
                (false, true, true, false, 3) => BEFORE,
                (true, false, false, true, 0) => COMPLETE,
                // The password changed and the sessions ended in one step; the throttle,
                // cleared after it for convenience, runs out by itself.
                (true, false, false, true, 3) => "set, throttle kept",
            })
        },
    )
    .await;
}

// ---- Second factors --------------------------------------------------------------

#[derive(Clone)]
struct WithTotp {
    id: AccountId,
    /// A session signed in with the TOTP just now: fresh for every change.
    token: String,
    secret: String,
    /// One of the recovery codes.
    code: String,
}

async fn enrol_totp(w: &World, token: &str) -> (String, String, String) {
    let session = w.session(token).await;
    let enrollment = w
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect("enrolment starts");
    let code = support::totp_code(&enrollment.secret, w.now());
    let confirmed = w
        .accounts
        .confirm_totp_enrollment(&enrolling(&session), &code, &info())
        .await
        .expect("enrolment confirmed");
    (
        enrollment.secret.clone(),
        confirmed.token.expose().to_owned(),
        confirmed.recovery_codes.expose()[0].clone(),
    )
}

async fn with_totp() -> (World, WithTotp) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    let token = w.login("alice", PASSWORD).await;
    let (secret, token, code) = enrol_totp(&w, &token).await;
    w.clock.advance(Duration::seconds(30));
    w.settle().await;
    w.mailer.clear();
    (
        w,
        WithTotp {
            id,
            token,
            secret,
            code,
        },
    )
}

#[derive(Clone)]
struct PendingTotp {
    id: AccountId,
    token: String,
    secret: String,
}

async fn pending_totp() -> (World, PendingTotp) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    let token = w.login("alice", PASSWORD).await;
    let session = w.session(&token).await;
    let enrollment = w
        .accounts
        .start_totp_enrollment(&enrolling(&session))
        .await
        .expect("enrolment starts");
    w.mailer.clear();
    let secret = enrollment.secret.clone();
    (w, PendingTotp { id, token, secret })
}

#[tokio::test]
async fn confirming_totp_enables_it_with_its_recovery_codes_or_neither() {
    each_failure(
        "confirm_totp_enrollment",
        pending_totp,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.token).await?;
            let code = support::totp_code(&c.secret, w.now());
            w.accounts
                .confirm_totp_enrollment(&enrolling(&session), &code, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let factors = w.db().second_factors(c.id).await.unwrap();
            let (totp, codes) = (factors.totp, factors.recovery_codes_left);
            let told = w.mails("alice@example.com", "factor_added").await > 0;
            let old_token = w.signs_in(&c.token).await;
            state!(ok, [totp, codes, told, old_token], {
                (false, 0, false, true) => BEFORE,
                (true, 10, true, false) => COMPLETE,
                // Enabled and told; the session kept its token and its stage, so it gained
                // nothing a token seen before could use.
                (true, 10, true, true) => "enabled, session not rotated",
            })
        },
    )
    .await;
}

#[tokio::test]
async fn regenerating_recovery_codes_replaces_the_whole_set_or_nothing() {
    each_failure(
        "regenerate_recovery_codes",
        with_totp,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.token).await?;
            w.accounts
                .regenerate_recovery_codes(&session, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let left = w
                .db()
                .second_factors(c.id)
                .await
                .unwrap()
                .recovery_codes_left;
            let digest = account_core::token::TokenDigest::of(c.code.replace('-', "").as_bytes());
            let old_code = w
                .db()
                .second_factors(c.id)
                .await
                .unwrap()
                .recovery_codes_left
                > 0
                && redeemable(&w, c.id, digest).await;
            let told = w
                .mails("alice@example.com", "recovery_codes_regenerated")
                .await
                > 0;
            state!(ok, [left, old_code, told], {
                (10, true, false) => BEFORE,
                (10, false, true) => COMPLETE,
            })
        },
    )
    .await;
}

/// Whether a recovery code's digest is among the account's codes, found by redeeming it
/// (the check's last look at the store).
async fn redeemable(w: &World, id: AccountId, digest: account_core::token::TokenDigest) -> bool {
    w.db().redeem_recovery_code(id, &digest).await.unwrap()
}

#[tokio::test]
async fn disabling_totp_takes_its_recovery_codes_with_it() {
    each_failure(
        "disable_totp",
        with_totp,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.token).await?;
            w.accounts.disable_totp(&session, &info()).await
        },
        |w, c, ok| async move {
            let factors = w.db().second_factors(c.id).await.unwrap();
            let (totp, codes) = (factors.totp, factors.recovery_codes_left);
            let told = w.mails("alice@example.com", "factor_removed").await > 0;
            state!(ok, [totp, codes, told], {
                (true, 10, false) => BEFORE,
                (false, 0, true) => COMPLETE,
                // The codes went first: TOTP still on, without its backup, as after using
                // every code; the owner makes new ones or disables it again.
                (true, 0, false) => "codes gone, TOTP kept",
            })
        },
    )
    .await;
}

#[derive(Clone)]
struct AdminAndTarget {
    admin: AccountId,
    id: AccountId,
    token: String,
}

async fn admin_and_target_with_totp() -> (World, AdminAndTarget) {
    let (w, c) = with_totp().await;
    let admin = w.sign_up("carol").await.id;
    w.mailer.clear();
    (
        w,
        AdminAndTarget {
            admin,
            id: c.id,
            token: c.token,
        },
    )
}

#[tokio::test]
async fn an_administrators_2fa_reset_ends_the_sessions_before_the_factors_go() {
    each_failure(
        "reset_second_factors",
        admin_and_target_with_totp,
        |w, c| async move {
            w.accounts
                .reset_second_factors(c.admin, c.id, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let factors = w.db().second_factors(c.id).await.unwrap().any();
            let session = w.signs_in(&c.token).await;
            let told = w.mails("alice@example.com", "second_factors_reset").await > 0;
            state!(ok, [factors, session, told], {
                (true, true, false) => BEFORE,
                (false, false, true) => COMPLETE,
                // Signed out, factors kept: the administrator tries again.
                (true, false, false) => "sessions ended, factors kept",
            })
        },
    )
    .await;
}

#[derive(Clone)]
struct Fresh {
    id: AccountId,
    token: String,
}

async fn fresh() -> (World, Fresh) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    let token = w.login("alice", PASSWORD).await;
    w.settle().await;
    w.mailer.clear();
    (w, Fresh { id, token })
}

#[tokio::test]
async fn registering_a_passkey_adds_it_and_tells_the_owner() {
    each_failure(
        "finish_passkey_registration",
        fresh,
        |w, c| async move {
            let session = enrolling(&w.accounts.authenticate(&c.token).await?);
            // The ceremony's start is part of the run: its challenge is the passkey's.
            let ceremony = w
                .accounts
                .start_passkey_registration(&session, "Laptop")
                .await?;
            let credential = SoftDevice::at(ORIGIN)
                .register(&ceremony.options)
                .expect("the authenticator registers");
            w.accounts
                .finish_passkey_registration(&session, &ceremony.ceremony_id, credential, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let passkeys = w.db().second_factors(c.id).await.unwrap().passkeys;
            let told = w.mails("alice@example.com", "factor_added").await > 0;
            let old_token = w.signs_in(&c.token).await;
            state!(ok, [passkeys, told, old_token], {
                (0, false, true) => BEFORE,
                (1, true, false) => COMPLETE,
                // Added and told; the session kept its token and its stage.
                (1, true, true) => "added, session not rotated",
            })
        },
    )
    .await;
}

// ---- Addresses -------------------------------------------------------------------

#[derive(Clone)]
struct PendingRecovery {
    id: AccountId,
    token: String,
    link: String,
}

/// Alice has a recovery address and has asked to replace it with one whose link is still
/// unopened: the address she may have mistyped, whose owner must not become her recovery.
async fn pending_recovery() -> (World, PendingRecovery) {
    let (w, Fresh { id, token }) = fresh().await;
    let session = w.session(&token).await;
    let first = EmailAddress::parse("alice.backup@example.com").unwrap();
    w.accounts
        .set_recovery_email(&session, Some(first), &info())
        .await
        .unwrap();
    w.settle().await;
    let first_link = link_token(&w, "alice.backup@example.com", "verify_recovery_email");
    w.accounts.verify_email(&first_link, &info()).await.unwrap();
    let typo = EmailAddress::parse("alice.backpu@example.com").unwrap();
    w.accounts
        .set_recovery_email(&session, Some(typo), &info())
        .await
        .unwrap();
    w.settle().await;
    let link = link_token(&w, "alice.backpu@example.com", "verify_recovery_email");
    w.mailer.clear();
    (w, PendingRecovery { id, token, link })
}

#[tokio::test]
async fn removing_the_recovery_address_kills_its_pending_link_first() {
    each_failure(
        "set_recovery_email(None)",
        pending_recovery,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.token).await?;
            w.accounts.set_recovery_email(&session, None, &info()).await
        },
        |w, c, ok| async move {
            let recovery = w.account(c.id).await.unwrap().recovery_email.is_some();
            let link = w
                .link_alive(&c.link, ChallengePurpose::VerifyRecoveryEmail)
                .await;
            let told = w.mails("alice@example.com", "recovery_email_changed").await > 0;
            state!(ok, [recovery, link, told], {
                (true, true, false) => BEFORE,
                (false, false, true) => COMPLETE,
                (true, false, false) => "link gone, address kept",
            })
        },
    )
    .await;
}

#[derive(Clone)]
struct PendingEmail {
    id: AccountId,
    link: String,
}

async fn pending_email() -> (World, PendingEmail) {
    let (w, Fresh { id, token }) = fresh().await;
    let session = w.session(&token).await;
    w.accounts
        .request_email_change(
            &session,
            EmailAddress::parse("alice@example.org").unwrap(),
            &info(),
        )
        .await
        .unwrap();
    w.settle().await;
    let link = link_token(&w, "alice@example.org", "verify_email");
    w.mailer.clear();
    (w, PendingEmail { id, link })
}

#[tokio::test]
async fn confirming_an_email_change_switches_the_address_or_leaves_it() {
    each_failure(
        "verify_email",
        pending_email,
        |w, c| async move { w.accounts.verify_email(&c.link, &info()).await.map(drop) },
        |w, c, ok| async move {
            let account = w.account(c.id).await.unwrap();
            let switched = account.email.as_str() == "alice@example.org";
            let verified = account.email_verified;
            let link = w.link_alive(&c.link, ChallengePurpose::VerifyEmail).await;
            let told = w.mails("alice@example.com", "email_changed").await > 0;
            state!(ok, [switched, verified, link, told], {
                (false, false, true, false) => BEFORE,
                (true, true, false, true) => COMPLETE,
                // The link was used up and the address stayed: the owner asks for another
                // link; nothing moved the account.
                (false, false, false, false) => "link used, address kept",
            })
        },
    )
    .await;
}

// ---- Logins ----------------------------------------------------------------------

#[derive(Clone)]
struct Failures {
    id: AccountId,
}

async fn after_wrong_passwords() -> (World, Failures) {
    let w = World::new();
    let id = w.sign_up("alice").await.id;
    for _ in 0..2 {
        let _ = w
            .accounts
            .login("alice", &Password::new("not the password"), &info())
            .await;
    }
    w.clock.advance(Duration::minutes(30));
    w.settle().await;
    w.mailer.clear();
    (w, Failures { id })
}

#[tokio::test]
async fn a_login_that_fails_on_the_way_signs_nobody_in() {
    each_failure(
        "login",
        after_wrong_passwords,
        |w, _| async move {
            match w
                .accounts
                .login("alice", &Password::new(PASSWORD), &info())
                .await?
            {
                LoginOutcome::SignedIn(_) => Ok(()),
                other => panic!("expected a session, got {other:?}"),
            }
        },
        |w, c, ok| async move {
            let sessions = w.db().sessions_of(c.id).await.unwrap().len();
            let logged = w.events(c.id, SecurityEventKind::LoginSucceeded).await;
            let throttle = w
                .db()
                .failures(c.id, FailureKind::Password)
                .await
                .unwrap()
                .count;
            // A session whose token the call never returned signs nobody in: no client
            // has its token. So a failed login may leave one stored.
            let signed_in = ok;
            state!(ok, [signed_in, sessions, logged, throttle], {
                (false, 0, 0, 2) => BEFORE,
                (false, 0 | 1, 0, 0) => "right password counted, nobody signed in",
                (true, 1, 1, 0) => COMPLETE,
            })
        },
    )
    .await;
}

#[derive(Clone)]
struct TotpLogin {
    id: AccountId,
    pending: String,
    secret: String,
}

async fn pending_login() -> (World, TotpLogin) {
    let (w, c) = with_totp().await;
    let pending = match w
        .accounts
        .login("alice", &Password::new(PASSWORD), &info())
        .await
        .unwrap()
    {
        LoginOutcome::SecondFactorRequired { pending, .. } => pending.token.expose().to_owned(),
        other => panic!("expected a second factor, got {other:?}"),
    };
    (
        w,
        TotpLogin {
            id: c.id,
            pending,
            secret: c.secret,
        },
    )
}

#[tokio::test]
async fn finishing_a_login_with_totp_replaces_the_pending_session_or_keeps_it() {
    each_failure(
        "complete_login_with_totp",
        pending_login,
        |w, c| async move {
            let pending = w.accounts.authenticate_pending(&c.pending).await?;
            let code = support::totp_code(&c.secret, w.now());
            w.accounts
                .complete_login_with_totp(&pending, &code, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let pending = w.accounts.authenticate_pending(&c.pending).await.is_ok();
            let full = w
                .db()
                .sessions_of(c.id)
                .await
                .unwrap()
                .iter()
                .filter(|s| s.stage == account_core::model::SessionStage::Full)
                .count();
            let logged = w.events(c.id, SecurityEventKind::LoginSucceeded).await;
            let signed_in = ok;
            state!(ok, [signed_in, pending, full, logged], {
                // `full` counts the enrolment's session too.
                (false, true, 1, 1) => BEFORE,
                // The pending login ended (or its step was used); logging in again is safe.
                (false, false | true, 1 | 2, 1) => "pending login spent, nobody signed in",
                (true, false, 2, 2) => COMPLETE,
            })
        },
    )
    .await;
}

// ---- An administrator's changes --------------------------------------------------

#[derive(Clone)]
struct Target {
    admin: AccountId,
    id: AccountId,
    token: String,
}

async fn target() -> (World, Target) {
    let (w, Fresh { id, token }) = fresh().await;
    let admin = w.sign_up("carol").await.id;
    w.mailer.clear();
    (w, Target { admin, id, token })
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_in_the_same_step() {
    each_failure(
        "update_account(disable)",
        target,
        |w, c| async move {
            let change = AccountChangeByAdmin {
                state: Some(AccountState::Disabled),
                ..AccountChangeByAdmin::default()
            };
            w.accounts
                .change_account(c.admin, c.id, change, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let disabled = w.account(c.id).await.unwrap().state == AccountState::Disabled;
            let sessions = w.db().sessions_of(c.id).await.unwrap().len();
            let signs_in = w.signs_in(&c.token).await;
            state!(ok, [disabled, sessions, signs_in], {
                (false, 1, true) => BEFORE,
                (true, 0, false) => COMPLETE,
            })
        },
    )
    .await;
}

#[tokio::test]
async fn deleting_an_account_takes_everything_or_nothing() {
    each_failure(
        "delete_own_account",
        fresh,
        |w, c| async move {
            let session = w.accounts.authenticate(&c.token).await?;
            w.accounts
                .delete_own_account(&session, "alice", &info())
                .await
        },
        |w, c, ok| async move {
            let exists = w.account(c.id).await.is_some();
            let sessions = w.db().sessions_of(c.id).await.unwrap().len();
            let told = w.mails("alice@example.com", "account_deleted").await > 0;
            state!(ok, [exists, sessions, told], {
                (true, 1, false) => BEFORE,
                (false, 0, true) => COMPLETE,
            })
        },
    )
    .await;
}

#[tokio::test]
async fn a_policy_change_is_stored_whole() {
    each_failure(
        "set_policy",
        target,
        |w, c| async move {
            let mut policy = w.accounts.policy().await?;
            policy.require_second_factor = true;
            policy.sessions.idle_timeout_secs = 600;
            w.accounts
                .set_policy(c.admin, policy, &info())
                .await
                .map(drop)
        },
        |w, c, ok| async move {
            let stored: Option<Policy> = w.db().policy().await.unwrap();
            let applied = stored
                .as_ref()
                .is_some_and(|p| p.require_second_factor && p.sessions.idle_timeout_secs == 600);
            let logged = w.events(c.admin, SecurityEventKind::PolicyChanged).await;
            state!(ok, [applied, logged], {
                (false, 0) => BEFORE,
                // The log entry follows the change; a failed write of it leaves the
                // policy in force and the call answers the error.
                (true, 0) => "changed, not logged",
                (true, 1) => COMPLETE,
            })
        },
    )
    .await;
}

// ---- Sign-up ---------------------------------------------------------------------

#[tokio::test]
async fn a_sign_up_that_fails_after_the_account_leaves_a_usable_account() {
    each_failure(
        "sign_up",
        || async { (World::new(), ()) },
        |w, ()| async move {
            let form = SignUp::parse("alice", "alice@example.com", PASSWORD, None).unwrap();
            w.accounts.sign_up(form, &info()).await.map(drop)
        },
        |w, (), ok| async move {
            let username = account_core::domain::Username::parse("alice").unwrap();
            let account = w.db().account_by_username(&username).await.unwrap();
            let exists = account.is_some();
            let link = w.mails("alice@example.com", "verify_email").await > 0;
            // An account without its link logs in with its password and asks for the
            // link again (an email change to its own address), so it is not stuck.
            let logs_in = exists && w.login("alice", PASSWORD).await.len() > 10;
            state!(ok, [exists, link, logs_in], {
                (false, false, false) => BEFORE,
                (true, false, true) => "created, no link yet",
                (true, true, true) => COMPLETE,
            })
        },
    )
    .await;
}
