"""Schemathesis hooks for `.ci/run`: every request is signed in as the starter's
administrator, whatever the requests before it did to that session.

Schemathesis's requests log out, end all sessions, make the session lifetimes a minute
long or add a second factor; so the session is checked every couple of seconds and
whenever an answer is 401, and a new one is made when it no longer works. The logins this
makes carry an X-Forwarded-For address of their own (the starter trusts 127.0.0.1 as a
proxy in this run), so the login budget schemathesis's own requests spend from 127.0.0.1
is not theirs.
"""

import datetime
import itertools
import os

import requests
import schemathesis

BASE = os.environ["ACCOUNT_SCHEMATHESIS_URL"].rstrip("/")
LOGIN = os.environ["ACCOUNT_SCHEMATHESIS_LOGIN"]
PASSWORD = os.environ["ACCOUNT_SCHEMATHESIS_PASSWORD"]
COOKIE = os.environ.get("ACCOUNT_SCHEMATHESIS_COOKIE", "session")

# 198.18.0.0/15 is for benchmarking: addresses no real client has.
_addresses = (f"198.18.{i // 250}.{i % 250 + 1}" for i in itertools.count())


def _works(cookie):
    answer = requests.get(f"{BASE}/api/account", cookies={COOKIE: cookie}, timeout=10)
    return answer.status_code == 200


def _login():
    answer = requests.post(
        f"{BASE}/api/auth/login",
        json={"login": LOGIN, "password": PASSWORD},
        headers={"X-Forwarded-For": next(_addresses)},
        timeout=30,
    )
    if answer.status_code != 200 or COOKIE not in answer.cookies:
        raise RuntimeError(
            f"cannot sign in as {LOGIN}: {answer.status_code} {answer.text[:300]}"
        )
    return answer.cookies[COOKIE]


@schemathesis.auth(refresh_interval=2, retry_on=[401])
class AdministratorSession:
    cookie = None

    def get(self, case, context):
        if self.cookie is None or not _works(self.cookie):
            self.cookie = _login()
        return self.cookie

    def set(self, case, data, context):
        case.cookies = {**(case.cookies or {}), COOKIE: data}


# What no schema can state: a refusal for one of these reasons is the route's documented
# answer to a request whose form was right. (code, rule or None for any rule)
SEMANTIC_REFUSALS = {
    ("weak_password", None),  # too common, too like the username, or the policy's length
    ("passkey_rejected", None),  # the credential does not verify
    ("invalid_ssh_key", None),  # the key does not parse as a key, or is too weak
    ("invalid_token", None),  # no such link, or it has expired
    ("invalid_avatar", None),  # the bytes are not an image we take
    ("invalid_policy", None),  # the policy's ranges depend on one another
    ("validation_failed", "reserved"),  # a reserved username
    ("validation_failed", "in_the_past"),  # an expiry that has passed
    ("validation_failed", "mismatch"),  # the username typed again is not the account's
}


def _a_day_the_month_lacks(case, problem):
    """The document's pattern for a time knows the days of no month, so 30 February
    has its form; the refusal of such a time is for what the schema cannot say."""
    if problem.get("field") != "expires_at" or problem.get("rule") != "invalid_syntax":
        return False
    body = case.body if isinstance(case.body, dict) else {}
    value = str(body.get("expires_at", "")).strip()
    try:
        datetime.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return True
    return False


@schemathesis.check
def refusals_are_for_what_the_schema_cannot_say(ctx, response, case):
    """A request generated to be valid may be refused with 400 or 422 only for a reason
    no schema can state (SEMANTIC_REFUSALS); any other such refusal means the document
    allows what the server refuses. The configuration lets 400 and 422 through the
    built-in positive check so that this one can tell the reasons apart."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    code, rule = problem.get("code"), problem.get("rule")
    if (code, None) in SEMANTIC_REFUSALS or (code, rule) in SEMANTIC_REFUSALS:
        return None
    if _a_day_the_month_lacks(case, problem):
        return None
    raise AssertionError(
        f"a schema-valid request was refused with {response.status_code} "
        f"{code} (field {problem.get('field')}, rule {rule}): {problem.get('detail')}"
    )
