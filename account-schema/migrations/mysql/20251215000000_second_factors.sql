-- Second factors (issue 4): what a session may do, TOTP authenticators, recovery codes
-- and passkeys.
--
-- TOTP secrets are kept as their bytes: verifying a code needs the secret itself, so it
-- cannot be a digest. Recovery codes are kept as SHA-256 digests only, like tokens.

-- What a session may do: 'full', 'second_factor_pending' (only the second-factor routes
-- accept it) or 'enrollment_only'; and the failed second-factor attempts made with a
-- pending one.
ALTER TABLE sessions
    ADD COLUMN stage VARCHAR(32) NOT NULL DEFAULT 'full',
    ADD COLUMN second_factor_attempts INT NOT NULL DEFAULT 0;

-- One TOTP authenticator per account, pending (confirmed_at NULL) or confirmed.
CREATE TABLE totp (
    account_id BINARY(16) NOT NULL,
    secret VARBINARY(255) NOT NULL,
    confirmed_at DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    -- The last time step accepted: each step counts at most once.
    last_step BIGINT,
    PRIMARY KEY (account_id),
    CONSTRAINT totp_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The unused recovery codes of an account, as SHA-256 digests.
CREATE TABLE recovery_codes (
    account_id BINARY(16) NOT NULL,
    digest BINARY(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (account_id, digest),
    CONSTRAINT recovery_codes_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE passkeys (
    id BINARY(16) NOT NULL,
    account_id BINARY(16) NOT NULL,
    -- The WebAuthn credential id, unique across all accounts.
    credential_id VARBINARY(1023) NOT NULL,
    name TEXT NOT NULL,
    -- JSON: the credential as the WebAuthn library serialises it (public key, counter,
    -- flags); no secret.
    credential LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6),
    sign_count BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state BOOLEAN NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY passkeys_credential_id_key (credential_id),
    KEY passkeys_account_id (account_id, created_at),
    CONSTRAINT passkeys_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES accounts (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
