-- Account lifecycle: administrators list, change and delete accounts, and the security
-- log outlives the accounts it describes.

-- The display name in lowercase, for searching the list of accounts without regard to
-- case. The store computes it (Rust's `to_lowercase`, which folds every script) whenever
-- it writes `display_name`, because SQLite's lower() folds ASCII letters only. The
-- backfill can only use lower(): a name written before this migration with other capital
-- letters is found by them again once the name is next written. SQLite cannot make an
-- added column NOT NULL without a default, so it keeps the empty default; every write of
-- an account sets the column.
ALTER TABLE accounts ADD COLUMN display_name_key TEXT NOT NULL DEFAULT '';
UPDATE accounts SET display_name_key = lower(display_name);

-- The administrator's list of accounts, oldest first, continues after a cursor.
CREATE INDEX accounts_created_at_id ON accounts (created_at, id);

-- The security log outlives its accounts: deleting an account replaces its events with
-- one record of the deletion, which must survive the account row, so `account_id` no
-- longer references `accounts`. SQLite cannot drop a foreign key, so the table is rebuilt
-- as its documentation says: create the new table, copy, drop the old one, rename, and
-- create the indexes again. Nothing references security_events, so dropping it checks
-- no foreign key.
CREATE TABLE security_events_new (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    -- JSON: {"method": "password", ...}
    details TEXT NOT NULL
) STRICT;

INSERT INTO security_events_new (id, account_id, at, kind, ip, user_agent, details)
    SELECT id, account_id, at, kind, ip, user_agent, details FROM security_events;

DROP TABLE security_events;

ALTER TABLE security_events_new RENAME TO security_events;

CREATE INDEX security_events_account_id_at_id ON security_events (account_id, at, id);

-- Every account's events, newest first: the administrator's view of the log.
CREATE INDEX security_events_at_id ON security_events (at, id);
