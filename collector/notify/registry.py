"""The registry of notifier kinds, keyed by the ``kind`` of a ``[[notify]]`` target.

A kind is how one attempt delivers a transition to a target (``deliver(spec, transition, channel)`` →
``Outcome``), optionally how it delivers a notice (notice.py: a report's summary) and what its config needs (an http(s) URL, a signing secret). The sender and the config look
kinds up here, so a new kind is one module under ``kinds/`` that calls ``register``, plus its import line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import AfterValidator

from collector.alerts.model import Transition
from collector.notify.notice import Notice
from collector.notify.retry import Outcome
from collector.notify.target import TargetSpec

# post(url, JSON document, timeout) → (HTTP status or None when no answer, parsed JSON body or None)
Post = Callable[[str, dict[str, Any], float], tuple[int | None, Any]]
# publish(topic, payload, qos, timeout) → True when the broker acknowledged it
Publish = Callable[[str, bytes, int, float], bool]


@dataclass(frozen=True, slots=True)
class Channel:
    """What one target's worker lends a delivery: the HTTP client, the collector's broker, the time zone of
    human messages."""

    post: Post
    publish: Publish | None
    tz: str


Deliver = Callable[[TargetSpec, Transition, Channel], Outcome]
DeliverNotice = Callable[[TargetSpec, Notice, Channel], Outcome]


@dataclass(frozen=True, slots=True)
class NotifierKind:
    kind: str
    deliver: Deliver  # one attempt, blocking, bounded by the target's timeout
    needs_url: bool = True  # an http(s) URL in the config
    signed: bool = False  # takes a signing secret
    notice: DeliverNotice | None = None  # one attempt at a notice (notice.py); None: the kind takes none


_KINDS: dict[str, NotifierKind] = {}


def register(
    kind: str,
    deliver: Deliver,
    *,
    needs_url: bool = True,
    signed: bool = False,
    notice: DeliverNotice | None = None,
) -> NotifierKind:
    """Register a notifier kind; a kind is registered once."""
    if kind in _KINDS:
        raise ValueError(f"notifier kind {kind!r} is already registered")
    entry = _KINDS[kind] = NotifierKind(kind, deliver, needs_url, signed, notice)
    return entry


def unregister(kind: str) -> None:
    """Forget a kind (tests that register their own clean up with this)."""
    del _KINDS[kind]


def get(kind: str) -> NotifierKind:
    entry = _KINDS.get(kind)
    if entry is None:
        raise ValueError(f"unknown notifier kind {kind!r}; known: {', '.join(kinds())}")
    return entry


def kinds() -> list[str]:
    return list(_KINDS)


def check_target(kind: str, url: str, secret: str) -> None:
    """What a target of ``kind`` needs in its config: ValueError naming the field when it is missing or
    not for this kind."""
    entry = get(kind)
    if entry.needs_url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"url: a {kind} target needs an http(s) URL")
    if secret and not entry.signed:
        signed = " or ".join(k.kind for k in _KINDS.values() if k.signed) or "no"
        raise ValueError(f"secret: only a {signed} target is signed")


def _known(kind: str) -> str:
    get(kind)
    return kind


# A ``[[notify]]`` kind: any registered one, checked when the config is validated.
KindName = Annotated[str, AfterValidator(_known)]
