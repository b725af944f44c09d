"""HJ 212 ingest: frames/s one collector's HJ 212 server takes from 500 concurrent loggers, against a bare asyncio
TCP server that only reads lines, with the same clients in the same run (issue 14).

A client process opens ``--loggers`` TCP connections (one logger each, its own MN and station) and sends
``--rate`` real-time frames a second on each (``--params`` values per frame, Flag A: 9014 wanted) for
``--seconds``; it reads the answers as they come (a logger does not wait for one before its next real-time
upload). The same clients run twice:

- baseline: a bare asyncio server (a thread of this process, alone in it) that reads lines and counts them. Its
  figure: lines read / (last line read − first frame sent).
- collector: a CollectorService with ``[hj212]`` on (SQLite store, the HJ 212 server in its child process, the
  applier thread in this one).
  Its figure: frames committed to the durable inbox — the point where the 9014 goes out, counted by the clients —
  / (last 9014 received − first frame sent). Ingest lag: from the last frame sent until the store holds every
  reading (validated, stored, queryable).

Target: collector ≥ 0.5 × baseline and ingest lag < 5 s. The offered load is a stress far beyond real loggers
(HJ 212 real-time intervals are 30 s to minutes: 500 loggers send 17 frames/s or fewer; at the default 0.5 frame/s
each they send 250 frames/s, 2,500 readings/s, for 10 s): both servers are expected to keep up with it, and the ratio
and the lag say whether the collector does. ``--rate 0`` sends as fast as the
connections take frames (saturation): printed, judged by the same rule, and reported as what it is. The last line
is PASS or FAIL with every figure and its bound (exit 1 on FAIL).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_hj212_ingest [--loggers 500] [--rate 2] [--seconds 10] [--params 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import queue
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.rounds import Check, conclude
from collector.config import parse_config
from collector.service import CollectorService
from protocols import hj212

TARGET_RATIO = 0.5
TARGET_LAG_S = 5.0
# Plausible class II water (no exceedance alert opens: the load is ingest, not 500 stations alerting at once).
PARAMS = {
    "w01010": 15.0,
    "w01001": 7.5,
    "w01009": 8.0,
    "w01014": 400.0,
    "w01003": 10.0,
    "w21003": 0.3,
    "w01019": 3.0,
    "w21011": 0.05,
    "w21001": 0.8,
    "w01018": 12.0,
}
PW = "123456"
T0 = datetime(2026, 7, 1, tzinfo=UTC)


def mn(i: int) -> str:
    return f"BENCH{i:05d}"


def station(i: int) -> str:
    return f"bench{i:04d}"


def frames(i: int, count: int, params: int) -> list[bytes]:
    """Logger ``i``'s ``count`` distinct real-time frames (one second apart), ``params`` values each."""
    out = []
    for k in range(count):
        at = T0 + timedelta(seconds=k)
        codes = list(PARAMS)
        values = [
            (codes[p % len(codes)], PARAMS[codes[p % len(codes)]] + k / 1000, "N") for p in range(params)
        ]
        frame = hj212.build_realtime(values, mn=mn(i), pw=PW, data_time=at, qn_time=at)
        out.append(hj212.encode_frame(frame))
    return out


# -- the clients (a process of their own) -------------------------------------------------------------------------


@dataclass
class ClientResult:
    sent: int
    answers: int
    first_sent: float
    last_sent: float
    last_answer: float
    errors: int


async def _logger(port: int, data: list[bytes], rate: float, start: float, out: dict[str, Any]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        out["errors"] += 1
        return

    answered = 0
    progress = asyncio.Event()

    async def read() -> None:
        nonlocal answered
        while True:
            line = await reader.readline()
            if not line:
                return
            answered += 1
            out["answers"] += 1
            out["last_answer"] = time.time()
            progress.set()

    reading = asyncio.create_task(read())
    await asyncio.sleep(max(0.0, start - time.time()))
    try:
        for k, raw in enumerate(data):
            writer.write(raw)
            now = time.time()
            out["sent"] += 1
            out["first_sent"] = min(out["first_sent"], now)
            out["last_sent"] = max(out["last_sent"], now)
            if rate > 0:
                await asyncio.sleep(max(0.0, start + (k + 1) / rate - time.time()))
            else:
                await writer.drain()
        await writer.drain()
        # Let the answers come in: until every frame is answered, or none has come for ``linger`` seconds (a
        # server behind at saturation keeps answering long after the last frame; the bare reader never does).
        while answered < len(data):
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), out["linger"])
            except TimeoutError:
                break
    except Exception:  # counted and printed: a benchmark that hides a failure measures nothing
        out["errors"] += 1
    finally:
        reading.cancel()
        writer.close()


def frames_each(args: argparse.Namespace) -> int:
    return max(1, int(args.rate * args.seconds)) if args.rate > 0 else int(args.seconds * 20)


def run_clients(
    port: int, loggers: int, rate: float, count: int, params: int, linger: float, results: Any
) -> None:
    data = [frames(i, count, params) for i in range(loggers)]
    out: dict[str, Any] = {
        "sent": 0,
        "answers": 0,
        "first_sent": float("inf"),
        "last_sent": 0.0,
        "last_answer": 0.0,
        "errors": 0,
        "linger": linger,
    }
    start = time.time() + 1.0  # every connection open before the first frame

    async def main() -> None:
        await asyncio.gather(
            *(
                _logger(port, data[i], rate, start + (i / loggers) / max(rate, 1.0), out)
                for i in range(loggers)
            )
        )

    asyncio.run(main())
    out.pop("linger")
    results.put(ClientResult(**out))


def clients(port: int, args: argparse.Namespace, linger: float) -> ClientResult:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(
        target=run_clients,
        args=(port, args.loggers, args.rate, frames_each(args), args.params, linger, results),
    )
    proc.start()
    deadline = time.time() + args.seconds * 10 + 120
    while True:
        try:
            result: ClientResult = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not proc.is_alive() or time.time() > deadline:
                raise RuntimeError(
                    f"the client process ended without a result (exit code {proc.exitcode})"
                ) from None
    proc.join(30)
    return result


# -- the baseline: a bare asyncio server that only reads lines ---------------------------------------------------


class BareServer:
    def __init__(self) -> None:
        self.lines = 0
        self.last_line = 0.0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=4096, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\n")
                self.lines += 1
                self.last_line = time.time()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()


# -- the collector ---------------------------------------------------------------------------------------------


def collector_config(workdir: Path, loggers: int) -> str:
    lines = [
        "accept_unknown_stations = true",
        f'[store]\nurl = "sqlite:///{workdir / "collector.db"}"',
        "[gaps]\nenabled = false",
        "[reports]\nenabled = false",
        "[hj212]\nenabled = true\nport = 0\n[hj212.limits]\nmax_frames_per_s = 1000000\nmax_connections = 100000",
    ]
    for i in range(loggers):
        lines.append(
            f'[[hj212.loggers]]\nmn = "{mn(i)}"\npassword = "{PW}"\nstation = "{station(i)}"\ncns = ["2011"]\n'
            'history_cn = "2011"'
        )
    return "\n".join(lines) + "\n"


def stored_readings(service: CollectorService) -> int:
    """Readings the applier has committed to the store (its own counter: polling the store would slow it)."""
    return int(service.counters.snapshot()["readings_inserted"])


def run_collector(args: argparse.Namespace, workdir: Path) -> tuple[ClientResult, float, int]:
    config = parse_config(collector_config(workdir, args.loggers))
    service = CollectorService(config, tick_s=5.0)
    service.start(mqtt=False)
    try:
        assert service.hj212 is not None
        expected = args.loggers * frames_each(args) * args.params
        done: list[float] = []

        def watch() -> None:  # when the store first holds every reading
            start = time.time()
            deadline = start + args.seconds * 10 + 180
            shown = start
            while time.time() < deadline:
                if stored_readings(service) >= expected:
                    done.append(time.time())
                    return
                if args.verbose and time.time() - shown >= 1.0:
                    shown = time.time()
                    print(
                        f"  {shown - start:5.1f} s: inbox {service.inbox.depth()}, "
                        f"stored {stored_readings(service)} readings",
                        flush=True,
                    )
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        result = clients(service.hj212.port, args, linger=15.0)
        watcher.join()
        lag = (done[0] if done else float("inf")) - result.last_sent
        return result, lag, int(service.store.counts().get("readings", 0))
    finally:
        service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loggers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.5, help="frames/s per logger; 0: as fast as possible")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--params", type=int, default=10)
    parser.add_argument("--verbose", action="store_true", help="the inbox and the store each second")
    args = parser.parse_args(argv)

    bare = BareServer()
    bare.start()
    try:
        base = clients(bare.port, args, linger=1.0)
        time.sleep(0.5)
        base_frames = bare.lines
        base_rate = base_frames / max(1e-9, bare.last_line - base.first_sent)
    finally:
        bare.stop()
    with tempfile.TemporaryDirectory(prefix="qingliu-bench-hj212-") as tmp:
        ours, lag, readings = run_collector(args, Path(tmp))
    rate = ours.answers / max(1e-9, ours.last_answer - ours.first_sent)
    offered = args.loggers * args.rate if args.rate > 0 else float("nan")
    ratio = rate / base_rate if base_rate else 0.0
    print(
        f"loggers {args.loggers}, {args.params} values a frame, offered {offered:.0f} frames/s for {args.seconds:g} s"
    )
    print(
        f"baseline (bare asyncio line reader): {base_frames} of {base.sent} lines, {base_rate:,.0f} frames/s"
    )
    print(
        f"collector HJ 212 server: {ours.answers} of {ours.sent} frames committed and answered (9014), "
        f"{rate:,.0f} frames/s, connection errors {ours.errors + base.errors}"
    )
    print(
        f"stored readings {readings} of {ours.sent * args.params}; ingest lag after the last frame {lag:.2f} s"
    )
    answered, stored = ours.answers == ours.sent, readings == ours.sent * args.params
    return conclude(
        [
            Check(
                "collector ÷ bare line reader", f"{ratio:.2f}", f"≥ {TARGET_RATIO:g}", ratio >= TARGET_RATIO
            ),
            Check("ingest lag", f"{lag:.2f} s", f"< {TARGET_LAG_S:g} s", lag < TARGET_LAG_S),
            Check("frames answered", f"{ours.answers} of {ours.sent}", "all", answered),
            Check("readings stored", f"{readings} of {ours.sent * args.params}", "all", stored),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
