-- The schema of account-store-sqlx on PostgreSQL.
--
-- Times are TIMESTAMPTZ (microseconds). Identifiers are UUIDs, token digests the 32 bytes
-- of a SHA-256 (BYTEA); lists and maps are JSON text. No column ever holds a token or a
-- password: tokens are kept as digests and passwords as argon2 PHC strings.
-- Constraint names are spelled out because the store maps a unique violation to the
-- value that is taken by the constraint's name.

CREATE TABLE accounts (
    id UUID NOT NULL,
    -- Lowercase already (usernames are folded when parsed), so the unique key is
    -- case-insensitive by construction.
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    -- The address in lowercase: the key for uniqueness and lookup.
    email_key TEXT NOT NULL,
    email_verified BOOLEAN NOT NULL,
    recovery_email TEXT,
    language TEXT,
    display_name TEXT NOT NULL,
    avatar_updated_at TIMESTAMPTZ,
    source TEXT NOT NULL,
    source_directory TEXT,
    state TEXT NOT NULL,
    role TEXT NOT NULL,
    security_stamp TEXT NOT NULL,
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_username_key UNIQUE (username),
    CONSTRAINT accounts_email_key_key UNIQUE (email_key),
    CONSTRAINT accounts_source_check CHECK (
        (source = 'local' AND source_directory IS NULL)
        OR (source = 'external' AND source_directory IS NOT NULL))
);

-- Every username ever taken, so that a deleted account's name is never given again.
CREATE TABLE usernames_taken (
    username TEXT NOT NULL,
    CONSTRAINT usernames_taken_pkey PRIMARY KEY (username)
);

CREATE TABLE avatars (
    account_id UUID NOT NULL,
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    CONSTRAINT avatars_pkey PRIMARY KEY (account_id),
    CONSTRAINT avatars_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    id UUID NOT NULL,
    token_digest BYTEA NOT NULL,
    account_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    idle_timeout_secs BIGINT NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    ip TEXT,
    user_agent TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    engine TEXT,
    cpu_arch TEXT,
    -- JSON: [{"method": "password", "at": "2026-01-01T00:00:00Z"}, ...]
    authentications TEXT NOT NULL,
    assurance SMALLINT NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_token_digest_key UNIQUE (token_digest),
    CONSTRAINT sessions_token_digest_check CHECK (octet_length(token_digest) = 32),
    CONSTRAINT sessions_assurance_check CHECK (assurance IN (1, 2)),
    CONSTRAINT sessions_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX sessions_account_id ON sessions (account_id, created_at);

CREATE TABLE challenges (
    digest BYTEA NOT NULL,
    purpose TEXT NOT NULL,
    account_id UUID,
    security_stamp TEXT,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT challenges_pkey PRIMARY KEY (digest),
    CONSTRAINT challenges_digest_check CHECK (octet_length(digest) = 32),
    CONSTRAINT challenges_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX challenges_account_id_purpose ON challenges (account_id, purpose);
CREATE INDEX challenges_expires_at ON challenges (expires_at);

CREATE TABLE failures (
    account_id UUID NOT NULL,
    kind TEXT NOT NULL,
    count BIGINT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT failures_pkey PRIMARY KEY (account_id, kind),
    CONSTRAINT failures_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE TABLE security_events (
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    -- JSON: {"method": "password", ...}
    details TEXT NOT NULL,
    CONSTRAINT security_events_pkey PRIMARY KEY (id),
    CONSTRAINT security_events_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX security_events_account_id_at_id ON security_events (account_id, at, id);

-- The administrator's policy: one row, JSON.
CREATE TABLE policy (
    id SMALLINT NOT NULL,
    body TEXT NOT NULL,
    CONSTRAINT policy_pkey PRIMARY KEY (id),
    CONSTRAINT policy_single_row CHECK (id = 1)
);

CREATE TABLE rate_limits (
    key TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count BIGINT NOT NULL,
    CONSTRAINT rate_limits_pkey PRIMARY KEY (key, window_start)
);

CREATE INDEX rate_limits_window_start ON rate_limits (window_start);
