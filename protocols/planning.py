"""Register-request planning: cover a device's registers with as few Modbus reads as possible.

Pure: spans in, read requests out. Each span (one value: a field, a status word, a result time) must lie whole
inside one request, since a value split over two replies could be torn (read at two moments). A request spans
at most ``max_registers`` registers.

Holes between spans are bridged by default (``max_gap=None``): reading a few unused registers costs a
few bytes on the wire, while every extra request costs a full round trip and an inter-frame gap. Some
devices answer "illegal data address" for registers they do not define; the caller then plans again with
``max_gap=0`` (contiguous spans only). Greedy covering from the lowest address gives the minimal request
count: any plan must start a request at or before the first uncovered span, and starting exactly there
covers the most.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from protocols.errors import ConfigError, RegisterError
from protocols.profiles import Profile


@dataclass(frozen=True, slots=True)
class Span:
    address: int
    width: int

    @property
    def end(self) -> int:  # one past the last register
        return self.address + self.width


@dataclass(frozen=True, slots=True)
class ReadRequest:
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


def plan(spans: Iterable[Span], max_registers: int, *, max_gap: int | None = None) -> list[ReadRequest]:
    """The fewest requests of at most ``max_registers`` that hold every span whole.

    ``max_gap`` limits the unused registers bridged between two spans in one request (None: any gap fits).
    Raises ConfigError if a span is wider than ``max_registers`` or spans overlap.
    """
    if max_registers < 1:
        raise ConfigError(f"max_registers must be at least 1, got {max_registers}")
    ordered = sorted(set(spans), key=lambda s: (s.address, s.width))
    requests: list[ReadRequest] = []
    start = end = -1
    for span in ordered:
        if span.width > max_registers:
            raise ConfigError(
                f"a value of {span.width} registers at {span.address} does not fit in a "
                f"request of at most {max_registers}"
            )
        if start >= 0 and span.address < end:
            raise ConfigError(f"register spans overlap at {span.address}")
        fits = start >= 0 and span.end - start <= max_registers
        if fits and max_gap is not None and span.address - end > max_gap:
            fits = False
        if fits:
            end = span.end
            continue
        if start >= 0:
            requests.append(ReadRequest(start, end - start))
        start, end = span.address, span.end
    if start >= 0:
        requests.append(ReadRequest(start, end - start))
    return requests


def profile_spans(profile: Profile) -> list[Span]:
    """Every register span the agent reads from a device of this profile."""
    spans = [Span(f.address, f.width) for f in profile.fields]
    for reg_map in (profile.status, profile.alarm):
        if reg_map is not None:
            spans.append(Span(reg_map.address, 1))
    if profile.result_time is not None:
        spans.append(Span(profile.result_time.address, profile.result_time.width))
    return spans


def plan_profile(profile: Profile, *, max_gap: int | None = None) -> list[ReadRequest]:
    return plan(profile_spans(profile), profile.max_registers_per_request, max_gap=max_gap)


class RegisterImage:
    """The registers returned by a set of requests, addressed by register number."""

    def __init__(self) -> None:
        self._words: dict[int, int] = {}

    def add(self, request: ReadRequest, words: Sequence[int]) -> None:
        if len(words) != request.count:
            raise RegisterError(
                f"asked for {request.count} registers at {request.address}, got {len(words)}", reason="count"
            )
        for i, word in enumerate(words):
            self._words[request.address + i] = word

    def get(self, address: int, width: int) -> list[int]:
        try:
            return [self._words[a] for a in range(address, address + width)]
        except KeyError as exc:
            raise RegisterError(f"register {exc.args[0]} was not read", reason="unread") from None

    @classmethod
    def of(cls, words: dict[int, int]) -> RegisterImage:
        image = cls()
        image._words = dict(words)
        return image
