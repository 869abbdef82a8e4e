-- Account lifecycle: administrators list, change and delete accounts, and the security
-- log outlives the accounts it describes.

-- The display name in lowercase, for searching the list of accounts without regard to
-- case (the binary collation compares exactly). The store computes it (Rust's
-- `to_lowercase`) whenever it writes `display_name`, so that every backend folds names
-- alike; LOWER() fills it for the accounts there are.
ALTER TABLE accounts ADD COLUMN display_name_key TEXT NULL AFTER display_name;
UPDATE accounts SET display_name_key = LOWER(display_name);
ALTER TABLE accounts MODIFY display_name_key TEXT NOT NULL;

-- The administrator's list of accounts, oldest first, continues after a cursor.
ALTER TABLE accounts ADD KEY accounts_created_at_id (created_at, id);

-- The security log outlives its accounts: deleting an account replaces its events with
-- one record of the deletion, which must survive the account row. The key on
-- (account_id, at, id) stays: the account's own log is read by it.
ALTER TABLE security_events DROP FOREIGN KEY security_events_account_id_fkey;

-- Every account's events, newest first: the administrator's view of the log.
ALTER TABLE security_events ADD KEY security_events_at_id (at, id);
