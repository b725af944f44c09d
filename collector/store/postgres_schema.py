"""The PostgreSQL store's tables (times ``timestamptz``, bodies ``jsonb``) and how its one connection is
opened.

The same tables and identities as the SQLite store (sqlite_schema.py); the assessment's tables come from
postgres_assessment.py, ``readings`` (partitioned by month) from postgres_partitions.py. psycopg is imported here
only: a SQLite deployment never needs it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector.store import auth_rows, postgres_assessment, postgres_partitions, retention_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param)
);
CREATE TABLE IF NOT EXISTS messages (
    station text NOT NULL, seq bigint NOT NULL, lane text NOT NULL, sent_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL, n integer NOT NULL,
    PRIMARY KEY (station, seq)
);
CREATE TABLE IF NOT EXISTS events (
    station text NOT NULL, id text NOT NULL, at timestamptz NOT NULL, kind text NOT NULL, severity text NOT NULL,
    body jsonb NOT NULL, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (station, at);
CREATE TABLE IF NOT EXISTS statuses (
    station text PRIMARY KEY, at timestamptz NOT NULL, body jsonb NOT NULL, received_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS transitions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, station text NOT NULL, at timestamptz NOT NULL,
    old text, new text NOT NULL, reasons jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_station ON transitions (station, id);
CREATE INDEX IF NOT EXISTS transitions_by_time ON transitions (station, at);
CREATE TABLE IF NOT EXISTS commands (
    station text NOT NULL, id text NOT NULL, issued_at timestamptz NOT NULL, body jsonb NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id text PRIMARY KEY, station text NOT NULL, status text NOT NULL, severity text NOT NULL,
    opened_at timestamptz NOT NULL, body jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (opened_at);
CREATE TABLE IF NOT EXISTS blobs (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    station text NOT NULL, id text NOT NULL, body jsonb NOT NULL, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS suspect_readings (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL,
    value double precision, flag text NOT NULL, device text, seq bigint, received_at timestamptz NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (station, param, t)
);
CREATE TABLE IF NOT EXISTS reading_revisions (
    station text NOT NULL, param text NOT NULL, t timestamptz NOT NULL, vkey text NOT NULL, flag text NOT NULL,
    value double precision, seq bigint, received_at timestamptz NOT NULL,
    PRIMARY KEY (station, param, t, vkey, flag)
);
CREATE INDEX IF NOT EXISTS revisions_by_received ON reading_revisions (station, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, digest text NOT NULL UNIQUE, topic text NOT NULL,
    station text, payload bytea NOT NULL, reason text NOT NULL, error text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL, count bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter_totals (reason text PRIMARY KEY, n bigint NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL, period text NOT NULL,
    made_at timestamptz NOT NULL, cutoff timestamptz NOT NULL, completeness text, partial boolean NOT NULL,
    digest text NOT NULL, figures text NOT NULL, document text NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_period ON reports (kind, period, id);
"""


def session(url: str, schema: str | None = None) -> Any:
    """An autocommit psycopg connection to ``url`` in UTC, inside ``schema`` when given (created when missing)."""
    import psycopg  # optional dependency: only a PostgreSQL deployment needs it

    db = psycopg.connect(url, autocommit=True)
    db.execute("SET TIME ZONE 'UTC'")
    if schema is not None:
        db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        db.execute(f'SET search_path TO "{schema}"')
    return db


def connect(url: str, schema: str | None = None) -> Any:
    """An autocommit psycopg connection to ``url`` in UTC, inside ``schema`` when given (created when
    missing), its tables created when missing."""
    db = session(url, schema)
    with db.transaction():
        for statement in (SCHEMA + postgres_assessment.SCHEMA).split(";"):
            if statement.strip():
                db.execute(statement)
        for statement in auth_rows.POSTGRES_SCHEMA:  # people, sessions, tokens, the audit log
            db.execute(statement)
        db.execute(retention_rows.POSTGRES_SCHEMA)  # hourly aggregates of retired readings
        # readings: partitioned by month, a plain table of an older store converted (postgres_partitions.py)
        postgres_partitions.ensure(db, datetime.now(UTC))
    return db
