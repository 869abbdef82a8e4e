//! A real SMTP server for the mailer's tests: `server.py` beside this file, on aiosmtpd
//! from PyPI, with a certificate made here by a CA made here.
//!
//! # Finding Python, and CI
//!
//! The interpreter is the one [`PYTHON_VAR`] names (`.ci/run` points it at the python of
//! the virtual environment it makes from `.ci/requirements.txt`), else `python3` on the
//! `PATH`; either must be able to import aiosmtpd. When it cannot, the rule is the one
//! the database suites follow (`account_store_sqlx::testing`): under `CI=true` (or `1`)
//! the test fails with a message saying what is missing, because a CI run must never be
//! green without these tests; elsewhere the test returns early and passes, and the first
//! such test of the binary writes a note saying why to the process's standard error.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use tokio::sync::mpsc;

/// The environment variable naming the Python interpreter that runs the server.
pub(crate) const PYTHON_VAR: &str = "ACCOUNT_TEST_PYTHON";

/// How long the server may take to start, and a client's mail to arrive. Generous,
/// because other builds may be running on the machine; a passing test never waits it out.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server's user name and password, when it has them. The password has characters a
/// URL must percent-encode, so that a test shows they reach the server decoded.
pub(crate) const USER: &str = "mailer@example.com";
pub(crate) const PASSWORD: &str = "s3cret p@ss/word:#1";

/// How the server treats TLS: `server.py --tls`, whose documentation says more.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ServerTls {
    /// STARTTLS offered, and no AUTH or mail before it: a real submission port.
    Required,
    /// STARTTLS offered, but AUTH and mail taken without it too.
    Offered,
    /// No STARTTLS at all, as when it is stripped from the EHLO answer.
    None,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

impl ServerTls {
    fn arg(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Offered => "offered",
            Self::None => "none",
            Self::Implicit => "implicit",
        }
    }
}

/// A CA made for one test, and the server certificate it issued.
pub(crate) struct TestCa {
    /// The CA's certificate, PEM: what a mailer is given to trust.
    pub(crate) root_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl TestCa {
    /// A new CA whose server certificate names `names` (DNS names or IP addresses).
    pub(crate) fn new(names: &[&str]) -> Self {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own, as two companies' CAs have: a certificate of one CA then
        // names an issuer the other is not.
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("account-core SMTP test CA {}", uuid::Uuid::now_v7()),
        );
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA certificate");

        let server_key = KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "smtp.test");
        let server_cert = params
            .signed_by(&server_key, &ca)
            .expect("a server certificate");
        Self {
            root_pem: ca.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }

    /// A CA for a server on this machine, as the tests' URLs name it.
    pub(crate) fn for_localhost() -> Self {
        Self::new(&["127.0.0.1", "localhost"])
    }
}

/// What server to start.
pub(crate) struct ServerConfig {
    pub(crate) tls: ServerTls,
    /// Whether the server requires AUTH with [`USER`] and [`PASSWORD`].
    pub(crate) auth: bool,
    /// The CA of the server's certificate (unused with [`ServerTls::None`]).
    pub(crate) ca: TestCa,
}

impl ServerConfig {
    /// A submission server: STARTTLS required before AUTH, AUTH required before mail.
    pub(crate) fn submission() -> Self {
        Self {
            tls: ServerTls::Required,
            auth: true,
            ca: TestCa::for_localhost(),
        }
    }
}

/// A running `server.py`, stopped when dropped.
pub(crate) struct SmtpServer {
    child: Child,
    /// The port it listens on, at 127.0.0.1.
    pub(crate) port: u16,
    /// The root certificate that makes its certificate trusted.
    pub(crate) root_pem: String,
    records: mpsc::UnboundedReceiver<Value>,
    /// Records already read while waiting for another kind.
    seen: Vec<Value>,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts the server and waits until it listens. `None` when this machine has no
    /// Python with aiosmtpd, outside CI; under CI that panics instead (see the module
    /// documentation).
    pub(crate) async fn start(config: ServerConfig) -> Option<Self> {
        let python = match python() {
            Ok(python) => python.clone(),
            Err(why) => {
                unavailable(why);
                return None;
            }
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        std::fs::write(&cert, &config.ca.server_cert_pem).expect("certificate written");
        std::fs::write(&key, &config.ca.server_key_pem).expect("key written");
        let stderr = std::fs::File::create(dir.path().join("stderr.txt")).expect("stderr file");

        let mut command = Command::new(&python);
        command
            .arg(server_script())
            .args(["--tls", config.tls.arg()])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key);
        if config.auth {
            command.args(["--user", USER, "--password", PASSWORD]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("{} could not start: {e}", python.display()));

        // The server's records arrive on a thread of their own, which reads until the
        // server's standard output closes; the channel then closes too.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, records) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let record = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("server.py wrote {line:?}, not JSON: {e}"));
                if tx.send(record).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            port: 0,
            root_pem: config.ca.root_pem,
            records,
            seen: Vec::new(),
            dir,
        };
        let first = tokio::time::timeout(PATIENCE, server.records.recv()).await;
        server.port = match first {
            Ok(Some(record)) => record["listening"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or_else(|| panic!("server.py began with {record}, not its port")),
            Ok(None) => panic!("server.py stopped before listening: {}", server.stderr()),
            Err(_) => panic!(
                "server.py did not listen within {PATIENCE:?}: {}",
                server.stderr()
            ),
        };
        Some(server)
    }

    /// `smtp://` or `smtps://` URL of the server, with `query` (such as `?tls=required`)
    /// and, when `login` is given, that user name and password, percent-encoded.
    pub(crate) fn url(&self, scheme: &str, login: Option<(&str, &str)>, query: &str) -> String {
        let mut url = url::Url::parse(&format!("{scheme}://127.0.0.1:{}{query}", self.port))
            .expect("a valid URL");
        if let Some((user, password)) = login {
            url.set_username(user).expect("a user name");
            url.set_password(Some(password)).expect("a password");
        }
        url.to_string()
    }

    /// Waits for the next record of `event` (`message`, `auth`, `ehlo`), keeping the
    /// others for [`SmtpServer::stop`].
    pub(crate) async fn next(&mut self, event: &str) -> Value {
        loop {
            let record = tokio::time::timeout(PATIENCE, self.records.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no {event} record within {PATIENCE:?}; the server saw {:?}; its log: {}",
                        self.seen,
                        self.stderr()
                    )
                })
                .unwrap_or_else(|| panic!("server.py stopped: {}", self.stderr()));
            let found = record["event"] == event;
            self.seen.push(record.clone());
            if found {
                return record;
            }
        }
    }

    /// Stops the server and returns every record it wrote. The server writes a record
    /// before it answers the command, so once a client has its answer (or has given up),
    /// what the server saw of it is all here: nothing can come later.
    pub(crate) async fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Some(record) = self.records.recv().await {
            self.seen.push(record);
        }
        std::mem::take(&mut self.seen)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt"))
            .unwrap_or_else(|e| format!("(its standard error cannot be read: {e})"))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py")
}

/// The interpreter that can run the server, or why there is none; found once per test
/// binary.
fn python() -> Result<&'static PathBuf, &'static str> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(find_python)
        .as_ref()
        .map_err(String::as_str)
}

fn find_python() -> Result<PathBuf, String> {
    let (python, which) = match std::env::var_os(PYTHON_VAR).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            let which = format!("{PYTHON_VAR}={}", path.display());
            (path, which)
        }
        None => (
            PathBuf::from("python3"),
            format!("python3 on the PATH ({PYTHON_VAR} is not set)"),
        ),
    };
    let output = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{which} cannot run: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("it failed").trim();
        return Err(format!("{which} cannot import aiosmtpd ({last})"));
    }
    Ok(python)
}

/// Whether this is a CI run, which must not skip: `CI` is `true` or `1` (in any case,
/// spaces around ignored), as `account_store_sqlx::testing::ci_requires_servers` says.
fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// What a test does without a Python that has aiosmtpd: fail under CI; elsewhere go on
/// to skip, the first skip of the binary saying why where a person sees it.
fn unavailable(why: &str) {
    if ci() {
        panic!(
            "the SMTP tests cannot run: {why}, and CI=true: a CI run must not skip them. \
             Set {PYTHON_VAR} to the python of a virtual environment with aiosmtpd \
             (.ci/run makes one from .ci/requirements.txt), or run without CI=true to skip \
             them"
        );
    }
    static NOTED: AtomicBool = AtomicBool::new(false);
    if !NOTED.swap(true, Ordering::Relaxed) {
        // Written to the handle itself: libtest captures `eprintln!` of a passing test
        // and shows it to no one.
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: the SMTP tests against aiosmtpd are skipped: {why} (set {PYTHON_VAR} \
             to a python with aiosmtpd to run them; with CI=true they fail instead)"
        );
    }
}
