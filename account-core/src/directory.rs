//! External directories: an LDAP server or an identity provider that owns the password and
//! some profile fields of its accounts.
//!
//! An account whose source is
//! [`AccountSource::External`](crate::model::AccountSource::External) names its
//! directory. The host implements [`Directory`] for each directory it uses and registers
//! it with [`AccountsBuilder::directory`](crate::AccountsBuilder::directory); from then
//! on:
//!
//! - a password login or re-authentication of such an account asks the directory instead
//!   of a stored hash, with the same login throttle, the same failure counting and the
//!   same answer for a wrong password as a local account gets;
//! - at each successful check the profile fields the directory [manages](Directory::manages)
//!   are refreshed from what it answered (a `profile_updated` event with `by=directory`
//!   says so);
//! - the managed fields cannot be changed here (`managed_by_directory`), nor can the
//!   password be changed or reset; the language and the avatar stay the user's;
//! - when the directory fails, or no directory is registered under the account's name, the
//!   login fails with [`Error::DirectoryUnavailable`](crate::Error::DirectoryUnavailable)
//!   and counts nothing against the account.
//!
//! A second factor set up here still finishes the login, and the administrator's
//! "require 2FA" and "the directory supplies 2FA" policies apply as they do to every
//! account.
//!
//! # A host's directory
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//!
//! use account_core::directory::{Directory, DirectoryError, DirectoryProfile};
//! use account_core::domain::{DisplayName, EmailAddress, Password, Username};
//! use account_core::mail::MemoryMailer;
//! use account_core::model::{AccountId, AccountSource, RequestInfo, Role};
//! use account_core::random::OsRandom;
//! use account_core::store::memory::MemoryStore;
//! use account_core::{AccountConfig, Accounts, LoginOutcome, NewAccountByAdmin};
//!
//! /// A directory of the host: here a fixed table, in real life an LDAP bind or a call
//! /// to an identity provider's API.
//! #[derive(Debug)]
//! struct CorporateDirectory {
//!     people: HashMap<String, (String, &'static str)>,
//! }
//!
//! #[async_trait::async_trait]
//! impl Directory for CorporateDirectory {
//!     fn name(&self) -> &str {
//!         "corp-ldap"
//!     }
//!
//!     async fn authenticate(
//!         &self,
//!         username: &Username,
//!         password: &Password,
//!     ) -> Result<Option<DirectoryProfile>, DirectoryError> {
//!         // A real directory would bind as the user here and map a network failure to
//!         // `DirectoryError::Unreachable`; its message must never hold the password.
//!         let Some((secret, full_name)) = self.people.get(username.as_str()) else {
//!             return Ok(None);
//!         };
//!         if secret != password.expose() {
//!             return Ok(None);
//!         }
//!         Ok(Some(DirectoryProfile {
//!             display_name: Some(
//!                 DisplayName::parse(full_name)
//!                     .map_err(|e| DirectoryError::Failed(e.to_string()))?,
//!             ),
//!             email: None,
//!         }))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let directory = CorporateDirectory {
//!     people: HashMap::from([(
//!         "grace".to_owned(),
//!         ("a rather long directory password".to_owned(), "Grace Hopper"),
//!     )]),
//! };
//! let config = AccountConfig::new("https://accounts.example.com".parse()?);
//! let accounts = Accounts::builder(
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(MemoryMailer::new()),
//!     config,
//! )
//! .directory(Arc::new(directory))
//! .build();
//!
//! // An administrator creates the account and says which directory owns it.
//! let info = RequestInfo::default();
//! let admin = AccountId::generate(accounts.now(), &OsRandom);
//! let form = NewAccountByAdmin {
//!     username: Username::parse("grace")?,
//!     email: EmailAddress::parse("grace@example.com")?,
//!     display_name: None,
//!     role: Role::User,
//!     source: AccountSource::External { directory: "corp-ldap".to_owned() },
//! };
//! accounts.create_account(admin, form, &info).await?;
//!
//! let password = Password::new("a rather long directory password");
//! let LoginOutcome::SignedIn(signed_in) = accounts.login("grace", &password, &info).await?
//! else {
//!     unreachable!("grace has no second factor")
//! };
//! // The directory's name for her replaced the one the account was created with.
//! assert_eq!(signed_in.account.display_name.as_str(), "Grace Hopper");
//!
//! let wrong = accounts.login("grace", &"not her password".into(), &info).await;
//! assert_eq!(wrong.map(|_| ()).map_err(|e| e.code()), Err("invalid_credentials"));
//! # Ok(())
//! # }
//! ```

use std::fmt;

use async_trait::async_trait;

use crate::domain::{DisplayName, EmailAddress, Password, Username};

/// A directory that checks the passwords of its accounts and supplies the profile fields
/// it manages: an LDAP server, an identity provider. The host implements it and registers
/// it with [`AccountsBuilder::directory`](crate::AccountsBuilder::directory).
///
/// `Debug` must not show anything secret (a bind password, an API key): it may be logged.
#[async_trait]
pub trait Directory: Send + Sync + fmt::Debug {
    /// The directory's name: the `directory` of
    /// [`AccountSource::External`](crate::model::AccountSource::External) for the accounts
    /// it owns.
    fn name(&self) -> &str;

    /// Checks a username and a password. `Ok(Some(profile))` when they match, with the
    /// profile fields the directory has for the user; `Ok(None)` when the password is
    /// wrong or the directory does not know the user (both are a wrong password to the
    /// person logging in).
    ///
    /// The username is the account's, whatever the person typed to log in (their address
    /// finds the same account). The login waits for the answer, so a directory that does
    /// not answer should give up after a few seconds with
    /// [`DirectoryError::Unreachable`].
    ///
    /// # Errors
    ///
    /// A [`DirectoryError`] when the directory cannot answer: the login fails with
    /// [`Error::DirectoryUnavailable`](crate::Error::DirectoryUnavailable) and counts
    /// nothing against the account.
    async fn authenticate(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<Option<DirectoryProfile>, DirectoryError>;

    /// The profile fields this directory owns: refreshed from it at each login and
    /// refused here (`managed_by_directory`). Both the display name and the addresses by
    /// default.
    fn manages(&self) -> ManagedFields {
        ManagedFields::default()
    }
}

/// What a directory says about a user whose password it accepted. A field that is `None`
/// leaves the account's value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryProfile {
    /// The name to show.
    pub display_name: Option<DisplayName>,
    /// The primary address; it counts as verified, since the directory vouches for it.
    pub email: Option<EmailAddress>,
}

/// Which profile fields a directory owns.
///
/// A field the directory owns is refreshed from it at each login and cannot be changed
/// here; a field it does not own is the user's, as on a local account. The language and
/// the avatar are always the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedFields {
    /// The display name.
    pub display_name: bool,
    /// The addresses: the primary address, and with it the recovery address (where the
    /// directory decides where the user's mail goes, it decides for both).
    pub email: bool,
}

impl ManagedFields {
    /// Every field: what a directory manages unless it says otherwise, and what an account
    /// whose directory is not registered is treated as.
    pub const ALL: Self = Self {
        display_name: true,
        email: true,
    };

    /// No field: the directory checks passwords only.
    pub const NONE: Self = Self {
        display_name: false,
        email: false,
    };
}

impl Default for ManagedFields {
    fn default() -> Self {
        Self::ALL
    }
}

/// Why a directory could not answer. For the log only: the person logging in sees
/// [`Error::DirectoryUnavailable`](crate::Error::DirectoryUnavailable), without this.
///
/// The message must never hold the password, nor any other secret (a bind password, an
/// API key); the services log it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The directory could not be reached (a refused connection, a timeout).
    #[error("the directory could not be reached: {0}")]
    Unreachable(String),
    /// The directory answered with a failure, or with something that could not be used.
    #[error("the directory failed: {0}")]
    Failed(String),
}
