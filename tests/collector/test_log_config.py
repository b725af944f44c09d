"""``[log]`` in the collector's config: the log file rotates by size, and each child process (the receiver, the
HJ 212 server) has its own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from collector.config import parse_config
from collector.hj212.process import Hj212Process
from collector.inbox import Inbox
from collector.receiving import ReceivingSide
from collector.service import CollectorService
from protocols.errors import ConfigError


def test_the_log_section_is_read_and_the_receiver_gets_a_file_beside_the_collector_s(tmp_path: Path) -> None:
    config = parse_config('[log]\nfile = "logs/collector.log"\nmax_bytes = 1000000\nbackups = 3\n')
    assert (config.log.file, config.log.max_bytes, config.log.backups) == ("logs/collector.log", 1_000_000, 3)
    inbox = cast(Inbox, SimpleNamespace(path=tmp_path / "inbox.db"))  # only its path is read
    settings = ReceivingSide(config, inbox, None, lambda: 0)._settings()
    assert (settings.log.file, settings.log.max_bytes, settings.log.backups) == (
        "logs/collector-receiver.log",
        1_000_000,
        3,
    )


def test_the_hj212_server_process_gets_a_file_beside_the_collector_s(tmp_path: Path) -> None:
    config = parse_config(
        '[log]\nfile = "logs/collector.log"\n[hj212]\nenabled = true\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "collector.db"}"\n'
    )
    service = CollectorService(config)
    try:
        assert isinstance(service.hj212, Hj212Process)
        assert service.hj212.child.settings.log.file == "logs/collector-hj212.log"
    finally:
        service.store.close()
        service.inbox.close()


def test_by_default_the_log_goes_to_stderr() -> None:
    assert parse_config("").log.file == ""


def test_a_log_without_backups_is_refused() -> None:
    with pytest.raises(ConfigError, match="backups"):
        parse_config('[log]\nfile = "c.log"\nbackups = 0\n')
