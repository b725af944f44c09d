"""A virtual RS-485 line: a socat pty pair, as the simulator tests, the interop tests and the RS-485 benchmark
use it (TOOLING: `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`; a pty ignores the baud rate)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def start_pty_pair(a: Path, b: Path, timeout_s: float = 5.0) -> subprocess.Popen[bytes]:
    """Start socat linking two ptys at ``a`` and ``b``; returns once both links exist."""
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while not (a.exists() and b.exists()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("socat did not create the pty pair")
        time.sleep(0.01)
    return proc


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = 5.0) -> None:
    """Terminate, then kill if it does not go within ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def pty_pair(a: Path, b: Path) -> Iterator[tuple[str, str]]:
    """The pair's two device paths for as long as the block runs."""
    proc = start_pty_pair(a, b)
    try:
        yield str(a), str(b)
    finally:
        stop_process(proc)
