"""An SMTP server for the SMTP mailer's tests: aiosmtpd (from PyPI) with the TLS and
authentication a real submission server has.

The test that starts it reads its standard output, one JSON object a line:

- first ``{"listening": PORT}``, once the socket accepts connections on 127.0.0.1;
- ``{"event": "ehlo", "tls": ...}`` for each EHLO, so that a test sees whether the client
  greeted again after STARTTLS;
- ``{"event": "auth", "user": ..., "ok": ..., "tls": ...}`` for each AUTH the server
  judged (never the password that was tried);
- ``{"event": "message", "mail_from": ..., "rcpt_tos": [...], "content": ...,
  "tls": ..., "tls_version": ..., "authenticated": ..., "user": ...}`` for each message
  accepted. A record is written and flushed before the server answers the command, so
  a client that has its reply finds the record already in the pipe.

``--tls`` says how the server treats TLS:

- ``required`` (the default): STARTTLS is offered and nothing else (AUTH, MAIL) is
  accepted before it, as on a real submission port (587);
- ``offered``: STARTTLS is offered, but AUTH and mail are accepted without it too, as a
  lax server would; a client that fell back to plain text would get through, so a test
  can show that the client did not;
- ``none``: no STARTTLS at all, as when someone between client and server strips it
  from the EHLO answer, or for a local relay;
- ``implicit``: TLS from the first byte (``smtps://``, port 465).

With ``--user`` and ``--password`` the server requires AUTH (PLAIN or LOGIN) with them
before it accepts mail; without them it takes mail from anyone.
"""

import argparse
import asyncio
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def record(**fields):
    print(json.dumps(fields), flush=True)


def tls_of(server):
    """The TLS connection under the session, or None for plain text. Implicit TLS and
    STARTTLS both show as an ``ssl_object`` on the server's current transport."""
    transport = server.transport
    return None if transport is None else transport.get_extra_info("ssl_object")


class Recorder:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        record(event="ehlo", hostname=hostname, tls=tls_of(server) is not None)
        return responses

    async def handle_DATA(self, server, session, envelope):
        tls = tls_of(server)
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        auth = session.auth_data
        record(
            event="message",
            mail_from=envelope.mail_from,
            rcpt_tos=envelope.rcpt_tos,
            content=content,
            tls=tls is not None,
            tls_version=None if tls is None else tls.version(),
            authenticated=bool(session.authenticated),
            user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
        )
        return "250 2.0.0 Message accepted"


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            record(event="auth", mechanism=mechanism, user=None, ok=False,
                   tls=tls_of(server) is not None)
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == user and auth_data.password == password
        record(event="auth", mechanism=mechanism, user=auth_data.login.decode(),
               ok=ok, tls=tls_of(server) is not None)
        # Keep the login for the message record, never the password.
        kept = LoginPassword(auth_data.login, b"") if ok else None
        return AuthResult(success=ok, handled=False, auth_data=kept)

    return authenticate


async def serve(args):
    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    auth = args.user is not None
    authenticator = (
        authenticator_for(args.user.encode(), args.password.encode()) if auth else None
    )

    def factory():
        return SMTP(
            Recorder(),
            hostname="smtp.test",
            # For STARTTLS; implicit TLS is set up on the socket below instead.
            tls_context=context if args.tls in ("required", "offered") else None,
            require_starttls=args.tls == "required",
            authenticator=authenticator,
            auth_required=auth,
            # Under implicit TLS aiosmtpd does not see its own STARTTLS layer, so it would
            # refuse AUTH as unencrypted; the socket is encrypted all the same.
            auth_require_tls=args.tls == "required",
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory,
        host="127.0.0.1",
        port=0,
        ssl=context if args.tls == "implicit" else None,
    )
    port = server.sockets[0].getsockname()[1]
    record(listening=port)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", choices=["required", "offered", "none", "implicit"],
                        default="required")
    parser.add_argument("--cert", help="the server's certificate chain, PEM")
    parser.add_argument("--key", help="the server's private key, PEM")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    if args.tls != "none" and not (args.cert and args.key):
        parser.error(f"--tls {args.tls} needs --cert and --key")
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
