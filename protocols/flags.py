"""HJ 212-2017 data flags. Every value carries exactly one; values are never rewritten, doubt goes here."""

from __future__ import annotations

from enum import StrEnum


class Flag(StrEnum):
    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    MANUAL = "S"
    FAULT = "D"
    CALIBRATION = "C"
    OVER_RANGE = "T"
    COMM_FAILED = "B"


FLAG_NAMES: dict[Flag, tuple[str, str]] = {
    Flag.NORMAL: ("正常", "normal"),
    Flag.STOPPED: ("停运", "analyser stopped"),
    Flag.MAINTENANCE: ("维护", "maintenance"),
    Flag.MANUAL: ("手工输入", "set by hand"),
    Flag.FAULT: ("故障", "analyser fault"),
    Flag.CALIBRATION: ("校准", "calibration"),
    Flag.OVER_RANGE: ("超测量上限", "over measurement range"),
    Flag.COMM_FAILED: ("通讯异常", "communication failed"),
}

# Only these enter averages and the valid-data rate (STANDARDS.md §5).
VALID_FLAGS: frozenset[Flag] = frozenset({Flag.NORMAL, Flag.OVER_RANGE})

# When several reasons for doubt apply at once, the most telling one wins.
_PRECEDENCE = [
    Flag.COMM_FAILED,
    Flag.FAULT,
    Flag.STOPPED,
    Flag.MAINTENANCE,
    Flag.CALIBRATION,
    Flag.MANUAL,
    Flag.OVER_RANGE,
    Flag.NORMAL,
]


def worst(*flags: Flag) -> Flag:
    """The flag that takes precedence among ``flags`` (NORMAL when none is given)."""
    present = set(flags)
    for flag in _PRECEDENCE:
        if flag in present:
            return flag
    return Flag.NORMAL


def is_valid(flag: Flag | str) -> bool:
    return Flag(flag) in VALID_FLAGS
