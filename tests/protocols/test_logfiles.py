"""protocols/logfiles.py: a log file rotated by size keeps at most ``backups`` old files of ``max_bytes``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from protocols.logfiles import LogConfig, setup, sibling
from protocols.tomldoc import convert


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_log_file_rotates_by_size_and_keeps_backups_files(tmp_path: Path, restore_root: None) -> None:
    log = LogConfig(file="logs/collector.log", max_bytes=10_000, backups=2)
    setup("INFO", "%(message)s", log, tmp_path)
    line = "x" * 99  # 100 bytes with its newline
    for _ in range(1_000):  # 100 kB written: ten files' worth
        logging.getLogger("qingliu.test").info(line)
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["collector.log", "collector.log.1", "collector.log.2"]
    sizes = [(tmp_path / "logs" / name).stat().st_size for name in files]
    assert all(size <= 10_000 for size in sizes)
    assert sum(sizes) <= 30_000


def test_no_file_logs_to_stderr(restore_root: None) -> None:
    handler = setup("WARNING", "%(message)s", LogConfig())
    assert type(handler) is logging.StreamHandler
    assert logging.getLogger().level == logging.WARNING


def test_zero_backups_is_refused_because_it_would_never_rotate() -> None:
    with pytest.raises(msgspec.ValidationError):
        convert({"file": "a.log", "backups": 0}, LogConfig)


def test_the_receiver_gets_a_file_of_its_own() -> None:
    log = LogConfig(file="logs/collector.log", max_bytes=20_000, backups=3)
    other = sibling(log, "receiver")
    assert Path(other.file) == Path("logs/collector-receiver.log")
    assert (other.max_bytes, other.backups) == (20_000, 3)
    assert sibling(LogConfig(), "receiver").file == ""
