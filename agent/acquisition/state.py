"""What acquisition must remember across agent restarts: the last result time taken from each analyser.

The runtime passes a ``StateStore``; ``MemoryStateStore`` forgets on exit (tests), ``JsonFileStateStore``
keeps a small JSON file, replaced atomically. Acquisition writes the key only after ``sink.add_readings``
has returned (the readings are durable), so a crash in between re-takes the result once at restart, and the
collector drops the duplicate by (station, param, t).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol


class StateStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value


class JsonFileStateStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self.data: dict[str, str] = {str(k): str(v) for k, v in loaded.items()}
        except FileNotFoundError:
            self.data = {}
        except (ValueError, AttributeError):
            self.data = {}  # a torn or foreign file: start afresh (worst case one result is re-taken)

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        if self.data.get(key) == value:
            return
        self.data[key] = value
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.data, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def result_time_key(device: str) -> str:
    return f"acquisition.result_time.{device}"
