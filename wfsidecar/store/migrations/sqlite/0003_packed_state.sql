-- Schema version 3: compact storage for finished workflows (issue #13 item 6) and the
-- retention sweeper's index.
--
-- A finished instance's state rows (the seed's keys: history-NNNNNN, inbox-NNNNNN,
-- customStatus, metadata) move into one row here: the same keys and values, in key order,
-- deflated (store/_sqlite_packed.py). A seq3 workflow's 13 rows (981 bytes of keys and
-- values plus a b-tree cell each) become one ~520-byte row. The rowid is the actor's id,
-- so the row carries no key of its own. load_actor returns the same keys and values
-- whichever table holds them; a write to a packed actor unpacks it first.
CREATE TABLE packed_state (
    actor INTEGER PRIMARY KEY REFERENCES actors (id),
    state BLOB NOT NULL
);

-- Retention's one question: the finished instances of a status that completed before a
-- time, oldest first.
CREATE INDEX instances_status_completed ON instances (status, completed_ms)
    WHERE completed_ms IS NOT NULL;

-- Finished instances of a file written before this version are packed by the retention
-- sweeper's maintenance pass (a batch per sweep); the flag says there may be some left.
INSERT INTO store_meta (key, value)
SELECT 'packed_state', 'backfill'
WHERE EXISTS (SELECT 1 FROM instances WHERE completed_ms IS NOT NULL);
