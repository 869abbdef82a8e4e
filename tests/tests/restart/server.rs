//! Private database servers for the restart test: a PostgreSQL or MariaDB instance of the
//! test's own, in a temporary directory on a free loopback port, started from the
//! installed binaries. The machine's shared servers are used by other test binaries at the
//! same time, so the test must never stop those; it stops and starts its own instead.
//!
//! An instance is killed when its value is dropped, which also happens when the test
//! panics (the panic unwinds through the test's frames), so no server outlives its test.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Postgres,
    MariaDb,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Postgres => "PostgreSQL",
            Kind::MariaDb => "MariaDB",
        })
    }
}

/// The installed programs a kind of server needs.
#[derive(Debug)]
enum Binaries {
    /// The directory holding `initdb` and `pg_ctl`.
    Postgres { bin: PathBuf },
    /// `mariadb-install-db` (or `mysql_install_db`) and `mariadbd` (or `mysqld`).
    MariaDb { install: PathBuf, server: PathBuf },
}

/// A running (or stopped, between [`Server::stop`] and [`Server::start`]) private server.
#[derive(Debug)]
pub(crate) struct Server {
    kind: Kind,
    binaries: Binaries,
    /// Removed when the server is dropped, after the process is gone.
    dir: tempfile::TempDir,
    port: u16,
    /// MariaDB's server process; PostgreSQL's runs detached under `pg_ctl`.
    child: Option<Child>,
    /// Run the programs as the `postgres` user: PostgreSQL refuses to run as root.
    as_postgres: bool,
}

impl Server {
    /// Finds the binaries for `kind`; `Err` says which are missing.
    ///
    /// # Errors
    ///
    /// When the binaries cannot be found.
    fn binaries(kind: Kind) -> Result<Binaries, String> {
        match kind {
            Kind::Postgres => postgres_bin()
                .map(|bin| Binaries::Postgres { bin })
                .ok_or_else(|| {
                    "no PostgreSQL server binaries (initdb and pg_ctl in \
                     /usr/lib/postgresql/<version>/bin, pg_config --bindir or PATH)"
                        .to_owned()
                }),
            Kind::MariaDb => {
                let install = find_program(
                    &["mariadb-install-db", "mysql_install_db"],
                    &["/usr/bin", "/usr/local/bin", "/usr/scripts"],
                );
                let server = find_program(
                    &["mariadbd", "mysqld"],
                    &["/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/bin"],
                );
                match (install, server) {
                    (Some(install), Some(server)) => Ok(Binaries::MariaDb { install, server }),
                    _ => Err(
                        "no MariaDB server binaries (mariadb-install-db and mariadbd \
                              in PATH, /usr/bin or /usr/sbin)"
                            .to_owned(),
                    ),
                }
            }
        }
    }

    /// Makes a new instance of `kind` and starts it. `Ok(None)` when its binaries are
    /// missing, with the reason written to the standard error (see [`missing`]).
    ///
    /// # Panics
    ///
    /// When the binaries are there but the instance cannot be made or started, and when
    /// they are missing in CI.
    pub(crate) fn launch(kind: Kind) -> Option<Self> {
        let binaries = match Self::binaries(kind) {
            Ok(binaries) => binaries,
            Err(reason) => {
                missing(kind, &reason);
                return None;
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("acct-restart-")
            .tempdir()
            .expect("a temporary directory");
        let as_postgres = kind == Kind::Postgres && running_as_root();
        if as_postgres {
            // The server's files must be the postgres user's, down from the directory.
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("the temporary directory given to the postgres user");
        }
        let mut server = Self {
            kind,
            binaries,
            dir,
            port: free_port(),
            child: None,
            as_postgres,
        };
        server.init();
        server.start();
        Some(server)
    }

    /// The URL of the server's administrative user (who may create databases).
    pub(crate) fn url(&self) -> String {
        match self.kind {
            Kind::Postgres => format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            Kind::MariaDb => format!("mysql://root@127.0.0.1:{}/mysql", self.port),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command for `program`, run as the postgres user when the test runs as root.
    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Makes the data directory.
    fn init(&mut self) {
        let data = self.data();
        let mut command = match &self.binaries {
            Binaries::Postgres { bin } => {
                let mut command = self.command(&bin.join("initdb"));
                command
                    .arg("-D")
                    .arg(&data)
                    .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
                    // The data directory is thrown away after the test: syncing it to disk
                    // once made would only cost time. The server itself syncs as usual.
                    .arg("--no-sync");
                command
            }
            Binaries::MariaDb { install, .. } => {
                let mut command = Command::new(install);
                // `--no-defaults` first: the machine's my.cnf names its own log and
                // socket, which belong to the shared server.
                command
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
                if running_as_root() {
                    command.arg("--user=root");
                }
                command
            }
        };
        run(
            &mut command,
            &format!("making the {} data directory", self.kind),
        );
    }

    /// Starts the server on its port and data directory and waits until it accepts
    /// connections.
    ///
    /// # Panics
    ///
    /// When it does not start within 60 seconds.
    pub(crate) fn start(&mut self) {
        let data = self.data();
        let log = self.log();
        match &self.binaries {
            Binaries::Postgres { bin } => {
                let mut command = self.command(&bin.join("pg_ctl"));
                command
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(&log)
                    .args(["-w", "-t", "60", "-o"])
                    .arg(format!(
                        "-p {} -k {} -c listen_addresses=127.0.0.1",
                        self.port,
                        self.dir.path().display()
                    ))
                    .arg("start");
                run(&mut command, "starting PostgreSQL");
            }
            Binaries::MariaDb { server, .. } => {
                let mut command = Command::new(server);
                command
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!(
                        "--socket={}",
                        self.dir.path().join("mysqld.sock").display()
                    ))
                    .arg(format!(
                        "--pid-file={}",
                        self.dir.path().join("mysqld.pid").display()
                    ))
                    .arg(format!("--log-error={}", log.display()))
                    .arg(format!("--port={}", self.port))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--skip-name-resolve",
                        "--innodb-buffer-pool-size=32M",
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if running_as_root() {
                    command.arg("--user=root");
                }
                self.child = Some(command.spawn().expect("mariadbd starts"));
                self.wait_until_listening();
            }
        }
    }

    /// Waits for MariaDB to accept connections (a port that answers the handshake).
    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "{} exited at start ({status}); its log:\n{}",
                    self.kind,
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen within 60 s; its log:\n{}",
                self.kind,
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server as an operator's restart does: PostgreSQL's fast shutdown (open
    /// transactions rolled back, sessions ended, a checkpoint), MariaDB's normal shutdown
    /// on SIGTERM (which also ends the sessions without waiting for them). Returns when
    /// the server is gone.
    pub(crate) fn stop(&mut self) {
        match &self.binaries {
            Binaries::Postgres { bin } => {
                let mut command = self.command(&bin.join("pg_ctl"));
                command
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", "fast", "-w", "-t", "60", "stop"]);
                run(&mut command, "stopping PostgreSQL");
            }
            Binaries::MariaDb { .. } => {
                let mut child = self.child.take().expect("MariaDB is running");
                signal("TERM", child.id());
                let status = child.wait().expect("mariadbd's exit");
                assert!(status.success(), "mariadbd stopped with {status}");
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &self.binaries {
            Binaries::Postgres { bin } => {
                // An immediate stop: the data directory goes next anyway.
                let mut command = self.command(&bin.join("pg_ctl"));
                command
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", "immediate", "-w", "stop"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                let stopped = command.status().is_ok_and(|s| s.success());
                // pg_ctl says no when the server is already stopped (the test panicked
                // between stop and start); a postmaster it could not stop is killed.
                if !stopped
                    && let Ok(pid) = std::fs::read_to_string(self.data().join("postmaster.pid"))
                    && let Some(pid) = pid.lines().next().and_then(|l| l.trim().parse().ok())
                {
                    signal("KILL", pid);
                }
            }
            Binaries::MariaDb { .. } => {
                if let Some(mut child) = self.child.take() {
                    // Killed rather than stopped: nothing of it is kept.
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

/// Says that `kind`'s binaries are missing: in CI the test fails, as the other server
/// tests do when their server is not configured (`account_store_sqlx::testing`);
/// elsewhere the reason goes to the standard error (through the handle, which libtest
/// does not capture) and the test skips.
fn missing(kind: Kind, reason: &str) {
    assert!(
        !account_store_sqlx::testing::ci_requires_servers(),
        "the {kind} restart test cannot run: {reason}, and {}=true: a CI run must not skip \
         it. Install the {kind} server package, or run without {}=true to skip it",
        account_store_sqlx::testing::CI_VAR,
        account_store_sqlx::testing::CI_VAR,
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "note: the {kind} restart test is skipped: {reason}"
    );
}

/// Runs `command` to its end; panics with its output unless it succeeded.
fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {command:?} could not run: {e}"));
    assert!(
        output.status.success(),
        "{what}: {command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends a signal to a process through kill(1): the standard library only sends SIGKILL,
/// and this crate forbids the unsafe code a direct call would need.
fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The postgres user's uid and gid.
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id(1) runs");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the test runs as root but there is no postgres user"))
    };
    (id("-u"), id("-g"))
}

/// A port nothing listens on now. Another process could take it before the server does;
/// on a loopback address of a test machine that is rare enough.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The newest installed PostgreSQL's binary directory.
fn postgres_bin() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    // Debian and Ubuntu keep each major version apart, out of PATH.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(bin) = from_pg_config.filter(|b| has_tools(b)) {
        return Some(bin);
    }
    find_program(&["initdb"], &[])
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|b| has_tools(b))
}

/// The first of `names` found in PATH or else in `dirs`.
fn find_program(names: &[&str], dirs: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut search: Vec<PathBuf> = std::env::split_paths(&path).collect();
    search.extend(dirs.iter().map(PathBuf::from));
    names
        .iter()
        .flat_map(|name| search.iter().map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}
