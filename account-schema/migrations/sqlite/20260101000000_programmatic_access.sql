-- Programmatic access: personal API tokens, app passwords and SSH public keys.
--
-- Tokens and app passwords are kept as the SHA-256 digests of their secrets only, like
-- session tokens: each is found by its digest in one indexed read, and the secret itself
-- is never stored. SSH keys are public and kept whole, unique by fingerprint across all
-- accounts. Each table is listed per account oldest first, hence the index on
-- (account_id, created_at, id).

CREATE TABLE api_tokens (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- 'read' or 'write'.
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    -- JSON: the networks requests may come from, as CIDR strings
    -- (["10.0.0.0/24", "2001:db8::/32"]); an empty list means anywhere.
    allowed_networks TEXT NOT NULL,
    digest BLOB NOT NULL CONSTRAINT api_tokens_digest_key UNIQUE
        CHECK (length(digest) = 32),
    -- The token's last four characters, to help its owner recognise it.
    last_four TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    last_used_ip TEXT
) STRICT;

CREATE INDEX api_tokens_account_id ON api_tokens (account_id, created_at, id);

CREATE TABLE app_passwords (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The digest of the normalized password.
    digest BLOB NOT NULL CONSTRAINT app_passwords_digest_key UNIQUE
        CHECK (length(digest) = 32),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;

CREATE INDEX app_passwords_account_id ON app_passwords (account_id, created_at, id);

CREATE TABLE ssh_keys (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The key type as OpenSSH names it, such as 'ssh-ed25519'.
    algorithm TEXT NOT NULL,
    bits INTEGER NOT NULL,
    -- 'SHA256:...' as `ssh-keygen -lf` prints it: one key is on one account at most.
    fingerprint TEXT NOT NULL CONSTRAINT ssh_keys_fingerprint_key UNIQUE,
    -- The key as one line without comment, '<type> <base64>'.
    public_key TEXT NOT NULL,
    comment TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX ssh_keys_account_id ON ssh_keys (account_id, created_at, id);
