"""Bounded free-form JSON: what an event's ``detail``, a command's ``args`` and a reply's ``result`` may hold.

These fields carry whatever the sender finds useful, so the schema cannot name their contents; it bounds
them instead, so that every value a receiver accepts can be stored, serialized again and read back: finite
numbers, integers a BIGINT holds, valid Unicode text (no lone surrogates), limited nesting, length and size.
The limits are far above what the agent and the collector put there today (the largest is a get_config
reply: the agent's whole config, about 2 KB and 4 levels for six devices) and below the payload limit.
Pure: the check walks the value once and raises ValueError saying where it is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Containers inside containers, counting the field's own dict as 1. Serializers and databases have
# recursion limits (json, pydantic, jsonb): 8 is far below all of them and twice our deepest use.
MAX_DEPTH = 8
# Keys and values together, in one field: bounds the work of storing and rendering it. An agent config
# of 100 devices is about 3,000.
MAX_ITEMS = 10_000
MAX_STRING_CHARS = 4096  # one string value (an error text, a config path, an ISO time...)
MAX_KEY_CHARS = 128
MAX_TOTAL_CHARS = 128 * 1024  # all strings and keys of one field: half the payload limit
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what SQLite INTEGER and PostgreSQL BIGINT hold


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path) or "(top)"


def _check_text(text: str, limit: int, path: tuple[str, ...], what: str) -> None:
    if len(text) > limit:
        raise ValueError(f"{what} at {_where(path)} is longer than {limit} characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{what} at {_where(path)} is not valid Unicode (lone surrogate)") from None


def _key_label(key: str) -> str:
    # Keys end up in error messages: keep them short and printable whatever they hold.
    return ascii(key[:32])[1:-1]


def check_json_object(value: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``value`` is a JSON object within the limits above."""
    items = 0
    chars = 0
    stack: list[tuple[Any, int, tuple[str, ...]]] = [(value, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            _check_text(node, MAX_STRING_CHARS, path, "string")
            chars += len(node)
        elif node is None or isinstance(node, bool):
            pass
        elif isinstance(node, int):
            if not INT_MIN <= node <= INT_MAX:
                raise ValueError(f"integer at {_where(path)} is outside the 64-bit range")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise ValueError(f"number at {_where(path)} is not finite (NaN/Infinity)")
        elif isinstance(node, Mapping | list | tuple):
            if depth > MAX_DEPTH:
                raise ValueError(f"value at {_where(path)} nests deeper than {MAX_DEPTH} levels")
            if isinstance(node, Mapping):
                items += len(node)
                for key, child in node.items():
                    if not isinstance(key, str):
                        raise ValueError(f"key {key!r} at {_where(path)} is not a string")
                    _check_text(key, MAX_KEY_CHARS, path, "key")
                    chars += len(key)
                    stack.append((child, depth + 1, (*path, _key_label(key))))
            else:
                items += len(node)
                stack.extend((child, depth + 1, (*path, str(i))) for i, child in enumerate(node))
            if items > MAX_ITEMS:
                raise ValueError(f"holds more than {MAX_ITEMS} keys and values")
        else:
            raise ValueError(f"value at {_where(path)} is a {type(node).__name__}, not a JSON value")
        if chars > MAX_TOTAL_CHARS:
            raise ValueError(f"holds more than {MAX_TOTAL_CHARS} characters of text")
