-- caseledger schema, version 1: the event log, its heads and idempotency records, and the
-- keyspaces beside it. Applied once, in one transaction, by `caseledger-store`'s migration
-- runner (`crates/store/src/migrations.rs`); never edit an applied migration, add the next one.

-- Every event, at its gapless global position. `envelope` holds the exact canonical bytes the
-- hash chain was computed over (hash included), as the sled backend stores them and as an
-- export writes them.
CREATE TABLE events (
    position bigint PRIMARY KEY CHECK (position > 0),
    stream uuid NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    envelope bytea NOT NULL,
    UNIQUE (stream, version)
);

-- The log is append-only: a row, once written, is never changed or removed by the service.
-- (A database owner can still disable this; the hash chain is what catches that.)
CREATE FUNCTION caseledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the caseledger event log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION caseledger_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION caseledger_refuse_change();

-- The version of every stream, read and updated under the head-row lock.
CREATE TABLE stream_heads (
    stream uuid PRIMARY KEY,
    version bigint NOT NULL CHECK (version > 0)
);

-- What an idempotent append committed, by its (caller-scoped) key.
CREATE TABLE idempotency_records (
    key text PRIMARY KEY,
    fingerprint text NOT NULL,
    stream uuid NOT NULL,
    first_version bigint NOT NULL,
    last_version bigint NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    recorded_at_unix bigint NOT NULL
);

-- The committed head of the log: exactly one row. Every writer locks it (SELECT … FOR UPDATE)
-- before it assigns positions, so writers in every process are serialised and commit in
-- position order.
CREATE TABLE log_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL CHECK (position >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO log_head (only_row, position, hash)
    VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Derived and side state (tokens, personal-data keys, counters, projections, checkpoints,
-- webhook endpoints, cursors and feeds): one row per key of each named keyspace.
CREATE TABLE keyspace_entries (
    space text NOT NULL,
    key bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (space, key)
);
