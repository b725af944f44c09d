"""Fixtures for the Modbus simulator tests: a socat virtual serial line and the mbpoll master."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MbpollRunner = Callable[[str], tuple[int, str]]


@pytest.fixture
def socat_pty(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A virtual serial line: (server end, client end) device paths; socat is killed afterwards."""
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    proc = subprocess.Popen(
        ["socat", "-d", "-d", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while not (a.exists() and b.exists()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("socat did not create the pty pair")
            time.sleep(0.01)
        yield str(a), str(b)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
