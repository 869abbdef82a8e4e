-- Programmatic access: personal API tokens, app passwords and SSH public keys.
--
-- Tokens and app passwords are kept as the SHA-256 digests of their secrets only, like
-- session tokens: each is found by its digest in one indexed read, and the secret itself
-- is never stored. SSH keys are public and kept whole, unique by fingerprint across all
-- accounts. Each table is listed per account oldest first, hence the index on
-- (account_id, created_at, id).
-- Constraint names are spelled out because the store maps a unique violation to the
-- value that is taken by the constraint's name.

CREATE TABLE api_tokens (
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    name TEXT NOT NULL,
    -- 'read' or 'write'.
    scope TEXT NOT NULL,
    -- JSON: the networks requests may come from, as CIDR strings
    -- (["10.0.0.0/24", "2001:db8::/32"]); an empty list means anywhere.
    allowed_networks TEXT NOT NULL,
    digest BYTEA NOT NULL,
    -- The token's last four characters, to help its owner recognise it.
    last_four TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT,
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_digest_key UNIQUE (digest),
    CONSTRAINT api_tokens_digest_check CHECK (octet_length(digest) = 32),
    CONSTRAINT api_tokens_scope_check CHECK (scope IN ('read', 'write')),
    CONSTRAINT api_tokens_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX api_tokens_account_id ON api_tokens (account_id, created_at, id);

CREATE TABLE app_passwords (
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    name TEXT NOT NULL,
    -- The digest of the normalized password.
    digest BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    CONSTRAINT app_passwords_pkey PRIMARY KEY (id),
    CONSTRAINT app_passwords_digest_key UNIQUE (digest),
    CONSTRAINT app_passwords_digest_check CHECK (octet_length(digest) = 32),
    CONSTRAINT app_passwords_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX app_passwords_account_id ON app_passwords (account_id, created_at, id);

CREATE TABLE ssh_keys (
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    name TEXT NOT NULL,
    -- The key type as OpenSSH names it, such as 'ssh-ed25519'.
    algorithm TEXT NOT NULL,
    bits BIGINT NOT NULL,
    -- 'SHA256:...' as `ssh-keygen -lf` prints it: one key is on one account at most.
    fingerprint TEXT NOT NULL,
    -- The key as one line without comment, '<type> <base64>'.
    public_key TEXT NOT NULL,
    comment TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT ssh_keys_pkey PRIMARY KEY (id),
    CONSTRAINT ssh_keys_fingerprint_key UNIQUE (fingerprint),
    CONSTRAINT ssh_keys_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX ssh_keys_account_id ON ssh_keys (account_id, created_at, id);
