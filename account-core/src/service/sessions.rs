//! Sessions: creating them with device details, validating a token, listing, revoking,
//! rotating the token at privilege changes, and the freshness check for sensitive actions.
//!
//! # What a validated session proves
//!
//! Validating a token gives a value whose type says what the session may do, so that a
//! service states what it needs in its signature and never checks a stage at run time:
//!
//! | type | stage | made by | taken by |
//! |---|---|---|---|
//! | [`SignedInSession`] | [`Full`](SessionStage::Full) | [`Accounts::authenticate`] | everything a signed-in user does |
//! | [`EnrollingSession`] | `Full` or [`EnrollmentOnly`](SessionStage::EnrollmentOnly) | [`Accounts::authenticate_enrolling`] | enrolling a second factor, re-authenticating, logging out |
//! | [`PendingSession`] | [`SecondFactorPending`](SessionStage::SecondFactorPending) | [`Accounts::authenticate_pending`] | the steps that finish a login with a second factor |
//!
//! Each wraps the stored [`SessionRecord`] in a private field and derefs to it for reading;
//! it also holds the session's account and the account's second factors, read in the same
//! store read ([`SessionStore::session_with_account`](crate::store::SessionStore)), so that
//! an authenticated request costs one read in all. Only this module makes one, from a live
//! stored record of the right stage whose account is active, so holding one is the proof. A pending session cannot stand in for a signed-in one:
//!
//! ```compile_fail,E0308
//! # async fn demo(accounts: account_core::Accounts, token: &str) -> account_core::Result<()> {
//! let pending = accounts.authenticate_pending(token).await?;
//! // A `PendingSession` is not a `SignedInSession`: mismatched types.
//! accounts.revoke_other_sessions(&pending, &account_core::RequestInfo::default()).await?;
//! # Ok(()) }
//! ```
//!
//! and neither can a record read from the store:
//!
//! ```compile_fail,E0423
//! # fn demo(record: account_core::model::SessionRecord) {
//! // The field is private, and no constructor skips validation.
//! let session = account_core::SignedInSession(record);
//! # }
//! ```

use std::ops::Deref;
use std::sync::Arc;

use chrono::Duration;

use super::Accounts;
use crate::device::{parse_device, sanitize_user_agent};
use crate::error::{Error, Result};
use crate::model::{
    Account, AccountId, AccountState, AssuranceLevel, Authentication, RequestInfo, SecondFactors,
    SecurityEventKind, SessionId, SessionRecord, SessionRotation, SessionStage, SessionWithAccount,
};
use crate::token::OpaqueToken;

/// A session just made or rotated, with its token: the only moment the token exists in
/// clear. Hand it to the client (in a cookie) and drop it.
#[derive(Debug)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// The session as stored.
    pub session: SessionRecord,
    /// The secret token for the client.
    pub token: OpaqueToken,
}

/// A session as its owner sees it in the list.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session.
    pub session: SessionRecord,
    /// Whether it is the session the list was asked from.
    pub current: bool,
}

/// A fully signed-in session ([`SessionStage::Full`]): what
/// [`Accounts::authenticate`] returns, and what every service that acts for a signed-in
/// user takes. Only session validation makes one.
///
/// It derefs to the stored [`SessionRecord`] for reading.
#[derive(Debug, Clone)]
pub struct SignedInSession(Arc<SessionWithAccount>);

/// A session the "require 2FA" policy restricts to enrolling a second factor
/// ([`SessionStage::EnrollmentOnly`]): its account has none yet. Only session validation
/// makes one, as the [`EnrollingSession::EnrollmentOnly`] case of
/// [`Accounts::authenticate_enrolling`].
///
/// It derefs to the stored [`SessionRecord`] for reading.
#[derive(Debug, Clone)]
pub struct EnrollmentSession(Arc<SessionWithAccount>);

/// A login waiting for its second factor ([`SessionStage::SecondFactorPending`]): what
/// [`Accounts::authenticate_pending`] returns, and what only the steps that finish the
/// login take. It is not signed in.
///
/// It derefs to the stored [`SessionRecord`] for reading.
#[derive(Debug, Clone)]
pub struct PendingSession(Arc<SessionWithAccount>);

/// A session that may enrol a second factor: a fully signed-in one, or one the "require
/// 2FA" policy restricts to enrolling. What [`Accounts::authenticate_enrolling`] returns,
/// and what enrolling a factor, re-authenticating and logging out take.
///
/// It derefs to the stored [`SessionRecord`] for reading. Any [`SignedInSession`] may be
/// used where an `EnrollingSession` is asked for (`EnrollingSession::from`).
#[derive(Debug, Clone)]
pub enum EnrollingSession {
    /// A fully signed-in session.
    SignedIn(SignedInSession),
    /// A session that may only enrol a second factor.
    EnrollmentOnly(EnrollmentSession),
}

/// The reading side the session types share: `Deref`, `record()`, `into_record()`,
/// `account()` and `second_factors()`.
macro_rules! session_record_access {
    ($($name:ident),+) => {$(
        impl $name {
            /// The stored session.
            pub fn record(&self) -> &SessionRecord {
                &self.0.session
            }

            /// The stored session, giving up the proof of its stage.
            pub fn into_record(self) -> SessionRecord {
                Arc::unwrap_or_clone(self.0).session
            }

            /// The session's account as validation read it, in the same read as the
            /// session: active at that moment.
            pub fn account(&self) -> &Account {
                &self.0.account
            }

            /// The account's second factors as validation read them.
            pub fn second_factors(&self) -> SecondFactors {
                self.0.second_factors
            }
        }

        impl Deref for $name {
            type Target = SessionRecord;

            fn deref(&self) -> &SessionRecord {
                &self.0.session
            }
        }
    )+};
}

session_record_access!(SignedInSession, EnrollmentSession, PendingSession);

impl EnrollingSession {
    /// The stored session.
    pub fn record(&self) -> &SessionRecord {
        match self {
            EnrollingSession::SignedIn(s) => s.record(),
            EnrollingSession::EnrollmentOnly(s) => s.record(),
        }
    }

    /// The stored session, giving up the proof of its stage.
    pub fn into_record(self) -> SessionRecord {
        match self {
            EnrollingSession::SignedIn(s) => s.into_record(),
            EnrollingSession::EnrollmentOnly(s) => s.into_record(),
        }
    }

    /// The session's account as validation read it: active at that moment.
    pub fn account(&self) -> &Account {
        match self {
            EnrollingSession::SignedIn(s) => s.account(),
            EnrollingSession::EnrollmentOnly(s) => s.account(),
        }
    }

    /// The account's second factors as validation read them.
    pub fn second_factors(&self) -> SecondFactors {
        match self {
            EnrollingSession::SignedIn(s) => s.second_factors(),
            EnrollingSession::EnrollmentOnly(s) => s.second_factors(),
        }
    }
}

impl Deref for EnrollingSession {
    type Target = SessionRecord;

    fn deref(&self) -> &SessionRecord {
        self.record()
    }
}

impl From<SignedInSession> for EnrollingSession {
    fn from(session: SignedInSession) -> Self {
        EnrollingSession::SignedIn(session)
    }
}

impl From<EnrollmentSession> for EnrollingSession {
    fn from(session: EnrollmentSession) -> Self {
        EnrollingSession::EnrollmentOnly(session)
    }
}

/// A live stored session sorted by its stage: the one place the session types are made.
enum Staged {
    SignedIn(SignedInSession),
    EnrollmentOnly(EnrollmentSession),
    Pending(PendingSession),
}

impl Staged {
    fn of(live: SessionWithAccount) -> Self {
        match live.session.stage {
            SessionStage::Full => Staged::SignedIn(SignedInSession(Arc::new(live))),
            SessionStage::EnrollmentOnly => {
                Staged::EnrollmentOnly(EnrollmentSession(Arc::new(live)))
            }
            SessionStage::SecondFactorPending { .. } => {
                Staged::Pending(PendingSession(Arc::new(live)))
            }
        }
    }
}

/// What a validation takes a session to be waiting for: nothing (signed in, or restricted
/// to enrolling), or its second factor (a pending login).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaits {
    Nothing,
    SecondFactor,
}

/// How long a session waiting for its second factor lives.
pub(crate) const PENDING_LIFETIME: Duration = Duration::minutes(5);

/// How many wrong second factors a pending session allows before it ends.
pub(crate) const PENDING_ATTEMPTS: u32 = 5;

impl Accounts {
    /// Makes a session for an account that just authenticated.
    pub(crate) async fn start_session(
        &self,
        account: Account,
        authentications: Vec<Authentication>,
        assurance: AssuranceLevel,
        stage: SessionStage,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let policy = self.policy().await?;
        let now = self.now();
        let token = OpaqueToken::generate(self.rng());
        // A session waiting for its second factor lives only long enough to type a code.
        let (idle_timeout, lifetime) = match stage {
            SessionStage::SecondFactorPending { .. } => (PENDING_LIFETIME, PENDING_LIFETIME),
            _ => (
                Duration::seconds(policy.sessions.idle_timeout_secs),
                Duration::seconds(policy.sessions.absolute_timeout_secs),
            ),
        };
        let user_agent = info.user_agent.as_deref().and_then(sanitize_user_agent);
        let session = SessionRecord {
            id: SessionId::generate(now, self.rng()),
            token_digest: token.digest(),
            account_id: account.id,
            created_at: now,
            last_seen_at: now,
            idle_timeout,
            absolute_expires_at: now + lifetime,
            ip: info.ip,
            device: parse_device(user_agent.as_deref(), &info.client_hints),
            user_agent,
            authentications,
            assurance,
            stage,
        };
        self.inner.store.insert_session(&session).await?;
        Ok(SignedIn {
            account,
            session,
            token,
        })
    }

    /// Validates a session token presented by a client and returns the session, which
    /// must be fully signed in.
    ///
    /// This is the hot path of every authenticated request: one store read by the token's
    /// digest, which brings the account and its second factors too
    /// ([`SignedInSession::account`]), and a write only when the last-seen time is older
    /// than the touch interval (a minute by default).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a malformed, unknown, expired or revoked token, for
    /// a session still waiting for its second factor, and for one whose account is not
    /// active; [`Error::SecondFactorEnrollmentRequired`] for a session the "require 2FA" policy
    /// restricts to enrolling a second factor (see [`Accounts::authenticate_enrolling`]).
    pub async fn authenticate(&self, token: &str) -> Result<SignedInSession> {
        match Staged::of(self.live_session(token, Awaits::Nothing).await?) {
            Staged::SignedIn(session) => Ok(session),
            Staged::EnrollmentOnly(_) => Err(Error::SecondFactorEnrollmentRequired),
            Staged::Pending(_) => Err(Error::Unauthenticated),
        }
    }

    /// Validates a session token like [`Accounts::authenticate`], and accepts a session
    /// the "require 2FA" policy restricts to enrolling a second factor too: for the few
    /// steps such a session may take (enrolling TOTP or a passkey, re-authenticating,
    /// logging out, reading the account).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a malformed, unknown, expired or revoked token, and
    /// for a session still waiting for its second factor.
    pub async fn authenticate_enrolling(&self, token: &str) -> Result<EnrollingSession> {
        match Staged::of(self.live_session(token, Awaits::Nothing).await?) {
            Staged::SignedIn(session) => Ok(EnrollingSession::SignedIn(session)),
            Staged::EnrollmentOnly(session) => Ok(EnrollingSession::EnrollmentOnly(session)),
            Staged::Pending(_) => Err(Error::Unauthenticated),
        }
    }

    /// The session waiting for its second factor that this token names: what the steps
    /// that finish a login take. It is not touched (it lives five minutes whatever it does).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a malformed, unknown or expired token, or one of a
    /// session that is not waiting for a second factor.
    pub async fn authenticate_pending(&self, token: &str) -> Result<PendingSession> {
        match Staged::of(self.live_session(token, Awaits::SecondFactor).await?) {
            Staged::Pending(session) => Ok(session),
            Staged::SignedIn(_) | Staged::EnrollmentOnly(_) => Err(Error::Unauthenticated),
        }
    }

    /// The live session this token names, with its active account, if it `awaits` what
    /// the caller wants, touched when its last-seen time is due (a pending session never
    /// is). The whole of every validation but the sorting by stage, in one function: it
    /// runs on every authenticated request, and each nested call would move the record
    /// once more.
    async fn live_session(&self, token: &str, awaits: Awaits) -> Result<SessionWithAccount> {
        let token = OpaqueToken::parse(token).ok_or(Error::Unauthenticated)?;
        let mut live = self
            .inner
            .store
            .session_with_account(&token.digest())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = self.now();
        let session = &mut live.session;
        let pending = matches!(session.stage, SessionStage::SecondFactorPending { .. });
        if pending != (awaits == Awaits::SecondFactor)
            || !session.is_live(now)
            || live.account.state != AccountState::Active
        {
            return Err(Error::Unauthenticated);
        }
        if !pending && self.touch_due(Some(session.last_seen_at), now) {
            self.inner.store.touch_session(session.id, now).await?;
            session.last_seen_at = now;
        }
        Ok(live)
    }

    /// The account of a validated session, read again from the store (the session types
    /// hold the account as their validation read it: [`SignedInSession::account`]).
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] if the account is gone or disabled.
    pub async fn account_of(&self, session: &SessionRecord) -> Result<Account> {
        self.active_account(session.account_id).await
    }

    /// The account with this id if it exists and is active: what a request authenticated
    /// by a session, a token or an app password acts as.
    pub(crate) async fn active_account(&self, id: AccountId) -> Result<Account> {
        match self.inner.store.account_by_id(id).await? {
            Some(a) if a.state == crate::model::AccountState::Active => Ok(a),
            _ => Err(Error::Unauthenticated),
        }
    }

    /// The account's live sessions, newest first, with `current` (the session asking, if
    /// a session asks rather than an API token) marked.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn sessions(
        &self,
        account: AccountId,
        current: Option<SessionId>,
    ) -> Result<Vec<SessionView>> {
        let now = self.now();
        let mut all = self.inner.store.sessions_of(account).await?;
        all.retain(|s| s.is_live(now));
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all
            .into_iter()
            .map(|session| SessionView {
                current: Some(session.id) == current,
                session,
            })
            .collect())
    }

    /// Ends one of the account's sessions. Ending another session needs a fresh
    /// authentication (a stolen, old session must not be able to throw the owner out);
    /// ending the current one is a logout and does not.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the account has no such session;
    /// [`Error::ReauthenticationRequired`] for another session from a stale one.
    pub async fn revoke_session(
        &self,
        current: &SignedInSession,
        id: SessionId,
        info: &RequestInfo,
    ) -> Result<()> {
        if id != current.id {
            self.require_fresh(current).await?;
        }
        if !self
            .inner
            .store
            .delete_session(current.account_id, id)
            .await?
        {
            return Err(Error::NotFound);
        }
        let kind = if id == current.id {
            SecurityEventKind::LoggedOut
        } else {
            SecurityEventKind::SessionRevoked
        };
        self.record(
            current.account_id,
            kind,
            info,
            &[("session", id.to_string())],
        )
        .await
    }

    /// Ends every session of the account but the current one, after a fresh
    /// authentication. Returns how many ended.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session.
    pub async fn revoke_other_sessions(
        &self,
        current: &SignedInSession,
        info: &RequestInfo,
    ) -> Result<u64> {
        self.require_fresh(current).await?;
        let ended = self
            .inner
            .store
            .delete_sessions_of(current.account_id, Some(current.id))
            .await?;
        self.record(
            current.account_id,
            SecurityEventKind::OtherSessionsRevoked,
            info,
            &[("count", ended.to_string())],
        )
        .await?;
        Ok(ended)
    }

    /// Ends the current session. A session the "require 2FA" policy restricts to enrolling
    /// may log out too ([`EnrollingSession`]).
    ///
    /// # Errors
    ///
    /// Only storage errors; logging out of a session that is already gone succeeds.
    pub async fn logout(&self, current: &EnrollingSession, info: &RequestInfo) -> Result<()> {
        if self
            .inner
            .store
            .delete_session(current.account_id, current.id)
            .await?
        {
            self.record(
                current.account_id,
                SecurityEventKind::LoggedOut,
                info,
                &[("session", current.id.to_string())],
            )
            .await?;
        }
        Ok(())
    }

    /// Whether the session authenticated recently enough for a sensitive action (within
    /// the policy's re-authentication window, 10 minutes by default), and with the
    /// account's strongest kind of factor: once an account has a second factor, only a
    /// second factor within the window counts. The same rule makes adding a factor need the
    /// account's highest level.
    ///
    /// # Errors
    ///
    /// Only storage errors (reading the policy and the account's factors).
    pub async fn is_fresh(&self, session: &SessionRecord) -> Result<bool> {
        let window = Duration::seconds(self.policy().await?.sessions.reauthentication_window_secs);
        let now = self.now();
        // Once an account has a second factor, only a recent second factor is fresh enough:
        // a password alone does not reach the account's strongest level.
        let needs_second = self
            .inner
            .store
            .second_factors(session.account_id)
            .await?
            .any();
        Ok(session
            .authentications
            .iter()
            .any(|a| now - a.at <= window && (!needs_second || a.method.is_second_factor())))
    }

    /// Refuses a sensitive action from a session that is not fresh.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] when [`Accounts::is_fresh`] says no.
    pub async fn require_fresh(&self, session: &SessionRecord) -> Result<()> {
        if self.is_fresh(session).await? {
            Ok(())
        } else {
            Err(Error::ReauthenticationRequired)
        }
    }

    /// Gives the session a new token and a new authentication state, so that a token seen
    /// before a privilege change is worthless after it (session fixation). The old token
    /// stops working at once.
    pub(crate) async fn rotate_session(
        &self,
        current: &SessionRecord,
        authenticated: Authentication,
        assurance: AssuranceLevel,
        stage: SessionStage,
    ) -> Result<(SessionRecord, OpaqueToken)> {
        let token = OpaqueToken::generate(self.rng());
        let mut authentications: Vec<Authentication> = current
            .authentications
            .iter()
            .filter(|a| a.method != authenticated.method)
            .copied()
            .collect();
        authentications.push(authenticated);
        let rotation = SessionRotation {
            token_digest: token.digest(),
            authentications: authentications.clone(),
            assurance: assurance.max(current.assurance),
            stage,
            at: authenticated.at,
        };
        if !self
            .inner
            .store
            .rotate_session(current.id, &current.token_digest, &rotation)
            .await?
        {
            // Another request rotated or ended this session first; this one lost.
            return Err(Error::Unauthenticated);
        }
        let session = SessionRecord {
            token_digest: rotation.token_digest,
            authentications,
            assurance: rotation.assurance,
            stage,
            last_seen_at: rotation.at,
            ..current.clone()
        };
        Ok((session, token))
    }

    /// Ends every session of an account except `keep`.
    pub(crate) async fn end_sessions(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> Result<u64> {
        Ok(self.inner.store.delete_sessions_of(account, keep).await?)
    }
}

impl Accounts {
    /// Deletes expired sessions, challenges and rate-limit windows: housekeeping for a
    /// periodic task (the starter runs it every ten minutes). Expired rows are never
    /// accepted anyway; this only keeps the tables small.
    ///
    /// Returns how many sessions and challenges went.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn purge_expired(&self) -> Result<(u64, u64)> {
        let now = self.now();
        let store = &self.inner.store;
        let sessions = store.purge_expired_sessions(now).await?;
        let challenges = store.purge_expired_challenges(now).await?;
        store.purge_rate_limits(now - Duration::days(1)).await?;
        Ok((sessions, challenges))
    }
}
