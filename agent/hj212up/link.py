"""One TCP connection to a platform: frames out, 9014 replies matched by QN, the platform's requests handed on.

Reading is line by line (``\\r\\n``); a frame that fails the strict codec is counted and skipped. 9014 answers
an upload (by QN: one per packet that asked); 9011 with the QN of an upload and QnRtn other than 1 is the
platform refusing it; anything else the platform sends is a request for ``on_request``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from protocols import hj212
from protocols.errors import FrameError
from protocols.hj212 import Frame

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024


@dataclass
class _Wait:
    remaining: int
    refused: bool = False
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Link:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_request: Callable[[Frame], Coroutine[Any, Any, None]],
        on_reply: Callable[[], None],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.on_request = on_request
        self.on_reply = on_reply
        self.bad_frames = 0
        self._waits: dict[str, _Wait] = {}
        self._answers: set[asyncio.Task[None]] = set()

    async def write(self, frames: list[Frame]) -> None:
        self.writer.write(b"".join(hj212.encode_frame(f) for f in frames))
        await self.writer.drain()

    async def send(self, packets: list[tuple[Frame, bytes]], timeout: float) -> str:
        """Send one message's packets; "acked" when every packet that asked got its 9014 within ``timeout``,
        "sent" when none asked, "refused" (9011 QnRtn != 1), "timeout" otherwise. Raises OSError on a lost
        connection."""
        asking = [p for p, _ in packets if p.reply_wanted]
        qns = {p.qn or "" for p in asking}
        wait = _Wait(len(asking))
        for qn in qns:
            self._waits[qn] = wait
        try:
            self.writer.write(b"".join(data for _, data in packets))
            await self.writer.drain()
            if not asking:
                return "sent"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wait.event.wait(), timeout)
        finally:
            for qn in qns:
                self._waits.pop(qn, None)
        if wait.refused:
            return "refused"
        return "acked" if wait.remaining <= 0 else "timeout"

    async def receive(self) -> None:
        """Until the platform closes the connection (returns) or it fails (OSError)."""
        while True:
            try:
                line = await self.reader.readuntil(b"\r\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                return
            start = line.find(b"##")
            try:
                if start < 0:
                    raise FrameError("no '##'", reason="header")
                frame = hj212.decode_frame(line[start:])
            except FrameError as exc:
                self.bad_frames += 1
                log.info("bad frame from the platform (%s): %r", exc.reason, line[:80])
                continue
            if frame.cn == hj212.CN_DATA_ANSWER:
                self._answered(frame, refused=False)
            elif frame.cn == hj212.CN_REQUEST_ANSWER and (frame.qn or "") in self._waits:
                if frame.cp.get("QnRtn") != "1":
                    self._answered(frame, refused=True)
            elif frame.cn in (hj212.CN_REQUEST_ANSWER, hj212.CN_EXECUTION_RESULT, hj212.CN_NOTIFY_ANSWER):
                continue
            else:
                task = asyncio.create_task(self.on_request(frame))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)

    def _answered(self, frame: Frame, *, refused: bool) -> None:
        wait = self._waits.get(frame.qn or "")
        if wait is None:
            return  # late: the message was given up on (it goes again under the same QN)
        if refused:
            wait.refused = True
            wait.event.set()
            return
        self.on_reply()
        wait.remaining -= 1
        if wait.remaining <= 0:
            wait.event.set()

    async def close(self) -> None:
        for task in list(self._answers):
            task.cancel()
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
