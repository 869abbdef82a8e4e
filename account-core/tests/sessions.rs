//! Session validation and what it proves: `authenticate` gives a `SignedInSession` only
//! for a fully signed-in session, `authenticate_enrolling` an `EnrollingSession` for a full
//! or an enrolment-only one, `authenticate_pending` a `PendingSession` only for a login
//! waiting for its second factor. Each session is put into the store and then validated
//! by its token, as a host does.

mod support;

use account_core::model::{
    AssuranceLevel, AuthMethod, Authentication, SessionId, SessionRecord, SessionStage,
};
use account_core::random::OsRandom;
use account_core::store::SessionStore;
use account_core::token::OpaqueToken;
use account_core::{EnrollingSession, Error};
use chrono::Duration;
use support::{Harness, info};

/// Signs `ada` up and puts a session of `stage` for her into the store; returns its
/// token.
async fn stored(h: &Harness, stage: SessionStage) -> OpaqueToken {
    h.sign_up("ada", "ada@example.com").await;
    let account = h.id_of("ada").await;
    let now = h.accounts.now();
    let token = OpaqueToken::generate(&OsRandom);
    let session = SessionRecord {
        id: SessionId::generate(now, &OsRandom),
        token_digest: token.digest(),
        account_id: account,
        created_at: now,
        last_seen_at: now,
        idle_timeout: Duration::minutes(5),
        absolute_expires_at: now + Duration::minutes(5),
        ip: None,
        user_agent: None,
        device: Default::default(),
        authentications: vec![Authentication {
            method: AuthMethod::Password,
            at: now,
        }],
        assurance: AssuranceLevel::One,
        stage,
    };
    h.store.insert_session(&session).await.expect("store");
    token
}

#[tokio::test]
async fn a_full_session_is_signed_in_may_enrol_and_is_not_pending() {
    let h = Harness::new().await;
    let token = stored(&h, SessionStage::Full).await;
    let session = h
        .accounts
        .authenticate(token.expose())
        .await
        .expect("signed in");
    assert_eq!(session.stage, SessionStage::Full);
    assert!(matches!(
        h.accounts.authenticate_enrolling(token.expose()).await,
        Ok(EnrollingSession::SignedIn(s)) if s.id == session.id
    ));
    assert!(matches!(
        h.accounts.authenticate_pending(token.expose()).await,
        Err(Error::Unauthenticated)
    ));
}

#[tokio::test]
async fn an_enrollment_only_session_may_only_enrol() {
    let h = Harness::new().await;
    let token = stored(&h, SessionStage::EnrollmentOnly).await;
    let refused = h.accounts.authenticate(token.expose()).await;
    assert!(
        matches!(refused, Err(Error::SecondFactorEnrollmentRequired)),
        "{refused:?}"
    );
    assert_eq!(
        Error::SecondFactorEnrollmentRequired.code(),
        "second_factor_enrollment_required"
    );
    let enrolling = h
        .accounts
        .authenticate_enrolling(token.expose())
        .await
        .expect("it may enrol");
    assert!(matches!(enrolling, EnrollingSession::EnrollmentOnly(_)));
    assert_eq!(enrolling.stage, SessionStage::EnrollmentOnly);
    assert!(matches!(
        h.accounts.authenticate_pending(token.expose()).await,
        Err(Error::Unauthenticated)
    ));
}

#[tokio::test]
async fn a_pending_login_is_neither_signed_in_nor_enrolling() {
    let h = Harness::new().await;
    let token = stored(&h, SessionStage::SecondFactorPending { attempts: 0 }).await;
    assert!(matches!(
        h.accounts.authenticate(token.expose()).await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        h.accounts.authenticate_enrolling(token.expose()).await,
        Err(Error::Unauthenticated)
    ));
    let pending = h
        .accounts
        .authenticate_pending(token.expose())
        .await
        .expect("the second-factor steps accept it");
    assert!(matches!(
        pending.stage,
        SessionStage::SecondFactorPending { attempts: 0 }
    ));
}

#[tokio::test]
async fn a_pending_session_kept_past_its_lifetime_finishes_nothing() {
    let h = Harness::new().await;
    let token = stored(&h, SessionStage::SecondFactorPending { attempts: 0 }).await;
    let pending = h
        .accounts
        .authenticate_pending(token.expose())
        .await
        .expect("pending");
    // The value outlives the five minutes the pending login has: the step refuses it
    // before it looks at the code.
    h.clock.advance(Duration::minutes(6));
    let refused = h
        .accounts
        .complete_login_with_totp(&pending, "123456", &info())
        .await;
    assert!(
        matches!(refused, Err(Error::Unauthenticated)),
        "{refused:?}"
    );
    assert!(
        !h.events("ada")
            .await
            .iter()
            .any(|e| e.kind == account_core::model::SecurityEventKind::SecondFactorFailed),
        "no attempt was counted"
    );
}
