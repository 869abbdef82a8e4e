//! A directory in memory, for tests of external-directory accounts: users with a password
//! and a profile, which a test can change, a switch that takes the directory down, and a
//! count of the calls it got.
//!
//! ```
//! use std::sync::Arc;
//!
//! use account_core::directory::DirectoryProfile;
//! use account_core::domain::{EmailAddress, Password, Username};
//! use account_core::mail::MemoryMailer;
//! use account_core::model::{AccountId, AccountSource, RequestInfo, Role};
//! use account_core::random::OsRandom;
//! use account_core::store::memory::MemoryStore;
//! use account_core::testing::MemoryDirectory;
//! use account_core::{AccountConfig, Accounts, NewAccountByAdmin};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let directory = MemoryDirectory::new("corp-ldap");
//! directory.add_user("dora", "the directory's long password", DirectoryProfile::default());
//! let config = AccountConfig::new("https://accounts.example.com".parse().unwrap());
//! let accounts = Accounts::builder(
//!     Arc::new(MemoryStore::new()),
//!     Arc::new(MemoryMailer::new()),
//!     config,
//! )
//! // A clone shares the users, the switch and the count with the one the test keeps.
//! .directory(Arc::new(directory.clone()))
//! .build();
//! let info = RequestInfo::default();
//! let form = NewAccountByAdmin {
//!     username: Username::parse("dora").unwrap(),
//!     email: EmailAddress::parse("dora@example.com").unwrap(),
//!     display_name: None,
//!     role: Role::User,
//!     source: AccountSource::External { directory: "corp-ldap".to_owned() },
//! };
//! let admin = AccountId::generate(accounts.now(), &OsRandom);
//! accounts.create_account(admin, form, &info).await.unwrap();
//!
//! let password = Password::new("the directory's long password");
//! accounts.login("dora", &password, &info).await.unwrap();
//! assert_eq!(directory.calls(), 1);
//!
//! directory.set_down(true);
//! let refused = accounts.login("dora", &password, &info).await;
//! assert_eq!(refused.map(|_| ()).map_err(|e| e.code()), Err("directory_unavailable"));
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use subtle::ConstantTimeEq;

use crate::directory::{Directory, DirectoryError, DirectoryProfile, ManagedFields};
use crate::domain::{Password, Username};

/// A [`Directory`] kept in memory, for tests.
///
/// Clones share the users, the down switch and the call count, so a test keeps one clone
/// and registers another with
/// [`AccountsBuilder::directory`](crate::AccountsBuilder::directory). `Debug` shows the
/// name, the usernames, the switch and the count: never a password.
#[derive(Clone)]
pub struct MemoryDirectory {
    name: String,
    manages: ManagedFields,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    users: BTreeMap<String, User>,
    down: bool,
    calls: u64,
}

struct User {
    password: Password,
    profile: DirectoryProfile,
}

impl MemoryDirectory {
    /// An empty directory with this name, which manages every profile field.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            manages: ManagedFields::ALL,
            state: Arc::default(),
        }
    }

    /// The same directory, managing only `fields`.
    #[must_use]
    pub fn managing(mut self, fields: ManagedFields) -> Self {
        self.manages = fields;
        self
    }

    /// Adds a user, or replaces the user with this username.
    pub fn add_user(&self, username: &str, password: &str, profile: DirectoryProfile) {
        self.lock().users.insert(
            username.to_owned(),
            User {
                password: Password::new(password),
                profile,
            },
        );
    }

    /// Changes a user's password, as its owner would in the directory. Answers whether
    /// the user exists.
    pub fn set_password(&self, username: &str, password: &str) -> bool {
        let mut state = self.lock();
        let Some(user) = state.users.get_mut(username) else {
            return false;
        };
        user.password = Password::new(password);
        true
    }

    /// Changes what the directory says about a user. Answers whether the user exists.
    pub fn set_profile(&self, username: &str, profile: DirectoryProfile) -> bool {
        let mut state = self.lock();
        let Some(user) = state.users.get_mut(username) else {
            return false;
        };
        user.profile = profile;
        true
    }

    /// Removes a user. Answers whether there was one.
    pub fn remove_user(&self, username: &str) -> bool {
        self.lock().users.remove(username).is_some()
    }

    /// Takes the directory down (every call fails with [`DirectoryError::Unreachable`]) or
    /// brings it back up.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// How many times [`Directory::authenticate`] was called, whatever it answered.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authenticate(
        &self,
        username: &Username,
        password: &Password,
    ) -> Result<Option<DirectoryProfile>, DirectoryError> {
        let mut state = self.lock();
        state.calls += 1;
        if state.down {
            return Err(DirectoryError::Unreachable(format!(
                "the memory directory {} is switched down",
                self.name
            )));
        }
        Ok(state.users.get(username.as_str()).and_then(|user| {
            let matched = user
                .password
                .expose()
                .as_bytes()
                .ct_eq(password.expose().as_bytes());
            bool::from(matched).then(|| user.profile.clone())
        }))
    }

    fn manages(&self) -> ManagedFields {
        self.manages
    }
}

impl fmt::Debug for MemoryDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryDirectory")
            .field("name", &self.name)
            .field("manages", &self.manages)
            .field("users", &state.users.keys().collect::<Vec<_>>())
            .field("down", &state.down)
            .field("calls", &state.calls)
            .finish()
    }
}
