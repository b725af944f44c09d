"""Why a read failed, as one exception with a ``kind`` that the per-device counters use."""

from __future__ import annotations

from typing import Literal

FailureKind = Literal["timeout", "exception", "crc", "garbage", "connection", "decode"]
FAILURE_KINDS: tuple[FailureKind, ...] = ("timeout", "exception", "crc", "garbage", "connection", "decode")


class ReadFailed(Exception):
    """A request to one device got no usable answer. ``code`` is the Modbus exception code, if any."""

    def __init__(self, kind: FailureKind, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.code = code


ILLEGAL_DATA_ADDRESS = 2
