-- The schema of account-store-sqlx on MySQL 8 and MariaDB 10.5 or newer.
--
-- Times are DATETIME(6), microseconds, in UTC. Identifiers are the 16 bytes of their UUID
-- (BINARY(16)), token digests the 32 bytes of a SHA-256 (BINARY(32)); lists and maps are
-- JSON text. No column ever holds a token or a password: tokens are kept as digests and
-- passwords as argon2 PHC strings.
-- Every table is utf8mb4 with the binary collation, so that text compares exactly as on
-- SQLite and PostgreSQL: a password hash or a rate-limit key never equals one that
-- differs in case or accents.
-- Unique keys are named because the store maps a duplicate key to the value that is
-- taken by the key's name.

CREATE TABLE accounts (
    id BINARY(16) NOT NULL,
    -- Lowercase already (usernames are folded when parsed).
    username VARCHAR(32) NOT NULL,
    email VARCHAR(254) NOT NULL,
    -- The address in lowercase: the key for uniqueness and lookup.
    email_key VARCHAR(254) NOT NULL,
    email_verified BOOLEAN NOT NULL,
    recovery_email VARCHAR(254),
    language VARCHAR(64),
    display_name TEXT NOT NULL,
    avatar_updated_at DATETIME(6),
    source VARCHAR(16) NOT NULL,
    source_directory TEXT,
    state VARCHAR(16) NOT NULL,
    role VARCHAR(16) NOT NULL,
    security_stamp VARCHAR(128) NOT NULL,
    password_hash TEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY accounts_username_key (username),
    UNIQUE KEY accounts_email_key_key (email_key),
    CONSTRAINT accounts_source_check CHECK (
        (source = 'local' AND source_directory IS NULL)
        OR (source = 'external' AND source_directory IS NOT NULL))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every username ever taken, so that a deleted account's name is never given again.
CREATE TABLE usernames_taken (
    username VARCHAR(32) NOT NULL,
    PRIMARY KEY (username)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE avatars (
    account_id BINARY(16) NOT NULL,
    content_type VARCHAR(64) NOT NULL,
    bytes MEDIUMBLOB NOT NULL,
    PRIMARY KEY (account_id),
    CONSTRAINT avatars_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE sessions (
    id BINARY(16) NOT NULL,
    token_digest BINARY(32) NOT NULL,
    account_id BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    idle_timeout_secs BIGINT NOT NULL,
    absolute_expires_at DATETIME(6) NOT NULL,
    ip VARCHAR(64),
    user_agent TEXT,
    browser TEXT,
    os TEXT,
    device TEXT,
    engine TEXT,
    cpu_arch TEXT,
    -- JSON: [{"method": "password", "at": "2026-01-01T00:00:00Z"}, ...]
    authentications TEXT NOT NULL,
    assurance SMALLINT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY sessions_token_digest_key (token_digest),
    KEY sessions_account_id (account_id, created_at),
    CONSTRAINT sessions_assurance_check CHECK (assurance IN (1, 2)),
    CONSTRAINT sessions_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE challenges (
    digest BINARY(32) NOT NULL,
    purpose VARCHAR(64) NOT NULL,
    account_id BINARY(16),
    security_stamp VARCHAR(128),
    payload MEDIUMTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (digest),
    KEY challenges_account_id_purpose (account_id, purpose),
    KEY challenges_expires_at (expires_at),
    CONSTRAINT challenges_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE failures (
    account_id BINARY(16) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    count BIGINT NOT NULL,
    last_at DATETIME(6) NOT NULL,
    PRIMARY KEY (account_id, kind),
    CONSTRAINT failures_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE security_events (
    id BINARY(16) NOT NULL,
    account_id BINARY(16) NOT NULL,
    at DATETIME(6) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    ip VARCHAR(64),
    user_agent TEXT,
    -- JSON: {"method": "password", ...}
    details TEXT NOT NULL,
    PRIMARY KEY (id),
    KEY security_events_account_id_at_id (account_id, at, id),
    CONSTRAINT security_events_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The administrator's policy: one row, JSON.
CREATE TABLE policy (
    id SMALLINT NOT NULL,
    body MEDIUMTEXT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT policy_single_row CHECK (id = 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE rate_limits (
    `key` VARCHAR(200) NOT NULL,
    window_start DATETIME(6) NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (`key`, window_start),
    KEY rate_limits_window_start (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
