//! Passkeys (WebAuthn, through webauthn-rs): adding one in two steps, listing, renaming
//! and removing them, passwordless login with a discoverable credential, and checking a
//! passkey as the second factor or for re-authentication.
//!
//! # Ceremonies
//!
//! Every ceremony has two steps: `start_*` answers the options for the browser's
//! `navigator.credentials.create()` / `.get()` and a ceremony id; `finish_*` takes the
//! browser's answer with that id. The ceremony state (webauthn-rs's registration or
//! authentication state, which holds the challenge) lives in the store as a one-time
//! [`Challenge`] keyed by the digest of the id, never in process memory, so a ceremony
//! begun on one app instance can finish on another. It expires after
//! [`PasskeyConfig::ceremony_ttl`](crate::config::PasskeyConfig) (5 minutes) and is
//! consumed by the first `finish_*` call, whatever its outcome: an answer can never be
//! replayed, and an answer made for one ceremony fails the challenge check of any other.
//!
//! # The relying party
//!
//! Built once when the services are built ([`RelyingParty`]): the id is the host of the
//! public URL (or [`PasskeyConfig::rp_id`](crate::config::PasskeyConfig)), the allowed
//! origin is the public URL's origin (plus any configured extra ones), and the name shown
//! by authenticators is the product name. webauthn-rs checks the rest of WebAuthn §7: the
//! ceremony type, the challenge, the origin, the hash of the relying-party id, user
//! presence and verification, the algorithm, and the signature.
//!
//! # User verification and discoverable credentials
//!
//! Registration asks for a discoverable credential (`residentKey: "required"`), so the
//! passkey can log in without a username, and every ceremony requires user verification
//! (webauthn-rs's passkey profile): a passkey is then a multi-factor authenticator on its
//! own, and a passwordless login reaches assurance level 2.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::Accounts;
use super::sessions::{EnrollingSession, SignedIn, SignedInSession};
use crate::config::{AccountConfig, CounterPolicy};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AccountState, AssuranceLevel, AuthMethod, Authentication, Challenge,
    ChallengePurpose, PasskeyDeletion, PasskeyId, PasskeyRecord, RequestInfo, SecurityEventKind,
    SessionId, SessionRecord, SessionStage,
};
use crate::store::{Conflict, StoreError};
use crate::token::OpaqueToken;

/// The longest passkey name, in characters.
pub const PASSKEY_NAME_MAX: usize = super::CREDENTIAL_NAME_MAX;

/// The longest credential id WebAuthn allows, in bytes (§7.1 step 24).
const CREDENTIAL_ID_MAX: usize = 1023;

/// The first step of a ceremony: what the browser needs, and the id that the second step
/// must present.
#[derive(Clone, Serialize)]
pub struct PasskeyCeremony {
    /// The single-use id of the ceremony, to send back with the browser's answer.
    pub ceremony_id: String,
    /// The options for the browser, as WebAuthn's JSON: `{"publicKey": {...}}` for
    /// `navigator.credentials.create()` or `.get()` (with `"mediation": "conditional"` for
    /// a passwordless login, so it works from the browser's autofill UI).
    pub options: serde_json::Value,
}

impl fmt::Debug for PasskeyCeremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyCeremony")
            .field("ceremony_id", &"***")
            .field("options", &self.options)
            .finish()
    }
}

/// A passkey just added, with the session that added it, renewed.
#[derive(Debug)]
#[non_exhaustive]
pub struct PasskeyAdded {
    /// The passkey as stored.
    pub passkey: PasskeyRecord,
    /// The session after the change: a new token, authenticated with the passkey at
    /// assurance level 2, and a full session (one that could only enrol a factor no
    /// longer is).
    pub session: SessionRecord,
    /// The session's new token, for the client; the old one no longer works.
    pub token: OpaqueToken,
}

/// A passkey assertion that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasskeyAssertion {
    /// The passkey that signed.
    pub passkey_id: PasskeyId,
    /// Whether the authenticator verified the user (PIN, biometrics): then the passkey
    /// alone counts as two factors.
    pub user_verified: bool,
}

impl Accounts {
    /// Starts adding a passkey named `name` to the account: the answer's options go to
    /// `navigator.credentials.create()`. A session the "require 2FA" policy restricts to
    /// enrolling may do it ([`EnrollingSession`]).
    ///
    /// The session must be fresh, and once the account has a second factor it must have
    /// used one recently (binding an authenticator needs the account's highest level). The
    /// account's passkeys are excluded, so an authenticator is not registered twice.
    ///
    /// # Errors
    ///
    /// [`Error::ManagedExternally`] for an external-directory account when the policy says
    /// the directory supplies the second factor;
    /// [`Error::Validation`] for a name that is empty or longer than 100 characters;
    /// [`Error::ReauthenticationRequired`] from a stale or too weak session;
    /// [`Error::Unauthenticated`] when the session's account is gone or disabled;
    /// [`Error::Internal`] when passkeys are unavailable (a public URL without a domain
    /// name).
    pub async fn start_passkey_registration(
        &self,
        current: &EnrollingSession,
        name: &str,
    ) -> Result<PasskeyCeremony> {
        let name = parse_passkey_name(name)?;
        self.require_fresh(current).await?;
        let webauthn = self.webauthn()?;
        let account = self.account_of(current).await?;
        self.check_may_enrol(&account).await?;
        let exclude = self
            .inner
            .store
            .passkeys_of(account.id)
            .await?
            .into_iter()
            .map(|p| p.credential_id)
            .collect();
        let (options, state) = webauthn
            .start_passkey_registration(
                account.id.as_uuid(),
                account.username.as_str(),
                account.display_name.as_str(),
                Some(exclude),
            )
            .map_err(|e| Error::Internal(format!("starting a passkey registration: {e}")))?;
        let mut options = to_json_value(&options)?;
        require_discoverable(&mut options);
        let payload = to_json_string(&RegistrationCeremony {
            session: current.id,
            name,
            state,
        })?;
        let ceremony_id = self
            .store_ceremony(
                Some(&account),
                ChallengePurpose::PasskeyRegistration,
                payload,
            )
            .await?;
        Ok(PasskeyCeremony {
            ceremony_id,
            options,
        })
    }

    /// Finishes adding a passkey with the browser's answer to
    /// [`start_passkey_registration`](Self::start_passkey_registration)
    /// (a `RegisterPublicKeyCredential` as JSON), from the session that started it.
    ///
    /// A `passkey_added` event is recorded and both addresses get a notice. Like
    /// confirming TOTP, this is a privilege change: the session gets a new token and counts
    /// as authenticated with the passkey (verified by the user) at assurance level 2.
    ///
    /// # Errors
    ///
    /// [`Error::PasskeyRejected`] when the ceremony is unknown, used, expired or another
    /// session's, or the answer does not verify (origin, relying party, challenge, user
    /// verification, attestation), or the credential is registered already;
    /// [`Error::Unauthenticated`] from a session whose account is gone, or that another
    /// request renewed first.
    pub async fn finish_passkey_registration(
        &self,
        current: &EnrollingSession,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<PasskeyAdded> {
        let webauthn = self.webauthn()?;
        let challenge = self
            .take_ceremony(ceremony_id, ChallengePurpose::PasskeyRegistration)
            .await?
            .ok_or(Error::PasskeyRejected)?;
        let account = self.account_of(current).await?;
        if !challenge_is_for(&challenge, &account) {
            return Err(Error::PasskeyRejected);
        }
        let ceremony: RegistrationCeremony = from_json_str(&challenge.payload)?;
        if ceremony.session != current.id {
            return Err(Error::PasskeyRejected);
        }
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| Error::PasskeyRejected)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &ceremony.state)
            .map_err(|e| {
                tracing::info!(account = %account.id, error = %e, "passkey registration refused");
                Error::PasskeyRejected
            })?;
        if passkey.cred_id().len() > CREDENTIAL_ID_MAX {
            return Err(Error::PasskeyRejected);
        }
        let stored = to_json_string(&passkey)?;
        let flags = CredentialFlags::of(&stored)?;
        let now = self.now();
        let record = PasskeyRecord {
            id: PasskeyId::generate(now, self.rng()),
            account_id: account.id,
            credential_id: passkey.cred_id().clone(),
            name: ceremony.name,
            credential: stored,
            created_at: now,
            last_used_at: None,
            sign_count: flags.counter,
            backup_eligible: flags.backup_eligible,
            backup_state: flags.backup_state,
        };
        match self.inner.store.insert_passkey(&record).await {
            Ok(()) => {}
            // The credential id is registered already, on this account or another one
            // (WebAuthn §7.1 step 25): refused, and nothing says whose it is.
            Err(StoreError::Conflict(Conflict::Id)) => return Err(Error::PasskeyRejected),
            Err(e) => return Err(e.into()),
        }
        // The owner hears of the new passkey before it is logged: a failed log write
        // leaves the passkey added, and the notice must not depend on it.
        let factor = passkey_in_words(&record.name);
        self.notify_all_addresses(&account, |username| Message::FactorAdded {
            username,
            factor: factor.clone(),
        });
        self.record(
            account.id,
            SecurityEventKind::PasskeyAdded,
            info,
            &[
                ("passkey", record.id.to_string()),
                ("name", record.name.clone()),
            ],
        )
        .await?;
        // A privilege change: a new token, so that one seen before is worthless now.
        let (session, token) = self
            .rotate_session(
                current,
                Authentication {
                    method: AuthMethod::Passkey,
                    at: now,
                },
                AssuranceLevel::Two,
                SessionStage::Full,
            )
            .await?;
        Ok(PasskeyAdded {
            passkey: record,
            session,
            token,
        })
    }

    /// The account's passkeys, oldest first: name, when added and last used, and whether
    /// each is backed up (synced to other devices).
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn passkeys(&self, account: AccountId) -> Result<Vec<PasskeyRecord>> {
        Ok(self.inner.store.passkeys_of(account).await?)
    }

    /// Renames one of the account's passkeys.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a name that is empty or longer than 100 characters;
    /// [`Error::NotFound`] if the account has no such passkey.
    pub async fn rename_passkey(
        &self,
        current: &SignedInSession,
        id: PasskeyId,
        name: &str,
        info: &RequestInfo,
    ) -> Result<()> {
        let name = parse_passkey_name(name)?;
        if !self
            .inner
            .store
            .rename_passkey(current.account_id, id, &name)
            .await?
        {
            return Err(Error::NotFound);
        }
        self.record(
            current.account_id,
            SecurityEventKind::PasskeyRenamed,
            info,
            &[("passkey", id.to_string()), ("name", name)],
        )
        .await
    }

    /// Removes one of the account's passkeys, after a fresh authentication at the
    /// account's highest level. The store refuses, atomically, to remove the account's last
    /// way to log in (no password and no other passkey). A `passkey_removed` event is
    /// recorded and both addresses get a notice.
    ///
    /// # Errors
    ///
    /// [`Error::LastLoginMethod`] for the last way to log in; [`Error::NotFound`] if the
    /// account has no such passkey; [`Error::ReauthenticationRequired`] from a stale or
    /// too weak session.
    pub async fn delete_passkey(
        &self,
        current: &SignedInSession,
        id: PasskeyId,
        info: &RequestInfo,
    ) -> Result<()> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let name = self
            .inner
            .store
            .passkeys_of(account.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .map(|p| p.name)
            .ok_or(Error::NotFound)?;
        match self.inner.store.delete_passkey(account.id, id).await? {
            PasskeyDeletion::Deleted => {}
            PasskeyDeletion::NotFound => return Err(Error::NotFound),
            PasskeyDeletion::LastLoginMethod => return Err(Error::LastLoginMethod),
        }
        self.record(
            current.account_id,
            SecurityEventKind::PasskeyRemoved,
            info,
            &[("passkey", id.to_string()), ("name", name.clone())],
        )
        .await?;
        let factor = passkey_in_words(&name);
        self.notify_all_addresses(&account, |username| Message::FactorRemoved {
            username,
            factor: factor.clone(),
        });
        Ok(())
    }

    /// Starts a passwordless login: options for `navigator.credentials.get()` that let
    /// the browser offer any passkey of this site (discoverable credentials, no username
    /// needed, `mediation: "conditional"` for the autofill UI).
    ///
    /// The options are the same for everyone (no allowed-credentials list), so they tell
    /// nothing about which accounts exist.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when passkeys are unavailable; storage errors.
    pub async fn start_passkey_login(&self) -> Result<PasskeyCeremony> {
        let webauthn = self.webauthn()?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(format!("starting a passkey login: {e}")))?;
        let payload = to_json_string(&AuthenticationCeremony {
            session: None,
            state,
        })?;
        let ceremony_id = self
            .store_ceremony(None, ChallengePurpose::PasskeyLogin, payload)
            .await?;
        Ok(PasskeyCeremony {
            ceremony_id,
            options: to_json_value(&options)?,
        })
    }

    /// Finishes a passwordless login with the browser's answer to
    /// [`start_passkey_login`](Self::start_passkey_login) (a `PublicKeyCredential` as
    /// JSON) and starts a session.
    ///
    /// The credential names the passkey and its user handle names the account; both must
    /// agree with the store. The session is at assurance level 2 when the authenticator
    /// verified the user, which the ceremony requires.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for every failure — an unknown, used or expired
    /// ceremony, an unknown passkey, a user handle of another account, an answer that does
    /// not verify, a signature counter that went backwards under
    /// [`CounterPolicy::Refuse`], a disabled account — so the answer tells none of them
    /// apart.
    pub async fn finish_passkey_login(
        &self,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<SignedIn> {
        let webauthn = self.webauthn()?;
        let challenge = self
            .take_ceremony(ceremony_id, ChallengePurpose::PasskeyLogin)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        let ceremony: AuthenticationCeremony = from_json_str(&challenge.payload)?;
        let credential: PublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| Error::InvalidCredentials)?;
        let (user, credential_id) = webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|_| Error::InvalidCredentials)?;
        let Some(passkey) = self
            .inner
            .store
            .passkey_by_credential_id(credential_id)
            .await?
        else {
            return Err(Error::InvalidCredentials);
        };
        if passkey.account_id.as_uuid() != user {
            self.login_failed(&passkey, "user_handle_mismatch", info)
                .await?;
            return Err(Error::InvalidCredentials);
        }
        let assertion = match self
            .check_assertion(webauthn, &passkey, &credential, ceremony.state, info)
            .await?
        {
            Ok(assertion) => assertion,
            Err(reason) => {
                self.login_failed(&passkey, reason, info).await?;
                return Err(Error::InvalidCredentials);
            }
        };
        // The account state is checked after the signature, so that a disabled account
        // fails at the same point as a wrong answer.
        let account = match self.inner.store.account_by_id(passkey.account_id).await? {
            Some(a) if a.state == AccountState::Active => a,
            Some(_) => {
                self.login_failed(&passkey, "disabled", info).await?;
                return Err(Error::InvalidCredentials);
            }
            None => return Err(Error::InvalidCredentials),
        };
        let assurance = if assertion.user_verified {
            AssuranceLevel::Two
        } else {
            AssuranceLevel::One
        };
        let now = self.now();
        let signed_in = self
            .start_session(
                account,
                vec![Authentication {
                    method: AuthMethod::Passkey,
                    at: now,
                }],
                assurance,
                SessionStage::Full,
                info,
            )
            .await?;
        self.record_login(
            &signed_in,
            info,
            &[
                ("method", "passkey".into()),
                ("passkey", passkey.id.to_string()),
            ],
        )
        .await?;
        Ok(signed_in)
    }

    /// Starts re-authenticating the session with a passkey of its account (a login
    /// waiting for its second factor uses [`Accounts::start_login_passkey`]). The options
    /// (for `navigator.credentials.get()`) list the account's passkeys; the ceremony is
    /// bound to this session.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the account has no passkey; [`Error::Unauthenticated`]
    /// when its account is gone or disabled; [`Error::Internal`] when passkeys are
    /// unavailable.
    pub async fn start_passkey_authentication(
        &self,
        current: &EnrollingSession,
    ) -> Result<PasskeyCeremony> {
        self.start_passkey_ceremony(current).await
    }

    /// [`Accounts::start_passkey_authentication`] for any stored session: a signed-in one
    /// re-authenticating, or a pending login (`start_login_passkey`).
    pub(crate) async fn start_passkey_ceremony(
        &self,
        current: &SessionRecord,
    ) -> Result<PasskeyCeremony> {
        let webauthn = self.webauthn()?;
        let account = self.account_of(current).await?;
        let passkeys = self.inner.store.passkeys_of(account.id).await?;
        if passkeys.is_empty() {
            return Err(Error::NotFound);
        }
        // A discoverable-authentication state, given the allowed credentials in the
        // options: verification then runs against the one stored credential that answered
        // (see `check_assertion`), read fresh from the store at the finish.
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(format!("starting a passkey authentication: {e}")))?;
        let mut options = to_json_value(&options)?;
        allow_only(&mut options, &passkeys);
        let payload = to_json_string(&AuthenticationCeremony {
            session: Some(current.id),
            state,
        })?;
        let ceremony_id = self
            .store_ceremony(
                Some(&account),
                ChallengePurpose::PasskeyAuthentication,
                payload,
            )
            .await?;
        Ok(PasskeyCeremony {
            ceremony_id,
            options,
        })
    }

    /// Verifies the browser's answer to
    /// [`start_passkey_authentication`](Self::start_passkey_authentication) for the
    /// session that started it, and records the passkey's use. The session itself is not
    /// changed: this is the building block that re-authenticating with a passkey
    /// ([`Accounts::reauthenticate_with_passkey`], which rotates the session) is made of,
    /// and finishing a pending login with one uses the same check.
    ///
    /// The passkey must be one of the session's account, and a user handle, when the
    /// authenticator sends one, must name that account. Failures are not counted here:
    /// the caller counts them against its own limits.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecondFactor`] for every failure: an unknown, used, expired or
    /// another session's ceremony, a passkey of another account, an answer that does not
    /// verify, or a counter that went backwards under [`CounterPolicy::Refuse`].
    pub async fn verify_passkey_authentication(
        &self,
        current: &EnrollingSession,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<PasskeyAssertion> {
        self.verify_passkey_assertion(current, ceremony_id, credential, info)
            .await
    }

    /// [`Accounts::verify_passkey_authentication`] for any stored session: a signed-in
    /// one re-authenticating, or a pending login (`complete_login_with_passkey`).
    pub(crate) async fn verify_passkey_assertion(
        &self,
        current: &SessionRecord,
        ceremony_id: &str,
        credential: serde_json::Value,
        info: &RequestInfo,
    ) -> Result<PasskeyAssertion> {
        let webauthn = self.webauthn()?;
        let challenge = self
            .take_ceremony(ceremony_id, ChallengePurpose::PasskeyAuthentication)
            .await?
            .ok_or(Error::InvalidSecondFactor)?;
        let account = self.account_of(current).await?;
        if !challenge_is_for(&challenge, &account) {
            return Err(Error::InvalidSecondFactor);
        }
        let ceremony: AuthenticationCeremony = from_json_str(&challenge.payload)?;
        if ceremony.session != Some(current.id) {
            return Err(Error::InvalidSecondFactor);
        }
        let credential: PublicKeyCredential =
            serde_json::from_value(credential).map_err(|_| Error::InvalidSecondFactor)?;
        let Some(passkey) = self
            .inner
            .store
            .passkey_by_credential_id(credential.get_credential_id())
            .await?
        else {
            return Err(Error::InvalidSecondFactor);
        };
        let handle_matches = credential
            .get_user_unique_id()
            .is_none_or(|h| h == account.id.as_uuid().as_bytes());
        if passkey.account_id != account.id || !handle_matches {
            return Err(Error::InvalidSecondFactor);
        }
        self.check_assertion(webauthn, &passkey, &credential, ceremony.state, info)
            .await?
            .map_err(|_| Error::InvalidSecondFactor)
    }
}

/// The WebAuthn relying party of one [`Accounts`], built once with the services from the
/// configuration: id, name, allowed origins and the ceremony timeout.
///
/// A configuration WebAuthn cannot work with (a public URL whose host is an IP address,
/// a relying-party id that is not a suffix of the public URL's host) does not stop the
/// services from starting: it is logged, and the passkey operations fail with
/// [`Error::Internal`] and the reason.
pub(super) struct RelyingParty {
    webauthn: std::result::Result<Webauthn, String>,
}

impl RelyingParty {
    pub(super) fn new(config: &AccountConfig) -> Self {
        let webauthn = build_webauthn(config);
        if let Err(why) = &webauthn {
            tracing::warn!("passkeys are unavailable: {why}");
        }
        Self { webauthn }
    }
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.webauthn {
            Ok(w) => f
                .debug_struct("RelyingParty")
                .field("origins", &w.get_allowed_origins())
                .finish_non_exhaustive(),
            Err(why) => f.debug_tuple("RelyingParty").field(why).finish(),
        }
    }
}

fn build_webauthn(config: &AccountConfig) -> std::result::Result<Webauthn, String> {
    let public = &config.public_url;
    let rp_id = match &config.passkeys.rp_id {
        Some(id) => id.clone(),
        None => public.domain().map(str::to_owned).ok_or_else(|| {
            format!(
                "the public URL {public} has no domain name, and WebAuthn needs one \
                 (use http://localhost for development)"
            )
        })?,
    };
    let origin = Url::parse(&public.origin().ascii_serialization())
        .map_err(|e| format!("the public URL {public} has no origin: {e}"))?;
    let timeout = config
        .passkeys
        .ceremony_ttl
        .to_std()
        .map_err(|_| "the passkey ceremony lifetime is negative".to_owned())?;
    let mut builder = WebauthnBuilder::new(&rp_id, &origin)
        .map_err(|e| format!("relying-party id {rp_id:?} does not suit origin {origin}: {e}"))?
        .rp_name(&config.product_name)
        .timeout(timeout);
    for extra in &config.passkeys.extra_origins {
        builder = builder.append_allowed_origin(extra);
    }
    builder
        .build()
        .map_err(|e| format!("the WebAuthn configuration is invalid: {e}"))
}

/// The state of a registration ceremony, kept in the challenge's payload.
#[derive(Serialize, Deserialize)]
struct RegistrationCeremony {
    /// The session that started it; only that session may finish it.
    session: SessionId,
    /// The name the user gave the passkey.
    name: String,
    state: PasskeyRegistration,
}

/// The state of an authentication ceremony, kept in the challenge's payload.
#[derive(Serialize, Deserialize)]
struct AuthenticationCeremony {
    /// The session that started it (none for a passwordless login).
    session: Option<SessionId>,
    state: DiscoverableAuthentication,
}

/// The counter and backup flags of a passkey, read from webauthn-rs's serialised form
/// (its documented format for keeping a passkey in a database).
#[derive(Deserialize)]
struct CredentialFlags {
    counter: u32,
    backup_eligible: bool,
    backup_state: bool,
}

impl CredentialFlags {
    fn of(stored: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Stored {
            cred: CredentialFlags,
        }
        Ok(from_json_str::<Stored>(stored)?.cred)
    }
}

impl Accounts {
    fn webauthn(&self) -> Result<&Webauthn> {
        self.inner
            .relying_party
            .webauthn
            .as_ref()
            .map_err(|why| Error::Internal(format!("passkeys are unavailable: {why}")))
    }

    /// Keeps a ceremony's state in the store under the digest of a fresh id, and returns
    /// the id. Never replaces another ceremony: a user may have two tabs open.
    async fn store_ceremony(
        &self,
        account: Option<&Account>,
        purpose: ChallengePurpose,
        payload: String,
    ) -> Result<String> {
        let now = self.now();
        let id = OpaqueToken::generate(self.rng());
        let challenge = Challenge {
            digest: id.digest(),
            purpose,
            account_id: account.map(|a| a.id),
            security_stamp: account.map(|a| a.security_stamp.clone()),
            payload,
            created_at: now,
            expires_at: now + self.inner.config.passkeys.ceremony_ttl,
        };
        self.inner.store.insert_challenge(&challenge, false).await?;
        Ok(id.expose().to_owned())
    }

    /// Uses up a ceremony, atomically: of two finishes with the same id at most one gets
    /// it. `None` for an id that is malformed, unknown, used or expired.
    async fn take_ceremony(
        &self,
        ceremony_id: &str,
        purpose: ChallengePurpose,
    ) -> Result<Option<Challenge>> {
        let Some(id) = OpaqueToken::parse(ceremony_id) else {
            return Ok(None);
        };
        Ok(self
            .inner
            .store
            .consume_challenge(&id.digest(), purpose, self.now())
            .await?)
    }

    /// Verifies an assertion against one stored passkey and records its use: the new
    /// counter and backup state. A counter that did not go up records an event and, under
    /// [`CounterPolicy::Refuse`], fails. The outer `Result` carries storage errors, the
    /// inner one the reason a verification failed, for the security log.
    async fn check_assertion(
        &self,
        webauthn: &Webauthn,
        record: &PasskeyRecord,
        credential: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        info: &RequestInfo,
    ) -> Result<std::result::Result<PasskeyAssertion, &'static str>> {
        let mut passkey: Passkey = from_json_str(&record.credential)?;
        let result = match webauthn.finish_discoverable_authentication_v2(
            credential,
            state.clone(),
            &passkey,
        ) {
            Ok(result) => result,
            // webauthn-rs checks everything else before the counter, so the assertion is
            // otherwise valid here. WebAuthn leaves the decision to the relying party
            // (§6.1.1); webauthn-rs always refuses, so the policy is applied here: the
            // assertion is verified again against a copy whose counter is zero, which
            // skips only that check and yields the counter presented.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                let relaxed = without_counter(&passkey)?;
                let Ok(result) =
                    webauthn.finish_discoverable_authentication_v2(credential, state, &relaxed)
                else {
                    return Ok(Err("verification_failed"));
                };
                let policy = self.inner.config.passkeys.counter_regression;
                self.record(
                    record.account_id,
                    SecurityEventKind::PasskeyCounterRegressed,
                    info,
                    &[
                        ("passkey", record.id.to_string()),
                        ("stored_counter", record.sign_count.to_string()),
                        ("presented_counter", result.counter().to_string()),
                        (
                            "action",
                            match policy {
                                CounterPolicy::Warn => "accepted",
                                CounterPolicy::Refuse => "refused",
                            }
                            .to_owned(),
                        ),
                    ],
                )
                .await?;
                if policy == CounterPolicy::Refuse {
                    return Ok(Err("counter_regressed"));
                }
                result
            }
            Err(e) => {
                tracing::info!(passkey = %record.id, error = %e, "passkey assertion refused");
                return Ok(Err("verification_failed"));
            }
        };
        // Raises the counter (never lowers it: after a regression accepted under `Warn`
        // the higher value stays, so a clone keeps showing) and takes the backup flags.
        passkey.update_credential(&result);
        let stored = to_json_string(&passkey)?;
        self.inner
            .store
            .record_passkey_use(
                record.id,
                &stored,
                result.counter().max(record.sign_count),
                result.backup_state(),
                self.now(),
            )
            .await?;
        Ok(Ok(PasskeyAssertion {
            passkey_id: record.id,
            user_verified: result.user_verified(),
        }))
    }

    /// Records a failed passwordless login on the passkey's account.
    async fn login_failed(
        &self,
        passkey: &PasskeyRecord,
        reason: &str,
        info: &RequestInfo,
    ) -> Result<()> {
        self.record(
            passkey.account_id,
            SecurityEventKind::LoginFailed,
            info,
            &[
                ("method", "passkey".into()),
                ("passkey", passkey.id.to_string()),
                ("reason", reason.into()),
            ],
        )
        .await
    }
}

/// A passkey name: trimmed, 1 to 100 characters, no control characters.
fn parse_passkey_name(input: &str) -> Result<String> {
    super::parse_credential_name(input)
}

/// A passkey in the words of a notice.
fn passkey_in_words(name: &str) -> String {
    format!("the passkey \"{name}\"")
}

/// Whether a ceremony belongs to this account, with its credentials unchanged since.
fn challenge_is_for(challenge: &Challenge, account: &Account) -> bool {
    challenge.account_id == Some(account.id)
        && challenge
            .security_stamp
            .as_ref()
            .is_none_or(|s| *s == account.security_stamp)
}

/// Asks for a discoverable credential, so the passkey can log in without a username.
/// webauthn-rs's passkey profile leaves residency to the authenticator; the options are
/// the browser's only, so changing them changes nothing the server verifies.
fn require_discoverable(options: &mut serde_json::Value) {
    let Some(public_key) = options
        .get_mut("publicKey")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let selection = public_key
        .entry("authenticatorSelection")
        .or_insert_with(|| serde_json::json!({ "userVerification": "required" }));
    if let Some(selection) = selection.as_object_mut() {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
}

/// Lists the account's passkeys as the only allowed credentials, and drops the
/// conditional mediation of a passwordless login (this is a modal prompt).
fn allow_only(options: &mut serde_json::Value, passkeys: &[PasskeyRecord]) {
    if let Some(options) = options.as_object_mut() {
        options.remove("mediation");
    }
    if let Some(public_key) = options
        .get_mut("publicKey")
        .and_then(serde_json::Value::as_object_mut)
    {
        let allowed = passkeys
            .iter()
            .map(|p| {
                serde_json::json!({
                    "type": "public-key",
                    "id": URL_SAFE_NO_PAD.encode(&p.credential_id),
                })
            })
            .collect();
        public_key.insert("allowCredentials".into(), serde_json::Value::Array(allowed));
    }
}

/// A copy of the passkey whose stored counter is zero, through webauthn-rs's serialised
/// form (its `Credential` is not otherwise reachable).
fn without_counter(passkey: &Passkey) -> Result<Passkey> {
    let mut value = to_json_value(passkey)?;
    match value.pointer_mut("/cred/counter") {
        Some(counter) => *counter = 0.into(),
        None => return Err(Error::Internal("a stored passkey has no counter".into())),
    }
    serde_json::from_value(value).map_err(|e| Error::Internal(format!("a stored passkey: {e}")))
}

fn to_json_value(value: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("serialising: {e}")))
}

fn to_json_string(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("serialising: {e}")))
}

fn from_json_str<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| Error::Internal(format!("reading stored state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Field, Rule};

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            parse_passkey_name("  Laptop  ").expect("valid"),
            "Laptop".to_owned()
        );
        let refused = |input: &str| match parse_passkey_name(input) {
            Err(Error::Validation(e)) if e.field == Field::Name => e.rule,
            other => panic!("{input:?}: expected a refused name, got {other:?}"),
        };
        assert_eq!(refused("   "), Rule::Empty);
        assert!(parse_passkey_name(&"é".repeat(100)).is_ok());
        assert_eq!(
            refused(&"é".repeat(101)),
            Rule::TooLong {
                max: PASSKEY_NAME_MAX
            }
        );
        assert_eq!(refused("a\u{7}b"), Rule::ControlCharacter);
    }

    #[test]
    fn public_urls_without_a_domain_leave_passkeys_unavailable() {
        let ip = AccountConfig::new("http://127.0.0.1:8080".parse().expect("url"));
        let why = build_webauthn(&ip).expect_err("refused");
        assert!(why.contains("has no domain name"), "{why}");
        let localhost = AccountConfig::new("http://localhost:8080".parse().expect("url"));
        assert!(build_webauthn(&localhost).is_ok());
        let mut wrong = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
        wrong.passkeys.rp_id = Some("other.example".into());
        let why = build_webauthn(&wrong).expect_err("refused");
        assert!(why.contains("does not suit origin"), "{why}");
    }
}
