"""Where the collector keeps what it receives. ``open_store(url)`` picks the engine from the URL."""

from __future__ import annotations

from typing import TextIO

from collector.store.base import Store


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from collector.store.sqlite import SqliteStore

        return SqliteStore(url[len("sqlite:///") :])
    if url.startswith(("postgresql://", "postgres://")):
        from collector.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported store url {url!r}")


def open_store_for_command(url: str, prog: str, err: TextIO) -> Store | None:
    """The store for a one-shot command (import, assess); None after saying plainly on ``err`` why it could not
    be opened (any engine's connection error: a bad path, PostgreSQL down or refusing)."""
    try:
        return open_store(url)
    except Exception as exc:
        print(f"{prog}: cannot open the store: {exc}", file=err)
        return None
