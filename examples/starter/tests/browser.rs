//! The account pages in a real browser: Debian's Chromium driven by playwright-core
//! (from the npm registry; it downloads no browser), with the DevTools-protocol WebAuthn
//! virtual authenticator for passkeys. Two journeys click through everything a person and
//! an administrator do, finding controls by their visible labels and roles; on every page
//! axe-core (vendored in `tests/browser/vendor`) must find no serious or critical
//! violation, and a screenshot at a phone's and a desktop's width is written under
//! `target/ui-screenshots/`.
//!
//! Without Chromium or Node.js these tests print why and pass, except under `CI=true`,
//! where a missing browser fails the run (`.ci/run` installs both).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ADMIN_PASSWORD: &str = "the administrator's own passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_every_page_in_chromium() {
    run_journey("journey.mjs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_uses_the_administration_in_chromium() {
    run_journey("admin.mjs").await;
}

/// Whether CI demands that every suite runs (the same rule as the database suites).
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Skips (with the reason) on a laptop; fails under CI.
fn unavailable(why: &str) {
    if ci() {
        panic!("the browser tests cannot run under CI=true: {why}");
    }
    eprintln!("note: the browser tests are skipped: {why}");
}

fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Installs playwright-core from the lock file when it is not there yet. Both journeys
/// may ask at once; the lock makes the second wait for the first.
fn ensure_node_modules() -> Result<(), String> {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = browser_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Ok(());
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("npm could not run: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("npm ci failed in {}: {status}", dir.display()))
    }
}

async fn run_journey(script: &str) {
    let Some(chromium) = chromium() else {
        unavailable(
            "no Chromium at /usr/bin/chromium (install the Debian package chromium, or set CHROMIUM)",
        );
        return;
    };
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        unavailable("Node.js is not installed (the Debian package nodejs)");
        return;
    }
    if let Err(why) = tokio::task::spawn_blocking(ensure_node_modules)
        .await
        .expect("the install task")
    {
        unavailable(&why);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = dir.path().join("outbox");
    let server = Starter::start(dir.path(), &outbox).await;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the starter lives two folders below the workspace");
    let screenshots = workspace
        .join("target/ui-screenshots")
        .join(script.trim_end_matches(".mjs"));
    // A fresh folder, so that what a person looks at is this run's (no old failure.png).
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("the screenshot folder");
    let started = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir().join(script))
        .env("BASE_URL", &server.base)
        .env("OUTBOX", &outbox)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .env(
            "LOCALES",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../account-axum/locales"),
        )
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("the journey finishes within five minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the journey {script} failed ({:?}):\n{stdout}\n{stderr}",
        output.status
    );
    eprintln!(
        "the journey {script} took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        screenshots.display()
    );
    drop(server);
}

/// The starter on a SQLite file of its own, on a port chosen here so that its public URL
/// (the WebAuthn relying party and the CSRF origin) is the address the browser opens.
struct Starter {
    _child: Child,
    base: String,
}

impl Starter {
    async fn start(dir: &Path, outbox: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let base = format!("http://localhost:{port}");
        let database = format!("sqlite://{}", dir.join("accounts.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_starter"))
            .env("ACCOUNT_BIND", format!("127.0.0.1:{port}"))
            .env("ACCOUNT_PUBLIC_URL", format!("{base}/"))
            .env("DATABASE_URL", database)
            .env("ACCOUNT_OUTBOX", outbox)
            .env("ACCOUNT_ADMIN", "rosa:rosa@example.com")
            .env("ACCOUNT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("ACCOUNT_SMTP_URL")
            .env_remove("ACCOUNT_TRUSTED_PROXIES")
            .env("RUST_LOG", "warn")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the starter binary runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if line.starts_with("listening on ") {
                    return;
                }
            }
            panic!("the starter exited before listening");
        })
        .await
        .expect("the starter listens within a minute");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            _child: child,
            base,
        }
    }
}
