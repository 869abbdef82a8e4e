-- Account lifecycle: administrators list, change and delete accounts, and the security
-- log outlives the accounts it describes.

-- The display name in lowercase, for searching the list of accounts without regard to
-- case. The store computes it (Rust's `to_lowercase`) whenever it writes `display_name`,
-- so that every backend folds names alike; lower() fills it for the accounts there are.
ALTER TABLE accounts ADD COLUMN display_name_key TEXT;
UPDATE accounts SET display_name_key = lower(display_name);
ALTER TABLE accounts ALTER COLUMN display_name_key SET NOT NULL;

-- The administrator's list of accounts, oldest first, continues after a cursor.
CREATE INDEX accounts_created_at_id ON accounts (created_at, id);

-- The security log outlives its accounts: deleting an account replaces its events with
-- one record of the deletion, which must survive the account row.
ALTER TABLE security_events DROP CONSTRAINT security_events_account_id_fkey;

-- Every account's events, newest first: the administrator's view of the log.
CREATE INDEX security_events_at_id ON security_events (at, id);
