-- Second factors (issue 4): what a session may do, TOTP authenticators, recovery codes
-- and passkeys.
--
-- TOTP secrets are kept as their bytes: verifying a code needs the secret itself, so it
-- cannot be a digest. Recovery codes are kept as SHA-256 digests only, like tokens.

-- What a session may do: 'full', 'second_factor_pending' (only the second-factor routes
-- accept it) or 'enrollment_only'; and the failed second-factor attempts made with a
-- pending one.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE sessions ADD COLUMN second_factor_attempts INTEGER NOT NULL DEFAULT 0;

-- One TOTP authenticator per account, pending (confirmed_at NULL) or confirmed.
CREATE TABLE totp (
    account_id BLOB NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret BLOB NOT NULL,
    confirmed_at INTEGER,
    created_at INTEGER NOT NULL,
    -- The last time step accepted: each step counts at most once.
    last_step INTEGER
) STRICT;

-- The unused recovery codes of an account, as SHA-256 digests.
CREATE TABLE recovery_codes (
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    digest BLOB NOT NULL CHECK (length(digest) = 32),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE passkeys (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The WebAuthn credential id, unique across all accounts.
    credential_id BLOB NOT NULL CONSTRAINT passkeys_credential_id_key UNIQUE
        CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name TEXT NOT NULL,
    -- JSON: the credential as the WebAuthn library serialises it (public key, counter,
    -- flags); no secret.
    credential TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    sign_count INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state INTEGER NOT NULL CHECK (backup_state IN (0, 1))
) STRICT;

CREATE INDEX passkeys_account_id ON passkeys (account_id, created_at);
