"""Fixtures for the Modbus simulator tests: a socat virtual serial line and the mbpoll master."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.ptypair import pty_pair

MbpollRunner = Callable[[str], tuple[int, str]]


@pytest.fixture
def socat_pty(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A virtual serial line: (server end, client end) device paths; socat is killed afterwards."""
    with pty_pair(tmp_path / "ttyA", tmp_path / "ttyB") as ends:
        yield ends


_VALUE = re.compile(r"^\[(\d+)\]:\s+(\S+)", re.MULTILINE)


def parse_mbpoll(output: str) -> dict[int, float]:
    """mbpoll's `[ref]: value` lines as {1-based reference: value}."""
    return {int(ref): float(value) for ref, value in _VALUE.findall(output)}


@pytest.fixture
def mbpoll() -> MbpollRunner:
    """Run the real mbpoll master with an argument string: (return code, stdout + stderr)."""

    def run(arguments: str) -> tuple[int, str]:
        proc = subprocess.run(["mbpoll", *shlex.split(arguments)], capture_output=True, text=True, timeout=15)
        return proc.returncode, proc.stdout + proc.stderr

    return run
