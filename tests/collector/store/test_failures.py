"""Data error or store down: the one decision that lets the applier quarantine or wait."""

from __future__ import annotations

import sqlite3

import pytest

from collector.store.failures import store_failure

DATA = [
    OverflowError("Python int too large to convert to SQLite INTEGER"),
    ValueError("Maximum serialization depth exceeded"),
    RecursionError("maximum recursion depth exceeded"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    sqlite3.IntegrityError("UNIQUE constraint failed"),
    sqlite3.DataError("string or blob too big"),
    sqlite3.ProgrammingError("Error binding parameter 1: type 'dict' is not supported"),
    KeyError("w99999"),
]
DOWN = [
    sqlite3.OperationalError("database is locked"),
    sqlite3.OperationalError("database or disk is full"),
    sqlite3.DatabaseError("database disk image is malformed"),
    sqlite3.ProgrammingError("Cannot operate on a closed database."),
    OSError(28, "No space left on device"),
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    MemoryError(),
]


@pytest.mark.parametrize("exc", DATA, ids=lambda e: f"{type(e).__name__}")
def test_data_errors(exc: BaseException) -> None:
    assert store_failure(exc) == "data"


@pytest.mark.parametrize("exc", DOWN, ids=lambda e: f"{type(e).__name__}")
def test_store_down(exc: BaseException) -> None:
    assert store_failure(exc) == "down"


def test_psycopg_errors() -> None:
    psycopg = pytest.importorskip("psycopg")
    errors = psycopg.errors
    assert store_failure(errors.NumericValueOutOfRange("bigint out of range")) == "data"
    assert store_failure(errors.UntranslatableCharacter("unsupported Unicode escape sequence")) == "data"
    assert (
        store_failure(psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")) == "data"
    )
    assert store_failure(errors.UniqueViolation("duplicate key")) == "data"
    assert store_failure(psycopg.OperationalError("connection refused")) == "down"
    assert store_failure(errors.DiskFull("could not extend file")) == "down"
    assert store_failure(errors.AdminShutdown("terminating connection")) == "down"
    assert store_failure(psycopg.InterfaceError("the connection is closed")) == "down"
