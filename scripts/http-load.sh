#!/usr/bin/env bash
# The HTTP loads of DESIGN.md's performance targets, on the release starter, with wrk
# (Debian package `wrk`), each figure next to its baseline measured in the same run:
#
# 1. Reads: authenticated `GET /api/account` (session cookie) against the same route
#    without a cookie (its 401), on SQLite and, when their servers answer, on PostgreSQL
#    and MySQL/MariaDB (the URLs of ACCOUNT_TEST_POSTGRES_URL and ACCOUNT_TEST_MYSQL_URL,
#    where a database `account_load` is made afresh). With the axum-login peer
#    (PEER_DIR, by default ../shared/bench/peer-axum-login when it is there), its same
#    route too, and ours against it.
# 2. A login flood on SQLite: p99 of authenticated reads unloaded, during a flood of wrong
#    passwords from one address, and from rotating addresses behind a trusted proxy; the
#    logins' answers (429s are the hashers' queue refusing early); resident memory at
#    start, at its peak and after the floods.
# 3. An avatar flood: 32 parallel uploads of a 4000x4000 PNG by one account; their answers
#    (429s are the decoders' queue and the account's budget) and resident memory.
#
# Run from anywhere: scripts/http-load.sh. Settings: DUR (10s per load), CONN (64).
# Prints figures, never fails on them: benchmarks are not tests.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DUR=${DUR:-10s}
CONN=${CONN:-64}
PEER_DIR=${PEER_DIR:-$root/../shared/bench/peer-axum-login}
POSTGRES=${ACCOUNT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
MYSQL=${ACCOUNT_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/mysql}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build -q --release -p starter || exit 1
peer=
if [[ -f $PEER_DIR/Cargo.toml ]]; then
    CARGO_TARGET_DIR=${PEER_TARGET:-/tmp/peer-target} cargo build -q --release --locked \
        --manifest-path "$PEER_DIR/Cargo.toml" && peer=${PEER_TARGET:-/tmp/peer-target}/release/peer-axum-login
fi
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
json='content-type: application/json'
password='violet granite lantern 48'

# Starts the starter on port $1 with DATABASE_URL $2 (and any further VAR=value), waits
# until it answers, and sets $server to its process id.
start() {
    local port=$1 url=$2
    shift 2
    (cd "$tmp" && exec env ACCOUNT_BIND=127.0.0.1:$port ACCOUNT_PUBLIC_URL=http://localhost:$port \
        DATABASE_URL="$url" ACCOUNT_OUTBOX="$tmp/outbox" "$@" \
        "$root/target/release/starter" >"$tmp/server-$port.log" 2>&1) &
    server=$!
    pids+=("$server")
    for _ in $(seq 1 150); do
        curl -s -o /dev/null "http://127.0.0.1:$port/api/openapi.json" && break
        sleep 0.2
    done
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# Signs `$2` up on port $1 and logs in from address $3; prints the session cookie.
session() {
    local base=http://127.0.0.1:$1 origin=http://localhost:$1
    curl -s -o /dev/null -H "$json" -H "Origin: $origin" -H "X-Forwarded-For: $3" \
        -d "{\"username\":\"$2\",\"email\":\"$2@example.test\",\"password\":\"$password\"}" "$base/api/auth/signup"
    curl -s -o /dev/null -c "$tmp/jar-$1" -H "$json" -H "Origin: $origin" -H "X-Forwarded-For: $3" \
        -d "{\"login\":\"$2\",\"password\":\"$password\"}" "$base/api/auth/login"
    awk 'NF>=7{print $6"="$7}' "$tmp/jar-$1" | tail -1
}

# "req/s p99" of a wrk load; arguments go to wrk.
load() {
    wrk -t2 -c"$CONN" -d"$DUR" --latency "$@" 2>&1 |
        awk '/Requests\/sec/{r=$2} / 99%/{p=$2} END{printf "%s %s\n", (r==""?0:r), (p==""?"-":p)}'
}
ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000} }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else printf "-" }'; }

# A fresh database on a server, or nothing when it does not answer.
fresh_postgres() {
    psql "$POSTGRES" -qc 'DROP DATABASE IF EXISTS account_load' -c 'CREATE DATABASE account_load' >/dev/null 2>&1 &&
        echo "${POSTGRES%/*}/account_load"
}
fresh_mysql() {
    local rest=${MYSQL#*://} host port
    rest=${rest#*@}; rest=${rest%%/*}; host=${rest%%:*}; port=${rest##*:}
    [[ $port == "$rest" ]] && port=3306
    mariadb -h "$host" -P "$port" -u root -e 'DROP DATABASE IF EXISTS account_load; CREATE DATABASE account_load' >/dev/null 2>&1 &&
        echo "${MYSQL%/*}/account_load"
}

echo "== Reads: GET /api/account, $CONN connections, $DUR each"
peer_rps=
if [[ -n $peer ]]; then
    PEER_DB=$tmp/peer.db PEER_BIND=127.0.0.1:18190 "$peer" >"$tmp/peer.log" 2>&1 &
    pids+=($!)
    peer_pid=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18190/health && break; sleep 0.2; done
    curl -s -o /dev/null -c "$tmp/peer.jar" -H "$json" \
        -d "{\"username\":\"alice\",\"email\":\"alice@example.test\",\"password\":\"$password\"}" \
        http://127.0.0.1:18190/api/auth/signup
    set -- $(load -H "Cookie: $(awk 'NF>=7{print $6"="$7}' "$tmp/peer.jar" | tail -1)" http://127.0.0.1:18190/api/account)
    peer_rps=$1
    printf '%-12s authenticated %10s req/s  p99 %s\n' "peer" "$1" "$2"
    stop "$peer_pid"
fi
for backend in sqlite postgres mysql; do
    case $backend in
        sqlite) url="sqlite://$tmp/reads.db?mode=rwc" ;;
        postgres) url=$(fresh_postgres) || { echo "$backend: no server answers at $POSTGRES; skipped"; continue; } ;;
        mysql) url=$(fresh_mysql) || { echo "$backend: no server answers at $MYSQL; skipped"; continue; } ;;
    esac
    start 18180 "$url"
    cookie=$(session 18180 alice 192.0.2.10)
    set -- $(load -H "Cookie: $cookie" http://127.0.0.1:18180/api/account)
    auth=$1 auth_p99=$2
    set -- $(load http://127.0.0.1:18180/api/account)
    printf '%-12s authenticated %10s req/s  p99 %-8s unauthenticated %10s req/s  p99 %-8s authenticated/unauthenticated %s' \
        "$backend" "$auth" "$auth_p99" "$1" "$2" "$(ratio "$auth" "$1")"
    [[ -n $peer_rps ]] && printf '  ours/peer %s' "$(ratio "$auth" "$peer_rps")"
    echo
    stop "$server"
done

echo "== Login flood (SQLite): p99 of authenticated reads, 16 connections, $DUR each"
start 18185 "sqlite://$tmp/flood.db?mode=rwc" ACCOUNT_TRUSTED_PROXIES=127.0.0.1/32
for user in bob victim1 victim2; do session 18185 "$user" 192.0.2.20 >/dev/null; done
cookie=$(session 18185 reader 192.0.2.21)
cat >"$tmp/flood.lua" <<'LUA'
local rotate = os.getenv("ROTATE") == "1"
local bodies = {
  '{"login":"victim1","password":"wrong password number one!!"}',
  '{"login":"victim2","password":"wrong password number two!!"}',
  '{"login":"bob","password":"violet granite lantern 48"}',
  '{"login":"ghost","password":"wrong password for nobody at all"}',
}
local i = 0
codes = {}
request = function()
  i = i + 1
  local h = {["Content-Type"] = "application/json", ["Origin"] = "http://localhost:18185"}
  if rotate then h["X-Forwarded-For"] = "198.51." .. tostring(math.floor(i / 250) % 250) .. "." .. tostring(i % 250 + 1) end
  return wrk.format("POST", "/api/auth/login", h, bodies[(i % #bodies) + 1])
end
response = function(status) codes[status] = (codes[status] or 0) + 1 end
local threads = {}
setup = function(t) table.insert(threads, t) end
done = function()
  local all = {}
  for _, t in ipairs(threads) do for k, v in pairs(t:get("codes")) do all[k] = (all[k] or 0) + v end end
  local s = ""
  for k, v in pairs(all) do s = s .. k .. "=" .. v .. " " end
  io.write("STATUS " .. s .. "\n")
end
LUA
rss() { awk -v k="$1" '$1==k":"{print int($2/1024)}' "/proc/$server/status"; }
reads_p99() { wrk -t1 -c16 -d"$DUR" --latency -H "Cookie: $cookie" http://127.0.0.1:18185/api/account | awk '/ 99%/{print $2}'; }
flood() {
    ROTATE=$1 wrk -t1 -c32 -d"$DUR" -s "$tmp/flood.lua" http://127.0.0.1:18185/api/auth/login |
        grep STATUS >"$tmp/flood.out" &
    flooding=$!
}
start_rss=$(rss VmRSS)
unloaded=$(reads_p99)
flood 0; one=$(reads_p99); wait $flooding; one_codes=$(cut -d' ' -f2- "$tmp/flood.out")
flood 1; many=$(reads_p99); wait $flooding; many_codes=$(cut -d' ' -f2- "$tmp/flood.out")
sleep 2
echo "unloaded                 p99 $unloaded"
echo "flood from one address   p99 $one ($(ratio "$(ms "$one")" "$(ms "$unloaded")")x unloaded); logins: $one_codes"
echo "flood, rotating addresses p99 $many ($(ratio "$(ms "$many")" "$(ms "$unloaded")")x unloaded); logins: $many_codes"
echo "resident memory: start $start_rss MB, peak $(rss VmHWM) MB, after the floods $(rss VmRSS) MB"
stop "$server"

echo "== Avatar flood (SQLite): 32 parallel uploads of a 4000x4000 PNG by one account"
# A PNG of one colour per row: about 57 KB that decode to 48 MB of pixels.
python3 - "$tmp/big.png" <<'PY'
import struct, sys, zlib
w = h = 4000
rows = b"".join(b"\x00" + bytes([(y * 7) % 256]) * 3 * w for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
PY
start 18186 "sqlite://$tmp/avatars.db?mode=rwc"
cookie=$(session 18186 painter 192.0.2.30)
start_rss=$(rss VmRSS)
for _ in $(seq 1 32); do
    curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H "Cookie: $cookie" -H "Origin: http://localhost:18186" \
        -H 'content-type: image/png' --data-binary @"$tmp/big.png" \
        http://127.0.0.1:18186/api/account/avatar >>"$tmp/avatar-codes" &
    uploads+=($!)
done
wait "${uploads[@]}"
echo "answers: $(sort "$tmp/avatar-codes" | uniq -c | awk '{printf "%s=%s ", $2, $1}')"
echo "resident memory: start $start_rss MB, peak $(rss VmHWM) MB, after $(rss VmRSS) MB"
