//! A mailer that writes each message as an `.eml` file into a directory.
//!
//! This is the starter's default: mail works with no mail server, and a developer opens
//! the file (or copies the link out of it) by hand. The files hold live reset and
//! verification links, so on Unix they are readable by their owner only.

use std::path::{Path, PathBuf};

use chrono::Utc;
use lettre::message::Mailbox;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{Mail, MailError, Mailer, build_message};

/// A mailer that writes one `.eml` file per message into a directory.
///
/// Files are named `<UTC time>-<UUID v7>-<kind>.eml` (for example
/// `20260101T000000Z-0194…-password_reset.eml`), so that they sort by time, never collide
/// and say what they are. Each file appears whole or not at all: it is written under a
/// temporary name in the same directory and then renamed.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
    from: Mailbox,
}

impl FileOutbox {
    /// An outbox writing into `dir`, which is created at the first message if missing,
    /// with `from` as the sender of every message.
    pub fn new(dir: impl Into<PathBuf>, from: Mailbox) -> Self {
        Self {
            dir: dir.into(),
            from,
        }
    }

    /// The directory the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io_error(&self, doing: &str, error: &std::io::Error) -> MailError {
        MailError::new(format!(
            "the outbox could not {doing} in {}: {error}",
            self.dir.display()
        ))
    }
}

#[async_trait::async_trait]
impl Mailer for FileOutbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let id = Uuid::now_v7();
        let raw = Zeroizing::new(build_message(mail, &self.from, id, true)?.formatted());

        create_dir(&self.dir)
            .await
            .map_err(|e| self.io_error("create the directory", &e))?;

        let name = format!(
            "{}-{id}-{}.eml",
            Utc::now().format("%Y%m%dT%H%M%SZ"),
            mail.message.kind()
        );
        let path = self.dir.join(&name);
        // A leading dot and another extension keep readers that look for `*.eml` away
        // from a file that is still being written.
        let temp = self.dir.join(format!(".{name}.tmp"));

        if let Err(e) = write_new_file(&temp, raw).await {
            // Best effort: a half-written temporary file is useless to anyone.
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(self.io_error("write a message", &e));
        }
        if let Err(e) = tokio::fs::rename(&temp, &path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(self.io_error("move a message into place", &e));
        }

        // The path and the masked recipient only: the file holds the link, the log does not.
        tracing::info!(
            path = %path.display(),
            to = %mail.to.masked(),
            kind = mail.message.kind(),
            "mail written to the outbox"
        );
        Ok(())
    }
}

/// Creates `dir` and its parents if missing; on Unix, new directories are private to
/// their owner.
async fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

/// Writes `bytes` into a file that must not exist yet, and flushes it to disk.
///
/// On Unix the file is created readable by its owner only, before anything is written
/// into it.
async fn write_new_file(path: &Path, bytes: Zeroizing<Vec<u8>>) -> std::io::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let file = options.open(path).await?.into_std().await;
    // The write and the flush are blocking calls; they run together on the blocking pool.
    tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut file = file;
        file.write_all(&bytes)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::sample;

    fn from() -> Mailbox {
        "Example <noreply@example.com>"
            .parse()
            .expect("valid mailbox")
    }

    fn eml_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("the outbox exists")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        files
    }

    #[tokio::test]
    async fn writes_one_readable_eml_file_per_message() {
        let tmp = tempfile::TempDir::new().expect("a temporary directory");
        let outbox = FileOutbox::new(tmp.path(), from());
        assert_eq!(outbox.dir(), tmp.path());
        let (mail, link) = sample("Example");
        outbox.send(&mail).await.expect("written");
        outbox.send(&mail).await.expect("written");

        let files = eml_files(tmp.path());
        assert_eq!(files.len(), 2, "{files:?}");
        for file in &files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name");
            assert!(name.ends_with("-password_reset.eml"), "{name}");
            let (stamp, rest) = name.split_once('-').expect("a timestamp");
            assert_eq!(stamp.len(), 16, "{stamp}");
            assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
            assert_eq!(stamp.as_bytes()[8], b'T');
            let id = &rest[..36];
            let id = Uuid::parse_str(id).expect("a UUID after the timestamp");
            assert_eq!(id.get_version_num(), 7);

            let raw = std::fs::read_to_string(file).expect("UTF-8 text");
            let (head, body) = raw.split_once("\r\n\r\n").expect("headers, then a body");
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                    .map(str::to_owned)
            };
            assert_eq!(
                header("From").as_deref(),
                Some("Example <noreply@example.com>")
            );
            assert_eq!(header("To").as_deref(), Some("Alice@example.com"));
            assert_eq!(
                header("Subject").as_deref(),
                Some("Example: reset your password")
            );
            assert!(header("Date").is_some());
            assert_eq!(
                header("Message-ID"),
                Some(format!("<{id}@example.com>")),
                "the file name and the Message-ID share the UUID"
            );
            assert_eq!(header("Content-Transfer-Encoding").as_deref(), Some("7bit"));
            // The link can be copied straight out of the file.
            assert!(body.lines().any(|l| l == link), "{body}");

            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(file)
                    .expect("metadata")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "readable by the owner only: {mode:o}");
            }
        }
    }

    #[tokio::test]
    async fn creates_the_directory_if_missing() {
        let tmp = tempfile::TempDir::new().expect("a temporary directory");
        let dir = tmp.path().join("data").join("outbox");
        let outbox = FileOutbox::new(&dir, from());
        let (mail, _) = sample("Example");
        outbox.send(&mail).await.expect("written");
        let files = eml_files(&dir);
        assert_eq!(
            files.len(),
            1,
            "no temporary file is left behind: {files:?}"
        );
    }

    #[tokio::test]
    async fn an_unwritable_outbox_fails_without_the_text() {
        let tmp = tempfile::TempDir::new().expect("a temporary directory");
        // A file where the directory should be.
        let blocker = tmp.path().join("outbox");
        std::fs::write(&blocker, b"not a directory").expect("written");
        let outbox = FileOutbox::new(&blocker, from());
        let (mail, link) = sample("Example");
        let err = outbox.send(&mail).await.expect_err("fails");
        let text = err.to_string();
        assert!(text.contains("outbox"), "{text}");
        assert!(!text.contains(&link), "{text}");
        assert!(!text.contains(mail.text()), "{text}");
    }
}
