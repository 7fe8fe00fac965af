-- Schema version 2: the instance index (store/instances.py), one summary row per workflow
-- instance, written in the same transaction as the turn that changes it, so that lists,
-- queries and counts never load histories.
--
-- Keyed by the workflow actor's integer id (the instance id lives once, in `actors`), so
-- each secondary index entry carries an integer rather than the id string: the file must
-- stay small (goal: <= 1 KB per completed workflow). Two indexes serve the common pages:
-- by status newest first (also retention's "terminal and old"), and everything newest
-- first; other filters and sorts scan the table, which is a few hundred bytes a row.

CREATE TABLE instances (
    actor        INTEGER PRIMARY KEY REFERENCES actors (id),
    name         TEXT NOT NULL,
    version      TEXT,
    status       INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    completed_ms INTEGER,
    parent_id    TEXT,
    dialect      TEXT NOT NULL,
    stall_reason TEXT,
    custom_status TEXT,
    history_len  INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL
);

CREATE INDEX instances_status_created ON instances (status, created_ms);
CREATE INDEX instances_created ON instances (created_ms);

-- Flags the store keeps about itself. 'instance_index' = 'backfill' marks a file that
-- held workflows before this version: the daemon builds their rows once at start-up
-- (workflow/read_model.py) and then deletes the flag.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO store_meta (key, value)
SELECT 'instance_index', 'backfill' WHERE EXISTS (SELECT 1 FROM actor_state);
