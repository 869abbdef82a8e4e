//! A mailer that sends through an SMTP server with lettre (crate feature `smtp`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use uuid::Uuid;

use super::{Mail, MailError, Mailer, build_message};

/// A mailer that sends through an SMTP server.
///
/// The connection pool is built at the first send rather than at construction, because
/// lettre's pool starts a background task and so needs a running Tokio runtime; a
/// mailer can therefore be configured before the runtime starts. Clones share the pool.
///
/// `Debug` shows the server without the credentials of its URL.
#[derive(Clone)]
pub struct SmtpMailer {
    builder: AsyncSmtpTransportBuilder,
    transport: Arc<OnceLock<AsyncSmtpTransport<Tokio1Executor>>>,
    from: Mailbox,
    /// The server URL without user name and password, for `Debug` and errors.
    server: String,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from`.
    ///
    /// The URL forms are lettre's: `smtp://host:port` (no TLS; port 25 by default),
    /// `smtp://host?tls=required` and `smtp://host?tls=opportunistic` (STARTTLS; port 587
    /// by default), and `smtps://host` (TLS from the start; port 465 by default).
    /// Credentials go in the URL, percent-encoded: `smtps://user:p%40ss@mail.example.com`.
    ///
    /// # Errors
    ///
    /// A [`MailError`] when the URL is not one of these forms. The error never repeats the
    /// URL's password.
    pub fn from_url(url: &str, from: Mailbox) -> Result<Self, MailError> {
        let server = redact(url)?;
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::new(format!("invalid SMTP URL {server}: {e}")))?;
        Ok(Self::new(builder, from, server))
    }

    /// A mailer with a transport configured by hand with lettre's builder, for what the
    /// URL cannot say (timeouts, pool sizes, authentication mechanisms, a plain-text
    /// connection to a host other than `localhost` with
    /// `AsyncSmtpTransport::builder_dangerous`).
    pub fn from_builder(builder: AsyncSmtpTransportBuilder, from: Mailbox) -> Self {
        Self::new(builder, from, "a hand-built SMTP transport".to_owned())
    }

    fn new(builder: AsyncSmtpTransportBuilder, from: Mailbox, server: String) -> Self {
        Self {
            builder,
            transport: Arc::new(OnceLock::new()),
            from,
            server,
        }
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }
}

/// `url` without its user name and password.
fn redact(url: &str) -> Result<String, MailError> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| MailError::new(format!("invalid SMTP URL: {e}")))?;
    // Both fail only for URLs that cannot have credentials, which then have none to hide.
    let _ = parsed.set_password(None);
    let _ = parsed.set_username("");
    Ok(parsed.to_string())
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        // Quoted-printable for a body that is not ASCII: the server may lack 8BITMIME.
        let message = build_message(mail, &self.from, Uuid::now_v7(), false)?;
        self.transport().send(message).await.map_err(|e| {
            MailError::new(format!(
                "sending to {} through {} failed: {e}",
                mail.to.masked(),
                self.server
            ))
        })?;
        tracing::info!(
            to = %mail.to.masked(),
            kind = mail.message.kind(),
            "mail sent over SMTP"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::time::Duration;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;
    use crate::mail::tests::sample;

    fn from() -> Mailbox {
        "Example <noreply@example.com>"
            .parse()
            .expect("valid mailbox")
    }

    // The sink uses the readiness API of `TcpStream` only, which needs no Tokio feature
    // beyond `net` (enabled by lettre's SMTP transport).

    async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            stream.writable().await?;
            match stream.try_write(buf) {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads one CRLF-terminated line, without the CRLF; `None` at end of stream.
    async fn read_line(stream: &TcpStream, pending: &mut Vec<u8>) -> io::Result<Option<String>> {
        loop {
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = pending.drain(..i + 2).take(i).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            stream.readable().await?;
            let mut buf = [0u8; 4096];
            match stream.try_read(&mut buf) {
                Ok(0) => return Ok(None),
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The server side of one SMTP session, sending each message's DATA to `out`.
    async fn session(stream: TcpStream, out: mpsc::UnboundedSender<String>) -> io::Result<()> {
        let mut pending = Vec::new();
        write_all(&stream, b"220 sink.test ESMTP\r\n").await?;
        while let Some(line) = read_line(&stream, &mut pending).await? {
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" | "HELO" => write_all(&stream, b"250 sink.test\r\n").await?,
                "MAIL" | "RCPT" | "RSET" | "NOOP" => write_all(&stream, b"250 OK\r\n").await?,
                "DATA" => {
                    write_all(&stream, b"354 go ahead\r\n").await?;
                    let mut data = String::new();
                    while let Some(line) = read_line(&stream, &mut pending).await? {
                        if line == "." {
                            break;
                        }
                        // Undo the client's dot-stuffing.
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        data.push_str("\r\n");
                    }
                    let _ = out.send(data);
                    write_all(&stream, b"250 queued\r\n").await?;
                }
                "QUIT" => {
                    write_all(&stream, b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write_all(&stream, b"502 not implemented\r\n").await?,
            }
        }
        Ok(())
    }

    /// A minimal SMTP server on a free local port: its port and the messages it received.
    async fn sink() -> (u16, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let port = listener.local_addr().expect("an address").port();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, tx.clone()));
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn sends_through_a_real_smtp_conversation() {
        let (port, mut received) = sink().await;
        let mailer =
            SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), from()).expect("valid URL");
        let (mail, link) = sample("Example");
        mailer.send(&mail).await.expect("sent");

        let data = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the sink received the message in time")
            .expect("a message");
        let (head, body) = data.split_once("\r\n\r\n").expect("headers, then a body");
        assert!(
            head.lines()
                .any(|l| l == "Subject: Example: reset your password"),
            "{head}"
        );
        assert!(head.lines().any(|l| l == "To: Alice@example.com"), "{head}");
        assert!(
            head.lines()
                .any(|l| l == "From: Example <noreply@example.com>"),
            "{head}"
        );
        assert!(body.lines().any(|l| l == link), "{body}");

        // A second message goes through the same (pooled) transport.
        mailer.send(&mail).await.expect("sent again");
        let again = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("in time");
        assert!(again.is_some());
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_without_the_text() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
            listener.local_addr().expect("an address").port()
        };
        let mailer =
            SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}"), from()).expect("valid URL");
        let (mail, link) = sample("Example");
        let err = tokio::time::timeout(Duration::from_secs(30), mailer.send(&mail))
            .await
            .expect("fails in time")
            .expect_err("nothing listens");
        let text = err.to_string();
        assert!(!text.contains(&link), "{text}");
        assert!(!text.contains(mail.text()), "{text}");
        assert!(!text.contains("reset your password"), "{text}");
        assert!(text.contains("A***@example.com"), "{text}");
    }

    #[test]
    fn debug_and_errors_hide_the_url_credentials() {
        // Built outside any runtime: nothing is started before the first send.
        let mailer = SmtpMailer::from_url("smtps://mailer:s3cr3t-pw@mail.example.com", from())
            .expect("valid URL");
        let shown = format!("{mailer:?} {mailer:#?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(!shown.contains("mailer:"), "{shown}");
        assert!(shown.contains("mail.example.com"), "{shown}");

        let err = SmtpMailer::from_url("ftp://mailer:s3cr3t-pw@mail.example.com", from())
            .expect_err("not an SMTP URL");
        assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
        let err = SmtpMailer::from_url("not a url", from()).expect_err("not a URL");
        assert!(err.to_string().contains("invalid SMTP URL"), "{err}");
    }

    #[tokio::test]
    async fn a_hand_built_transport_works_too() {
        let (port, mut received) = sink().await;
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .timeout(Some(Duration::from_secs(5)));
        let mailer = SmtpMailer::from_builder(builder, from());
        let (mail, link) = sample("Example");
        mailer.send(&mail).await.expect("sent");
        let data = received.recv().await.expect("a message");
        assert!(data.contains(&link));
    }
}
