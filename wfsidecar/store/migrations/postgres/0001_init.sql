-- Schema version 1 of the PostgreSQL store (store/postgres.py): actor state, reminders,
-- the instance index, and the partition leases that let several daemons share one
-- database (docs/multi-node.md).
--
-- Rows key on the actor's (type, id) text directly rather than on an integer id as the
-- SQLite file does: several daemons create actors concurrently, and a shared id table
-- would be one more row every first write must race for. Text columns use the "C"
-- collation so that ordering (reminder ties, cursors, name sorts) is by code point, as in
-- SQLite and the memory store, whatever locale the cluster was created with.
--
-- The runner (store/_pg_schema.py) applies this in a transaction under an advisory lock
-- and records the version in schema_version; the file holds no transaction control.

CREATE TABLE actor_state (
    type     TEXT COLLATE "C" NOT NULL,
    actor_id TEXT COLLATE "C" NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    value    BYTEA NOT NULL,
    PRIMARY KEY (type, actor_id, key)
);

CREATE TABLE reminders (
    type      TEXT COLLATE "C" NOT NULL,
    actor_id  TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    partition INTEGER NOT NULL,
    due_ms    BIGINT NOT NULL,
    period_ms BIGINT,
    data      BYTEA NOT NULL,
    attempts  BIGINT NOT NULL,
    etag      BIGINT NOT NULL,
    PRIMARY KEY (type, actor_id, name)
);

-- The scheduler's query: the earliest due reminders of the partitions a daemon owns.
CREATE INDEX reminders_partition_due ON reminders (partition, due_ms);
CREATE INDEX reminders_due ON reminders (due_ms);

CREATE TABLE instances (
    type          TEXT COLLATE "C" NOT NULL,
    actor_id      TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C",
    status        INTEGER NOT NULL,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    completed_ms  BIGINT,
    parent_id     TEXT COLLATE "C",
    dialect       TEXT COLLATE "C" NOT NULL,
    stall_reason  TEXT,
    custom_status TEXT,
    history_len   BIGINT NOT NULL,
    stored_bytes  BIGINT NOT NULL,
    PRIMARY KEY (type, actor_id)
);

CREATE INDEX instances_status_created ON instances (status, created_ms);
CREATE INDEX instances_created ON instances (created_ms);
CREATE INDEX instances_actor_id ON instances (actor_id);
CREATE INDEX instances_status_completed ON instances (status, completed_ms)
    WHERE completed_ms IS NOT NULL;

-- One row per partition (store/leases.py). `token` is the fencing token: it grows by one
-- every time the partition changes hands, and every commit that writes the partition's
-- actors checks it in its own transaction.
CREATE TABLE leases (
    partition  INTEGER PRIMARY KEY,
    owner      TEXT,
    token      BIGINT NOT NULL DEFAULT 0,
    expires_ms BIGINT NOT NULL DEFAULT 0,
    taken_ms   BIGINT
);

-- The daemons sharing the database, with their last heartbeat (cluster status, and the
-- count of live daemons the partitions are balanced over).
CREATE TABLE daemons (
    id           TEXT PRIMARY KEY,
    address      TEXT NOT NULL,
    started_ms   BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    dialects     TEXT NOT NULL DEFAULT '',
    takeovers    BIGINT NOT NULL DEFAULT 0,
    refused      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
