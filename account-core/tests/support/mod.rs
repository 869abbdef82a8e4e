//! One small harness for the service tests: the services over a memory store, a memory
//! mailer and a manual clock, with fast hashing parameters unless a test needs real ones.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use account_core::clock::ManualClock;
use account_core::directory::Directory;
use account_core::domain::{EmailAddress, Password, Username};
use account_core::hooks::{AccountHooks, NoHooks};
use account_core::mail::MemoryMailer;
use account_core::model::{
    Account, AccountId, AccountSource, AccountState, EventPage, RequestInfo, Role, SecurityEvent,
    SecurityStamp, SessionRecord,
};
use account_core::password::{HashingConfig, PasswordHash, PasswordHasher};
use account_core::random::OsRandom;
use account_core::store::memory::MemoryStore;
use account_core::store::{AccountStore, CredentialStore, SessionStore};
use account_core::{
    AccountConfig, Accounts, EnrollingSession, LoginOutcome, NewAccountByAdmin, SignUp,
    SignUpOutcome, SignedIn, SignedInSession,
};

/// The code an authenticator app shows at `at` for a base32 TOTP secret.
pub fn totp_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(0)
        .with_secret(bytes.as_ref().to_vec())
        .build()
        .expect("a valid TOTP");
    totp.generate(u64::try_from(at.timestamp()).expect("after 1970"))
        .to_string()
}

/// The password the harness signs people up with.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub accounts: Accounts,
    pub store: Arc<MemoryStore>,
    pub mailer: MemoryMailer,
    pub clock: Arc<ManualClock>,
    admin: AccountId,
}

/// Hashing cheap enough for hundreds of logins in a test; the parameters themselves are
/// tested in the password module.
pub fn fast_hashing() -> HashingConfig {
    HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 4,
        max_waiting: 1024,
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::build(fast_hashing(), MemoryMailer::new())
    }

    pub async fn with_default_hashing() -> Self {
        Self::build(HashingConfig::default(), MemoryMailer::new())
    }

    pub async fn with_mailer(mailer: MemoryMailer) -> Self {
        Self::build(fast_hashing(), mailer)
    }

    /// A harness whose configuration `change` adjusts first.
    pub async fn with_config(change: impl FnOnce(&mut AccountConfig)) -> Self {
        Self::build_with(fast_hashing(), MemoryMailer::new(), change, Vec::new())
    }

    /// A harness whose services know these external directories, and whose configuration
    /// `change` adjusts first.
    pub async fn with_directories(
        directories: Vec<Arc<dyn Directory>>,
        change: impl FnOnce(&mut AccountConfig),
    ) -> Self {
        Self::build_with(fast_hashing(), MemoryMailer::new(), change, directories)
    }

    /// A harness whose services tell `hooks` of every account's lifecycle.
    pub async fn with_hooks(hooks: Arc<dyn AccountHooks>) -> Self {
        Self::build_full(
            fast_hashing(),
            MemoryMailer::new(),
            |_| {},
            Vec::new(),
            hooks,
        )
    }

    fn build(hashing: HashingConfig, mailer: MemoryMailer) -> Self {
        Self::build_with(hashing, mailer, |_| {}, Vec::new())
    }

    fn build_with(
        hashing: HashingConfig,
        mailer: MemoryMailer,
        change: impl FnOnce(&mut AccountConfig),
        directories: Vec<Arc<dyn Directory>>,
    ) -> Self {
        Self::build_full(hashing, mailer, change, directories, Arc::new(NoHooks))
    }

    fn build_full(
        hashing: HashingConfig,
        mailer: MemoryMailer,
        change: impl FnOnce(&mut AccountConfig),
        directories: Vec<Arc<dyn Directory>>,
        hooks: Arc<dyn AccountHooks>,
    ) -> Self {
        let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
        config.hashing = hashing;
        change(&mut config);
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::default());
        let mut builder =
            Accounts::builder(store.clone(), Arc::new(mailer.clone()), config).clock(clock.clone());
        for directory in directories {
            builder = builder.directory(directory);
        }
        let accounts = builder.hooks(hooks).build();
        let admin = AccountId::generate(clock_now(&clock), &OsRandom);
        Self {
            accounts,
            store,
            mailer,
            clock,
            admin,
        }
    }

    pub fn admin_id(&self) -> AccountId {
        self.admin
    }

    pub async fn try_sign_up(
        &self,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<SignUpOutcome, account_core::Error> {
        let form = SignUp::parse(username, email, password, None)?;
        self.accounts.sign_up(form, &info()).await
    }

    pub async fn sign_up(&self, username: &str, email: &str) -> Account {
        match self
            .try_sign_up(username, email, PASSWORD)
            .await
            .expect("sign-up works")
        {
            SignUpOutcome::Created(account) => *account,
            other => panic!("expected an account, got {other:?}"),
        }
    }

    pub async fn login_with(
        &self,
        login: &str,
        password: &str,
        info: &RequestInfo,
    ) -> Result<SignedIn, account_core::Error> {
        match self
            .accounts
            .login(login, &Password::new(password), info)
            .await?
        {
            LoginOutcome::SignedIn(s) => Ok(s),
            other => panic!("expected a session, got {other:?}"),
        }
    }

    pub async fn fresh_session(&self, username: &str) -> SignedInSession {
        self.fresh_session_with(username, PASSWORD).await
    }

    pub async fn fresh_session_with(&self, username: &str, password: &str) -> SignedInSession {
        let s = self
            .login_with(username, password, &info())
            .await
            .expect("login works");
        self.accounts
            .authenticate(s.token.expose())
            .await
            .expect("a new session is valid")
    }

    /// Finishes a pending login with a TOTP code as a host does: the pending session's
    /// token is validated first, then the step is taken with the pending session.
    pub async fn complete_login_with_totp(
        &self,
        pending_token: &str,
        code: &str,
    ) -> Result<SignedIn, account_core::Error> {
        let pending = self.accounts.authenticate_pending(pending_token).await?;
        self.accounts
            .complete_login_with_totp(&pending, code, &info())
            .await
    }

    /// Finishes a pending login with a recovery code as a host does (see
    /// [`Harness::complete_login_with_totp`]).
    pub async fn complete_login_with_recovery_code(
        &self,
        pending_token: &str,
        code: &str,
    ) -> Result<SignedIn, account_core::Error> {
        let pending = self.accounts.authenticate_pending(pending_token).await?;
        self.accounts
            .complete_login_with_recovery_code(&pending, code, &info())
            .await
    }

    pub async fn account(&self, username: &str) -> Account {
        let name = Username::parse(username).expect("valid username");
        self.store
            .account_by_username(&name)
            .await
            .expect("store")
            .expect("account exists")
    }

    pub async fn id_of(&self, username: &str) -> AccountId {
        self.account(username).await.id
    }

    pub async fn events(&self, username: &str) -> Vec<SecurityEvent> {
        let id = self.id_of(username).await;
        self.accounts
            .security_events(
                account_core::model::EventFilter::account(id),
                EventPage {
                    before: None,
                    limit: 200,
                },
            )
            .await
            .expect("events")
    }

    pub async fn disable(&self, username: &str) {
        let id = self.id_of(username).await;
        assert!(matches!(
            self.store
                .change_account(
                    id,
                    &account_core::model::AccountChange {
                        state: Some(AccountState::Disabled),
                        ..Default::default()
                    },
                    chrono::Utc::now(),
                )
                .await
                .expect("store"),
            account_core::model::AccountUpdate::Changed { .. }
        ));
    }

    pub async fn create_by_admin(&self, username: &str, email: &str) -> Account {
        self.create(username, email, AccountSource::Local).await
    }

    pub async fn create_external(&self, username: &str, email: &str) -> Account {
        self.create_in_directory(username, email, "ldap").await
    }

    /// An account of the external directory `directory`, created by the administrator.
    pub async fn create_in_directory(
        &self,
        username: &str,
        email: &str,
        directory: &str,
    ) -> Account {
        self.create(
            username,
            email,
            AccountSource::External {
                directory: directory.into(),
            },
        )
        .await
    }

    async fn create(&self, username: &str, email: &str, source: AccountSource) -> Account {
        let form = NewAccountByAdmin {
            username: Username::parse(username).expect("valid"),
            email: EmailAddress::parse(email).expect("valid"),
            display_name: None,
            role: Role::User,
            source,
        };
        self.accounts
            .create_account(self.admin, form, &info())
            .await
            .expect("created")
    }

    pub async fn session_for_external(&self, account: &Account) -> SignedInSession {
        let s = self
            .accounts
            .sign_in_external(account.id, &info())
            .await
            .expect("external sign-in");
        self.accounts
            .authenticate(s.token.expose())
            .await
            .expect("valid")
    }

    pub async fn password_hash_of(&self, id: AccountId) -> PasswordHash {
        self.store
            .password_hash(id)
            .await
            .expect("store")
            .expect("has a password")
    }

    /// Plants a password hash, as a password change does (every session ends).
    pub async fn replace_password_hash(&self, id: AccountId, hash: &PasswordHash) {
        let stamp = SecurityStamp::generate(&OsRandom);
        let current = self
            .store
            .account_by_id(id)
            .await
            .expect("store")
            .expect("the account exists")
            .security_stamp;
        assert!(
            self.store
                .set_password_hash(id, hash, &stamp, &current, None, self.accounts.now())
                .await
                .expect("store")
        );
    }

    pub async fn stored_session(&self, signed_in: &SignedIn) -> SessionRecord {
        self.store
            .session_by_token(&signed_in.token.digest())
            .await
            .expect("store")
            .expect("stored")
    }

    /// Lets the mail sent in background tasks so far arrive, then forgets it, so that a
    /// test sees only the mail of what it does next. (The tests run on a current-thread
    /// runtime, where yielding runs every task that is ready.)
    pub async fn clear_mail(&self) {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        self.mailer.clear();
    }

    /// The action link of the newest mail of `kind` to `address`, waiting for the mail to
    /// leave its background task.
    pub async fn link_sent_to(&self, address: &str, kind: &str) -> url::Url {
        for _ in 0..200 {
            let found = self
                .mailer
                .sent_to(address)
                .into_iter()
                .rev()
                .find(|m| m.message.kind() == kind);
            if let Some(mail) = found {
                return mail.link().expect("the mail has a link");
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "no {kind} mail reached {address}; sent: {:?}",
            self.mailer.sent()
        );
    }
}

/// A signed-in session where a step asks for one that may enrol a second factor (every
/// signed-in session may).
pub fn enrolling(session: &SignedInSession) -> EnrollingSession {
    EnrollingSession::from(session.clone())
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    use account_core::clock::Clock;
    clock.now()
}

/// A hash with parameters below the policy (m=4096), as an older version would have left.
pub async fn weak_hash(password: &str) -> PasswordHash {
    let weak = HashingConfig {
        memory_kib: 4096,
        iterations: 2,
        parallelism: 1,
        max_concurrent: 1,
        max_waiting: 1024,
    };
    PasswordHasher::new(weak, Arc::new(OsRandom))
        .hash(&Password::new(password))
        .await
        .expect("hash")
}

pub fn token_of(link: &url::Url) -> String {
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("the link has a token")
}

pub fn info() -> RequestInfo {
    RequestInfo {
        ip: Some("127.0.0.1".parse().expect("ip")),
        ..RequestInfo::default()
    }
}

pub fn info_from(ip: &str, user_agent: &str) -> RequestInfo {
    RequestInfo {
        ip: Some(ip.parse().expect("ip")),
        user_agent: Some(user_agent.to_owned()),
        ..RequestInfo::default()
    }
}

/// A PNG of the given size, made here so the test needs no fixture file.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}
