"""Fixtures for the collector's tests: ``store`` is every store-touching test on both engines."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.store.base import Store
from collector.store.sqlite import SqliteStore

PG_URL = os.environ.get("QINGLIU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres(schema: str) -> Store:
    psycopg = pytest.importorskip("psycopg")
    try:
        from collector.store.postgres import PostgresStore

        return PostgresStore(PG_URL, schema=schema)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc}")


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every test runs against both engines: same identities, same answers."""
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "c.db")
        yield s
        s.close()
        return
    schema = f"qingliu_test_{uuid.uuid4().hex[:12]}"
    s = _postgres(schema)
    try:
        yield s
    finally:
        s.close()
        _drop_schema(schema)
