-- Schema version 1: actor state and reminders (store/base.py).
--
-- Layout is compact on purpose (goal: <= 1 KB per completed workflow): the actor's
-- (type, id) strings are stored once in `actors`, and the state and reminder tables key
-- on its integer id. Both are WITHOUT ROWID so the primary key is the table's b-tree and
-- each row is stored once, not once in the table plus once in a PK index.
--
-- The migration runner (store/_sqlite_schema.py) wraps this file in a transaction and
-- records the version in `schema_version`; the file itself holds no transaction control.

CREATE TABLE actors (
    id       INTEGER PRIMARY KEY,
    type     TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    UNIQUE (type, actor_id)
);

CREATE TABLE actor_state (
    actor INTEGER NOT NULL REFERENCES actors (id),
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (actor, key)
) WITHOUT ROWID;

CREATE TABLE reminders (
    actor     INTEGER NOT NULL REFERENCES actors (id),
    name      TEXT NOT NULL,
    due_ms    INTEGER NOT NULL,
    period_ms INTEGER,
    data      BLOB NOT NULL,
    attempts  INTEGER NOT NULL,
    etag      INTEGER NOT NULL,
    PRIMARY KEY (actor, name)
) WITHOUT ROWID;

-- The reminder scheduler's only query: the earliest due reminders below a bound.
CREATE INDEX reminders_due ON reminders (due_ms);
