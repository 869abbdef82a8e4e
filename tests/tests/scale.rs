//! Two app instances on one database behave as one (DESIGN.md, "Scale"): each instance
//! has its own store connection pool and its own services, and everything correctness
//! needs — sessions, one-time links, failure counters, rate-limit windows — is shared
//! through the database. SQLite always; PostgreSQL and MySQL when their URLs are set
//! (`account_store_sqlx::testing` decides: a skip is noted once per backend, and under
//! `CI=true` a missing URL fails the test).

use std::net::SocketAddr;
use std::sync::Arc;

use account_axum::{AccountRouter, HttpConfig};
use account_core::clock::{Clock as _, SystemClock};
use account_core::domain::Username;
use account_core::mail::MemoryMailer;
use account_core::model::{Account, AccountChange, AccountState, SessionId};
use account_core::password::HashingConfig;
use account_core::store::Store;
use account_core::{AccountConfig, Accounts};
use account_store_sqlx::Backend;
use account_store_sqlx::testing::{self, TestDatabase};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_sqlite_behave_as_one() {
    two_instances(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_behave_as_one() {
    two_instances(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_mysql_behave_as_one() {
    two_instances(Backend::MySql).await;
}

/// PostgreSQL with every transaction `SERIALIZABLE`, as the distributed engines
/// (CockroachDB, YugabyteDB) run them: two instances racing on one database meet
/// serialization failures, which the store tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_serializable_postgres_behave_as_one() {
    if let Some(db) = testing::fresh_serializable_database().await {
        two_instances_on(db).await;
    }
}

async fn two_instances(backend: Backend) {
    if let Some(db) = testing::fresh_database(backend).await {
        two_instances_on(db).await;
    }
}

async fn two_instances_on(db: TestDatabase) {
    let mailer = MemoryMailer::new();
    let a = Instance::new(&db, &mailer).await;
    let b = Instance::new(&db, &mailer).await;

    // A session made on one instance is valid on the other, and logging out on one ends
    // it on both.
    let (status, _) = a
        .send(
            "POST",
            "/api/auth/signup",
            None,
            json!({"username": "ada", "email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let cookie = b.login("ada", PASSWORD).await.expect("login on b");
    assert_eq!(
        a.send("GET", "/api/account", Some(&cookie), Value::Null)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        a.send("POST", "/api/auth/logout", Some(&cookie), Value::Null)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.send("GET", "/api/account", Some(&cookie), Value::Null)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // A session is refused on the very next request, on every instance, once it is
    // revoked, or its account disabled, through the other: validation reads the store on
    // each request and keeps nothing.
    let other = b.login("ada", PASSWORD).await.expect("login on b");
    let (status, sessions) = a
        .send("GET", "/api/account/sessions", Some(&other), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let id = sessions[0]["id"].as_str().expect("a session id").to_owned();
    b.revoke_session("ada", &id).await;
    assert_eq!(
        a.send("GET", "/api/account", Some(&other), Value::Null)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "a session revoked through b must be refused by a"
    );
    let third = a.login("ada", PASSWORD).await.expect("login on a");
    assert_eq!(
        b.send("GET", "/api/account", Some(&third), Value::Null)
            .await
            .0,
        StatusCode::OK
    );
    a.set_state("ada", AccountState::Disabled).await;
    assert_eq!(
        b.send("GET", "/api/account", Some(&third), Value::Null)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "a session of an account disabled through a must be refused by b"
    );
    a.set_state("ada", AccountState::Active).await;

    // A reset link asked for on one instance works once, on the other.
    let (status, _) = a
        .send(
            "POST",
            "/api/auth/password/forgot",
            None,
            json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let link = wait_for_link(&mailer, "password_reset").await;
    let body = json!({"token": link, "new_password": "a brand new passphrase"});
    assert_eq!(
        b.send("POST", "/api/auth/password/reset", None, body.clone())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        a.send("POST", "/api/auth/password/reset", None, body)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // Failed logins count per account across instances: five on alternating instances,
    // and the sixth attempt must wait even with the right password.
    for i in 0..5 {
        let instance = if i % 2 == 0 { &a } else { &b };
        assert!(instance.login("ada", "wrong password here").await.is_none());
    }
    assert!(
        a.login("ada", "a brand new passphrase").await.is_none(),
        "the shared counter throttles"
    );

    // The per-IP login limit (20 a minute) is one window for both instances.
    let mut refused = None;
    for i in 0..30 {
        let instance = if i % 2 == 0 { &a } else { &b };
        let (status, body) = instance
            .send(
                "POST",
                "/api/auth/login",
                None,
                json!({"login": "nobody", "password": "x"}),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["code"], "rate_limited");
            refused = Some(i);
            break;
        }
    }
    // Seven requests went before this loop from the same address.
    assert!(
        refused.is_some_and(|i| i <= 20 - 7),
        "the limit counted both instances' requests: {refused:?}"
    );
}

/// One app instance: its own pool on the shared database, its own services and router.
struct Instance {
    router: Router,
    store: Arc<dyn Store>,
}

impl Instance {
    async fn new(db: &TestDatabase, mailer: &MemoryMailer) -> Self {
        let store = db.store().await.expect("a store on the shared database");
        let mut config = AccountConfig::new("http://accounts.test".parse().expect("url"));
        config.hashing = HashingConfig {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
            max_waiting: 1024,
        };
        let store: Arc<dyn Store> = Arc::new(store);
        let accounts = Accounts::builder(store.clone(), Arc::new(mailer.clone()), config).build();
        Self {
            router: AccountRouter::new(accounts, HttpConfig::default()).into_router(),
            store,
        }
    }

    /// Deletes one of the account's sessions through this instance's store, as a
    /// revocation from another device would.
    async fn revoke_session(&self, username: &str, id: &str) {
        let id = SessionId::from_uuid(id.parse().expect("a session id"));
        let account = self.account(username).await;
        assert!(
            self.store
                .delete_session(account.id, id)
                .await
                .expect("store"),
            "the session existed"
        );
    }

    async fn account(&self, username: &str) -> Account {
        self.store
            .account_by_username(&Username::parse(username).expect("a username"))
            .await
            .expect("store")
            .expect("the account")
    }

    /// Sets an account's state through this instance's store (disabling ends its
    /// sessions in the same step, as an administrator's change does).
    async fn set_state(&self, username: &str, state: AccountState) {
        let account = self.account(username).await;
        let change = AccountChange {
            state: Some(state),
            ..Default::default()
        };
        self.store
            .change_account(account.id, &change, SystemClock.now())
            .await
            .expect("store");
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        };
        let mut request = request.body(body).expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Logs in and returns the `Cookie` header value for the new session.
    async fn login(&self, login: &str, password: &str) -> Option<String> {
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"login": login, "password": password}).to_string(),
            ))
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        if response.status() != StatusCode::OK {
            return None;
        }
        let set_cookie = response.headers().get(header::SET_COOKIE)?.to_str().ok()?;
        set_cookie.split(';').next().map(str::to_owned)
    }
}

async fn wait_for_link(mailer: &MemoryMailer, kind: &str) -> String {
    for _ in 0..200 {
        if let Some(mail) = mailer
            .sent()
            .into_iter()
            .rev()
            .find(|m| m.message.kind() == kind)
        {
            let link = mail.link().expect("a link");
            return link
                .query_pairs()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
                .expect("a token");
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no {kind} mail was sent");
}
