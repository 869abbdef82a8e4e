-- Programmatic access: personal API tokens, app passwords and SSH public keys.
--
-- Tokens and app passwords are kept as the SHA-256 digests of their secrets only, like
-- session tokens: each is found by its digest in one indexed read, and the secret itself
-- is never stored. SSH keys are public and kept whole, unique by fingerprint across all
-- accounts. Each table is listed per account oldest first, hence the key on
-- (account_id, created_at, id).
-- Unique keys are named because the store maps a duplicate key to the value that is
-- taken by the key's name.

CREATE TABLE api_tokens (
    id BINARY(16) NOT NULL,
    account_id BINARY(16) NOT NULL,
    name TEXT NOT NULL,
    -- 'read' or 'write'.
    scope VARCHAR(16) NOT NULL,
    -- JSON: the networks requests may come from, as CIDR strings
    -- (["10.0.0.0/24", "2001:db8::/32"]); an empty list means anywhere.
    allowed_networks TEXT NOT NULL,
    digest BINARY(32) NOT NULL,
    -- The token's last four characters, to help its owner recognise it.
    last_four VARCHAR(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6),
    last_used_at DATETIME(6),
    last_used_ip VARCHAR(64),
    PRIMARY KEY (id),
    UNIQUE KEY api_tokens_digest_key (digest),
    KEY api_tokens_account_id (account_id, created_at, id),
    CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'write')),
    CONSTRAINT api_tokens_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE app_passwords (
    id BINARY(16) NOT NULL,
    account_id BINARY(16) NOT NULL,
    name TEXT NOT NULL,
    -- The digest of the normalized password.
    digest BINARY(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE KEY app_passwords_digest_key (digest),
    KEY app_passwords_account_id (account_id, created_at, id),
    CONSTRAINT app_passwords_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE ssh_keys (
    id BINARY(16) NOT NULL,
    account_id BINARY(16) NOT NULL,
    name TEXT NOT NULL,
    -- The key type as OpenSSH names it, such as 'ssh-ed25519'.
    algorithm VARCHAR(64) NOT NULL,
    bits BIGINT NOT NULL,
    -- 'SHA256:...' as `ssh-keygen -lf` prints it: one key is on one account at most.
    fingerprint VARCHAR(255) NOT NULL,
    -- The key as one line without comment, '<type> <base64>'.
    public_key TEXT NOT NULL,
    comment TEXT,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ssh_keys_fingerprint_key (fingerprint),
    KEY ssh_keys_account_id (account_id, created_at, id),
    CONSTRAINT ssh_keys_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
