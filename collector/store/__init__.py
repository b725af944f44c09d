"""Where the collector keeps what it receives. ``open_store(url)`` picks the engine from the URL."""

from __future__ import annotations

from collector.store.base import Store


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from collector.store.sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///") :])
    if url.startswith(("postgresql://", "postgres://")):
        from collector.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported store url {url!r}")
