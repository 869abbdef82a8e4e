//! Hooks: the host application's say in an account's lifecycle.
//!
//! A host keeps rows of its own tied to an account (an organisation it owns, the files it
//! uploaded). [`AccountHooks`] lets it refuse a deletion that would orphan them, and
//! hear when an account is created, disabled or deleted, to clean up or provision. Every
//! method has a default that does nothing, so a host implements only what it needs, and
//! registers it with [`AccountsBuilder::hooks`](crate::AccountsBuilder::hooks).
//!
//! ```
//! use std::sync::Arc;
//!
//! use account_core::hooks::{AccountHooks, DeletionRefused};
//! use account_core::model::Account;
//!
//! /// The host's own data: which accounts own an organisation.
//! #[derive(Debug, Default)]
//! struct Organisations {
//!     owners: std::sync::Mutex<Vec<account_core::model::AccountId>>,
//! }
//!
//! #[async_trait::async_trait]
//! impl AccountHooks for Organisations {
//!     async fn before_delete(&self, account: &Account) -> Result<(), DeletionRefused> {
//!         let owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
//!         if owners.contains(&account.id) {
//!             return Err(DeletionRefused::new(
//!                 "this account owns an organisation: hand it over or delete it first",
//!             ));
//!         }
//!         Ok(())
//!     }
//!
//!     async fn after_delete(&self, account: &Account) {
//!         // Remove the host's rows of the account here (its uploads, its memberships).
//!         let _ = account.id;
//!     }
//! }
//!
//! # fn build(store: Arc<dyn account_core::store::Store>, config: account_core::AccountConfig) {
//! let accounts = account_core::Accounts::builder(
//!     store,
//!     Arc::new(account_core::mail::MemoryMailer::new()),
//!     config,
//! )
//! .hooks(Arc::new(Organisations::default()))
//! .build();
//! # drop(accounts);
//! # }
//! ```
//!
//! The hooks run in the request that does the change, outside the store's transaction:
//! `before_delete` before anything is deleted, the others after the change is stored. They
//! should be quick; a hook that needs long work should queue it.

use std::fmt;

use async_trait::async_trait;

use crate::model::Account;

/// What the host application wants to know of an account's lifecycle. Every method does
/// nothing by default.
#[async_trait]
pub trait AccountHooks: Send + Sync + fmt::Debug {
    /// Called before an account is deleted, by its owner or by an administrator. An
    /// `Err` stops the deletion: nothing is deleted, and the user gets the reason (HTTP
    /// 409, `deletion_refused`).
    async fn before_delete(&self, _account: &Account) -> Result<(), DeletionRefused> {
        Ok(())
    }

    /// Called once the account and everything that authenticated it are gone, with the
    /// account as it was.
    async fn after_delete(&self, _account: &Account) {}

    /// Called once a new account is stored (self sign-up, an administrator, the
    /// start-up configuration).
    async fn after_create(&self, _account: &Account) {}

    /// Called once an administrator has disabled an account (its sessions have ended).
    async fn after_disable(&self, _account: &Account) {}
}

/// The host's reason for refusing a deletion, in words for the user, such as "owns an
/// organisation". It is shown to the user, so it must not hold anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRefused {
    reason: String,
}

impl DeletionRefused {
    /// A refusal with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The hooks of a host that registered none.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl AccountHooks for NoHooks {}
