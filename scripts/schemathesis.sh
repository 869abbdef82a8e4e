#!/usr/bin/env bash
# Runs schemathesis over the starter's served OpenAPI document, signed in as its
# administrator, with every check and a fixed seed (issue 14, item 4). The hooks and the
# configuration are in .ci/schemathesis/.
#
#   scripts/schemathesis.sh [extra schemathesis arguments]
#
# STARTER: the starter binary (target/debug/starter by default; build it with
# `cargo build --workspace --all-features --bins`). PYTHON_VENV: a virtual environment with
# .ci/requirements.txt installed (made under target/ci-python when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
starter=${STARTER:-target/debug/starter}
venv=${PYTHON_VENV:-target/ci-python}
port=${PORT:-18181}
work=$(mktemp -d)
server=
trap '[[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

if [[ ! -x $venv/bin/schemathesis ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r .ci/requirements.txt
fi

password="schemathesis $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ACCOUNT_BIND=127.0.0.1:$port DATABASE_URL="sqlite://$work/accounts.db" \
    ACCOUNT_OUTBOX="$work/outbox" ACCOUNT_ADMIN=root:root@example.com \
    ACCOUNT_ADMIN_PASSWORD="$password" ACCOUNT_TRUSTED_PROXIES=127.0.0.1 \
    "$starter" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

export ACCOUNT_SCHEMATHESIS_URL=http://127.0.0.1:$port ACCOUNT_SCHEMATHESIS_LOGIN=root
export ACCOUNT_SCHEMATHESIS_PASSWORD=$password
export SCHEMATHESIS_HOOKS=hooks PYTHONPATH=.ci/schemathesis
# One worker: the run is as fast with two (schemathesis's own Python is what takes the
# time), the fixed seed then gives the same cases every time, and CPython 3.11's parser,
# which Hypothesis calls from each worker thread, once failed with "AST constructor
# recursion depth mismatch" under two.
run() {
    "$venv/bin/schemathesis" --config-file .ci/schemathesis/schemathesis.toml \
        run "http://127.0.0.1:$port/api/openapi.json" --checks all --seed 1 --wait-for-schema 30 \
        --workers 1 "$@"
}
status=0
# Every operation but the policy's first. A policy the schema allows may require a second
# factor of every account, after which the administrator's session reaches only the
# enrolment routes; so the policy's operation runs last, alone, with every check too.
run --exclude-path /api/admin/policy --exclude-method PUT "$@" || status=$?
run --include-path /api/admin/policy "$@" || status=$?
# One log line per request: how many the server answered.
echo "requests answered: $(grep -c 'request finished' "$work/server.log" || true)"
exit "$status"
