//! One harness for the router tests: the router over a memory store, a memory mailer and a
//! manual clock, driven in memory with `oneshot`, with a cookie jar of one cookie.

use std::net::SocketAddr;
use std::sync::Arc;

use account_axum::{AccountRouter, HttpConfig, RateLimits};
use account_core::clock::ManualClock;
use account_core::directory::Directory;
use account_core::domain::{EmailAddress, Password, Username};
use account_core::mail::MemoryMailer;
use account_core::model::{Account, AccountState, EventPage, SecurityEvent, SessionRecord};
use account_core::password::HashingConfig;
use account_core::store::memory::MemoryStore;
use account_core::store::{AccountStore, PolicyStore, SessionStore, Store};
use account_core::{AccountConfig, Accounts};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// The password the harness signs people up with.
pub const PASSWORD: &str = "correct horse battery staple";
/// Another good password.
pub const NEW_PASSWORD: &str = "a brand new and long passphrase";
/// The public URL of the default harness.
pub const PUBLIC_URL: &str = "https://accounts.example.com";
/// The socket peer every request comes from unless it says otherwise.
pub const PEER: &str = "198.51.100.1:40000";

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
    pub bytes: Bytes,
    /// The route that answered, if one did.
    pub route: Option<String>,
}

impl Reply {
    /// Asserts the status and, for a problem, its code; answers the body.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        if let Some(code) = code {
            assert_eq!(
                self.headers[header::CONTENT_TYPE],
                "application/problem+json",
                "{}",
                self.body
            );
            assert_eq!(self.body["code"], code, "{}", self.body);
            assert_eq!(self.body["status"], status, "{}", self.body);
        }
        &self.body
    }

    /// Asserts a problem with this status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        self.expect(status, Some(code))
    }

    /// Asserts a success with this status; answers the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        let problem = self
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|c| c == "application/problem+json");
        assert!(!problem, "{}", self.body);
        self.expect(status, None)
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }
}

/// Wraps the memory store in another store.
pub type WrapStore = fn(Arc<MemoryStore>) -> Arc<dyn Store>;

/// How to build a [`TestApp`].
pub struct Options {
    pub public_url: &'static str,
    pub http: HttpConfig,
    /// Wraps the memory store before the services get it (a failing store, say).
    pub wrap_store: Option<WrapStore>,
    /// Changes the core configuration before the services are built (limits, say).
    pub configure: Option<fn(&mut AccountConfig)>,
    /// The host's lifecycle hooks.
    pub hooks: Option<Arc<dyn account_core::hooks::AccountHooks>>,
    /// The external directories the services know.
    pub directories: Vec<Arc<dyn Directory>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            public_url: PUBLIC_URL,
            http: HttpConfig::default(),
            wrap_store: None,
            configure: None,
            hooks: None,
            directories: Vec::new(),
        }
    }
}

pub struct TestApp {
    pub router: Router,
    pub accounts: Accounts,
    pub store: Arc<MemoryStore>,
    pub mailer: MemoryMailer,
    pub clock: Arc<ManualClock>,
    /// The session cookie as `name=value`, sent with every request.
    pub cookie: Option<String>,
    pub cookie_name: String,
}

/// Hashing cheap enough for many logins in a test.
pub fn fast_hashing() -> HashingConfig {
    HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 4,
        max_waiting: 1024,
    }
}

impl TestApp {
    /// The https harness with default limits.
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    /// The https harness without rate limits, for tests that log in a lot.
    pub fn unlimited() -> Self {
        let mut http = HttpConfig::default();
        http.rate_limits = RateLimits::none();
        Self::with(Options {
            http,
            ..Options::default()
        })
    }

    pub fn with(options: Options) -> Self {
        let mut config = AccountConfig::new(options.public_url.parse().expect("url"));
        config.hashing = fast_hashing();
        if let Some(configure) = options.configure {
            configure(&mut config);
        }
        let store = Arc::new(MemoryStore::new());
        let backing: Arc<dyn Store> = match options.wrap_store {
            Some(wrap) => wrap(store.clone()),
            None => store.clone(),
        };
        let mailer = MemoryMailer::new();
        let clock = Arc::new(ManualClock::default());
        let mut builder =
            Accounts::builder(backing, Arc::new(mailer.clone()), config).clock(clock.clone());
        if let Some(hooks) = options.hooks {
            builder = builder.hooks(hooks);
        }
        for directory in options.directories {
            builder = builder.directory(directory);
        }
        let accounts = builder.build();
        let router = AccountRouter::new(accounts.clone(), options.http);
        let cookie_name = router.state().cookie_name().to_owned();
        // With the pages (feature `ui`), the same application serves them too, as a host
        // that mounts both does.
        #[cfg(feature = "ui")]
        let pages = account_axum::AccountPages::new(router.state().clone()).into_router();
        let router = router.into_router();
        #[cfg(feature = "ui")]
        let router = router.merge(pages);
        Self {
            router,
            accounts,
            store,
            mailer,
            clock,
            cookie: None,
            cookie_name,
        }
    }

    /// A second client of the same application (same store, mailer and clock) with its
    /// own cookie, starting with this one's.
    pub fn clone_handle(&self) -> TestApp {
        TestApp {
            router: self.router.clone(),
            accounts: self.accounts.clone(),
            store: self.store.clone(),
            mailer: self.mailer.clone(),
            clock: self.clock.clone(),
            cookie: self.cookie.clone(),
            cookie_name: self.cookie_name.clone(),
        }
    }

    /// Sends a request from [`PEER`] (unless it carries its own `ConnectInfo`) with the
    /// cookie (unless it carries its own `Cookie`), and keeps the session cookie it sets.
    pub async fn send(&mut self, mut request: Request<Body>) -> Reply {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(PEER.parse::<SocketAddr>().expect("addr")));
        }
        if let Some(cookie) = &self.cookie
            && !request.headers().contains_key(header::COOKIE)
        {
            request.headers_mut().insert(
                header::COOKIE,
                HeaderValue::from_str(cookie).expect("cookie"),
            );
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let route = response
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str().to_owned());
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for set in parts.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii");
            let pair = set.split(';').next().expect("a pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if name == self.cookie_name {
                self.cookie =
                    (!value.is_empty() && !set.contains("Max-Age=0")).then(|| pair.to_owned());
            }
        }
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            bytes,
            route,
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send(empty(Method::GET, path)).await
    }

    /// Posts an HTML form (`application/x-www-form-urlencoded`) as a browser without
    /// JavaScript does, from this site's own page.
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = raw(
            Method::POST,
            path,
            "application/x-www-form-urlencoded",
            body,
        );
        self.send(with(request, "sec-fetch-site", "same-origin"))
            .await
    }

    /// Posts a form and follows its redirect (POST-redirect-GET), as a browser does;
    /// answers the page it lands on. A refusal (no redirect) is answered as it is.
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub async fn submit_and_follow(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let reply = self.submit(path, fields).await;
        self.follow(reply).await
    }

    /// Follows a 303 to the page it names.
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub async fn follow(&mut self, reply: Reply) -> Reply {
        if reply.status != StatusCode::SEE_OTHER {
            return reply;
        }
        let location = reply.headers[header::LOCATION]
            .to_str()
            .expect("ascii")
            .to_owned();
        self.get(&location).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Reply {
        self.send(json_request(Method::POST, path, &body)).await
    }

    pub async fn put(&mut self, path: &str, body: Value) -> Reply {
        self.send(json_request(Method::PUT, path, &body)).await
    }

    pub async fn patch(&mut self, path: &str, body: Value) -> Reply {
        self.send(json_request(Method::PATCH, path, &body)).await
    }

    pub async fn delete(&mut self, path: &str) -> Reply {
        self.send(empty(Method::DELETE, path)).await
    }

    /// Signs up through the API.
    pub async fn sign_up(&mut self, username: &str, email: &str) -> Value {
        self.post(
            "/api/auth/signup",
            json!({"username": username, "email": email, "password": PASSWORD}),
        )
        .await
        .ok(201)
        .clone()
    }

    /// Logs in through the API, keeping the cookie.
    pub async fn login(&mut self, login: &str, password: &str) -> Reply {
        self.post(
            "/api/auth/login",
            json!({"login": login, "password": password}),
        )
        .await
    }

    /// Signs up and logs in `username` (address `<username>@example.com`).
    pub async fn user(&mut self, username: &str) -> Account {
        self.sign_up(username, &format!("{username}@example.com"))
            .await;
        self.login(username, PASSWORD).await.ok(200);
        self.account(username).await
    }

    /// Makes `username` an administrator with a verified address, and logs them in.
    pub async fn admin(&mut self, username: &str) -> Account {
        self.accounts
            .ensure_admin(
                Username::parse(username).expect("username"),
                EmailAddress::parse(&format!("{username}@example.com")).expect("email"),
                &Password::new(PASSWORD),
            )
            .await
            .expect("admin")
            .expect("created");
        self.login(username, PASSWORD).await.ok(200);
        self.account(username).await
    }

    pub async fn account(&self, username: &str) -> Account {
        self.store
            .account_by_username(&Username::parse(username).expect("username"))
            .await
            .expect("store")
            .expect("the account exists")
    }

    pub async fn find_account(&self, username: &str) -> Option<Account> {
        self.store
            .account_by_username(&Username::parse(username).expect("username"))
            .await
            .expect("store")
    }

    pub async fn sessions_of(&self, username: &str) -> Vec<SessionRecord> {
        let id = self.account(username).await.id;
        self.store.sessions_of(id).await.expect("store")
    }

    pub async fn events(&self, username: &str) -> Vec<SecurityEvent> {
        let id = self.account(username).await.id;
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
        let id = self.account(username).await.id;
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

    pub async fn set_policy(&self, change: impl FnOnce(&mut account_core::policy::Policy)) {
        let mut policy = self.accounts.policy().await.expect("policy");
        change(&mut policy);
        self.store.put_policy(&policy).await.expect("store");
    }

    /// Moves the clock past the re-authentication window.
    pub fn go_stale(&self) {
        self.clock.advance(chrono::Duration::minutes(11));
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
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!(
            "no {kind} mail reached {address}; sent: {:?}",
            self.mailer.sent()
        );
    }

    /// The kinds of mail `address` got, after letting background sends finish.
    pub async fn mail_kinds(&self, address: &str) -> Vec<&'static str> {
        settle().await;
        self.mailer
            .sent_to(address)
            .iter()
            .map(|m| m.message.kind())
            .collect()
    }
}

/// Lets background tasks (mail) run.
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

pub fn token_of(link: &url::Url) -> String {
    link.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .expect("the link has a token")
}

/// `text` encoded for an `application/x-www-form-urlencoded` body.
#[cfg_attr(
    not(feature = "ui"),
    allow(dead_code, reason = "only the pages' tests use it")
)]
pub fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl Reply {
    /// The body as text (an HTML page).
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub fn html(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("utf-8")
    }

    /// Asserts an HTML page with this status that contains every one of `texts`.
    #[track_caller]
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub fn page(&self, status: u16, texts: &[&str]) -> &str {
        let html = self.html();
        assert_eq!(self.status.as_u16(), status, "{html}");
        assert!(
            self.headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with("text/html"),
            "{html}"
        );
        for text in texts {
            assert!(html.contains(text), "the page lacks {text:?}: {html}");
        }
        html
    }

    /// Asserts a 303 to a location that starts with `to`.
    #[track_caller]
    #[cfg_attr(
        not(feature = "ui"),
        allow(dead_code, reason = "only the pages' tests use it")
    )]
    pub fn redirects_to(&self, to: &str) -> &str {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.html());
        let location = self.headers[header::LOCATION].to_str().expect("ascii");
        assert!(
            location.starts_with(to),
            "redirected to {location}, not {to}"
        );
        location
    }
}

pub fn empty(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .expect("request")
}

pub fn json_request(method: Method, path: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

pub fn raw(method: Method, path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("request")
}

/// Adds a header to a request.
pub fn with(mut request: Request<Body>, name: &'static str, value: &str) -> Request<Body> {
    request
        .headers_mut()
        .append(name, HeaderValue::from_str(value).expect("value"));
    request
}

/// The request as if from this socket peer.
pub fn from_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
    request
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

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// The headers without `date`, for byte comparisons.
pub fn headers_without_date(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| *name != header::DATE)
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Checks that an unsafe request from another site is refused, both by Fetch Metadata and
/// by `Origin`, and returns nothing. The request is built twice by `make`.
pub async fn check_cross_site_refused(app: &mut TestApp, make: impl Fn() -> Request<Body>) {
    let reply = app.send(with(make(), "sec-fetch-site", "cross-site")).await;
    reply.problem(403, "csrf_refused");
    let reply = app.send(with(make(), "origin", "https://evil.test")).await;
    reply.problem(403, "csrf_refused");
}

/// Checks the body errors every JSON route shares: 400 malformed JSON (and an array where
/// the object belongs), 415 another content type, 413 a body over 64 KiB.
pub async fn check_body_errors(app: &mut TestApp, method: Method, path: &str) {
    app.send(raw(method.clone(), path, "application/json", "{\"oops\":"))
        .await
        .problem(400, "malformed_json");
    app.send(raw(method.clone(), path, "application/json", "[]"))
        .await
        .problem(400, "malformed_json");
    app.send(raw(method.clone(), path, "text/plain", "{}"))
        .await
        .problem(415, "unsupported_media_type");
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(65 * 1024));
    app.send(raw(method, path, "application/json", big))
        .await
        .problem(413, "payload_too_large");
}
