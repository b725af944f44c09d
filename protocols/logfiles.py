"""``[log]`` for the agent and the collector: where the log goes and how large it may grow.

A process that runs for months must not fill its disk with its own log: with ``file`` set, the log is written
there and rotated by size (``max_bytes``), keeping ``backups`` old files (``file.1`` … ``file.N``), so the log
never takes more than ``max_bytes × (backups + 1)``. Without ``file`` the log goes to stderr (a service
manager's journal rotates it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import msgspec

from protocols.paths import resolve


class LogConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: str = ""  # "" = stderr; relative to the config file's directory
    max_bytes: Annotated[int, msgspec.Meta(ge=10_000)] = 10_000_000  # one file's size before it is rotated
    # rotated files kept: file.1 (newest) … file.N (0 would never rotate)
    backups: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5


def sibling(log: LogConfig, suffix: str) -> LogConfig:
    """The same settings for another process's file (``collector.log`` → ``collector-receiver.log``): two
    processes rotating one file would lose lines."""
    if not log.file:
        return log
    path = Path(log.file)
    return msgspec.structs.replace(log, file=str(path.with_name(f"{path.stem}-{suffix}{path.suffix}")))


def setup(level: str | int, fmt: str, log: LogConfig, base_dir: str | Path | None = None) -> logging.Handler:
    """Configure the root logger (like ``logging.basicConfig``): to stderr, or to the rotating ``log.file``."""
    handler: logging.Handler
    if log.file:
        path = resolve(log.file, base_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only with a log file: logging.handlers brings socket, pickle and queue machinery that a station
        # logging to its journal never uses (memory on small station PCs, issue 17).
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(path, maxBytes=log.max_bytes, backupCount=log.backups, encoding="utf-8")
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler


__all__ = ["LogConfig", "setup", "sibling"]
