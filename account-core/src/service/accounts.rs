//! Accounts: self sign-up, creation by an administrator, and reading an account.

use serde_json::json;

use super::Accounts;
use crate::domain::{DisplayName, EmailAddress, Language, Password, Username, ValidationError};
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AccountId, AccountSource, AccountState, ChallengePurpose, NewAccount, RequestInfo,
    Role, SecurityEventKind, SecurityStamp,
};
use crate::password::PasswordContext;
use crate::store::{Conflict, StoreError};

/// What a person gives to sign up.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// The username they want.
    pub username: Username,
    /// Their address; a verification link goes there.
    pub email: EmailAddress,
    /// Their password.
    pub password: Password,
    /// The name to show; the username when absent.
    pub display_name: Option<DisplayName>,
    /// Their language, if they chose one.
    pub language: Option<Language>,
}

impl SignUp {
    /// Parses the fields of a sign-up form.
    ///
    /// # Errors
    ///
    /// The first field that breaks its rules.
    pub fn parse(
        username: &str,
        email: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<Self, ValidationError> {
        Ok(Self {
            username: Username::parse(username)?,
            email: EmailAddress::parse(email)?,
            password: Password::new(password),
            display_name: display_name.map(DisplayName::parse).transpose()?,
            language: None,
        })
    }
}

/// How a sign-up ended.
///
/// An address that already has an account must not be revealed to whoever typed it, so
/// that case is not an error: its owner is told by mail, and the HTTP adapter answers
/// both cases alike.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignUpOutcome {
    /// The account was made and a verification link sent to its address.
    Created(Box<Account>),
    /// The address belongs to an account already; its owner was told by mail and nothing
    /// was made.
    EmailInUse,
}

/// What an administrator gives to create an account.
#[derive(Debug, Clone)]
pub struct NewAccountByAdmin {
    /// The username (reserved names are allowed).
    pub username: Username,
    /// The address.
    pub email: EmailAddress,
    /// The display name; the username when absent.
    pub display_name: Option<DisplayName>,
    /// User or administrator.
    pub role: Role,
    /// Local, or managed by an external directory.
    pub source: AccountSource,
}

impl Accounts {
    /// Creates an account for a person signing themselves up, when the policy allows it,
    /// and mails a verification link to their address.
    ///
    /// # Errors
    ///
    /// [`Error::SignUpDisabled`]; a [`ValidationError`] for a reserved username;
    /// [`Error::WeakPassword`]; [`Error::UsernameTaken`].
    pub async fn sign_up(&self, form: SignUp, info: &RequestInfo) -> Result<SignUpOutcome> {
        let policy = self.policy().await?;
        if !policy.allow_signup {
            return Err(Error::SignUpDisabled);
        }
        if !policy.allow_reserved_usernames {
            self.inner.config.reserved_usernames.check(&form.username)?;
        }
        let display_name = match form.display_name {
            Some(d) => d,
            None => DisplayName::parse(form.username.as_str())?,
        };
        policy.passwords.check(
            &form.password,
            &PasswordContext {
                username: Some(form.username.as_str()),
                email: Some(&form.email),
                display_name: Some(display_name.as_str()),
                service_name: Some(&self.inner.config.product_name),
                has_second_factor: false,
            },
        )?;
        let hash = self.inner.hasher.hash(&form.password).await?;
        let account = self.new_account(
            form.username,
            form.email,
            display_name,
            Role::User,
            AccountSource::Local,
        );
        let account = Account {
            language: form.language,
            ..account
        };
        match self
            .inner
            .store
            .insert_account(&NewAccount {
                account: account.clone(),
                password_hash: Some(hash),
            })
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::Username)) => return Err(Error::UsernameTaken),
            Err(StoreError::Conflict(Conflict::Email)) => {
                // Tell the owner at the address as they keep it, not as the stranger typed it.
                let owner = self.inner.store.account_by_email(&account.email).await?;
                let to = owner.map_or(account.email, |o| o.email);
                self.notify(&to, Message::SignUpAttempted);
                return Ok(SignUpOutcome::EmailInUse);
            }
            Err(e) => return Err(e.into()),
        }
        self.record(account.id, SecurityEventKind::SignedUp, info, &[])
            .await?;
        self.send_email_verification(&account, &account.email)
            .await?;
        self.inner.hooks.after_create(&account).await;
        Ok(SignUpOutcome::Created(Box::new(account)))
    }

    /// Creates an account as an administrator: reserved names are allowed and sign-up
    /// need not be open. Administrators never set or see a password: the new owner gets a
    /// link to choose one (a password-reset link, which also proves the address), valid as
    /// long as a verification link. An external directory's account gets no link: its
    /// password is the directory's.
    ///
    /// # Errors
    ///
    /// [`Error::UsernameTaken`]; [`Error::Validation`] for
    /// [`Field::Email`](crate::domain::Field::Email) with [`Rule::Reserved`](crate::domain::Rule::Reserved)
    /// when the address has an account (administrators may know that).
    pub async fn create_account(
        &self,
        admin: AccountId,
        form: NewAccountByAdmin,
        info: &RequestInfo,
    ) -> Result<Account> {
        let display_name = match form.display_name {
            Some(d) => d,
            None => DisplayName::parse(form.username.as_str())?,
        };
        let account = self.new_account(
            form.username,
            form.email,
            display_name,
            form.role,
            form.source,
        );
        match self
            .inner
            .store
            .insert_account(&NewAccount {
                account: account.clone(),
                password_hash: None,
            })
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::Username)) => return Err(Error::UsernameTaken),
            Err(StoreError::Conflict(Conflict::Email)) => return Err(address_in_use()),
            Err(e) => return Err(e.into()),
        }
        self.record(
            account.id,
            SecurityEventKind::CreatedByAdmin,
            info,
            &[("by", admin.to_string())],
        )
        .await?;
        if !account.source.is_external() {
            let ttl = self.inner.config.verification_token_ttl;
            let token = self
                .issue_challenge(
                    &account,
                    ChallengePurpose::PasswordReset,
                    json!({ "email": account.email.as_str() }).to_string(),
                    ttl,
                )
                .await?;
            self.notify(
                &account.email,
                Message::AccountSetup {
                    username: account.username.clone(),
                    token,
                    valid_for_minutes: ttl.num_minutes(),
                },
            );
        }
        self.inner.hooks.after_create(&account).await;
        Ok(account)
    }

    /// The account with this id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`].
    pub async fn account(&self, id: AccountId) -> Result<Account> {
        self.inner
            .store
            .account_by_id(id)
            .await?
            .ok_or(Error::NotFound)
    }

    fn new_account(
        &self,
        username: Username,
        email: EmailAddress,
        display_name: DisplayName,
        role: Role,
        source: AccountSource,
    ) -> Account {
        let now = self.now();
        Account {
            id: AccountId::generate(now, self.rng()),
            username,
            display_name,
            email,
            email_verified: false,
            recovery_email: None,
            language: None,
            avatar_updated_at: None,
            source,
            state: AccountState::Active,
            role,
            security_stamp: SecurityStamp::generate(self.rng()),
            created_at: now,
            updated_at: now,
        }
    }

    /// Mails a link that verifies `address` as the account's primary address.
    pub(crate) async fn send_email_verification(
        &self,
        account: &Account,
        address: &EmailAddress,
    ) -> Result<()> {
        let ttl = self.inner.config.verification_token_ttl;
        let token = self
            .issue_challenge(
                account,
                ChallengePurpose::VerifyEmail,
                json!({ "email": address.as_str() }).to_string(),
                ttl,
            )
            .await?;
        self.notify(
            address,
            Message::VerifyEmail {
                username: account.username.clone(),
                token,
                valid_for_minutes: ttl.num_minutes(),
            },
        );
        Ok(())
    }
}

impl Accounts {
    /// Makes sure an administrator account with this username exists, creating it with
    /// the given password and a verified address if it does not; an existing account is
    /// left exactly as it is. This is for the operator's own start-up configuration (the
    /// starter's `ACCOUNT_ADMIN`), not an action one user takes on another.
    ///
    /// Returns the account when it was created now.
    ///
    /// # Errors
    ///
    /// [`Error::WeakPassword`]; [`Error::Validation`] when the address belongs to another
    /// account.
    pub async fn ensure_admin(
        &self,
        username: Username,
        email: EmailAddress,
        password: &Password,
    ) -> Result<Option<Account>> {
        if self
            .inner
            .store
            .account_by_username(&username)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let display_name = DisplayName::parse(username.as_str())?;
        let mut account = self.new_account(
            username,
            email,
            display_name,
            Role::Admin,
            AccountSource::Local,
        );
        account.email_verified = true;
        let hash = self.hash_new_password(&account, password, false).await?;
        match self
            .inner
            .store
            .insert_account(&NewAccount {
                account: account.clone(),
                password_hash: Some(hash),
            })
            .await
        {
            Ok(()) => {}
            // Another instance created it first.
            Err(StoreError::Conflict(Conflict::Username)) => return Ok(None),
            Err(StoreError::Conflict(Conflict::Email)) => return Err(address_in_use()),
            Err(e) => return Err(e.into()),
        }
        self.record(
            account.id,
            SecurityEventKind::CreatedByAdmin,
            &RequestInfo::default(),
            &[("by", "configuration".into())],
        )
        .await?;
        self.inner.hooks.after_create(&account).await;
        Ok(Some(account))
    }
}

/// What an administrator (or the operator's configuration) is told when the address they
/// gave is another account's: administrators may know that, so it is a plain validation
/// error on the address.
pub(super) fn address_in_use() -> Error {
    ValidationError::new(crate::domain::Field::Email, crate::domain::Rule::Reserved).into()
}
