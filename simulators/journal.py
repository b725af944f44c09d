"""The simulator's own record of every result its wet-chemistry analysers produced (JSON lines).

Tests compare what reached the collector with this: one line per new result, flushed as it is written.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import IO, Any

from simulators.analysers.base import Result


def result_record(station: str, device: str, result: Result) -> dict[str, Any]:
    return {
        "station": station,
        "device": device,
        "param": result.param,
        "result_time": result.result_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "value": result.value,
        "flag": str(result.flag),
    }


class Journal:
    """Appends records to ``path``; a Journal with no path keeps them in memory only (``records``)."""

    def __init__(self, path: str | Path | None = None, *, keep: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.keep = keep
        self.records: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def write(self, station: str, device: str, result: Result) -> None:
        record = result_record(station, device, result)
        if self.keep:
            self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_journal(path: str | Path) -> list[dict[str, Any]]:
    """Every record in a journal file; a torn last line (the simulator killed mid-write) is skipped."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
