"""Start real processes for end-to-end tests and make sure none outlives the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType


def exit_on_sigterm() -> None:
    """Make a SIGTERM end this process as Ctrl-C does (KeyboardInterrupt) instead of at once, so that the
    finally blocks and fixtures that stop its children still run (pytest stops the session and tears down on
    KeyboardInterrupt; a SystemExit inside a test would only fail that test). Without it a benchmark or test run stopped by ``timeout`` or a
    cancelled CI job left its collectors, pipelines and brokers running (each child has a session of its own,
    so nothing else reaches them), and they skewed every measurement after. Only from the main thread and only
    where nobody installed a handler of their own."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class Proc:
    """A child process with its output in a log file; ``kill9`` simulates a power cut of that process."""

    def __init__(self, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        exit_on_sigterm()
        self.name = name
        self.args = args
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        merged = dict(os.environ)
        merged.update(env or {})
        merged.setdefault("PYTHONUNBUFFERED", "1")
        self.popen = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=merged, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()
        return self.popen.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def qingliu(*args: str) -> list[str]:
    """The command line that runs ``qingliu ARGS`` with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "qingliu_cli", *args]


class ProcessGroup:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, args, self.log_dir, env)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
