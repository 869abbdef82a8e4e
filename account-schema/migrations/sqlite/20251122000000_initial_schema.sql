-- The schema of account-store-sqlx on SQLite.
--
-- Times are INTEGER microseconds since the Unix epoch (UTC): SQLite has no time type, and
-- integers compare, add and index exactly. Read one with
-- `strftime('%Y-%m-%d %H:%M:%f', created_at / 1e6, 'unixepoch')`.
-- Identifiers are the 16 bytes of their UUID, token digests the 32 bytes of a SHA-256;
-- lists and maps are JSON text. No column ever holds a token or a password: tokens are
-- kept as digests and passwords as argon2 PHC strings.

CREATE TABLE accounts (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    -- Lowercase already (usernames are folded when parsed), so the unique key is
    -- case-insensitive by construction.
    username TEXT NOT NULL CONSTRAINT accounts_username_key UNIQUE,
    email TEXT NOT NULL,
    -- The address in lowercase: the key for uniqueness and lookup.
    email_key TEXT NOT NULL CONSTRAINT accounts_email_key_key UNIQUE,
    email_verified INTEGER NOT NULL CHECK (email_verified IN (0, 1)),
    recovery_email TEXT,
    language TEXT,
    display_name TEXT NOT NULL,
    avatar_updated_at INTEGER,
    source TEXT NOT NULL,
    source_directory TEXT,
    state TEXT NOT NULL,
    role TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((source = 'local' AND source_directory IS NULL)
        OR (source = 'external' AND source_directory IS NOT NULL))
) STRICT;

-- Every username ever taken, so that a deleted account's name is never given again.
CREATE TABLE usernames_taken (
    username TEXT NOT NULL PRIMARY KEY
) STRICT, WITHOUT ROWID;

CREATE TABLE avatars (
    account_id BLOB NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes BLOB NOT NULL
) STRICT;

CREATE TABLE sessions (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    token_digest BLOB NOT NULL CONSTRAINT sessions_token_digest_key UNIQUE
        CHECK (length(token_digest) = 32),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_timeout_secs INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    ip TEXT,
    user_agent TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    engine TEXT,
    cpu_arch TEXT,
    -- JSON: [{"method": "password", "at": "2026-01-01T00:00:00Z"}, ...]
    authentications TEXT NOT NULL,
    assurance INTEGER NOT NULL CHECK (assurance IN (1, 2))
) STRICT;

CREATE INDEX sessions_account_id ON sessions (account_id, created_at);

CREATE TABLE challenges (
    digest BLOB NOT NULL PRIMARY KEY CHECK (length(digest) = 32),
    purpose TEXT NOT NULL,
    account_id BLOB REFERENCES accounts (id) ON DELETE CASCADE,
    security_stamp TEXT,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX challenges_account_id_purpose ON challenges (account_id, purpose);
CREATE INDEX challenges_expires_at ON challenges (expires_at);

CREATE TABLE failures (
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind)
) STRICT, WITHOUT ROWID;

CREATE TABLE security_events (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    -- JSON: {"method": "password", ...}
    details TEXT NOT NULL
) STRICT;

CREATE INDEX security_events_account_id_at_id ON security_events (account_id, at, id);

-- The administrator's policy: one row, JSON.
CREATE TABLE policy (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
) STRICT;

CREATE TABLE rate_limits (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
