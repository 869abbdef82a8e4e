//! Serving the router so that every refusal is problem+json, hyper's own included.
//!
//! hyper answers some requests before any router sees them: a request head that is not
//! HTTP (control bytes in a header, a broken request line) gets `400`, a head larger than
//! hyper's buffer or with too many fields `431`, a URI too long for it `414`. hyper writes
//! those answers itself, with an empty body, and offers no hook to change them. So the
//! connection's bytes go through [`ProblemAnswers`], which recognises such an answer as
//! hyper writes it and writes a problem+json answer of the same status in its place.
//!
//! The recognition is safe because of what it looks for: a write that is one whole
//! response head with status 400, 414 or 431, `content-length: 0` and no `content-type`.
//! Every answer of this crate's router with those statuses carries a problem+json body
//! (rule M49), so only hyper's own answers match; and hyper closes the connection after
//! one of them, so the longer answer cannot confuse a later request on it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::serve::{Listener, ListenerExt as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{PROBLEM_JSON, Problem};

/// Serves `app` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight and returns.
///
/// This is `axum::serve` with two additions: the handlers see the peer's address as
/// `ConnectInfo<SocketAddr>` (the rate limits and the security log need it), and hyper's
/// own refusals of malformed requests are problem+json like every other refusal (see
/// [`ProblemListener`]). Sockets get `TCP_NODELAY`, so a small answer leaves at once.
///
/// # Errors
///
/// Only what `axum::serve` returns: in practice never, since failed accepts are retried.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Axum's own `tap_io` is also what lets `SocketAddr` be the connection's
    // `ConnectInfo`: axum implements that for the address of any tapped listener.
    let listener = ProblemListener::new(listener).tap_io(|stream| {
        if let Err(e) = stream.get_ref().set_nodelay(true) {
            tracing::trace!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A TCP listener whose connections are [`ProblemAnswers`]: give it to `axum::serve`
/// where you serve the router yourself, or use [`serve`], which does.
#[derive(Debug)]
pub struct ProblemListener {
    inner: TcpListener,
}

impl ProblemListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

impl Listener for ProblemListener {
    type Io = ProblemAnswers<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Axum's own accept loop: it retries, and backs off when out of file descriptors.
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (ProblemAnswers::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection on which hyper's bodiless refusals become problem+json answers.
///
/// Reads pass through untouched; so does every write but one of hyper's own refusals
/// (see the module's documentation for how one is told apart).
#[derive(Debug)]
pub struct ProblemAnswers<T> {
    inner: T,
    /// The answer written in place of hyper's, while it is being written: its bytes, how
    /// many are written, and how many bytes of hyper's to report as written once done.
    replacing: Option<Replacing>,
}

#[derive(Debug)]
struct Replacing {
    bytes: Vec<u8>,
    written: usize,
    reported: usize,
}

impl<T> ProblemAnswers<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            replacing: None,
        }
    }

    /// The connection inside.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncWrite + Unpin> ProblemAnswers<T> {
    /// Writes the replacement until it is all out, then reports hyper's bytes as written.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(replacing) = self.replacing.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while replacing.written < replacing.bytes.len() {
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &replacing.bytes[replacing.written..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            replacing.written += n;
        }
        let reported = replacing.reported;
        self.replacing = None;
        Poll::Ready(Ok(reported))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemAnswers<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemAnswers<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // hyper repeats a write that was pending with the same bytes, so a replacement
        // under way goes on rather than being recognised again.
        if self.replacing.is_none() {
            match problem_for(buf) {
                Some(bytes) => {
                    self.replacing = Some(Replacing {
                        bytes,
                        written: 0,
                        reported: buf.len(),
                    });
                }
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        self.poll_replacement(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.replacing.is_none() {
            // hyper's refusal is a head alone: one slice, or one among empty ones.
            let mut filled = bufs.iter().filter(|b| !b.is_empty());
            let replacement = match (filled.next(), filled.next()) {
                (Some(head), None) => problem_for(head),
                _ => None,
            };
            match replacement {
                Some(bytes) => {
                    self.replacing = Some(Replacing {
                        bytes,
                        written: 0,
                        reported: bufs.iter().map(|b| b.len()).sum(),
                    });
                }
                None => return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
            }
        }
        self.poll_replacement(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.poll_replacement(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.replacing.is_some() {
            ready!(self.poll_replacement(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's refusals: status, code and detail of the problem+json answer in its place.
const REFUSALS: [(u16, &str, &str, &str); 3] = [
    (
        400,
        "Bad Request",
        "malformed_request",
        "the request is not well-formed HTTP",
    ),
    (
        414,
        "URI Too Long",
        "uri_too_long",
        "the request's URI is longer than the server reads",
    ),
    (
        431,
        "Request Header Fields Too Large",
        "headers_too_large",
        "the request's header fields are larger than the server reads",
    ),
];

/// The problem+json answer to write instead of `written`, when `written` is one of
/// hyper's bodiless refusals.
fn problem_for(written: &[u8]) -> Option<Vec<u8>> {
    // Every write passes here, so most leave at this first, cheap look: hyper's refusal
    // is a short head alone, a status line and two or three fields.
    if written.len() > 512 || !written.starts_with(b"HTTP/1.1 4") || !written.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let head = std::str::from_utf8(written).ok()?;
    let fields = head.strip_suffix("\r\n\r\n")?;
    let mut lines = fields.split("\r\n");
    let status_line = lines.next()?;
    let (status, title, code, detail) = REFUSALS.iter().find(|(status, title, ..)| {
        status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.strip_prefix(status.to_string().as_str()))
            .and_then(|rest| rest.strip_prefix(' '))
            == Some(*title)
    })?;
    let mut kept = Vec::new();
    let mut bodiless = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => bodiless = true,
            // Anything with a body or a type is an answer of the application, not hyper's.
            "content-length" | "content-type" | "transfer-encoding" => return None,
            "connection" => {}
            _ => kept.push(line),
        }
    }
    if !bodiless {
        return None;
    }
    let body = serde_json::to_vec(&Problem {
        problem_type: "about:blank".to_owned(),
        title: (*title).to_owned(),
        status: *status,
        detail: (*detail).to_owned(),
        code: (*code).to_owned(),
        reason: None,
        field: None,
        rule: None,
    })
    .ok()?;
    let mut answer = format!("{status_line}\r\n");
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_refusals_become_problems() {
        for (status, title, code) in [
            (400, "Bad Request", "malformed_request"),
            (414, "URI Too Long", "uri_too_long"),
            (431, "Request Header Fields Too Large", "headers_too_large"),
        ] {
            let head = format!(
                "HTTP/1.1 {status} {title}\r\nconnection: close\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\r\n"
            );
            let answer = String::from_utf8(problem_for(head.as_bytes()).unwrap()).unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with(&format!("HTTP/1.1 {status} {title}\r\n")));
            assert!(head.contains("\r\ndate: Tue, 01 Dec 2026 12:00:00 GMT"));
            assert!(head.contains("\r\ncontent-type: application/problem+json"));
            assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
            assert_eq!(head.matches("connection:").count(), 1);
            let problem: Problem = serde_json::from_str(body).unwrap();
            assert_eq!((problem.status, problem.code.as_str()), (status, code));
        }
    }

    #[test]
    fn the_applications_answers_pass_untouched() {
        for written in [
            // An answer of the router: it has a body and a type.
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 90\r\n\r\n",
            // A bodiless answer of another status.
            "HTTP/1.1 204 No Content\r\ndate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            // Not a whole head, or not a head at all.
            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            "{\"detail\":\"HTTP/1.1 400 Bad Request\"}",
            // A chunked 400, which is not hyper's.
            "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n",
            // A 400 without content-length says nothing about its body.
            "HTTP/1.1 400 Bad Request\r\ndate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\r\n",
        ] {
            assert_eq!(problem_for(written.as_bytes()), None, "{written:?}");
        }
        assert_eq!(problem_for(&[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n']), None);
    }
}
