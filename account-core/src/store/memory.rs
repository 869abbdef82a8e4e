//! An in-memory store: every trait of [`crate::store`] over plain collections behind one
//! mutex.
//!
//! [`MemoryStore`] is what tests, examples and demos use when they want no database, and
//! it is the reference adapter: read it first when writing a new one. It is deliberately
//! small and shows, for each method, the behaviour the conformance suite
//! ([`crate::testing`]) checks on every backend:
//!
//! - **One lock per operation.** Every method takes the lock once, does all its reads and
//!   writes, and lets it go. That is what makes the operations the traits call atomic
//!   (consuming a challenge, bumping a failure counter, rotating a session token,
//!   swapping a password hash) atomic here; a SQL adapter gets the same from one
//!   conditional statement or one transaction. The lock is a [`std::sync::Mutex`]
//!   because nothing awaits while holding it.
//! - **Indexes for every lookup the services make.** Sessions are found by token digest
//!   in one hash lookup (the read on every authenticated request), accounts by username
//!   and by the address's [`lookup_key`](crate::domain::EmailAddress::lookup_key). A SQL
//!   adapter needs the same as unique indexes.
//! - **Check everything, then write.** A write that fails with a
//!   [`Conflict`] leaves nothing behind.
//! - **Usernames are never reused.** Every username ever inserted stays taken after its
//!   account is deleted.
//!
//! Where the trait documentation leaves a detail open, this store decides it as follows,
//! and other adapters should do the same:
//!
//! - Something that expires at `t` is dead at `t` itself, for challenges and for purges
//!   alike, as [`SessionRecord::is_live`] decides for sessions.
//! - `set_email`, `set_recovery_email`, `set_avatar` and `set_password_hash` set
//!   `updated_at` to their `at`; `upgrade_password_hash`, which gets no time, leaves it.
//! - `rotate_session` to a digest that another session has fails with
//!   [`Conflict::Id`], like `insert_session` (a unique index on the digest does that).
//! - `insert_challenge` with `replace` for a challenge of no account replaces nothing.
//!
//! Nothing here is persisted: the data lives as long as the value.

mod access;

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    AccountStore, AuthenticatorStore, ChallengeStore, Conflict, CredentialStore, PolicyStore,
    RateLimitStore, SecurityEventStore, SessionStore, StoreError, StoreResult, ThrottleStore,
};
use crate::avatar::Avatar;
use crate::domain::{EmailAddress, Username};
use crate::model::{
    Account, AccountChange, AccountId, AccountQuery, AccountRemoval, AccountState, AccountUpdate,
    Challenge, ChallengePurpose, EventCursor, EventFilter, EventPage, FailureKind, Failures,
    NewAccount, PasskeyDeletion, PasskeyId, PasskeyRecord, ProfileChange, Role, SecondFactors,
    SecurityEvent, SecurityStamp, SessionId, SessionRecord, SessionRotation, SessionStage,
    SessionWithAccount, TotpRecord, TotpSecret,
};
use crate::password::PasswordHash;
use crate::policy::Policy;
use crate::token::TokenDigest;

/// A store that keeps everything in memory, for tests, examples and demos.
///
/// Cloning is not offered: share one store as `Arc<MemoryStore>` (or `Arc<dyn Store>`).
///
/// ```
/// use std::sync::Arc;
///
/// use account_core::store::Store;
/// use account_core::store::memory::MemoryStore;
///
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state, locked. A panic in another thread while it held the lock cannot leave
    /// the state half-written (every method checks before it writes), so a poisoned lock
    /// is taken over rather than passed on as a panic.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    /// Counts only: the records hold password hashes and avatars, neither of which
    /// belongs in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryStore")
            .field("accounts", &state.accounts.len())
            .field("sessions", &state.sessions.len())
            .field("challenges", &state.challenges.len())
            .field(
                "events",
                &state.events.values().map(BTreeMap::len).sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

/// Everything the store holds, behind the one lock.
#[derive(Default)]
struct State {
    accounts: HashMap<AccountId, AccountEntry>,
    /// Live accounts by username.
    by_username: HashMap<Username, AccountId>,
    /// Live accounts by the lookup key of their primary address.
    by_email: HashMap<String, AccountId>,
    /// Every username ever taken, including those of deleted accounts.
    usernames_taken: HashSet<Username>,
    sessions: HashMap<SessionId, SessionRecord>,
    /// Sessions by token digest: the hot-path index.
    session_by_digest: HashMap<TokenDigest, SessionId>,
    challenges: HashMap<TokenDigest, Challenge>,
    failures: HashMap<(AccountId, FailureKind), Failures>,
    /// Each account's log, ordered by (time, id) so a page is a reversed range.
    events: HashMap<AccountId, BTreeMap<EventCursor, SecurityEvent>>,
    policy: Option<Policy>,
    rate_limits: HashMap<(String, DateTime<Utc>), u32>,
    totp: HashMap<AccountId, TotpRecord>,
    recovery_codes: HashMap<AccountId, HashSet<TokenDigest>>,
    passkeys: HashMap<PasskeyId, PasskeyRecord>,
    /// API tokens, app passwords and SSH keys (see `access.rs`).
    access: access::AccessState,
}

/// An account with the parts that are not in [`Account`].
struct AccountEntry {
    account: Account,
    password_hash: Option<PasswordHash>,
    avatar: Option<Avatar>,
}

impl State {
    fn account_mut(&mut self, id: AccountId) -> Option<&mut AccountEntry> {
        self.accounts.get_mut(&id)
    }

    /// Refuses a row for an account that does not exist, as a foreign key does.
    fn require_account(&self, id: AccountId) -> StoreResult<()> {
        if self.accounts.contains_key(&id) {
            Ok(())
        } else {
            Err(StoreError::NoSuchAccount)
        }
    }

    /// Whether taking `id` out of the active administrators (demoting, disabling or
    /// deleting it) would leave none.
    fn is_last_active_admin(&self, id: AccountId) -> bool {
        let active_admin = |a: &Account| a.role == Role::Admin && a.state == AccountState::Active;
        self.accounts
            .get(&id)
            .is_some_and(|e| active_admin(&e.account))
            && !self
                .accounts
                .values()
                .any(|e| e.account.id != id && active_admin(&e.account))
    }

    /// Removes a session and its digest index entry.
    fn remove_session(&mut self, id: SessionId) -> Option<SessionRecord> {
        let session = self.sessions.remove(&id)?;
        self.session_by_digest.remove(&session.token_digest);
        Some(session)
    }

    /// Removes the sessions for which `doomed` holds, returning how many went.
    fn remove_sessions_where(&mut self, doomed: impl Fn(&SessionRecord) -> bool) -> u64 {
        let ids: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| doomed(s))
            .map(|s| s.id)
            .collect();
        for id in &ids {
            self.remove_session(*id);
        }
        count(ids.len())
    }

    /// Removes the challenges for which `doomed` holds, returning how many went.
    fn remove_challenges_where(&mut self, doomed: impl Fn(&Challenge) -> bool) -> u64 {
        let before = self.challenges.len();
        self.challenges.retain(|_, c| !doomed(c));
        count(before - self.challenges.len())
    }
}

/// A collection length as the `u64` the traits return.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Whether something that dies at `expires_at` is dead at `now`: the same rule as
/// [`SessionRecord::is_live`], so an expiry instant itself is already too late.
fn expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at <= now
}

fn conflict(c: Conflict) -> StoreError {
    StoreError::Conflict(c)
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn insert_account(&self, new: &NewAccount) -> StoreResult<()> {
        let account = &new.account;
        let email_key = account.email.lookup_key();
        let mut state = self.state();
        if state.accounts.contains_key(&account.id) {
            return Err(conflict(Conflict::Id));
        }
        if state.usernames_taken.contains(&account.username) {
            return Err(conflict(Conflict::Username));
        }
        if state.by_email.contains_key(&email_key) {
            return Err(conflict(Conflict::Email));
        }
        state.usernames_taken.insert(account.username.clone());
        state
            .by_username
            .insert(account.username.clone(), account.id);
        state.by_email.insert(email_key, account.id);
        state.accounts.insert(
            account.id,
            AccountEntry {
                account: account.clone(),
                password_hash: new.password_hash.clone(),
                avatar: None,
            },
        );
        Ok(())
    }

    async fn account_by_id(&self, id: AccountId) -> StoreResult<Option<Account>> {
        Ok(self.state().accounts.get(&id).map(|e| e.account.clone()))
    }

    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<Account>> {
        let state = self.state();
        Ok(state
            .by_username
            .get(username)
            .and_then(|id| state.accounts.get(id))
            .map(|e| e.account.clone()))
    }

    async fn account_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Account>> {
        let state = self.state();
        Ok(state
            .by_email
            .get(&email.lookup_key())
            .and_then(|id| state.accounts.get(id))
            .map(|e| e.account.clone()))
    }

    async fn update_profile(
        &self,
        id: AccountId,
        change: &ProfileChange,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        let mut state = self.state();
        let Some(entry) = state.account_mut(id) else {
            return Ok(None);
        };
        let account = &mut entry.account;
        if let Some(name) = &change.display_name {
            account.display_name = name.clone();
        }
        if let Some(language) = &change.language {
            account.language = language.clone();
        }
        account.updated_at = at;
        Ok(Some(account.clone()))
    }

    async fn set_email(
        &self,
        id: AccountId,
        email: &EmailAddress,
        verified: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let key = email.lookup_key();
        let mut state = self.state();
        let Some(entry) = state.accounts.get(&id) else {
            return Ok(false);
        };
        let old_key = entry.account.email.lookup_key();
        if state.by_email.get(&key).is_some_and(|owner| *owner != id) {
            return Err(conflict(Conflict::Email));
        }
        state.by_email.remove(&old_key);
        state.by_email.insert(key, id);
        if let Some(entry) = state.account_mut(id) {
            entry.account.email = email.clone();
            entry.account.email_verified = verified;
            entry.account.updated_at = at;
        }
        Ok(true)
    }

    async fn set_recovery_email(
        &self,
        id: AccountId,
        email: Option<&EmailAddress>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(entry) = state.account_mut(id) else {
            return Ok(false);
        };
        entry.account.recovery_email = email.cloned();
        entry.account.updated_at = at;
        Ok(true)
    }

    async fn change_account(
        &self,
        id: AccountId,
        change: &AccountChange,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountUpdate> {
        let mut state = self.state();
        let Some(entry) = state.accounts.get(&id) else {
            return Ok(AccountUpdate::NotFound);
        };
        let old_key = entry.account.email.lookup_key();
        let steps_down = change.role.is_some_and(|r| r != Role::Admin)
            || change.state.is_some_and(|s| s != AccountState::Active);
        if steps_down && state.is_last_active_admin(id) {
            return Ok(AccountUpdate::LastAdmin);
        }
        let new_key = change.email.as_ref().map(EmailAddress::lookup_key);
        if let Some(key) = &new_key
            && state.by_email.get(key).is_some_and(|owner| *owner != id)
        {
            return Err(conflict(Conflict::Email));
        }
        if let Some(key) = new_key {
            state.by_email.remove(&old_key);
            state.by_email.insert(key, id);
        }
        let sessions_ended = if change.state == Some(AccountState::Disabled) {
            state.remove_sessions_where(|s| s.account_id == id)
        } else {
            0
        };
        let Some(entry) = state.account_mut(id) else {
            return Ok(AccountUpdate::NotFound);
        };
        let account = &mut entry.account;
        if let Some(name) = &change.display_name {
            account.display_name = name.clone();
        }
        if let Some(email) = &change.email {
            account.email = email.clone();
            account.email_verified = false;
        }
        if let Some(role) = change.role {
            account.role = role;
        }
        if let Some(new_state) = change.state {
            account.state = new_state;
        }
        account.updated_at = at;
        Ok(AccountUpdate::Changed {
            account: Box::new(account.clone()),
            sessions_ended,
        })
    }

    async fn delete_account(
        &self,
        id: AccountId,
        record: &SecurityEvent,
    ) -> StoreResult<AccountRemoval> {
        let mut state = self.state();
        if !state.accounts.contains_key(&id) {
            return Ok(AccountRemoval::NotFound);
        }
        if state.is_last_active_admin(id) {
            return Ok(AccountRemoval::LastAdmin);
        }
        let Some(entry) = state.accounts.remove(&id) else {
            return Ok(AccountRemoval::NotFound);
        };
        // The username stays in `usernames_taken`; the address is free again.
        state.by_username.remove(&entry.account.username);
        state.by_email.remove(&entry.account.email.lookup_key());
        state.remove_sessions_where(|s| s.account_id == id);
        state.remove_challenges_where(|c| c.account_id == Some(id));
        state.failures.retain(|(account, _), _| *account != id);
        state.totp.remove(&id);
        state.recovery_codes.remove(&id);
        state.passkeys.retain(|_, p| p.account_id != id);
        state.access.remove_account(id);
        let log = state.events.entry(id).or_default();
        log.clear();
        log.insert(record.cursor(), record.clone());
        Ok(AccountRemoval::Removed(Box::new(entry.account)))
    }

    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        let state = self.state();
        let mut found: Vec<&Account> = state
            .accounts
            .values()
            .map(|e| &e.account)
            .filter(|a| query.after.is_none_or(|after| a.cursor() > after))
            .filter(|a| query.matches(a))
            .collect();
        found.sort_by_key(|a| a.cursor());
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn set_avatar(
        &self,
        id: AccountId,
        avatar: Option<&Avatar>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(entry) = state.account_mut(id) else {
            return Ok(false);
        };
        entry.avatar = avatar.cloned();
        // The time is the avatar's version, so there is none without an avatar.
        entry.account.avatar_updated_at = avatar.map(|_| at);
        entry.account.updated_at = at;
        Ok(true)
    }

    async fn avatar(&self, id: AccountId) -> StoreResult<Option<Avatar>> {
        Ok(self
            .state()
            .accounts
            .get(&id)
            .and_then(|e| e.avatar.clone()))
    }
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn password_hash(&self, id: AccountId) -> StoreResult<Option<PasswordHash>> {
        Ok(self
            .state()
            .accounts
            .get(&id)
            .and_then(|e| e.password_hash.clone()))
    }

    async fn set_password_hash(
        &self,
        id: AccountId,
        hash: &PasswordHash,
        stamp: &SecurityStamp,
        current: &SecurityStamp,
        keep: Option<SessionId>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(entry) = state.account_mut(id) else {
            return Ok(false);
        };
        if entry.account.security_stamp != *current {
            return Ok(false);
        }
        entry.password_hash = Some(hash.clone());
        entry.account.security_stamp = stamp.clone();
        entry.account.updated_at = at;
        state.remove_sessions_where(|s| s.account_id == id && Some(s.id) != keep);
        Ok(true)
    }

    async fn upgrade_password_hash(
        &self,
        id: AccountId,
        current: &PasswordHash,
        upgraded: &PasswordHash,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(entry) = state.account_mut(id) else {
            return Ok(false);
        };
        if entry.password_hash.as_ref() != Some(current) {
            return Ok(false);
        }
        entry.password_hash = Some(upgraded.clone());
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let mut state = self.state();
        state.require_account(session.account_id)?;
        if state.sessions.contains_key(&session.id)
            || state.session_by_digest.contains_key(&session.token_digest)
        {
            return Err(conflict(Conflict::Id));
        }
        state
            .session_by_digest
            .insert(session.token_digest, session.id);
        state.sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn session_by_token(&self, digest: &TokenDigest) -> StoreResult<Option<SessionRecord>> {
        let state = self.state();
        Ok(state
            .session_by_digest
            .get(digest)
            .and_then(|id| state.sessions.get(id))
            .cloned())
    }

    async fn session_with_account(
        &self,
        digest: &TokenDigest,
    ) -> StoreResult<Option<SessionWithAccount>> {
        let state = self.state();
        let Some(session) = state
            .session_by_digest
            .get(digest)
            .and_then(|id| state.sessions.get(id))
        else {
            return Ok(None);
        };
        Ok(state
            .accounts
            .get(&session.account_id)
            .map(|entry| SessionWithAccount {
                session: session.clone(),
                account: entry.account.clone(),
                second_factors: second_factors_in(&state, session.account_id),
            }))
    }

    async fn touch_session(&self, id: SessionId, seen_at: DateTime<Utc>) -> StoreResult<()> {
        if let Some(session) = self.state().sessions.get_mut(&id) {
            session.last_seen_at = session.last_seen_at.max(seen_at);
        }
        Ok(())
    }

    async fn rotate_session(
        &self,
        id: SessionId,
        current: &TokenDigest,
        rotation: &SessionRotation,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        match state.sessions.get(&id) {
            Some(session) if session.token_digest == *current => {}
            _ => return Ok(false),
        }
        // A 256-bit token never collides by chance; if one did, refusing is the only
        // answer that does not hand one session's token to another.
        if state
            .session_by_digest
            .get(&rotation.token_digest)
            .is_some_and(|owner| *owner != id)
        {
            return Err(conflict(Conflict::Id));
        }
        state.session_by_digest.remove(current);
        state.session_by_digest.insert(rotation.token_digest, id);
        if let Some(session) = state.sessions.get_mut(&id) {
            session.token_digest = rotation.token_digest;
            session
                .authentications
                .clone_from(&rotation.authentications);
            session.assurance = rotation.assurance;
            session.stage = rotation.stage;
            session.last_seen_at = rotation.at;
        }
        Ok(true)
    }

    async fn record_second_factor_attempt(&self, id: SessionId) -> StoreResult<Option<u32>> {
        let mut state = self.state();
        match state.sessions.get_mut(&id).map(|s| &mut s.stage) {
            Some(SessionStage::SecondFactorPending { attempts }) => {
                *attempts = attempts.saturating_add(1);
                Ok(Some(*attempts))
            }
            _ => Ok(None),
        }
    }

    async fn sessions_of(&self, account: AccountId) -> StoreResult<Vec<SessionRecord>> {
        let mut sessions: Vec<SessionRecord> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.account_id == account)
            .cloned()
            .collect();
        sessions.sort_by_key(|s| Reverse((s.created_at, s.id)));
        Ok(sessions)
    }

    async fn delete_session(&self, account: AccountId, id: SessionId) -> StoreResult<bool> {
        let mut state = self.state();
        if state
            .sessions
            .get(&id)
            .is_none_or(|s| s.account_id != account)
        {
            return Ok(false);
        }
        Ok(state.remove_session(id).is_some())
    }

    async fn delete_sessions_of(
        &self,
        account: AccountId,
        keep: Option<SessionId>,
    ) -> StoreResult<u64> {
        Ok(self
            .state()
            .remove_sessions_where(|s| s.account_id == account && Some(s.id) != keep))
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .state()
            .remove_sessions_where(|s| expired(s.expires_at(), now)))
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn insert_challenge(&self, challenge: &Challenge, replace: bool) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(account) = challenge.account_id {
            state.require_account(account)?;
        }
        if state.challenges.contains_key(&challenge.digest) {
            return Err(conflict(Conflict::Id));
        }
        // Challenges that belong to no account have no "older ones" to replace.
        if let (true, Some(account)) = (replace, challenge.account_id) {
            state.remove_challenges_where(|c| {
                c.account_id == Some(account) && c.purpose == challenge.purpose
            });
        }
        state.challenges.insert(challenge.digest, challenge.clone());
        Ok(())
    }

    async fn find_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        Ok(self
            .state()
            .challenges
            .get(digest)
            .filter(|c| c.purpose == purpose && !expired(c.expires_at, now))
            .cloned())
    }

    async fn consume_challenge(
        &self,
        digest: &TokenDigest,
        purpose: ChallengePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Challenge>> {
        let mut state = self.state();
        if state
            .challenges
            .get(digest)
            .is_none_or(|c| c.purpose != purpose)
        {
            return Ok(None);
        }
        Ok(state
            .challenges
            .remove(digest)
            .filter(|c| !expired(c.expires_at, now)))
    }

    async fn delete_challenges(
        &self,
        account: AccountId,
        purpose: ChallengePurpose,
    ) -> StoreResult<u64> {
        Ok(self
            .state()
            .remove_challenges_where(|c| c.account_id == Some(account) && c.purpose == purpose))
    }

    async fn purge_expired_challenges(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .state()
            .remove_challenges_where(|c| expired(c.expires_at, now)))
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn record_failure(
        &self,
        account: AccountId,
        kind: FailureKind,
        at: DateTime<Utc>,
    ) -> StoreResult<Failures> {
        let mut state = self.state();
        state.require_account(account)?;
        let failures = state.failures.entry((account, kind)).or_default();
        failures.count = failures.count.saturating_add(1);
        failures.last_at = Some(failures.last_at.map_or(at, |last| last.max(at)));
        Ok(*failures)
    }

    async fn failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<Failures> {
        Ok(self
            .state()
            .failures
            .get(&(account, kind))
            .copied()
            .unwrap_or_default())
    }

    async fn clear_failures(&self, account: AccountId, kind: FailureKind) -> StoreResult<()> {
        self.state().failures.remove(&(account, kind));
        Ok(())
    }
}

#[async_trait]
impl SecurityEventStore for MemoryStore {
    async fn record_event(&self, event: &SecurityEvent) -> StoreResult<()> {
        self.state()
            .events
            .entry(event.account_id)
            .or_default()
            .insert(event.cursor(), event.clone());
        Ok(())
    }

    async fn events(
        &self,
        filter: &EventFilter,
        page: EventPage,
    ) -> StoreResult<Vec<SecurityEvent>> {
        let state = self.state();
        let older_than = page.before.map_or(Bound::Unbounded, Bound::Excluded);
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let page_of = |log: &BTreeMap<EventCursor, SecurityEvent>| {
            log.range((Bound::Unbounded, older_than))
                .rev()
                .map(|(_, event)| event)
                .filter(|event| filter.matches(event))
                .take(limit)
                .cloned()
                .collect::<Vec<_>>()
        };
        Ok(match filter.account {
            Some(account) => state.events.get(&account).map(page_of).unwrap_or_default(),
            // Every account's: each log's first page, merged, then cut to the limit.
            None => {
                let mut events: Vec<SecurityEvent> =
                    state.events.values().flat_map(page_of).collect();
                events.sort_by_key(|e| Reverse(e.cursor()));
                events.truncate(limit);
                events
            }
        })
    }
}

#[async_trait]
impl AuthenticatorStore for MemoryStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpRecord>> {
        Ok(self.state().totp.get(&account).cloned())
    }

    async fn put_pending_totp(
        &self,
        account: AccountId,
        secret: &TotpSecret,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        state.require_account(account)?;
        if state
            .totp
            .get(&account)
            .is_some_and(|t| t.confirmed_at.is_some())
        {
            return Ok(false);
        }
        let pending = TotpRecord {
            secret: secret.clone(),
            confirmed_at: None,
            created_at: at,
            last_step: None,
        };
        state.totp.insert(account, pending);
        Ok(true)
    }

    async fn confirm_totp(
        &self,
        account: AccountId,
        step: i64,
        recovery_codes: &[TokenDigest],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        state.require_account(account)?;
        match state.totp.get_mut(&account) {
            Some(totp) if totp.confirmed_at.is_none() => {
                totp.confirmed_at = Some(at);
                totp.last_step = Some(step);
            }
            _ => return Ok(false),
        }
        state
            .recovery_codes
            .insert(account, recovery_codes.iter().copied().collect());
        Ok(true)
    }

    async fn accept_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        let mut state = self.state();
        match state.totp.get_mut(&account) {
            Some(totp)
                if totp.confirmed_at.is_some() && totp.last_step.is_none_or(|last| last < step) =>
            {
                totp.last_step = Some(step);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&self, account: AccountId) -> StoreResult<bool> {
        Ok(self.state().totp.remove(&account).is_some())
    }

    async fn replace_recovery_codes(
        &self,
        account: AccountId,
        codes: &[TokenDigest],
        _at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state.require_account(account)?;
        state
            .recovery_codes
            .insert(account, codes.iter().copied().collect());
        Ok(())
    }

    async fn redeem_recovery_code(
        &self,
        account: AccountId,
        code: &TokenDigest,
    ) -> StoreResult<bool> {
        Ok(self
            .state()
            .recovery_codes
            .get_mut(&account)
            .is_some_and(|codes| codes.remove(code)))
    }

    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()> {
        let mut state = self.state();
        state.require_account(passkey.account_id)?;
        if state.passkeys.contains_key(&passkey.id)
            || state
                .passkeys
                .values()
                .any(|p| p.credential_id == passkey.credential_id)
        {
            return Err(conflict(Conflict::Id));
        }
        state.passkeys.insert(passkey.id, passkey.clone());
        Ok(())
    }

    async fn passkeys_of(&self, account: AccountId) -> StoreResult<Vec<PasskeyRecord>> {
        let mut passkeys: Vec<PasskeyRecord> = self
            .state()
            .passkeys
            .values()
            .filter(|p| p.account_id == account)
            .cloned()
            .collect();
        passkeys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(passkeys)
    }

    async fn passkey_by_credential_id(
        &self,
        credential_id: &[u8],
    ) -> StoreResult<Option<PasskeyRecord>> {
        Ok(self
            .state()
            .passkeys
            .values()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn rename_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        match state.passkeys.get_mut(&id) {
            Some(p) if p.account_id == account => {
                name.clone_into(&mut p.name);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        credential: &str,
        sign_count: u32,
        backup_state: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(p) = state.passkeys.get_mut(&id) else {
            return Ok(false);
        };
        credential.clone_into(&mut p.credential);
        p.sign_count = sign_count;
        p.backup_state = backup_state;
        p.last_used_at = Some(at);
        Ok(true)
    }

    async fn delete_passkey(
        &self,
        account: AccountId,
        id: PasskeyId,
    ) -> StoreResult<PasskeyDeletion> {
        let mut state = self.state();
        if state
            .passkeys
            .get(&id)
            .is_none_or(|p| p.account_id != account)
        {
            return Ok(PasskeyDeletion::NotFound);
        }
        let others = state
            .passkeys
            .values()
            .filter(|p| p.account_id == account && p.id != id)
            .count();
        let has_password = state
            .accounts
            .get(&account)
            .is_some_and(|a| a.password_hash.is_some());
        if others == 0 && !has_password {
            return Ok(PasskeyDeletion::LastLoginMethod);
        }
        state.passkeys.remove(&id);
        Ok(PasskeyDeletion::Deleted)
    }

    async fn delete_authenticators(&self, account: AccountId) -> StoreResult<u64> {
        let mut state = self.state();
        let mut gone = u64::from(state.totp.remove(&account).is_some());
        gone += state
            .recovery_codes
            .remove(&account)
            .map_or(0, |c| c.len() as u64);
        let before = state.passkeys.len();
        state.passkeys.retain(|_, p| p.account_id != account);
        gone += (before - state.passkeys.len()) as u64;
        Ok(gone)
    }

    async fn second_factors(&self, account: AccountId) -> StoreResult<SecondFactors> {
        Ok(second_factors_in(&self.state(), account))
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn hit_rate_limit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<u32> {
        let mut state = self.state();
        let count = state
            .rate_limits
            .entry((key.to_owned(), window_start))
            .or_insert(0);
        *count = count.saturating_add(1);
        Ok(*count)
    }

    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let mut state = self.state();
        let was = state.rate_limits.len();
        state.rate_limits.retain(|(_, start), _| *start >= before);
        Ok((was - state.rate_limits.len()) as u64)
    }
}

#[async_trait]
impl PolicyStore for MemoryStore {
    async fn policy(&self) -> StoreResult<Option<Policy>> {
        Ok(self.state().policy.clone())
    }

    async fn put_policy(&self, policy: &Policy) -> StoreResult<()> {
        self.state().policy = Some(policy.clone());
        Ok(())
    }
}

/// Which second factors the account has in this state of the store.
fn second_factors_in(state: &State, account: AccountId) -> SecondFactors {
    SecondFactors {
        totp: state
            .totp
            .get(&account)
            .is_some_and(|t| t.confirmed_at.is_some()),
        recovery_codes_left: state
            .recovery_codes
            .get(&account)
            .map_or(0, |c| u32::try_from(c.len()).unwrap_or(u32::MAX)),
        passkeys: u32::try_from(
            state
                .passkeys
                .values()
                .filter(|p| p.account_id == account)
                .count(),
        )
        .unwrap_or(u32::MAX),
    }
}
