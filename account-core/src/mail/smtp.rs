//! A mailer that sends through an SMTP server with lettre (crate feature `smtp`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
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
    /// The TLS the URL asked for, kept so that root certificates can be added to it
    /// later; `None` for a URL without TLS and for a hand-built transport.
    url_tls: Option<UrlTls>,
    /// The root certificates trusted besides the built-in ones, in the order given.
    roots: Vec<Certificate>,
    /// Whether the transport came from [`SmtpMailer::from_builder`], which has TLS
    /// parameters of its own.
    hand_built: bool,
}

/// How a URL asked for TLS, and the host name the server's certificate must name.
#[derive(Debug, Clone)]
struct UrlTls {
    mode: TlsMode,
    host: String,
}

/// lettre's three kinds of TLS, as the URL forms name them.
#[derive(Debug, Clone, Copy)]
enum TlsMode {
    /// `smtp://host?tls=required`: STARTTLS, and no mail when it fails.
    Required,
    /// `smtp://host?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic,
    /// `smtps://host`: TLS from the first byte.
    Wrapper,
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from`.
    ///
    /// The URL forms are lettre's: `smtp://host:port` (no TLS; port 25 by default),
    /// `smtp://host?tls=required` and `smtp://host?tls=opportunistic` (STARTTLS; port 587
    /// by default), and `smtps://host` (TLS from the start; port 465 by default).
    /// Credentials go in the URL, percent-encoded: `smtps://user:p%40ss@mail.example.com`.
    /// `tls=opportunistic` sends in plain text, password included, when the server's
    /// greeting offers no STARTTLS, which anyone between the two can arrange; `required`
    /// sends nothing then.
    ///
    /// The server's certificate must be issued for `host` by one of the Mozilla roots
    /// built into the crate (webpki-roots); for a server whose certificate a private CA
    /// issued, add that CA with [`SmtpMailer::with_root_certificates`].
    ///
    /// # Errors
    ///
    /// A [`MailError`] when the URL is not one of these forms. The error never repeats the
    /// URL's password.
    pub fn from_url(url: &str, from: Mailbox) -> Result<Self, MailError> {
        let parsed =
            url::Url::parse(url).map_err(|e| MailError::new(format!("invalid SMTP URL: {e}")))?;
        let server = redact(parsed.clone());
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::new(format!("invalid SMTP URL {server}: {e}")))?;
        let mut mailer = Self::new(builder, from, server);
        mailer.url_tls = url_tls(&parsed);
        Ok(mailer)
    }

    /// A mailer with a transport configured by hand with lettre's builder, for what the
    /// URL cannot say (timeouts, pool sizes, authentication mechanisms, a plain-text
    /// connection to a host other than `localhost` with
    /// `AsyncSmtpTransport::builder_dangerous`). Root certificates for such a transport
    /// go in its own `TlsParameters` (`TlsParametersBuilder::add_root_certificate`).
    pub fn from_builder(builder: AsyncSmtpTransportBuilder, from: Mailbox) -> Self {
        let mut mailer = Self::new(builder, from, "a hand-built SMTP transport".to_owned());
        mailer.hand_built = true;
        mailer
    }

    /// The same mailer, also trusting the root certificates in `pem` for the server's
    /// certificate: for a server whose certificate a company's own CA issued, or a test
    /// server's. `pem` is the text of a CA file, one or more `-----BEGIN CERTIFICATE-----`
    /// blocks; they are trusted besides the built-in roots, not instead of them. The
    /// server's certificate must still name the URL's host, and the URL's TLS mode
    /// (`tls=required`, `tls=opportunistic`, `smtps`) and everything else it says are
    /// kept. Calling it again adds more roots.
    ///
    /// ```
    /// # use account_core::mail::SmtpMailer;
    /// # fn run(ca_file: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    /// let mailer = SmtpMailer::from_url(
    ///     "smtp://mailer:p%40ss@mail.internal.example?tls=required",
    ///     "Example <noreply@example.com>".parse()?,
    /// )?
    /// .with_root_certificates(&std::fs::read(ca_file)?)?;
    /// # let _ = mailer; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`MailError`] when `pem` holds no certificate or one that cannot be read, and
    /// when the mailer does not use TLS from its URL: a plain `smtp://` URL, where a
    /// root certificate would never be checked, or a hand-built transport.
    pub fn with_root_certificates(mut self, pem: &[u8]) -> Result<Self, MailError> {
        let Some(tls) = &self.url_tls else {
            return Err(MailError::new(if self.hand_built {
                "a hand-built SMTP transport takes its root certificates in its own \
                 TlsParameters (TlsParametersBuilder::add_root_certificate)"
                    .to_owned()
            } else {
                format!(
                    "{} asks for no TLS (use smtps://, or smtp:// with ?tls=required), so \
                     a root certificate would never be checked",
                    self.server
                )
            }));
        };
        let marker = b"-----BEGIN CERTIFICATE-----";
        if !pem.windows(marker.len()).any(|w| w == marker) {
            return Err(MailError::new(format!(
                "the root certificates for {} hold no PEM certificate \
                 (-----BEGIN CERTIFICATE-----)",
                self.server
            )));
        }
        let root = Certificate::from_pem(pem).map_err(|e| {
            MailError::new(format!(
                "the root certificates for {} cannot be read: {e}",
                self.server
            ))
        })?;
        self.roots.push(root);
        let params = self
            .roots
            .iter()
            .fold(TlsParameters::builder(tls.host.clone()), |b, root| {
                b.add_root_certificate(root.clone())
            })
            .build()
            .map_err(|e| {
                MailError::new(format!(
                    "the root certificates for {} cannot be used: {e}",
                    self.server
                ))
            })?;
        self.builder = self.builder.tls(match tls.mode {
            TlsMode::Required => Tls::Required(params),
            TlsMode::Opportunistic => Tls::Opportunistic(params),
            TlsMode::Wrapper => Tls::Wrapper(params),
        });
        // A clone that has sent already keeps its pool; this mailer starts its own.
        self.transport = Arc::new(OnceLock::new());
        Ok(self)
    }

    fn new(builder: AsyncSmtpTransportBuilder, from: Mailbox, server: String) -> Self {
        Self {
            builder,
            transport: Arc::new(OnceLock::new()),
            from,
            server,
            url_tls: None,
            roots: Vec::new(),
            hand_built: false,
        }
    }

    fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }
}

/// The TLS a URL asks for, read as lettre reads it (`from_connection_url`).
fn url_tls(url: &url::Url) -> Option<UrlTls> {
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let mode = match (url.scheme(), tls.as_deref()) {
        ("smtp", Some("required")) => TlsMode::Required,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtps", _) => TlsMode::Wrapper,
        _ => return None,
    };
    Some(UrlTls {
        mode,
        host: url.host_str()?.to_owned(),
    })
}

/// `url` without its user name and password.
fn redact(mut url: url::Url) -> String {
    // Both fail only for URLs that cannot have credentials, which then have none to hide.
    let _ = url.set_password(None);
    let _ = url.set_username("");
    url.to_string()
}

/// What an SMTP reply means, for the one a person most often causes and can fix at
/// once; servers word it differently (Postfix: "authentication failed"), the code is the
/// same.
fn meaning(error: &lettre::transport::smtp::Error) -> &'static str {
    match error.status() {
        Some(code) if code.to_string() == "535" => {
            " (the server refused the user name or password)"
        }
        _ => "",
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from)
            .field("added_root_certificates", &self.roots.len())
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
                "sending to {} through {} failed: {e}{}",
                mail.to.masked(),
                self.server,
                meaning(&e)
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

// Sending is tested against a real SMTP server (aiosmtpd with STARTTLS and AUTH) in
// `tests/smtp.rs`; what stays here needs no server.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::mail::tests::sample;

    fn from() -> Mailbox {
        "Example <noreply@example.com>"
            .parse()
            .expect("valid mailbox")
    }

    /// A CA certificate in PEM, as a company's CA file holds it.
    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).expect("a certificate").pem()
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
            .expect("valid URL")
            .with_root_certificates(ca_pem().as_bytes())
            .expect("a root certificate");
        let shown = format!("{mailer:?} {mailer:#?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(!shown.contains("mailer:"), "{shown}");
        assert!(shown.contains("mail.example.com"), "{shown}");
        assert!(shown.contains("added_root_certificates: 1"), "{shown}");

        let err = SmtpMailer::from_url("ftp://mailer:s3cr3t-pw@mail.example.com", from())
            .expect_err("not an SMTP URL");
        assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
        let err = SmtpMailer::from_url("not a url", from()).expect_err("not a URL");
        assert!(err.to_string().contains("invalid SMTP URL"), "{err}");
        let err = SmtpMailer::from_url("smtp://mailer:s3cr3t-pw@mail.example.com", from())
            .expect("valid URL")
            .with_root_certificates(ca_pem().as_bytes())
            .expect_err("no TLS");
        assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
    }

    /// A root certificate matters only where the URL asks for TLS; elsewhere it would be
    /// ignored without a word, so it is refused, saying how to ask for TLS.
    #[test]
    fn a_root_certificate_needs_a_url_with_tls() {
        let pem = ca_pem();
        for url in [
            "smtp://mail.example.com?tls=required",
            "smtp://mail.example.com:2525?tls=opportunistic",
            "smtps://mail.example.com",
        ] {
            let mailer = SmtpMailer::from_url(url, from()).expect("valid URL");
            let mailer = mailer
                .with_root_certificates(pem.as_bytes())
                .and_then(|m| m.with_root_certificates(pem.as_bytes()))
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(mailer.roots.len(), 2, "{url}");
        }

        let plain = SmtpMailer::from_url("smtp://mail.example.com", from()).expect("valid URL");
        let err = plain
            .with_root_certificates(pem.as_bytes())
            .expect_err("no TLS to check it");
        assert!(err.to_string().contains("tls=required"), "{err}");

        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::relay("mail.example.com").expect("a relay");
        let err = SmtpMailer::from_builder(builder, from())
            .with_root_certificates(pem.as_bytes())
            .expect_err("a hand-built transport has its own TLS parameters");
        assert!(err.to_string().contains("hand-built"), "{err}");
    }

    /// A CA file that is empty, is not PEM, or holds something that is not a certificate
    /// is refused when the mailer is made, not at the first mail.
    #[test]
    fn root_certificates_that_cannot_be_read_are_refused() {
        let url = "smtp://mail.example.com?tls=required";
        for (what, pem) in [
            ("empty", String::new()),
            ("not PEM", "just some text".to_owned()),
            (
                "a key",
                rcgen::KeyPair::generate().expect("a key").serialize_pem(),
            ),
            (
                "broken base64",
                "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_owned(),
            ),
            (
                "not a certificate inside",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            ),
        ] {
            let err = SmtpMailer::from_url(url, from())
                .expect("valid URL")
                .with_root_certificates(pem.as_bytes())
                .expect_err(what);
            let text = err.to_string();
            assert!(text.contains("root certificates"), "{what}: {text}");
            assert!(text.contains("mail.example.com"), "{what}: {text}");
        }
    }
}
