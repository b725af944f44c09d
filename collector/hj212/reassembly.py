"""Split packets (Flag bit D, PNUM total, PNO this one) put back together, with a time limit. Pure.

The packets of one message share MN, CN and QN. A message is complete when packets 1..PNUM are all there; it
is then handed back as its packets in PNO order (each keeps its own CP, DataTime included, and the mapping
reads them one by one). A message not complete within ``timeout_s`` of its first packet is dropped (the logger
has had no 9014 for it and re-sends it whole); so is the oldest one when more than ``max_messages`` are open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.hj212 import Frame

Key = tuple[str, str, str | None, int]  # (MN, CN, QN, PNUM)


class SplitError(ValueError):
    """A packet whose PNUM/PNO cannot be right (PNO 0 or beyond PNUM, no PNUM)."""


@dataclass(slots=True)
class _Partial:
    started: float
    packets: dict[int, Frame] = field(default_factory=dict)


class Reassembler:
    def __init__(self, timeout_s: float, max_messages: int) -> None:
        self.timeout_s = timeout_s
        self.max_messages = max_messages
        self._open: dict[Key, _Partial] = {}
        self.dropped = 0  # messages dropped incomplete (timeout, too many open)

    def add(self, frame: Frame, now: float) -> list[Frame] | None:
        """The message's packets in order once ``frame`` completes it, else None. SplitError for a packet
        whose numbering is impossible."""
        pnum, pno = frame.pnum, frame.pno
        if pnum is None or pno is None or pnum < 1 or not 1 <= pno <= pnum:
            raise SplitError(f"split packet with PNUM={pnum} PNO={pno}")
        if pnum == 1:
            return [frame]
        key = (frame.mn, frame.cn, frame.qn, pnum)
        partial = self._open.get(key)
        if partial is None:
            self.expire(now)
            while len(self._open) >= self.max_messages:
                oldest = min(self._open, key=lambda k: self._open[k].started)
                del self._open[oldest]
                self.dropped += 1
            partial = self._open[key] = _Partial(now)
        partial.packets[pno] = frame  # a packet sent again replaces the first copy
        if len(partial.packets) < pnum:
            return None
        del self._open[key]
        return [partial.packets[i] for i in range(1, pnum + 1)]

    def expire(self, now: float) -> int:
        """Drop the messages older than the time limit; how many."""
        old = [k for k, p in self._open.items() if now - p.started > self.timeout_s]
        for key in old:
            del self._open[key]
        self.dropped += len(old)
        return len(old)

    @property
    def open_count(self) -> int:
        return len(self._open)
