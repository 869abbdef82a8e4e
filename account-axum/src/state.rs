//! The state the routes and the extractors share.

use std::fmt;
use std::sync::Arc;

use account_core::Accounts;
use account_core::model::SessionRecord;
use account_core::token::OpaqueToken;

use crate::config::{HttpConfig, Settings};
use crate::cookie::{ClearSessionCookie, SetDeviceCookie, SetSessionCookie};

/// The services and the HTTP configuration, shared by every route of the
/// [`AccountRouter`](crate::AccountRouter) and read by the extractors.
///
/// Cheap to clone (two `Arc`s). A host application that uses the extractors in its own
/// handlers makes `AccountsState` reachable from its own state with
/// [`FromRef`](axum::extract::FromRef):
///
/// ```
/// use axum::extract::FromRef;
/// use account_axum::AccountsState;
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     accounts: AccountsState,
///     greeting: String,
/// }
/// ```
#[derive(Clone)]
pub struct AccountsState {
    pub(crate) accounts: Accounts,
    pub(crate) settings: Arc<Settings>,
}

impl AccountsState {
    /// The state for these services with this configuration.
    pub fn new(accounts: Accounts, config: HttpConfig) -> Self {
        let settings = Settings::new(config, &accounts.config().public_url);
        Self {
            accounts,
            settings: Arc::new(settings),
        }
    }

    /// The services, for handlers that call them directly.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The session cookie's full name as browsers see it (`__Host-session` over https,
    /// `session` over http with the default name).
    pub fn cookie_name(&self) -> &str {
        &self.settings.cookie_name
    }

    /// The `Set-Cookie` for a session just made or rotated, as a response part: for a
    /// host's own sign-in route (after
    /// [`Accounts::sign_in_external`](account_core::Accounts::sign_in_external), say).
    /// The cookie lives as long as the session may (its absolute expiry).
    pub fn session_cookie(&self, session: &SessionRecord, token: &OpaqueToken) -> SetSessionCookie {
        let max_age = (session.absolute_expires_at - self.accounts.now())
            .num_seconds()
            .max(0);
        SetSessionCookie::new(&self.settings, token, max_age)
    }

    /// The `Set-Cookie` of the known-device cookie for a browser that has just proved
    /// `account`'s password, as a response part (SECURITY.md M47). For a host's own
    /// sign-in route that checks passwords through [`Accounts::login`](account_core::Accounts::login).
    pub fn device_cookie(&self, account: &account_core::model::Account) -> SetDeviceCookie {
        SetDeviceCookie::new(&self.settings, &self.accounts.device_cookie(account))
    }

    /// The `Set-Cookie` that removes the session cookie, as a response part.
    pub fn clear_session_cookie(&self) -> ClearSessionCookie {
        ClearSessionCookie::new(&self.settings)
    }
}

impl fmt::Debug for AccountsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountsState")
            .field("accounts", &self.accounts)
            .field("settings", &self.settings)
            .finish()
    }
}
