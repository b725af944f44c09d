"""The platform simulator over real TCP: 9014 for a good upload, nothing for a bad CRC, refusals for a wrong
password or on request, lost replies, requests on demand, and a journal of every value received."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocols import hj212
from protocols.hj212 import Frame
from simulators.cli import main as sim_main
from simulators.hj212_platform import HJ212Platform, PlatformConfig, read_platform_journal

T = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def upload(qn_ms: int, *, pw: str = "123456") -> Frame:
    return hj212.build_realtime(
        [("w21003", 0.42, "N"), ("w01001", 7.5, "N")],
        mn="MN0001",
        pw=pw,
        data_time=T,
        qn_time=datetime.fromtimestamp(T.timestamp() + qn_ms / 1000, UTC),
    )


async def exchange(platform: HJ212Platform, lines: list[bytes], wait: float = 0.3) -> list[Frame]:
    reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
    for line in lines:
        writer.write(line)
    await writer.drain()
    got: list[Frame] = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readuntil(b"\r\n"), wait)
            got.append(hj212.decode_frame(line))
    except (TimeoutError, asyncio.IncompleteReadError):
        pass
    writer.close()
    return got


def run(config: PlatformConfig, lines: list[bytes]) -> tuple[HJ212Platform, list[Frame]]:
    async def scenario() -> tuple[HJ212Platform, list[Frame]]:
        platform = HJ212Platform(config)
        await platform.start()
        try:
            return platform, await exchange(platform, lines)
        finally:
            await platform.stop()

    return asyncio.run(asyncio.wait_for(scenario(), 20))


def test_answers_good_uploads_and_journals_their_values(tmp_path: Path) -> None:
    good = hj212.encode_frame(upload(1))
    bad_crc = good[:-6] + (b"0000" if good[-6:-2] != b"0000" else b"0001") + b"\r\n"
    platform, got = run(PlatformConfig(port=0, journal=str(tmp_path / "j.jsonl")), [good, bad_crc])
    assert [(f.cn, f.qn) for f in got] == [("9014", upload(1).qn)]
    assert platform.stats.bad_frames == 1 and platform.stats.uploads == 1
    records = read_platform_journal(tmp_path / "j.jsonl")
    assert [(r["code"], r["fields"], r["data_time"], r["answered"]) for r in records] == [
        ("w21003", {"Rtd": "0.42", "Flag": "N"}, "2026-07-01T02:00:00Z", True),
        ("w01001", {"Rtd": "7.5", "Flag": "N"}, "2026-07-01T02:00:00Z", True),
    ]


def test_wrong_password_refusal_and_lost_replies() -> None:
    wrong = hj212.encode_frame(upload(1, pw="nope"))
    platform, got = run(PlatformConfig(port=0), [wrong])
    assert [(f.cn, f.cp.values) for f in got] == [
        ("9011", {"QnRtn": "3"})
    ] and platform.stats.bad_password == 1
    assert platform.records == []
    platform, got = run(PlatformConfig(port=0, refuse=1.0), [hj212.encode_frame(upload(2))])
    assert [(f.cn, f.cp.values) for f in got] == [("9011", {"QnRtn": "3"})] and platform.stats.refused == 1
    platform, got = run(PlatformConfig(port=0, loss=1.0), [hj212.encode_frame(upload(3))])
    assert got == [] and platform.stats.replies_lost == 1
    assert {r["answered"] for r in platform.records} == {False}  # received, but its reply lost


def test_requests_go_to_a_connected_station() -> None:
    async def scenario() -> tuple[str | None, list[Frame], list[dict[str, Any]]]:
        platform = HJ212Platform(PlatformConfig(port=0))
        await platform.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
        writer.write(hj212.encode_frame(upload(1)))
        await writer.drain()
        ack = hj212.decode_frame(await reader.readuntil(b"\r\n"))
        assert ack.cn == "9014"
        qn = await platform.pull("MN0001", "2061", T, T)
        request = hj212.decode_frame(await reader.readuntil(b"\r\n"))
        writer.write(hj212.encode_frame(hj212.build_request_answer(request, 1)))
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()
        await platform.stop()
        return qn, [request], platform.records

    qn, (request,), records = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert request.cn == "2061" and request.qn == qn and request.reply_wanted
    assert request.cp.values == {"BeginTime": "20260701100000", "EndTime": "20260701100000"}
    assert records[-1] == {"kind": "answer", "mn": "MN0001", "cn": "9011", "qn": qn, "values": {"QnRtn": "1"}}


def test_cli_refuses_bad_options(capsys: Any) -> None:
    assert sim_main(["hj212-platform", "--port", "1", "--loss", "1.5"]) == 2
    assert "loss" in capsys.readouterr().err
