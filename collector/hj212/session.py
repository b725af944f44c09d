"""One logger connection's logic: a received line in, what to send, what to commit and whether to close out.
Pure apart from the clock values passed in; the server (collector/hj212/server.py) does the I/O.

What each line gets (STANDARDS.md §6):

- over the connection's rate: dropped (``rate_limited``), no answer — the logger sends it again later.
- not a frame (header, length, CRC, encoding, syntax…; or longer than ``max_frame_bytes``): dropped without an
  answer, since nothing in it can be trusted (the logger sends it again when no 9014 comes); counted under the
  connection's logger (or ``(unknown)``) with the codec's reason.
- unknown MN: 9011 QnRtn 4; wrong password: 9011 QnRtn 3; an ST not the logger's: 9011 QnRtn 5. Nothing of it is
  used. Each is counted.
- a data upload (2011, 2051, 2061, 2031): its readings are committed to the inbox, then — only then — 9014 if
  its Flag asks for one. A split message (Flag D, PNUM/PNO) is committed when its last packet arrives, and every
  packet that asked gets its 9014 after that commit: a connection lost mid-message has acknowledged none of it.
  Data answering one of our history pulls (its QN) goes in the resend lane.
- an answer to one of our commands (9011, 9012, 1011, 1061 with its QN): the command's reply, once done.
- a data CN not in the logger's ``cns``, and anything else well-formed (2081, 3020, 9013/9014 …): 9014 if
  asked, nothing stored, nothing counted (the logger did nothing wrong).

``garbage_close_after`` bad frames in a row (undecodable, unknown MN, wrong password) close the connection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from collector.config import Hj212Config, Hj212Logger
from collector.hj212.commands import CommandBook
from collector.hj212.counters import Counts
from collector.hj212.mapping import DATA_CNS, batches, frame_readings
from collector.hj212.ratelimit import TokenBucket
from collector.hj212.reassembly import Reassembler, SplitError
from collector.hj212.registry import Loggers
from protocols import hj212, messages, topics
from protocols.errors import FrameError
from protocols.hj212 import Frame
from protocols.messages import CommandReply, Lane, Reading

ANSWER_CNS = frozenset({hj212.CN_REQUEST_ANSWER, hj212.CN_EXECUTION_RESULT, "1011", "1061"})
QN_RTN_PASSWORD = 3
QN_RTN_MN = 4
QN_RTN_ST = 5


@dataclass(slots=True)
class Actions:
    send: list[bytes] = field(default_factory=list)  # frames to send now
    commit: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, payload) for the inbox, in order
    after: list[bytes] = field(default_factory=list)  # frames to send once ``commit`` is committed
    close: str | None = None  # close the connection, for this reason
    logger: Hj212Logger | None = None  # the logger a good frame came from
    reply: CommandReply | None = None  # a command finished by this frame
    problem: tuple[str, bytes] | None = None  # (reason, raw line) of a refused line, for the log


class Session:
    def __init__(
        self, config: Hj212Config, loggers: Loggers, book: CommandBook, counts: Counts, now: float
    ) -> None:
        self.config = config
        self.loggers = loggers
        self.book = book
        self.counts = counts
        limits = config.limits
        self.bucket = TokenBucket(limits.max_frames_per_s, max(1.0, limits.max_frames_per_s), now)
        self.splits = Reassembler(limits.split_reassembly_timeout_s, limits.max_split_messages)
        self.mn: str | None = None  # the last logger that spoke on this connection with its password
        self.bad_in_row = 0
        self.good = 0
        self._dropped_seen = 0

    # -- lines -----------------------------------------------------------------------------------------------

    def on_line(self, raw: bytes, now: float, wall: datetime) -> Actions:
        if not self.bucket.take(now):
            self.counts.add(self.mn, "rate_limited")
            return Actions(problem=("rate_limited", raw))
        try:
            frame = hj212.decode_frame(
                raw, crc_variant=self.config.crc_variant, length_unit=self.config.length_unit
            )
        except FrameError as exc:
            return self.bad(exc.reason, raw)
        except Exception:  # the codec must raise FrameError only; never let a frame kill the connection
            return self.bad("codec", raw)
        return self.on_frame(frame, raw, now, wall)

    def bad(self, reason: str, raw: bytes, mn: str | None = None) -> Actions:
        """A refused line: counted; the connection closed after too many in a row."""
        self.counts.add(mn or self.mn, reason)
        self.bad_in_row += 1
        actions = Actions(problem=(reason, raw))
        if self.bad_in_row >= self.config.limits.garbage_close_after:
            actions.close = f"{self.bad_in_row} bad frames in a row"
        return actions

    def on_frame(self, frame: Frame, raw: bytes, now: float, wall: datetime) -> Actions:
        verdict = self.loggers.check(frame.mn, frame.pw)
        if verdict != "ok":
            actions = self.bad(verdict, raw, frame.mn if verdict == "bad_password" else None)
            code = QN_RTN_MN if verdict == "unknown_mn" else QN_RTN_PASSWORD
            actions.send.append(self._encode(hj212.build_request_answer(frame, code)))
            return actions
        logger = self.loggers.get(frame.mn)
        assert logger is not None
        self.mn = logger.mn
        answer = frame.cn in ANSWER_CNS
        if frame.st != logger.st and not (answer and frame.st == hj212.ST_SYSTEM):
            actions = self.bad("wrong_st", raw)
            actions.send.append(self._encode(hj212.build_request_answer(frame, QN_RTN_ST)))
            return actions
        self.bad_in_row = 0
        self.good += 1
        if frame.cn in DATA_CNS:
            actions = self._data(frame, logger, raw, now, wall)
        elif answer and self.book.get(frame.mn, frame.qn) is not None:
            actions = self._answer(frame, logger, wall)
        else:
            actions = Actions()
            if frame.reply_wanted:
                actions.send.append(self._data_answer(frame))
        actions.logger = logger
        return actions

    # -- data ------------------------------------------------------------------------------------------------

    def _data(self, frame: Frame, logger: Hj212Logger, raw: bytes, now: float, wall: datetime) -> Actions:
        if frame.split:
            try:
                packets = self.splits.add(frame, now)
            except SplitError:
                return self.bad("bad_split", raw)
            if packets is None:
                return Actions()
        else:
            packets = [frame]
        actions = Actions()
        acks = [self._data_answer(p) for p in packets if p.reply_wanted]
        if frame.cn not in logger.cns:  # answered; this logger's series is another CN (``cns``)
            actions.send += acks
            return actions
        readings: list[Reading] = []
        problems: Counter[str] = Counter()
        seen: set[tuple[str, datetime]] = set()
        for packet in packets:
            try:
                mapped = frame_readings(
                    packet, mn=logger.mn, zone=logger.zone, codes_2005=self.loggers.codes(logger.mn)
                )
            except ValueError:
                problems["no_datatime"] += 1
                continue
            problems.update(mapped.problems)
            for reading in mapped.readings:
                if (reading.param, reading.t) in seen:
                    problems["duplicate_param"] += 1
                    continue
                seen.add((reading.param, reading.t))
                readings.append(reading)
        for reason, n in problems.items():
            self.counts.add(logger.mn, reason, n)
        if problems:
            actions.problem = (",".join(sorted(problems)), raw)
        pending = self.book.history(logger.mn, frame.qn)
        if readings:
            if pending is not None:
                self.book.count_readings(pending, len(readings))
            lane = Lane.RESEND if pending is not None else Lane.LIVE
            topic = topics.topic(logger.site, "readings")
            for batch in batches(
                logger.site, packets[0], readings, mn=logger.mn, zone=logger.zone, lane=lane, sent_at=wall
            ):
                actions.commit.append((topic, messages.encode(batch)))
            actions.after += acks
        else:
            actions.send += acks
        return actions

    # -- answers to our commands -----------------------------------------------------------------------------

    def _answer(self, frame: Frame, logger: Hj212Logger, wall: datetime) -> Actions:
        reply = self.book.on_answer(frame, wall, logger.zone)
        actions = Actions(reply=reply)
        if reply is not None:
            actions.commit.append((topics.topic(logger.site, "reply"), messages.encode(reply)))
        if frame.reply_wanted:
            actions.send.append(self._data_answer(frame))
        return actions

    def tick(self, now: float) -> int:
        """Drop split messages past their time limit (or crowded out); how many since the last tick."""
        self.splits.expire(now)
        dropped = self.splits.dropped - self._dropped_seen
        self._dropped_seen = self.splits.dropped
        if dropped:
            self.counts.add(self.mn, "split_dropped", dropped)
        return dropped

    def _data_answer(self, request: Frame) -> bytes:
        """The 9014 to ``request`` (written out directly: one goes out for nearly every frame)."""
        try:
            return hj212.encode_data_answer(
                request, crc_variant=self.config.crc_variant, length_unit=self.config.length_unit
            )
        except FrameError:  # as in _encode: echoing a decoded frame cannot fail; if it did, say nothing
            return b""

    def _encode(self, frame: Frame) -> bytes:
        try:
            return hj212.encode_frame(
                frame, crc_variant=self.config.crc_variant, length_unit=self.config.length_unit
            )
        except FrameError:  # an answer that echoes what the peer sent cannot fail; if it does, say nothing
            return b""
