"""A bare HJ 212 peer for the tests: frames out over a real TCP socket, the server's answers read back."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime

from protocols import hj212
from protocols.hj212 import Frame

MN = "MN0001"
PW = "123456"


class Peer:
    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""

    def send(self, data: bytes | Frame) -> None:
        self.sock.sendall(hj212.encode_frame(data) if isinstance(data, Frame) else data)

    def read(self) -> Frame:
        """The next frame the server sent (decoded: it must be a valid frame)."""
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return hj212.decode_frame(line + b"\r\n")

    def closed(self, wait_s: float = 0.5) -> bool:
        """True once the server has closed the connection (waits up to ``wait_s``)."""
        self.sock.settimeout(wait_s)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self._buffer += chunk
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        finally:
            self.sock.settimeout(self.timeout)

    @property
    def unread(self) -> bytes:
        return self._buffer

    def close(self) -> None:
        self.sock.close()


def realtime(
    values: Sequence[tuple[str, float | None, str]],
    at: datetime,
    *,
    mn: str = MN,
    pw: str = PW,
    reply: bool = True,
) -> Frame:
    return hj212.build_realtime(values, mn=mn, pw=pw, data_time=at, qn_time=at, reply=reply)


def hourly(values: Sequence[tuple[str, float | None, str]], at: datetime, *, qn: str | None = None) -> Frame:
    frame = hj212.build_hourly(values, mn=MN, pw=PW, data_time=at, qn_time=at)
    if qn is None:
        return frame
    return Frame(qn=qn, st=frame.st, cn=frame.cn, pw=frame.pw, mn=frame.mn, flag=frame.flag, cp=frame.cp)


def split(frame: Frame, parts: int) -> list[Frame]:
    """``frame`` as ``parts`` split packets: its parameters spread over them, DataTime in each."""
    data_time = frame.cp.groups[0]
    params = list(frame.cp.groups[1:])
    size = -(-len(params) // parts)
    flag = hj212.flag_value(split=True, reply=True)
    return [
        Frame(
            qn=frame.qn,
            st=frame.st,
            cn=frame.cn,
            pw=frame.pw,
            mn=frame.mn,
            flag=flag,
            pnum=parts,
            pno=i + 1,
            cp=hj212.CP((data_time, *params[i * size : (i + 1) * size])),
        )
        for i in range(parts)
    ]
