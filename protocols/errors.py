"""The exception tree shared by every qingliu package.

    QingliuError
    ├── ConfigError            a config or profile file that does not validate (names the field)
    ├── ProtocolError          bytes or documents from the outside that we cannot accept
    │   ├── PayloadError       an MQTT payload: malformed JSON, wrong schema, oversized, wrong station
    │   ├── FrameError         an HJ 212 frame: length, syntax or CRC wrong
    │   └── RegisterError      a Modbus register response that cannot be decoded
    └── CommandError           a command that is malformed, for another station, or cannot be carried out

Each error carries a short machine-readable ``reason`` so that callers can count errors by kind.
"""

from __future__ import annotations


class QingliuError(Exception):
    """Base of every error qingliu raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigError(QingliuError):
    reason = "config"


class FieldProblem(ValueError):
    """Raised inside a config model's validator to point at the field at fault (``("devices", 2, "bus")``)
    rather than at the whole document; protocols/tomldoc.py reports it at that place."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class ProtocolError(QingliuError):
    reason = "protocol"


class PayloadError(ProtocolError):
    reason = "payload"


class FrameError(ProtocolError):
    reason = "frame"


class RegisterError(ProtocolError):
    reason = "register"


class CommandError(QingliuError):
    reason = "command"
