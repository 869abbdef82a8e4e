-- Second factors (issue 4): what a session may do, TOTP authenticators, recovery codes
-- and passkeys.
--
-- TOTP secrets are kept as their bytes: verifying a code needs the secret itself, so it
-- cannot be a digest. Recovery codes are kept as SHA-256 digests only, like tokens.

-- What a session may do: 'full', 'second_factor_pending' (only the second-factor routes
-- accept it) or 'enrollment_only'; and the failed second-factor attempts made with a
-- pending one.
ALTER TABLE sessions
    ADD COLUMN stage TEXT NOT NULL DEFAULT 'full',
    ADD COLUMN second_factor_attempts INTEGER NOT NULL DEFAULT 0;

-- One TOTP authenticator per account, pending (confirmed_at NULL) or confirmed.
CREATE TABLE totp (
    account_id UUID NOT NULL,
    secret BYTEA NOT NULL,
    confirmed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    -- The last time step accepted: each step counts at most once.
    last_step BIGINT,
    CONSTRAINT totp_pkey PRIMARY KEY (account_id),
    CONSTRAINT totp_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

-- The unused recovery codes of an account, as SHA-256 digests.
CREATE TABLE recovery_codes (
    account_id UUID NOT NULL,
    digest BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (account_id, digest),
    CONSTRAINT recovery_codes_digest_check CHECK (octet_length(digest) = 32),
    CONSTRAINT recovery_codes_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE TABLE passkeys (
    id UUID NOT NULL,
    account_id UUID NOT NULL,
    -- The WebAuthn credential id, unique across all accounts.
    credential_id BYTEA NOT NULL,
    name TEXT NOT NULL,
    -- JSON: the credential as the WebAuthn library serialises it (public key, counter,
    -- flags); no secret.
    credential TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    CONSTRAINT passkeys_pkey PRIMARY KEY (id),
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    CONSTRAINT passkeys_credential_id_check
        CHECK (octet_length(credential_id) BETWEEN 1 AND 1023),
    CONSTRAINT passkeys_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
);

CREATE INDEX passkeys_account_id ON passkeys (account_id, created_at);
