"""The demo's history: 13 months of synthetic readings and manual results written into the collector's store
while the live fleet starts, so that the dashboard's Reports view has months to show (issue 13, item 8).

Two one-shot commands run one after the other in a worker thread, each as a child process (the simulators
import no collector package, tests/collector/test_layering.py): ``qingliu sim history`` writes the files, then,
once the collector answers (its store exists), ``qingliu collector import-history`` bulk-writes them through
``Store.apply``; nothing goes over MQTT.

Where the history ends: live data must never land on a time the history holds (another value for the same
station, item and time would be kept as a revision and alerted). Probes are stamped with the agent's clock,
after the demo started; a nutrient analyser switched on shows its last completed cycle, which began up to one
cycle period plus one measurement before. So the history ends that long before the demo started, to the
second. Sequence numbers cannot meet either: the history's count from 10**12 (simulators/history.py).

A product asked for while the history was still going in (the Reports view opened early) was made from an
empty store and archived; once the history is in, each product archived meanwhile is made again through the
collector's API (``POST /api/reports/{kind}/{period}``), which notes that late data changed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from simulators.analysers.nutrient import Schedule

HISTORY_DIR = "history"
HTTP_TIMEOUT_S = 120.0  # making a product from 13 months on a busy machine
DONE_MARKER = "imported"  # written into the history folder once the store holds it


def history_end(started: datetime, nutrient_cycle_min: float) -> datetime:
    """The (exclusive) end of the demo's history: before any result a live analyser can show at switch-on."""
    schedule = Schedule.every(nutrient_cycle_min)
    lookback = timedelta(seconds=schedule.period_s) + schedule.duration
    return (started - lookback).astimezone(UTC).replace(microsecond=0)


def remake_archived(api: str, token: str) -> list[str]:
    """Makes again every product the collector at ``api`` has archived; returns their "kind/period"."""
    with urllib.request.urlopen(f"{api}/api/reports?limit=1000", timeout=HTTP_TIMEOUT_S) as response:
        listed = json.loads(response.read())["reports"]
    remade = []
    for entry in listed:
        name = f"{entry['kind']}/{entry['period']}"
        request = urllib.request.Request(
            f"{api}/api/reports/{name}", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S):
            remade.append(name)
    return remade


@dataclass
class FillResult:
    ok: bool
    seconds: float
    summary: str  # the generator's one-line summary, or why it failed


class HistoryFill:
    """Makes and imports the history in a thread; ``result`` is set when both commands have finished."""

    def __init__(
        self,
        exe: list[str],
        var_dir: Path,
        collector_config: Path,
        end: datetime,
        collector_ready: Callable[[], bool],
        preexec_fn: Callable[[], None] | None = None,
        remake: Callable[[], list[str]] | None = None,
    ) -> None:
        self.exe = exe
        self.folder = var_dir / HISTORY_DIR
        self.log_path = var_dir / "history.log"
        self.collector_config = collector_config
        self.end = end
        self.collector_ready = collector_ready
        self.preexec_fn = preexec_fn
        self.remake = remake
        self.result: FillResult | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-history", daemon=True)

    @property
    def already_imported(self) -> bool:
        return (self.folder / DONE_MARKER).exists()

    def start(self) -> HistoryFill:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends the running command (a half-imported history is harmless: importing is idempotent)."""
        self._stopped.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            end = self.end.strftime("%Y-%m-%dT%H:%M:%SZ")
            made = self._command(log, ["sim", "history", "--out", str(self.folder), "--end", end])
            if made != 0:
                self._finish(False, began, f"`qingliu sim history` failed (exit {made})")
                return
            while not self.collector_ready():
                if self._stopped.wait(0.2):
                    return
            imported = self._command(
                log, ["collector", "import-history", "--config", str(self.collector_config), str(self.folder)]
            )
        if imported != 0:
            self._finish(False, began, f"`qingliu collector import-history` failed (exit {imported})")
            return
        (self.folder / DONE_MARKER).write_text(f"{end}\n", encoding="utf-8")
        summary = self._summary()
        if self.remake is not None:
            try:
                remade = self.remake()
            except (OSError, ValueError, KeyError) as exc:
                summary += f"; products archived meanwhile not made again: {exc}"
            else:
                summary += f"; made again: {', '.join(remade)}" if remade else ""
        self._finish(True, began, summary)

    def _command(self, log: IO[bytes], args: list[str]) -> int:
        if self._stopped.is_set():
            return -1
        self._proc = subprocess.Popen(
            [*self.exe, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=self.preexec_fn,
        )
        return self._proc.wait()

    def _summary(self) -> str:
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return next((line for line in reversed(lines) if line.startswith("synthetic history")), "")

    def _finish(self, ok: bool, began: float, summary: str) -> None:
        if not self._stopped.is_set():
            self.result = FillResult(ok, time.monotonic() - began, summary)
