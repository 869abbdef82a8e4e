//! Personal API tokens: what scripts and other programs use to call the API as the
//! account, with `Authorization: Bearer <token>`.
//!
//! A token has a name, a scope ([`TokenScope::Read`] or [`TokenScope::Write`]), optional
//! networks it may be used from and an optional expiry. It is shown once, at creation or
//! regeneration; the store keeps its SHA-256 digest and last four characters (see
//! [`crate::api_token`] for the format). Creating and regenerating one need a fresh
//! authentication of a signed-in session; deleting one needs a signed-in session. A token
//! can never be made, changed or deleted by a request that a token authenticates: these
//! methods take a [`SignedInSession`], which only a session cookie yields.
//!
//! [`Accounts::authenticate_api_token`] is the hot path: a malformed token is refused
//! before the store is asked, a well-formed one costs one read by digest (plus the
//! account), and "last used" is written at most once a minute.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::Accounts;
use super::sessions::SignedInSession;
use crate::api_token::ApiTokenSecret;
use crate::domain::{Field, Rule, ValidationError};
use crate::error::{AccessKind, Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AccountState, ApiTokenId, ApiTokenRecord, ApiTokenWithAccount,
    LimitedInsert, RequestInfo, SecurityEventKind, TokenScope,
};

/// The most networks one token may list.
pub const API_TOKEN_MAX_NETWORKS: usize = 100;

/// What a new personal API token should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// The networks it may be used from (at most [`API_TOKEN_MAX_NETWORKS`]); empty for
    /// anywhere. [`parse_network`] reads them from text.
    pub allowed_networks: Vec<IpNet>,
    /// When it stops working; must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just created or regenerated: its record and, this once, its secret.
pub struct CreatedApiToken {
    /// The token as it is stored and listed.
    pub token: ApiTokenRecord,
    /// The token itself, to show to its owner once.
    pub secret: ApiTokenSecret,
}

impl fmt::Debug for CreatedApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedApiToken")
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A request authenticated by a personal API token: the token and its account.
#[derive(Debug, Clone)]
pub struct ApiTokenAccess {
    /// The account the token acts for (active).
    pub account: Account,
    /// The token.
    pub token: ApiTokenRecord,
}

/// Reads one allowed network: a CIDR block (`10.0.0.0/24`, `2001:db8::/48`) or a single
/// address (`192.0.2.7`, meaning `/32`; `2001:db8::1`, meaning `/128`). Host bits are
/// dropped (`10.0.0.5/24` is `10.0.0.0/24`), so the stored block is what is checked.
///
/// # Errors
///
/// A [`ValidationError`] on `allowed_networks` for anything else.
pub fn parse_network(text: &str) -> Result<IpNet, ValidationError> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => text
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| ValidationError::new(Field::AllowedNetworks, Rule::InvalidSyntax))?,
    };
    Ok(net.trunc())
}

impl Accounts {
    /// Creates a personal API token for the session's account, after a fresh
    /// authentication. Records `api_token_created` and mails a notice to every address.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session; [`Error::Validation`] for
    /// a bad name, too many networks or an expiry that is not in the future;
    /// [`Error::LimitReached`] when the account has its maximum of tokens.
    pub async fn create_api_token(
        &self,
        current: &SignedInSession,
        new: NewApiToken,
        info: &RequestInfo,
    ) -> Result<CreatedApiToken> {
        let name = super::parse_credential_name(&new.name)?;
        if new.allowed_networks.len() > API_TOKEN_MAX_NETWORKS {
            return Err(ValidationError::new(
                Field::AllowedNetworks,
                Rule::TooLong {
                    max: API_TOKEN_MAX_NETWORKS,
                },
            )
            .into());
        }
        let now = self.now();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ValidationError::new(Field::ExpiresAt, Rule::InThePast).into());
        }
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;

        let mut networks: Vec<IpNet> = new.allowed_networks.iter().map(IpNet::trunc).collect();
        networks.sort();
        networks.dedup();
        let secret = ApiTokenSecret::generate(self.rng());
        let token = ApiTokenRecord {
            id: ApiTokenId::generate(now, self.rng()),
            account_id: account.id,
            name,
            scope: new.scope,
            allowed_networks: networks,
            digest: secret.digest(),
            last_four: secret.last_four(),
            created_at: now,
            expires_at: new.expires_at,
            last_used_at: None,
            last_used_ip: None,
        };
        let limit = self.inner.config.access_limits.api_tokens;
        match self.inner.store.insert_api_token(&token, limit).await? {
            LimitedInsert::Inserted => {}
            LimitedInsert::LimitReached => return Err(Error::LimitReached(AccessKind::ApiTokens)),
        }
        let credential = token_in_words(&token);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::ApiTokenCreated,
            info,
            &token_details(&token),
            |username| Message::AccessCreated {
                username,
                credential: credential.clone(),
            },
        )
        .await?;
        Ok(CreatedApiToken { token, secret })
    }

    /// The account's personal API tokens, oldest first: name, scope, networks, created,
    /// expires, last used and from where, last four characters. Never the tokens.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn api_tokens(&self, account: AccountId) -> Result<Vec<ApiTokenRecord>> {
        Ok(self.inner.store.api_tokens_of(account).await?)
    }

    /// Gives one of the account's tokens a new secret with the same settings, after a
    /// fresh authentication: the old secret stops working at once. Records
    /// `api_token_regenerated` and mails a notice.
    ///
    /// # Errors
    ///
    /// As [`Accounts::create_api_token`] for the session; [`Error::NotFound`] when the
    /// account has no such token.
    pub async fn regenerate_api_token(
        &self,
        current: &SignedInSession,
        id: ApiTokenId,
        info: &RequestInfo,
    ) -> Result<CreatedApiToken> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let secret = ApiTokenSecret::generate(self.rng());
        let token = self
            .inner
            .store
            .replace_api_token_secret(account.id, id, &secret.digest(), &secret.last_four())
            .await?
            .ok_or(Error::NotFound)?;
        let credential = format!("a new secret for {}", token_in_words(&token));
        self.record_and_notify_access(
            &account,
            SecurityEventKind::ApiTokenRegenerated,
            info,
            &token_details(&token),
            |username| Message::AccessCreated {
                username,
                credential: credential.clone(),
            },
        )
        .await?;
        Ok(CreatedApiToken { token, secret })
    }

    /// Deletes one of the account's tokens; it stops working at once. Needs a signed-in
    /// session but no fresh authentication: taking access away is always safe. Records
    /// `api_token_deleted` and mails a notice.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] when the session's account is gone or disabled;
    /// [`Error::NotFound`] when the account has no such token.
    pub async fn delete_api_token(
        &self,
        current: &SignedInSession,
        id: ApiTokenId,
        info: &RequestInfo,
    ) -> Result<()> {
        let account = self.account_of(current).await?;
        let token = self
            .inner
            .store
            .delete_api_token(account.id, id)
            .await?
            .ok_or(Error::NotFound)?;
        let credential = token_in_words(&token);
        self.record_and_notify_access(
            &account,
            SecurityEventKind::ApiTokenDeleted,
            info,
            &token_details(&token),
            |username| Message::AccessRemoved {
                username,
                credential: credential.clone(),
            },
        )
        .await
    }

    /// Checks a token presented by a client at `ip` (the trusted client address), and
    /// returns it with its account.
    ///
    /// A token that is not well formed (prefix, length, alphabet, checksum) is refused
    /// without asking the store. Otherwise the token is read by its digest, in one read,
    /// then its account. The last use is recorded at most once per
    /// [`session_touch_interval`](crate::AccountConfig::session_touch_interval).
    ///
    /// The caller enforces the scope: a [`TokenScope::Read`] token must be refused for
    /// every request that changes something.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a malformed, unknown, deleted or expired token, or a
    /// token of a disabled account; [`Error::NetworkNotAllowed`] when `ip` is outside the
    /// token's networks (or unknown while it has some).
    pub async fn authenticate_api_token(
        &self,
        presented: &str,
        ip: Option<IpAddr>,
    ) -> Result<ApiTokenAccess> {
        let secret = ApiTokenSecret::parse(presented).map_err(|_| Error::Unauthenticated)?;
        let store = &self.inner.store;
        // One read brings the token and its account.
        let ApiTokenWithAccount { mut token, account } = store
            .api_token_with_account(&secret.digest())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = self.now();
        if token.is_expired(now) {
            return Err(Error::Unauthenticated);
        }
        if !token.admits(ip) {
            return Err(Error::NetworkNotAllowed);
        }
        if account.state != AccountState::Active {
            return Err(Error::Unauthenticated);
        }
        if self.touch_due(token.last_used_at, now) {
            store.touch_api_token(token.id, now, ip).await?;
            token.last_used_at = Some(now);
            token.last_used_ip = ip;
        }
        Ok(ApiTokenAccess { account, token })
    }
}

/// A token in the words of a notice.
fn token_in_words(token: &ApiTokenRecord) -> String {
    format!(
        "the personal API token \"{}\" ({}, ending in {})",
        token.name, token.scope, token.last_four
    )
}

/// What the security log says about a token: never the secret.
fn token_details(token: &ApiTokenRecord) -> Vec<(&'static str, String)> {
    vec![
        ("token", token.id.to_string()),
        ("name", token.name.clone()),
        ("scope", token.scope.to_string()),
    ]
}
