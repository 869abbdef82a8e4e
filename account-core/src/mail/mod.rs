//! Mail: typed messages, plain-text rendering, and the mailers that send them.
//!
//! Services describe what happened with a [`Message`], render it for one recipient with
//! [`Mail::new`] and hand the [`Mail`] to a [`Mailer`]. Three mailers come with the
//! crate:
//!
//! - [`FileOutbox`] writes one `.eml` file per message into a directory: the starter's
//!   default, so that mail works with no configuration at all;
//! - `SmtpMailer` (crate feature `smtp`) sends through an SMTP server with lettre;
//! - [`MemoryMailer`] keeps messages in memory, for tests.
//!
//! A failed notification must never fail the action that sent it: a password change has
//! happened whether or not the notice about it went out. [`send_or_log`] is the helper
//! for that rule.

pub mod memory;
pub mod message;
pub mod outbox;
#[cfg(feature = "smtp")]
pub mod smtp;

pub use memory::MemoryMailer;
pub use message::{LinkPaths, Mail, MailContext, Message};
pub use outbox::FileOutbox;
#[cfg(feature = "smtp")]
pub use smtp::SmtpMailer;

use lettre::message::header::{self, ContentTransferEncoding};
use lettre::message::{Body, Mailbox};
use uuid::Uuid;

/// Sending a mail failed.
///
/// The message says what went wrong (an I/O error, an SMTP reply) and never holds the
/// text of the mail, which may carry a secret link.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(String);

impl MailError {
    /// An error with the given description, which must not contain the mail's text.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Something that delivers rendered mail.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers `mail` to its recipient.
    ///
    /// # Errors
    ///
    /// A [`MailError`] when the mail could not be handed on. Callers sending a
    /// notification should log it and carry on (see [`send_or_log`]).
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Sends `mail` and logs a failure instead of returning it.
///
/// For notifications, which must never fail the action that sent them. The log line
/// names the kind of message and the recipient masked, never the text.
pub async fn send_or_log(mailer: &dyn Mailer, mail: &Mail) {
    if let Err(error) = mailer.send(mail).await {
        tracing::warn!(
            kind = mail.message.kind(),
            to = %mail.to.masked(),
            %error,
            "a mail could not be sent"
        );
    }
}

/// The mail as an RFC 5322 message: `From`, `To`, `Subject`, `Date`, `Message-ID`,
/// `MIME-Version`, and a `text/plain; charset=utf-8` body.
///
/// The body is sent as it is, without quoted-printable or base64 encoding, whenever the
/// rules allow (lines up to 998 bytes): `7bit` when it is ASCII, `8bit` otherwise. A
/// reader of the raw file can then copy a link straight out of it.
///
/// # Errors
///
/// A [`MailError`] when lettre refuses the recipient address.
pub fn to_rfc5322(mail: &Mail, from: &Mailbox) -> Result<Vec<u8>, MailError> {
    Ok(build_message(mail, from, Uuid::now_v7(), true)?.formatted())
}

/// Builds the lettre message for `mail`, with `id` in its `Message-ID`.
///
/// With `allow_8bit` off, a body that is not ASCII is quoted-printable encoded instead of
/// sent as `8bit`: an SMTP server that does not announce 8BITMIME would refuse it, and
/// there is no way to know before connecting.
fn build_message(
    mail: &Mail,
    from: &Mailbox,
    id: Uuid,
    allow_8bit: bool,
) -> Result<lettre::Message, MailError> {
    let to: lettre::Address = mail.to.as_str().parse().map_err(|_| {
        MailError::new(format!(
            "the mail builder refused the recipient address {}",
            mail.to.masked()
        ))
    })?;
    lettre::Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(mail.subject())
        .date_now()
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .header(header::MIME_VERSION_1_0)
        .header(header::ContentType::TEXT_PLAIN)
        .body(plain_body(mail.text(), allow_8bit))
        .map_err(|e| MailError::new(format!("the mail could not be built: {e}")))
}

/// The longest line RFC 5322 (§2.1.1) allows, without its CRLF.
const MAX_LINE: usize = 998;

/// The body, unencoded when the transfer rules allow it.
///
/// lettre's own choice quoted-printable encodes any line of 76 characters or more, which
/// would break every link across lines; the limit for an unencoded body is 998 bytes.
fn plain_body(text: &str, allow_8bit: bool) -> Body {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines_ok = normalized
        .split('\n')
        .all(|line| line.len() <= MAX_LINE && !line.contains('\0'));
    let crlf = normalized.replace('\n', "\r\n");
    if lines_ok && crlf.is_ascii() {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else if lines_ok && allow_8bit {
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        // lettre picks quoted-printable or base64, which are always valid.
        Body::new(normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, Username};
    use crate::random::OsRandom;
    use crate::token::OpaqueToken;

    pub(super) fn sample(product: &str) -> (Mail, String) {
        let ctx = MailContext::new(
            url::Url::parse("https://accounts.example.com/").expect("valid URL"),
            product,
        );
        let token = OpaqueToken::generate(&OsRandom);
        let mail = Mail::new(
            EmailAddress::parse("Alice@Example.com").expect("valid"),
            Message::PasswordReset {
                username: Username::parse("alice").expect("valid"),
                token,
                valid_for_minutes: 30,
            },
            &ctx,
        );
        let link = mail.link().expect("a reset link").to_string();
        (mail, link)
    }

    fn from() -> Mailbox {
        "Example <noreply@example.com>"
            .parse()
            .expect("valid mailbox")
    }

    fn split(raw: &[u8]) -> (String, String) {
        let raw = String::from_utf8(raw.to_vec()).expect("UTF-8");
        let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
        (head.to_owned(), body.to_owned())
    }

    #[test]
    fn rfc5322_has_the_headers_and_an_unencoded_body() {
        let (mail, link) = sample("Example");
        let (head, body) = split(&to_rfc5322(&mail, &from()).expect("builds"));
        for expected in [
            "From: Example <noreply@example.com>",
            "To: Alice@example.com",
            "Subject: Example: reset your password",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 7bit",
            "MIME-Version: 1.0",
        ] {
            assert!(head.lines().any(|l| l == expected), "{expected}\n{head}");
        }
        assert!(head.lines().any(|l| l.starts_with("Date: ")), "{head}");
        assert!(
            head.lines()
                .any(|l| l.starts_with("Message-ID: <") && l.ends_with("@example.com>")),
            "{head}"
        );
        assert!(body.contains(&link), "{body}");
        assert!(!body.contains('\n') || body.contains("\r\n"));
        assert!(body.split("\r\n").all(|l| !l.contains('\n')));
    }

    #[test]
    fn non_ascii_bodies_are_8bit_for_files_and_quoted_printable_for_smtp() {
        let (mail, link) = sample("Café");
        let (head, body) = split(&to_rfc5322(&mail, &from()).expect("builds"));
        assert!(head.contains("Content-Transfer-Encoding: 8bit"), "{head}");
        assert!(body.contains("Café") && body.contains(&link));

        let smtp = build_message(&mail, &from(), Uuid::now_v7(), false)
            .expect("builds")
            .formatted();
        let (head, _) = split(&smtp);
        assert!(
            head.contains("Content-Transfer-Encoding: quoted-printable"),
            "{head}"
        );
        assert!(smtp.is_ascii());
    }

    #[test]
    fn overlong_lines_fall_back_to_an_encoding() {
        let body = plain_body(&"x".repeat(2000), true);
        assert_ne!(body.encoding(), ContentTransferEncoding::SevenBit);
        assert_ne!(body.encoding(), ContentTransferEncoding::EightBit);
        let body = plain_body("short\nlines\n", true);
        assert_eq!(body.encoding(), ContentTransferEncoding::SevenBit);
        assert_eq!(body.as_ref(), b"short\r\nlines\r\n");
    }

    #[tokio::test]
    async fn send_or_log_swallows_failures() {
        let (mail, _) = sample("Example");
        send_or_log(&MemoryMailer::failing(), &mail).await;
        let ok = MemoryMailer::new();
        send_or_log(&ok, &mail).await;
        assert_eq!(ok.sent().len(), 1);
    }

    #[test]
    fn errors_show_their_message() {
        assert_eq!(MailError::new("boom").to_string(), "boom");
    }
}
