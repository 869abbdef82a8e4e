//! The starter server: the whole account API and the account-settings pages on a SQLite
//! file, with zero configuration. Copy this crate to begin a new service.
//!
//! ```sh
//! cargo run -p starter
//!
//! # The pages: open http://localhost:8080/account in a browser.
//!
//! # Sign up, log in (the cookie jar keeps the session), and look at the account:
//! curl -i http://127.0.0.1:8080/api/auth/signup -H 'content-type: application/json' \
//!      -d '{"username":"ada","email":"ada@example.com","password":"correct horse battery staple"}'
//! curl -i -c jar -b jar http://127.0.0.1:8080/api/auth/login -H 'content-type: application/json' \
//!      -d '{"login":"ada","password":"correct horse battery staple"}'
//! curl -b jar http://127.0.0.1:8080/api/account
//! curl -b jar http://127.0.0.1:8080/api/account/sessions
//!
//! # Mail (verification and reset links) lands in ./data/outbox/*.eml.
//! ```
//!
//! Every setting is an optional environment variable: `ACCOUNT_BIND`, `DATABASE_URL`
//! (`sqlite:`, `postgres:`, `mysql:`), `ACCOUNT_STORE` (`sqlx`, the default, or `diesel`:
//! the store adapter, on the same database), `ACCOUNT_PUBLIC_URL`, `ACCOUNT_OUTBOX`,
//! `ACCOUNT_SMTP_URL`, `ACCOUNT_SMTP_CA_FILE`, `ACCOUNT_MAIL_FROM`,
//! `ACCOUNT_TRUSTED_PROXIES`, `ACCOUNT_ADMIN` (`username:email`) and
//! `ACCOUNT_ADMIN_PASSWORD`.

mod app;
mod settings;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use account_axum::{AccountPages, AccountRouter, HttpConfig};
use account_core::domain::{EmailAddress, Password, Username};
use account_core::mail::{FileOutbox, Mailer, SmtpMailer};
use account_core::random::OsRandom;
use account_core::store::Store;
use account_core::token::OpaqueToken;
use account_core::{AccountConfig, Accounts};
use account_store_diesel::DieselStore;
use account_store_sqlx::SqlStore;
use settings::{Settings, StoreAdapter};
use tokio::net::TcpListener;

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// values across threads, which mimalloc serves from per-thread pages, and it returns
/// freed memory to the system where glibc's arenas keep it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Log lines are formatted where they happen and written to stdout by a thread of their
    // own, so that a request never waits for the terminal or the pipe behind it. Should
    // stdout stall long enough to fill the queue (128k lines), lines are dropped rather than
    // requests held. The guard flushes what is queued when `main` returns.
    // Colours only for a terminal: a file or a log collector gets plain text.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (stdout, _flush_on_exit) = tracing_appender::non_blocking(std::io::stdout());
    tracing_subscriber::fmt()
        .with_writer(stdout)
        .with_ansi(terminal)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(message) => {
            eprintln!("starter: {message}");
            return ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("starter: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    let listener = TcpListener::bind(settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let public_url = match &settings.public_url {
        Some(url) => url.clone(),
        None => default_public_url(local)?,
    };

    let store = open_store(&settings).await?;
    println!(
        "accounts stored in {} through {}",
        store_backend(&settings.database_url),
        match settings.store {
            StoreAdapter::Sqlx => "sqlx",
            StoreAdapter::Diesel => "diesel",
        }
    );

    let mailer: Arc<dyn Mailer> = match &settings.smtp_url {
        Some(url) => Arc::new(smtp_mailer(url, &settings)?),
        None => Arc::new(FileOutbox::new(
            settings.outbox.clone(),
            settings.mail_from.clone(),
        )),
    };
    let config = AccountConfig::new(public_url.clone());
    let accounts = Accounts::builder(store, mailer, config).build();

    let admin_login = bootstrap_admin(&accounts, &settings).await?;

    let mut http = HttpConfig::new(public_url.clone());
    http.trusted_proxies = settings.trusted_proxies.clone();
    let api = AccountRouter::new(accounts.clone(), http);
    // The account-settings pages under /account, beside the API under /api.
    let pages = AccountPages::new(api.state().clone()).into_router();
    let app = app::routes(api.state().clone())
        .merge(pages)
        .merge(api.into_router());

    tokio::spawn(housekeeping(accounts));

    println!("listening on http://{local}");
    println!("public URL {public_url}");
    match &settings.smtp_url {
        Some(_) => println!("mail goes through the SMTP server in ACCOUNT_SMTP_URL"),
        None => println!("mail is written to {}", settings.outbox.display()),
    }
    println!("account settings at {public_url}account");
    println!("API description at {}api/openapi.json", public_url);
    match admin_login {
        Some(line) => println!("{line}"),
        None => println!(
            "sign up at {public_url}account/signup (or POST {public_url}api/auth/signup), then log in at {public_url}account/login"
        ),
    }

    account_axum::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| format!("the server stopped: {e}"))?;
    println!("stopped");
    Ok(())
}

/// The store `ACCOUNT_STORE` names on the database `DATABASE_URL` names, with its schema
/// created or brought up to date. Either adapter serves a database the other wrote.
async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, String> {
    let cannot_open = |e: &dyn std::fmt::Display| {
        format!(
            "cannot open the database {}: {e}",
            redact(&settings.database_url)
        )
    };
    let cannot_migrate = |e: &dyn std::fmt::Display| format!("cannot create the schema: {e}");
    Ok(match settings.store {
        StoreAdapter::Sqlx => {
            let store = SqlStore::connect(&settings.database_url)
                .await
                .map_err(|e| cannot_open(&e))?;
            store.migrate().await.map_err(|e| cannot_migrate(&e))?;
            Arc::new(store)
        }
        StoreAdapter::Diesel => {
            let store = DieselStore::connect(&settings.database_url)
                .await
                .map_err(|e| cannot_open(&e))?;
            store.migrate().await.map_err(|e| cannot_migrate(&e))?;
            Arc::new(store)
        }
    })
}

/// The SMTP mailer for `url`, trusting the roots of `ACCOUNT_SMTP_CA_FILE` when it is set.
/// Every error names the variable to fix; none repeats the URL's password.
fn smtp_mailer(url: &str, settings: &Settings) -> Result<SmtpMailer, String> {
    let mailer = SmtpMailer::from_url(url, settings.mail_from.clone())
        .map_err(|e| format!("ACCOUNT_SMTP_URL: {e}"))?;
    let Some(path) = &settings.smtp_ca_file else {
        return Ok(mailer);
    };
    let pem = std::fs::read(path)
        .map_err(|e| format!("ACCOUNT_SMTP_CA_FILE: cannot read {}: {e}", path.display()))?;
    mailer
        .with_root_certificates(&pem)
        .map_err(|e| format!("ACCOUNT_SMTP_CA_FILE ({}): {e}", path.display()))
}

/// The database kind a URL names, for the start-up lines.
fn store_backend(url: &str) -> String {
    account_store_sqlx::Backend::from_url(url).map_or_else(|| "?".to_owned(), |b| b.to_string())
}

/// Creates the administrator named in `ACCOUNT_ADMIN` on first start, and says how to log
/// in as them. A generated password is printed this once and never stored in clear.
async fn bootstrap_admin(
    accounts: &Accounts,
    settings: &Settings,
) -> Result<Option<String>, String> {
    let Some((username, email)) = &settings.admin else {
        return Ok(None);
    };
    let username = Username::parse(username).map_err(|e| format!("ACCOUNT_ADMIN: {e}"))?;
    let email = EmailAddress::parse(email).map_err(|e| format!("ACCOUNT_ADMIN: {e}"))?;
    let (password, generated) = match &settings.admin_password {
        Some(p) => (Password::new(p.clone()), false),
        None => (
            Password::new(OpaqueToken::generate(&OsRandom).expose()[..24].to_owned()),
            true,
        ),
    };
    let created = accounts
        .ensure_admin(username.clone(), email, &password)
        .await
        .map_err(|e| format!("ACCOUNT_ADMIN: {e}"))?;
    Ok(Some(match (created, generated) {
        (Some(_), true) => format!(
            "created the administrator {username}; password (shown once): {}",
            password.expose()
        ),
        (Some(_), false) => {
            format!("created the administrator {username} with ACCOUNT_ADMIN_PASSWORD")
        }
        (None, _) => format!("the administrator {username} exists; log in with their password"),
    }))
}

/// Deletes expired sessions and links every ten minutes.
async fn housekeeping(accounts: Accounts) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match accounts.purge_expired().await {
            Ok((sessions, links)) => tracing::debug!(sessions, links, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so the server finishes the requests in flight and stops.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    println!("shutting down");
}

/// The public URL when none is configured: `http://localhost:PORT` for a loopback
/// address, because WebAuthn needs a domain name as its relying party (passkeys do not
/// work on a bare IP address), else `http://` and the bound address.
fn default_public_url(local: SocketAddr) -> Result<url::Url, String> {
    let text = if local.ip().is_loopback() {
        format!("http://localhost:{}", local.port())
    } else {
        format!("http://{local}")
    };
    text.parse().map_err(|e| format!("{text}: {e}"))
}

/// The database URL without its password, for error messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
