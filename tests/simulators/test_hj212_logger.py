"""The HJ 212 data-logger simulator against a tiny platform over real TCP: what it sends decodes with the strict
codec and matches its journal; 9014 handling, split packets, history, time and interval requests, and every fault
does what it says."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from protocols import hj212
from protocols.errors import FrameError
from protocols.flags import Flag
from protocols.hj212 import CP, Frame
from simulators.cli import main
from simulators.clock import SimClock
from simulators.hj212_data import LoggerStore
from simulators.hj212_logger import Faults, HJ212Logger, LoggerConfig
from simulators.journal import read_journal
from tests.support.processes import qingliu

SPEED = 600.0  # a 60 s interval passes in 0.1 s
LOCAL = ZoneInfo(hj212.DEFAULT_ZONE)


class Platform:
    """A bare HJ 212 platform: records every line, answers 9014 when asked (if ``ack``), sends requests."""

    def __init__(self, *, ack: bool = True) -> None:
        self.ack = ack
        self.lines: list[bytes] = []  # every line received, in order
        self.per_connection: list[list[bytes]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection (the platform goes away)."""
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()
        self.writers = []

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        mine: list[bytes] = []
        self.per_connection.append(mine)
        try:
            while True:
                line = await reader.readuntil(b"\r\n")
                self.lines.append(line)
                mine.append(line)
                frame = decode(line)
                if frame is not None and self.ack and frame.reply_wanted and frame.cn.startswith("20"):
                    writer.write(hj212.encode_frame(hj212.build_data_answer(frame)))
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    async def send(self, frame: Frame) -> None:
        writer = self.writers[-1]
        writer.write(hj212.encode_frame(frame))
        await writer.drain()

    def frames(self, cn: str | None = None) -> list[Frame]:
        decoded = [decode(line) for line in self.lines]
        return [f for f in decoded if f is not None and (cn is None or f.cn == cn)]


def decode(line: bytes) -> Frame | None:
    try:
        return hj212.decode_frame(line)
    except FrameError:
        return None


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))


async def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def config(port: int, **changes: Any) -> LoggerConfig:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": port, "mn": "LOG0001", "station": "jiehepucun"}
    base.update(changes)
    return LoggerConfig(**base)


def clock(start: datetime | None = None, speed: float = SPEED) -> SimClock:
    return SimClock(start or datetime(2026, 7, 1, 1, 30, 5, tzinfo=UTC), speed=speed)


async def with_logger(
    platform: Platform,
    cfg: LoggerConfig,
    body: Callable[[HJ212Logger], Awaitable[None]],
    sim: SimClock | None = None,
) -> HJ212Logger:
    logger = HJ212Logger(cfg, sim or clock())
    await logger.start()
    try:
        await body(logger)
    finally:
        await logger.stop()
    return logger


def realtime_journal(logger: HJ212Logger) -> dict[tuple[str, str], tuple[float, str]]:
    return {
        (r["result_time"], r["param"]): (r["value"], r["flag"])
        for r in logger.journal.records
        if r["device"] == "2011"
    }


def utc_text(local_text: str) -> str:
    return hj212.parse_time(local_text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what it sends ---------------------------------------------------------------------------------------


def test_realtime_frames_decode_strictly_and_match_the_journal() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: len(platform.frames("2011")) >= 5, "5 real-time frames")
            await until(lambda: logger.stats.acked >= 5, "5 acknowledged")

        logger = await with_logger(platform, config(platform.port), body)
        await platform.stop()
        frames = platform.frames("2011")
        assert all(hj212.decode_frame(line) for line in platform.lines)  # every line is a valid frame
        produced = realtime_journal(logger)
        times = []
        for frame in frames:
            assert (frame.st, frame.mn, frame.pw, frame.flag) == ("21", "LOG0001", "123456", 5)
            data_time = frame.cp.get("DataTime")
            assert data_time is not None
            times.append(hj212.parse_time(data_time))
            params = frame.cp.params
            assert {"w01010", "w01001", "w01009", "w01014", "w01003", "w21003", "w21011"} <= set(params)
            for code, fields_ in params.items():
                value, flag = produced[(utc_text(data_time), code)]
                assert float(fields_["Rtd"]) == value and fields_["Flag"] == flag
        # One sample a minute, on the minute.
        assert all(t.second == 0 for t in times)
        assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(minutes=1)] * (len(times) - 1)
        # QNs are unique and each got its 9014.
        assert len({f.qn for f in frames}) == len(frames)
        assert logger.stats.unacked == 0 and logger.stats.resends == 0

    run(test)


def test_hourly_frame_is_the_mean_of_the_hour() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        # Started at 09:57:30 local: samples at 09:57 (the one on display at start), 09:58 and 09:59.
        start = datetime(2026, 7, 1, 9, 57, 30, tzinfo=LOCAL)

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: bool(platform.frames("2061")), "an hourly frame")

        logger = await with_logger(platform, config(platform.port), body, clock(start))
        await platform.stop()
        hourly = platform.frames("2061")[0]
        assert hourly.cp.get("DataTime") == "20260701090000"
        produced = [r for r in logger.journal.records if r["device"] == "2011"]
        in_hour = [r for r in produced if r["result_time"] < "2026-07-01T02:00:00Z"]
        # The minutes sampled before 10:00 local (09:57 unless the start was slow), up to 09:59.
        minutes = sorted({r["result_time"] for r in in_hour})
        assert minutes[-1] == "2026-07-01T01:59:00Z" and minutes[0] >= "2026-07-01T01:57:00Z"
        temps = [r["value"] for r in in_hour if r["param"] == "w01010"]
        fields_ = hourly.cp.params["w01010"]
        assert float(fields_["Avg"]) == pytest.approx(sum(temps) / len(minutes), rel=1e-12)
        assert float(fields_["Min"]) == min(temps) and float(fields_["Max"]) == max(temps)
        # The journal has the hourly row too, under its CN and the start of the hour.
        hour_rows = {r["param"]: r["value"] for r in logger.journal.records if r["device"] == "2061"}
        assert hour_rows["w01010"] == pytest.approx(sum(temps) / len(minutes), rel=1e-12)

    run(test)


def test_outfall_sends_its_six_items_with_2005_codes_when_asked() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        cfg = config(platform.port, station=None, outfall="jinneng", legacy_codes=True, mn="OUTFALL01")

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: bool(platform.frames("2011")), "a real-time frame")

        logger = await with_logger(platform, cfg, body)
        await platform.stop()
        frame = platform.frames("2011")[0]
        assert frame.st == "32"
        assert set(frame.cp.params) == {"011", "060", "101", "065", "001", "B01"}
        # The journal keeps the 2017 codes: what the collector should store once it maps them.
        assert {r["param"] for r in logger.journal.records} == {
            "w01018",
            "w21003",
            "w21011",
            "w21001",
            "w01001",
            "w00000",
        }

    run(test)


# --- 9014 --------------------------------------------------------------------------------------------------


def test_without_9014_each_message_is_sent_again_then_given_up() -> None:
    async def test() -> None:
        platform = Platform(ack=False)
        await platform.start()
        cfg = config(platform.port, retries=2, ack_timeout_s=0.05, send_hourly=False)

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.unacked >= 2, "two messages given up")

        logger = await with_logger(platform, cfg, body)
        await platform.stop()
        frames = platform.frames("2011")
        by_qn: dict[str | None, int] = {}
        for frame in frames:
            by_qn[frame.qn] = by_qn.get(frame.qn, 0) + 1
        complete = [qn for qn, n in by_qn.items() if n == 3]  # the first send and two more
        assert len(complete) >= 2 and all(n <= 3 for n in by_qn.values())
        assert logger.stats.acked == 0 and logger.stats.resends >= 4

    run(test)


def test_no_reply_asks_for_no_9014() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: len(platform.frames("2011")) >= 3, "3 frames")

        logger = await with_logger(platform, config(platform.port, reply=False), body)
        await platform.stop()
        assert all(f.flag == 4 and not f.reply_wanted for f in platform.frames())
        assert logger.stats.acks_received == 0 and logger.stats.unacked == 0

    run(test)


# --- faults ----------------------------------------------------------------------------------------------


def test_split_packets_reassemble_to_the_sample() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        cfg = config(platform.port, faults=Faults(split=3))

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 3, "3 split messages acknowledged")

        logger = await with_logger(platform, cfg, body)
        await platform.stop()
        packets = platform.frames("2011")
        assert all(p.split and p.pnum == 3 and p.flag == 7 for p in packets)
        by_qn: dict[str | None, list[Frame]] = {}
        for p in packets:
            by_qn.setdefault(p.qn, []).append(p)
        produced = realtime_journal(logger)
        whole = [group for group in by_qn.values() if len(group) == 3]
        assert len(whole) >= 3
        for group in whole:
            assert sorted(p.pno or 0 for p in group) == [1, 2, 3]
            joined = hj212.join_packets(group)
            data_time = joined.cp.get("DataTime")
            assert data_time is not None
            assert len(joined.cp.params) == 10  # the probe's five and five analysers
            for code, fields_ in joined.cp.params.items():
                assert float(fields_["Rtd"]) == produced[(utc_text(data_time), code)][0]
        assert logger.stats.split_messages == logger.stats.messages_sent

    run(test)


def test_a_drop_mid_split_loses_nothing() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        cfg = config(platform.port, faults=Faults(split=2, drop_mid_split=1), reconnect_s=0.05)

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 3, "3 messages acknowledged")

        logger = await with_logger(platform, cfg, body)
        await platform.stop()
        assert logger.stats.dropped_mid_split == 1 and logger.stats.connects >= 2
        first = [decode(line) for line in platform.per_connection[0]]
        assert len(first) == 1 and first[0] is not None and first[0].pno == 1  # one packet, then the drop
        later = [f for lines in platform.per_connection[1:] for f in map(decode, lines) if f is not None]
        again = [f for f in later if f.qn == first[0].qn]
        assert sorted(f.pno or 0 for f in again) == [1, 2]  # the whole message, sent again
        assert hj212.join_packets(again).cp.params

    run(test)


def test_bad_crc_every_second_message_is_sent_again_correctly() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        cfg = config(platform.port, faults=Faults(bad_crc_every=2), ack_timeout_s=0.1)

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 4, "4 acknowledged")

        logger = await with_logger(platform, cfg, body)
        await platform.stop()
        reasons = []
        for line in platform.lines:
            try:
                hj212.decode_frame(line)
            except FrameError as exc:
                reasons.append(exc.reason)
        assert reasons == ["crc"] * logger.stats.bad_crc_sent and len(reasons) >= 2
        # Each one came again with a good CRC: every message acknowledged, none lost.
        assert logger.stats.unacked == 0 and logger.stats.resends == logger.stats.bad_crc_sent

    run(test)


def test_garbage_reconnects_and_clock_skew() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        faults = Faults(garbage_every=2, reconnect_every=3, clock_skew_s=600)
        cfg = config(platform.port, faults=faults, reconnect_s=0.02, send_hourly=False)
        sim = clock()

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 7, "7 acknowledged")

        logger = await with_logger(platform, cfg, body, sim)
        await platform.stop()
        bad = [line for line in platform.lines if decode(line) is None]
        assert len(bad) == logger.stats.garbage_sent >= 3
        assert all(not line.startswith(b"QN") for line in bad)
        # A reconnect after every third message: no connection carried more than three.
        assert logger.stats.forced_reconnects >= 2
        assert all(len([x for x in lines if decode(x)]) <= 3 for lines in platform.per_connection)
        # DataTime runs 10 minutes ahead of the true sample time (a minute on the minute).
        for frame in platform.frames("2011"):
            stamped = hj212.parse_time(frame.cp.get("DataTime") or "")
            true = stamped - timedelta(seconds=600)
            assert true.second == 0 and true <= sim.now()
            assert frame.qn is not None and hj212.parse_time(frame.qn) > sim.start + timedelta(seconds=600)

    run(test)


def test_faults_from_a_control_file(tmp_path: Path) -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        control = tmp_path / "faults.json"
        cfg = config(platform.port, control_file=str(control))

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 2, "2 acknowledged")
            assert logger.stats.garbage_sent == 0
            control.write_text(json.dumps({"garbage_every": 1}), encoding="utf-8")
            await until(lambda: logger.stats.garbage_sent >= 2, "garbage after the control file")

        await with_logger(platform, cfg, body)
        await platform.stop()
        assert any(decode(line) is None for line in platform.lines)

    run(test)


def test_fault_options_are_checked() -> None:
    assert Faults.parse(["split=3", "clock-skew-s=-30", "garbage_every"]) == Faults(
        split=3, clock_skew_s=-30.0, garbage_every=1
    )
    for bad in (["nope=1"], ["split=x"], ["split=-1"]):
        with pytest.raises(Exception, match="fault"):
            Faults.parse(bad)


# --- requests from the platform ---------------------------------------------------------------------------


def request(cn: str, values: dict[str, str], *, pw: str = "123456", mn: str = "LOG0001") -> Frame:
    return Frame(
        qn=hj212.format_qn(datetime.now(UTC)),
        st="21",
        cn=cn,
        pw=pw,
        mn=mn,
        flag=5,
        cp=CP.build(values=values),
    )


def answers(platform: Platform, qn: str | None) -> list[Frame]:
    return [f for f in platform.frames() if f.qn == qn]


def test_history_answer_from_the_loggers_store() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        start = datetime(2026, 7, 1, 9, 58, 30, tzinfo=LOCAL)
        cfg = config(platform.port, send_hourly=False)
        pulled: dict[str, Frame] = {}

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: "2061" in logger.store.periods, "an hour closed")
            ask = request("2061", {"BeginTime": "20260701090000", "EndTime": "20260701095959"})
            pulled["2061"] = ask
            await platform.send(ask)
            await until(lambda: any(f.cn == "9012" for f in answers(platform, ask.qn)), "9012")
            empty = request("2061", {"BeginTime": "20200101000000", "EndTime": "20200101100000"})
            pulled["empty"] = empty
            await asyncio.sleep(0.002)
            await platform.send(empty)
            await until(lambda: any(f.cn == "9012" for f in answers(platform, empty.qn)), "9012 for no data")

        logger = await with_logger(platform, cfg, body, clock(start))
        await platform.stop()
        reply = answers(platform, pulled["2061"].qn)
        assert reply[0].cn == "9011" and reply[-1].cn == "9012"
        assert reply[0].cp.values == {"QnRtn": "1"} and reply[-1].cp.values == {"ExeRtn": "1"}
        # Ten items' Avg/Min/Max/Flag exceed 1024 characters: the row goes as two packets.
        packets = reply[1:-1]
        assert [(f.cn, f.pnum, f.pno) for f in packets] == [("2061", 2, 1), ("2061", 2, 2)]
        row = hj212.join_packets(packets)
        assert row.cp.get("DataTime") == "20260701090000"
        stored = {r["param"]: r["value"] for r in logger.journal.records if r["device"] == "2061"}
        assert {code: float(f["Avg"]) for code, f in row.cp.params.items()} == stored
        none = answers(platform, pulled["empty"].qn)
        assert [f.cn for f in none] == ["9011", "9012"] and none[1].cp.values == {"ExeRtn": "100"}

    run(test)


def test_history_fills_a_gap_the_logger_was_offline_for() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        cfg = config(platform.port, reconnect_s=0.02, send_hourly=False)

        async def body(logger: HJ212Logger) -> None:
            await until(lambda: logger.stats.acked >= 2, "2 acknowledged")
            port = platform.port
            await platform.stop()  # the platform goes away; the logger keeps sampling
            await until(lambda: not logger.connected.is_set(), "the logger to notice")
            gap_from = len(logger.store.realtime)
            await asyncio.sleep(0.5)  # five sim minutes
            await platform.start(port)
            await until(logger.connected.is_set, "reconnected")
            gap = sorted(logger.store.realtime)[gap_from:]
            sent = {f.cp.get("DataTime") for f in platform.frames("2011")}
            missing = [at for at in gap if hj212.format_time(at) not in sent]
            assert len(missing) >= 3
            ask = request(
                "2011",
                {"BeginTime": hj212.format_time(missing[0]), "EndTime": hj212.format_time(missing[-1])},
            )
            await platform.send(ask)
            await until(lambda: any(f.cn == "9012" for f in answers(platform, ask.qn)), "9012")
            rows = [f for f in answers(platform, ask.qn) if f.cn == "2011"]
            assert [f.cp.get("DataTime") for f in rows] == [hj212.format_time(at) for at in missing]
            produced = realtime_journal(logger)
            for frame in rows:
                data_time = frame.cp.get("DataTime") or ""
                for code, fields_ in frame.cp.params.items():
                    assert float(fields_["Rtd"]) == produced[(utc_text(data_time), code)][0]

        await with_logger(platform, cfg, body)
        await platform.stop()

    run(test)


def test_time_and_interval_requests() -> None:
    async def test() -> None:
        platform = Platform()
        await platform.start()
        sim = clock()
        qns: dict[str, str | None] = {}

        async def ask(name: str, frame: Frame) -> list[Frame]:
            qns[name] = frame.qn
            await platform.send(frame)
            await until(
                lambda: (
                    any(f.cn in ("9012",) for f in answers(platform, frame.qn))
                    or (any(f.cn == "9011" and f.cp.get("QnRtn") != "1" for f in answers(platform, frame.qn)))
                ),
                f"the answer to {name}",
            )
            await asyncio.sleep(0.002)  # a fresh QN for the next request
            return answers(platform, frame.qn)

        async def body(logger: HJ212Logger) -> None:
            await until(logger.connected.is_set, "connected")
            second = timedelta(seconds=1)
            before = sim.now()
            got = await ask("1011", request("1011", {}))
            assert [f.cn for f in got] == ["9011", "1011", "9012"]
            shown = hj212.parse_time(got[1].cp.get("SystemTime") or "")
            assert before - second <= shown <= sim.now()
            target = datetime(2030, 1, 1, 8, 0, tzinfo=LOCAL)
            before = sim.now()
            got = await ask("1012", request("1012", {"SystemTime": hj212.format_time(target)}))
            assert [f.cn for f in got] == ["9011", "9012"] and got[1].cp.values == {"ExeRtn": "1"}
            assert target <= logger.logger_now() <= target + (sim.now() - before)
            got = await ask("1061", request("1061", {}))
            assert [f.cn for f in got] == ["9011", "1061", "9012"] and got[1].cp.values == {
                "RtdInterval": "60"
            }
            got = await ask("1062", request("1062", {"RtdInterval": "120"}))
            assert got[-1].cp.values == {"ExeRtn": "1"} and logger.interval_s == 120
            got = await ask("1062-bad", request("1062", {"RtdInterval": "10"}))
            assert got[-1].cp.values == {"ExeRtn": "3"} and logger.interval_s == 120
            got = await ask("pw", request("1011", {}, pw="999999"))
            assert [(f.cn, f.cp.get("QnRtn")) for f in got] == [("9011", "3")]
            got = await ask("mn", request("1011", {}, mn="OTHER"))
            assert [(f.cn, f.cp.get("QnRtn")) for f in got] == [("9011", "4")]
            got = await ask("unknown", request("3020", {}))
            assert [(f.cn, f.cp.get("QnRtn")) for f in got] == [("9011", "2")]
            # After the set, uploads carry the new clock.
            count = len(platform.frames("2011"))
            await until(lambda: len(platform.frames("2011")) > count, "an upload after the set")
            assert (platform.frames("2011")[-1].cp.get("DataTime") or "") >= "20300101"

        await with_logger(platform, config(platform.port, send_hourly=False), body, sim)
        await platform.stop()
        # Replies are system frames that echo the request's QN.
        assert all(f.st == "91" for f in platform.frames() if f.cn in ("9011", "9012"))

    run(test)


# --- the command line -----------------------------------------------------------------------------------


def test_cli_runs_a_logger_against_a_platform(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"

    async def test() -> None:
        platform = Platform()
        await platform.start()
        argv = ["hj212-logger", "--port", str(platform.port), "--mn", "CLI01", "--outfall", "jinneng"]
        argv += ["--speed", "600", "--duration", "1.5", "--journal", str(journal), "--fault", "split=2"]
        proc = await asyncio.create_subprocess_exec(*qingliu("sim", *argv), stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        await platform.stop()
        assert proc.returncode == 0, out
        assert b"MN=CLI01, outfall jinneng (ST 32)" in out
        frames = platform.frames("2011")
        assert len(frames) >= 4 and all(f.mn == "CLI01" and f.st == "32" and f.pnum == 2 for f in frames)
        records = read_journal(journal)
        assert {r["station"] for r in records} == {"CLI01"}
        # Every value sent was journalled first.
        produced = {(r["result_time"], r["param"]): r["value"] for r in records if r["device"] == "2011"}
        by_qn: dict[str | None, list[Frame]] = {}
        for f in frames:
            by_qn.setdefault(f.qn, []).append(f)
        for group in by_qn.values():
            if len(group) == 2:
                joined = hj212.join_packets(group)
                data_time = utc_text(joined.cp.get("DataTime") or "")
                for code_, fields_ in joined.cp.params.items():
                    assert float(fields_["Rtd"]) == produced[(data_time, code_)]

    run(test)


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "1", "--mn", "bad mn"],
        ["--port", "1", "--mn", "M", "--station", "nowhere"],
        ["--port", "1", "--mn", "M", "--interval", "5"],
        ["--port", "1", "--mn", "M", "--fault", "nope=1"],
        ["--port", "1", "--mn", "M", "--speed", "0"],
    ],
)
def test_cli_refuses_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hj212-logger", *argv]) == 2
    assert "hj212-logger" in capsys.readouterr().err


def test_the_store_keeps_weeks_not_forever() -> None:
    store = LoggerStore(keep=timedelta(days=2))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hour in range(24 * 5):
        store.add_sample(start + timedelta(hours=hour), [("w01001", 7.0, Flag.NORMAL)])
    last = start + timedelta(hours=24 * 5 - 1)
    assert min(store.realtime) >= last - timedelta(days=3) and len(store.realtime) <= 24 * 3 + 1
    assert max(store.realtime) == last


def test_an_outfall_following_the_plume_breaches() -> None:
    """No network: ``step`` samples as the running logger does. The plume's offsets for 笔峰村 (NH3-N +3, CODMn +8,
    so COD +27 at 3.4 COD per CODMn) reach the outfall that follows it, ramped in over the hour after 30 min."""
    start = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    plain = HJ212Logger(config(1, station=None, outfall="jinneng"), clock(start))
    plume = HJ212Logger(
        config(1, station=None, outfall="jinneng", scenario="pollution_plume", follow="bifengcun"),
        clock(start),
    )
    for logger in (plain, plume):
        for minute in range(0, 4 * 60 + 1):
            logger.step(start + timedelta(minutes=minute))
    # At 03:40 the analysers show their 03:00 cycle (done at 03:30): 2.5 h after the plume began, fully ramped in.
    before = {r["param"]: r["value"] for r in realtime_journal_at(plain, "2026-07-01T03:40:00Z")}
    after = {r["param"]: r["value"] for r in realtime_journal_at(plume, "2026-07-01T03:40:00Z")}
    # Same seed, same noise: the difference is the plume (times the analysers' few per cent of noise).
    assert after["w21003"] - before["w21003"] == pytest.approx(3.0, rel=0.15)
    assert after["w01018"] - before["w01018"] == pytest.approx(8.0 * 3.4, rel=0.2)
    assert after["w00000"] == before["w00000"]  # flow is not part of the plume
    # At the logger's start the two agree.
    assert realtime_journal_at(plain, "2026-07-01T00:00:00Z") == realtime_journal_at(
        plume, "2026-07-01T00:00:00Z"
    )


def realtime_journal_at(logger: HJ212Logger, when: str) -> list[dict[str, Any]]:
    return [r for r in logger.journal.records if r["device"] == "2011" and r["result_time"] == when]


def test_a_scenario_needs_the_station_it_follows() -> None:
    with pytest.raises(Exception, match="follow"):
        HJ212Logger(config(1, station=None, scenario="pollution_plume"), clock())
