"""A serial line end (socat pty or real tty) read and written through the asyncio event loop.

Shared by the Modbus RTU and ASCII simulators: the line is opened raw and non-blocking, bytes that arrived
before we listened are flushed (they are no request), incoming bytes are handed to ``on_data`` from the
loop's reader callback, and writes wait for the line to take them — bounded, so that a line nobody reads
never stalls a simulated bus for ever.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import termios
import tty
from collections.abc import Callable

log = logging.getLogger(__name__)

READ_CHUNK = 4096
WRITE_TIMEOUT_S = 1.0


class PtyLine:
    def __init__(
        self, path: str, on_data: Callable[[bytes], None], *, label: str, on_io_error: Callable[[], None]
    ):
        self.path = path
        self.label = label  # for log lines: "Modbus RTU line", "ASCII line"
        self._on_data = on_data
        self._on_io_error = on_io_error
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        """Open the line and start reading (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            if os.isatty(fd):
                tty.setraw(fd, termios.TCSANOW)
                termios.tcflush(fd, termios.TCIFLUSH)  # bytes left from before we listened are no request
        except (OSError, termios.error):
            os.close(fd)
            raise
        self._fd = fd
        self._loop.add_reader(fd, self._on_readable)

    def close(self) -> None:
        if self._fd is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _on_readable(self) -> None:
        assert self._fd is not None and self._loop is not None
        try:
            data = os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            # EIO: the far end of the pty is gone; stop reading rather than spin
            self._on_io_error()
            log.warning("%s %s: read failed (%s); no longer reading", self.label, self.path, exc)
            self._loop.remove_reader(self._fd)
            return
        if data:
            self._on_data(data)

    async def write_all(self, data: bytes) -> None:
        assert self._fd is not None and self._loop is not None
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await self._writable()
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    raise

    async def _writable(self) -> None:
        assert self._fd is not None and self._loop is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        fd = self._fd

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self._loop.add_writer(fd, ready)
        try:
            # a line nobody reads must not stall the bus for ever (TimeoutError is an OSError)
            await asyncio.wait_for(fut, WRITE_TIMEOUT_S)
        finally:
            self._loop.remove_writer(fd)
