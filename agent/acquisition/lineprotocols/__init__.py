"""Plugins for non-Modbus line protocols on a serial bus of type "ascii".

A vendor's protocol is one new module in this package that defines ``PROTOCOL``, an object satisfying
``LineProtocol``; a device selects it with ``profile = "<module name>"`` in the agent config.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from protocols.errors import ConfigError
from protocols.flags import Flag


@dataclass(frozen=True)
class LineResult:
    values: dict[str, float | None] = field(default_factory=dict)  # by HJ 212 code; None = no result
    flag: Flag = Flag.NORMAL  # the analyser's state as a flag


class LineProtocol(Protocol):
    name: str
    terminator: bytes
    max_line: int

    def request(self, address: int) -> bytes:
        """The bytes that ask the analyser at ``address`` for its current values."""
        ...

    def parse(self, line: bytes, address: int) -> LineResult:
        """Decode one answer line; raise protocols.errors.ProtocolError (with a reason) if it is bad."""
        ...


def load_line_protocol(name: str) -> LineProtocol:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ConfigError(f"line protocol name {name!r} must be a module name (a-z, 0-9, _)")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise ConfigError(
            f"unknown line protocol {name!r} (no module agent.acquisition.lineprotocols.{name})"
        ) from None
    protocol = getattr(module, "PROTOCOL", None)
    if protocol is None:
        raise ConfigError(f"line protocol module {name!r} defines no PROTOCOL")
    return protocol
