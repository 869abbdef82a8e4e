//! A database restart under load (SECURITY.md M50): no committed write is lost, requests
//! during the outage get a fast 503 `storage_unavailable` with `Retry-After`, and the
//! server recovers by itself.
//!
//! Each test starts a private PostgreSQL or MariaDB instance (`restart/server.rs`: the
//! machine's shared servers serve other test binaries at the same time and must not be
//! restarted), puts the HTTP router on it through a store, and lets clients sign up, change
//! their display names and read their accounts while the test stops the server (a fast
//! shutdown), keeps the clients going for a few seconds, and starts it again on the same
//! port and data directory.
//!
//! This is its own test binary so that no other test runs beside it: the figures it checks
//! are generous, but a machine busy with other tests of the same process would make them
//! mean less.

// Test code: a failed expectation panics with its message.
#![allow(clippy::unwrap_used)]

#[path = "restart/server.rs"]
mod server;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use account_axum::{AccountRouter, HttpConfig};
use account_core::domain::Username;
use account_core::mail::MemoryMailer;
use account_core::password::HashingConfig;
use account_core::store::{AccountStore as _, Store};
use account_core::{AccountConfig, Accounts};
use account_store_diesel::DieselStore;
use account_store_sqlx::testing::TestDatabase;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use server::{Kind, Server};

const PASSWORD: &str = "correct horse battery staple";

/// How long the clients run before the server is stopped, and how long it stays down.
const BEFORE: Duration = Duration::from_millis(1500);
const DOWN: Duration = Duration::from_secs(3);

/// How long the server may take to serve every client again once the database is back:
/// the breaker lets one call through a second (`OutageBreaker`'s pause), so a few seconds
/// is plenty; more means it did not recover by itself.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// The bounds on the answers during the outage. They are generous on purpose, so that a
/// busy machine (two cores, shared with other builds) cannot make the test flaky: what
/// they catch is a request that waits for the pool's acquire timeout (5 s) or a
/// connection timeout, not a slow machine. An answer given without asking the database
/// takes microseconds; one that asks it (the breaker's probe, once a second) is refused by
/// the closed port at once.
const SLOWEST_503: Duration = Duration::from_millis(2500);
const FAST_503: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load() {
    restart_under_load(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_restart_under_load() {
    restart_under_load(Kind::MariaDb).await;
}

/// The two tests take turns: each stops and starts a server of its own, but together
/// they would share the machine's two cores with two servers at once.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn restart_under_load(kind: Kind) {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The cause of a 500 is only in the log: show its errors with the test's output.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::ERROR)
        .with_test_writer()
        .try_init();
    let Some(server) = tokio::task::spawn_blocking(move || Server::launch(kind))
        .await
        .unwrap()
    else {
        return;
    };
    let server = Arc::new(Mutex::new(server));
    let url = server.lock().unwrap().url();
    for adapter in [Adapter::Sqlx, Adapter::Diesel] {
        let db = match kind {
            Kind::Postgres => TestDatabase::postgres(&url).await,
            Kind::MariaDb => TestDatabase::mysql(&url).await,
        }
        .expect("a database on the private server");
        let figures = scenario(kind, adapter, &db, &server).await;
        eprintln!("{kind} through {adapter:?}: {figures}");
    }
}

/// The store adapters the scenario runs on.
#[derive(Debug, Clone, Copy)]
enum Adapter {
    Sqlx,
    Diesel,
}

/// What one scenario saw, for the test's output.
#[derive(Debug)]
struct Figures {
    writes_acknowledged: usize,
    requests: usize,
    during_outage: usize,
    unavailable: usize,
    median_503: Duration,
    slowest_503: Duration,
    slowest_during_outage: Duration,
    first_success_after_restart: Duration,
    all_clients_served_after_restart: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests, {} writes acknowledged (all found afterwards); {} requests while \
             the server was down, {} answers 503 (median {:?}, slowest {:?}), slowest request \
             sent during the outage {:?}; first success {:?} after the server was back, every client served after {:?}",
            self.requests,
            self.writes_acknowledged,
            self.during_outage,
            self.unavailable,
            self.median_503,
            self.slowest_503,
            self.slowest_during_outage,
            self.first_success_after_restart,
            self.all_clients_served_after_restart
        )
    }
}

/// What a client did: a sign-up of a new account, a display-name change of its own
/// account, or a read of its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    SignUp,
    Rename,
    Read,
}

/// One request and its answer.
#[derive(Debug)]
struct Outcome {
    client: usize,
    action: Action,
    /// When it was sent, and how long the answer took.
    sent: Instant,
    took: Duration,
    status: StatusCode,
    /// For a 503: whether `Retry-After` came, and the problem's content type and code.
    retry_after: bool,
    content_type: String,
    code: Option<String>,
    /// The value a write wrote (the username signed up, the display name set).
    value: String,
}

/// The test's clients: the router, and every outcome.
struct Load {
    router: Router,
    outcomes: Mutex<Vec<Outcome>>,
    stop: AtomicBool,
}

impl Load {
    async fn send(
        &self,
        client: usize,
        n: u32,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> (StatusCode, HeaderMap, Value) {
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
        let mut request = request.body(body).unwrap();
        // Each request from an address of its own, so that the per-IP sign-up limit (10
        // an hour) counts in the store, as it does for real clients, without refusing
        // the test's writes.
        let [hi, lo] = u16::try_from(n % 65_536).unwrap().to_be_bytes();
        let ip = Ipv4Addr::new(10, u8::try_from(client).unwrap(), hi, lo);
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Sends one request of `action` and records its outcome.
    async fn act(&self, client: usize, n: u32, action: Action, cookie: Option<&str>) -> bool {
        let (method, path, value, body) = match action {
            Action::SignUp => {
                let username = format!("c{client}n{n}");
                let body = json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                });
                ("POST", "/api/auth/signup", username, body)
            }
            Action::Rename => {
                let name = format!("Client {client} change {n}");
                let body = json!({ "display_name": name });
                ("PATCH", "/api/account", name, body)
            }
            Action::Read => ("GET", "/api/account", String::new(), Value::Null),
        };
        let sent = Instant::now();
        let (status, headers, body) = self.send(client, n, method, path, cookie, body).await;
        let took = sent.elapsed();
        self.outcomes.lock().unwrap().push(Outcome {
            client,
            action,
            sent,
            took,
            status,
            retry_after: headers.contains_key(header::RETRY_AFTER),
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            code: body["code"].as_str().map(str::to_owned),
            value,
        });
        status.is_success()
    }

    /// Signs up `username` and logs in; the session's `Cookie` header value.
    async fn account(&self, client: usize, username: &str) -> String {
        let (status, _, body) = self
            .send(
                client,
                0,
                "POST",
                "/api/auth/signup",
                None,
                json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, headers, body) = self
            .send(
                client,
                1,
                "POST",
                "/api/auth/login",
                None,
                json!({"login": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// One client's loop: `action` again and again, a new value each time, until told to
    /// stop.
    async fn client(self: Arc<Self>, client: usize, action: Action, cookie: Option<String>) {
        let mut n = 2;
        while !self.stop.load(Ordering::SeqCst) {
            self.act(client, n, action, cookie.as_deref()).await;
            n += 1;
            // A short breath, so that eight clients do not take the two cores from the
            // servers they talk to.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The clients: which action each repeats.
const CLIENTS: [Action; 8] = [
    Action::SignUp,
    Action::SignUp,
    Action::Rename,
    Action::Rename,
    Action::Rename,
    Action::Read,
    Action::Read,
    Action::Read,
];

/// Runs the restart on `db` (on `server`) through `adapter`'s store and checks what the
/// clients saw and what the database kept.
async fn scenario(
    kind: Kind,
    adapter: Adapter,
    db: &TestDatabase,
    server: &Arc<Mutex<Server>>,
) -> Figures {
    let store = store(adapter, db).await;
    let mut config = AccountConfig::new("http://accounts.test".parse().unwrap());
    // Cheap hashing: the test is about the database, and the machine is small.
    config.hashing = HashingConfig {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
        max_waiting: 1024,
    };
    let accounts = Accounts::builder(store.clone(), Arc::new(MemoryMailer::new()), config).build();
    let load = Arc::new(Load {
        router: AccountRouter::new(accounts, HttpConfig::default()).into_router(),
        outcomes: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });

    let mut tasks = Vec::new();
    let mut cookies = Vec::new();
    for (client, action) in CLIENTS.into_iter().enumerate() {
        let cookie = match action {
            Action::SignUp => None,
            Action::Rename | Action::Read => {
                Some(load.account(client, &format!("client{client}")).await)
            }
        };
        cookies.push(cookie.clone());
        tasks.push(tokio::spawn(
            Arc::clone(&load).client(client, action, cookie),
        ));
    }

    tokio::time::sleep(BEFORE).await;
    let stopping = Instant::now();
    let handle = Arc::clone(server);
    tokio::task::spawn_blocking(move || handle.lock().unwrap().stop())
        .await
        .unwrap();
    let down = Instant::now();
    tokio::time::sleep(DOWN).await;
    let starting = Instant::now();
    let handle = Arc::clone(server);
    tokio::task::spawn_blocking(move || handle.lock().unwrap().start())
        .await
        .unwrap();
    let up = Instant::now();

    // Until every client has been served again, then a little more, to see that
    // nothing fails once the server has recovered.
    let recovered = loop {
        let served = {
            let outcomes = load.outcomes.lock().unwrap();
            (0..CLIENTS.len()).all(|client| {
                outcomes
                    .iter()
                    .any(|o| o.client == client && o.sent >= up && o.status.is_success())
            })
        };
        if served {
            break Instant::now();
        }
        assert!(
            up.elapsed() < RECOVERY_LIMIT,
            "{kind} through {adapter:?}: not every client was served within \
             {RECOVERY_LIMIT:?} of the database's return; the last answers: {:#?}",
            load.outcomes
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take(CLIENTS.len())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    load.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }

    // Once recovered, many reads at once, more than the store keeps connections for
    // between reads (half of its pool of ten): kept connections and new ones alike serve.
    let burst: Vec<_> = (0..16_u32)
        .map(|i| {
            let load = Arc::clone(&load);
            let client = 5 + usize::try_from(i % 3).unwrap();
            let cookie = cookies[client].clone();
            tokio::spawn(async move {
                load.act(client, 1_000_000 + i, Action::Read, cookie.as_deref())
                    .await
            })
        })
        .collect();
    for read in burst {
        assert!(
            read.await.unwrap(),
            "{kind} through {adapter:?}: a read after recovery failed"
        );
    }

    let outcomes = std::mem::take(&mut *load.outcomes.lock().unwrap());
    check(
        kind, adapter, &outcomes, stopping, down, starting, up, recovered,
    );
    check_writes_kept(kind, adapter, db, &outcomes).await;

    let unavailable: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .map(|o| o.took)
        .collect();
    let mut sorted = unavailable.clone();
    sorted.sort();
    Figures {
        writes_acknowledged: outcomes
            .iter()
            .filter(|o| o.action != Action::Read && o.status.is_success())
            .count(),
        requests: outcomes.len(),
        during_outage: outcomes
            .iter()
            .filter(|o| o.sent >= down && o.sent < starting)
            .count(),
        unavailable: unavailable.len(),
        median_503: sorted.get(sorted.len() / 2).copied().unwrap_or_default(),
        slowest_503: sorted.last().copied().unwrap_or_default(),
        slowest_during_outage: outcomes
            .iter()
            .filter(|o| o.sent >= stopping && o.sent < up)
            .map(|o| o.took)
            .max()
            .unwrap_or_default(),
        first_success_after_restart: outcomes
            .iter()
            .filter(|o| o.sent >= up && o.status.is_success())
            .map(|o| o.sent + o.took - up)
            .min()
            .unwrap_or_default(),
        all_clients_served_after_restart: recovered - up,
    }
}

/// A migrated store of `adapter` on `db`.
async fn store(adapter: Adapter, db: &TestDatabase) -> Arc<dyn Store> {
    match adapter {
        // With its default options: the acquire timeout and pool a host gets.
        Adapter::Sqlx => Arc::new(db.store().await.unwrap()),
        Adapter::Diesel => {
            let store = DieselStore::connect(db.url()).await.unwrap();
            store.migrate().await.unwrap();
            Arc::new(store)
        }
    }
}

/// Checks every answer: only successes and 503s, every 503 the documented problem with
/// `Retry-After` and quick; every request sent while the server was down answered 503; and
/// once the server had recovered, only successes.
#[allow(clippy::too_many_arguments)]
fn check(
    kind: Kind,
    adapter: Adapter,
    outcomes: &[Outcome],
    stopping: Instant,
    down: Instant,
    starting: Instant,
    up: Instant,
    recovered: Instant,
) {
    let what = format!("{kind} through {adapter:?}");
    let before: Vec<_> = outcomes.iter().filter(|o| o.sent < stopping).collect();
    assert!(
        before.iter().filter(|o| o.status.is_success()).count() >= CLIENTS.len(),
        "{what}: the clients were served before the restart: {before:#?}"
    );
    for o in outcomes {
        assert!(
            o.status.is_success() || o.status == StatusCode::SERVICE_UNAVAILABLE,
            "{what}: only successes and 503s, never a 500 or a refusal: {o:#?}"
        );
        if o.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                o.retry_after
                    && o.content_type == "application/problem+json"
                    && o.code.as_deref() == Some("storage_unavailable"),
                "{what}: a 503 is the storage_unavailable problem with Retry-After: {o:#?}"
            );
            assert!(
                o.took <= SLOWEST_503,
                "{what}: a 503 took more than {SLOWEST_503:?}: {o:#?}"
            );
        }
    }
    // A request sent while the server went down, was down or came back waits for no
    // timeout either, whatever its answer: one that hung in the pool until the server was
    // back would answer 2xx, late.
    for o in outcomes
        .iter()
        .filter(|o| o.sent >= stopping && o.sent < up)
    {
        assert!(
            o.took <= SLOWEST_503,
            "{what}: a request during the outage took more than {SLOWEST_503:?}: {o:#?}"
        );
    }
    let during: Vec<_> = outcomes
        .iter()
        .filter(|o| o.sent >= down && o.sent + o.took <= starting)
        .collect();
    assert!(
        during.len() >= 50,
        "{what}: the clients kept sending while the server was down: {} requests",
        during.len()
    );
    assert!(
        during
            .iter()
            .all(|o| o.status == StatusCode::SERVICE_UNAVAILABLE),
        "{what}: every request while the server was down answered 503"
    );
    let unavailable: Vec<_> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let fast = unavailable.iter().filter(|o| o.took <= FAST_503).count();
    assert!(
        fast * 10 >= unavailable.len() * 9,
        "{what}: most 503s (nine in ten) were answered within {FAST_503:?}: {fast} of {}",
        unavailable.len()
    );
    let late: Vec<_> = outcomes
        .iter()
        .filter(|o| o.sent >= recovered && !o.status.is_success())
        .collect();
    assert!(
        late.is_empty(),
        "{what}: once every client was served again, every request succeeded: {late:#?}"
    );
}

/// Checks, on a new connection to the database, that every write the server acknowledged
/// is there: each account whose sign-up answered 201 exists, and each renaming client's
/// display name is the last one acknowledged or a later one (a change whose answer was
/// lost with the connection may have been committed all the same).
async fn check_writes_kept(kind: Kind, adapter: Adapter, db: &TestDatabase, outcomes: &[Outcome]) {
    let what = format!("{kind} through {adapter:?}");
    let fresh = db.store().await.unwrap();
    let find = |username: String| {
        let fresh = &fresh;
        async move {
            fresh
                .account_by_username(&Username::parse(&username).unwrap())
                .await
                .unwrap()
        }
    };
    for o in outcomes
        .iter()
        .filter(|o| o.action == Action::SignUp && o.status.is_success())
    {
        assert!(
            find(o.value.clone()).await.is_some(),
            "{what}: the account {} was signed up (201) and must be there",
            o.value
        );
    }
    for (client, _) in CLIENTS
        .iter()
        .enumerate()
        .filter(|(_, a)| **a == Action::Rename)
    {
        let change = |name: &str| -> u32 { name.rsplit(' ').next().unwrap().parse().unwrap() };
        let Some(last) = outcomes
            .iter()
            .filter(|o| o.client == client && o.status.is_success())
            .map(|o| change(&o.value))
            .max()
        else {
            panic!("{what}: client {client} never changed its name");
        };
        let account = find(format!("client{client}")).await.unwrap();
        let kept = change(account.display_name.as_str());
        assert!(
            kept >= last,
            "{what}: client {client}'s change {last} was acknowledged, but the database \
             holds change {kept}"
        );
    }
}
