"""run_agent with a fake acquisition against a real Mosquitto, and the ``qingliu agent`` CLI."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.cli import main as cli_main
from agent.config import AgentConfig, parse_config
from agent.runtime import run_agent
from agent.sink import Sink
from protocols.messages import Command, CommandKind, DeviceStatus, EventKind, Lane, StationState, encode
from tests.agent.conftest import T0, readings
from tests.agent.mqtt_helpers import Collector
from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup, qingliu

STATION = "hexicun"


def config_text(broker: Mosquitto, outbox: Path, *, devices: bool = True) -> str:
    text = f"""
[station]
id = "{STATION}"
[mqtt]
url = "{broker.url}"
heartbeat_s = 0.5
reconnect_min_s = 0.1
reconnect_max_s = 0.5
[outbox]
path = "{outbox}"
"""
    if devices:
        text += """
[[bus]]
name = "lan"
type = "tcp"
[[devices]]
name = "nh3n"
profile = "nutrient_nh3n"
bus = "lan"
host = "127.0.0.1"
"""
    return text


class FakeAcquisition:
    def __init__(self, config: AgentConfig, sink: Sink) -> None:
        self.sink = sink
        self.intervals: list[tuple[str, float]] = []

    async def run(self, stop: asyncio.Event) -> None:
        self.sink.set_device_status("nh3n", DeviceStatus(up=True))
        for i in range(5):
            self.sink.add_readings(readings(4, start=T0 + timedelta(hours=i), first_value=i * 10))
            await asyncio.sleep(0.05)
        await stop.wait()

    def set_interval(self, device: str, seconds: float) -> None:
        self.intervals.append((device, seconds))


def test_run_agent_publishes_status_readings_and_answers_commands(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    config = parse_config(config_text(mosquitto, tmp_path / "o.db"))
    sub = Collector(mosquitto.port, [f"qingliu/v1/{STATION}/#"])
    fakes: list[FakeAcquisition] = []

    def factory(cfg: AgentConfig, sink: Sink) -> FakeAcquisition:
        fakes.append(FakeAcquisition(cfg, sink))
        return fakes[-1]

    async def main() -> None:
        stop = asyncio.Event()
        agent = asyncio.create_task(run_agent(config, stop=stop, acquisition=factory))
        ok = await asyncio.to_thread(
            sub.wait_for, lambda: sum(len(b.readings) for b in sub.of_type("readings")) == 20
        )
        assert ok, "readings did not arrive"
        command = Command(
            station=STATION,
            id="cmd-1",
            kind=CommandKind.SET_INTERVAL,
            issued_at=datetime.now(UTC),
            args={"device": "nh3n", "seconds": 120},
        )
        sub.publish(f"qingliu/v1/{STATION}/cmd", encode(command))
        sub.publish(f"qingliu/v1/{STATION}/cmd", encode(command))  # re-delivered
        resend = Command(
            station=STATION,
            id="cmd-2",
            kind=CommandKind.RESEND,
            issued_at=datetime.now(UTC),
            args={"from": T0.isoformat(), "to": (T0 + timedelta(hours=2)).isoformat()},
        )
        sub.publish(f"qingliu/v1/{STATION}/cmd", encode(resend))
        assert await asyncio.to_thread(
            sub.wait_for,
            lambda: sum(len(b.readings) for b in sub.of_type("readings") if b.lane is Lane.RESEND) == 8,
        )
        assert await asyncio.to_thread(sub.wait_for, lambda: len(sub.of_type("reply")) == 3)
        assert await asyncio.to_thread(
            sub.wait_for, lambda: any(s.intervals.get("nh3n") == 120 for s in sub.of_type("status"))
        )
        stop.set()
        await asyncio.wait_for(agent, 20)

    try:
        asyncio.run(asyncio.wait_for(main(), 60))
        assert sub.wait_for(lambda: sub.of_type("status")[-1].state is StationState.OFFLINE)
    finally:
        sub.close()
    replies = sub.of_type("reply")
    assert [r.ok for r in replies] == [True, True, True] and replies[0].result == replies[1].result
    assert replies[2].id == "cmd-2" and replies[2].result["queued"] == 8
    first = sorted((r.t, r.value) for b in sub.of_type("readings") if b.lane is Lane.LIVE for r in b.readings)
    again = sorted(
        (r.t, r.value) for b in sub.of_type("readings") if b.lane is Lane.RESEND for r in b.readings
    )
    assert again == first[:8]  # the same readings, same identity
    assert fakes[0].intervals == [("nh3n", 120.0)]  # executed once
    statuses = sub.of_type("status")
    online = [s for s in statuses if s.state is StationState.ONLINE]
    # The first status can go out on connect, before the acquisition has reported any device: judge the last.
    assert online and online[-1].devices["nh3n"].up and online[-1].heartbeat_s == 0.5
    assert statuses[-1].backlog == 0 and statuses[-1].next_seq >= 1
    kinds = {e.kind for e in sub.of_type("event")}
    assert {EventKind.AGENT_STARTED, EventKind.CONFIG_CHANGED} <= kinds
    with sqlite3.connect(tmp_path / "o.db") as db:
        assert db.execute("SELECT SUM(n), SUM(sent * n) FROM chunks").fetchone() == (20, 20)
        assert db.execute("SELECT COUNT(*) FROM events WHERE sent = 0").fetchone()[0] == 0


def test_cli_check_ok_and_bad_config(tmp_path: Path, capsys: object) -> None:
    broker = Mosquitto(tmp_path / "b")  # not started: check needs no broker
    good = tmp_path / "agent.toml"
    good.write_text(config_text(broker, tmp_path / "o.db"))
    assert cli_main(["check", "--config", str(good)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "hexicun" in out and "nh3n" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(config_text(broker, tmp_path / "o.db").replace("heartbeat_s = 0.5", "heartbeat_s = -1"))
    assert cli_main(["check", "--config", str(bad)]) == 2
    assert "mqtt.heartbeat_s" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_cli_outbox_reports_queue(tmp_path: Path, capsys: object) -> None:
    from agent.config import OutboxConfig
    from agent.outbox import Outbox

    broker = Mosquitto(tmp_path / "b")
    path = tmp_path / "o.db"
    cfg = tmp_path / "agent.toml"
    cfg.write_text(config_text(broker, path))
    box = Outbox(path, OutboxConfig(), STATION)
    box.add_readings(readings(7))
    box.close()
    assert cli_main(["outbox", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "backlog         7" in out and "2026-07-01T00:00:00+00:00" in out and "next seq        0" in out


def test_agent_process_sigterm_goes_offline_and_kill9_leaves_the_will(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(config_text(mosquitto, tmp_path / "o.db", devices=False))
    sub = Collector(mosquitto.port, [f"qingliu/v1/{STATION}/status"])
    try:
        agent = processes.start("agent", qingliu("agent", "run", "--config", str(cfg)))
        assert sub.wait_for(lambda: any(s.state is StationState.ONLINE for s in sub.of_type("status"))), (
            agent.log()
        )
        assert agent.stop() == 0
        assert sub.wait_for(lambda: sub.of_type("status")[-1].state is StationState.OFFLINE)
        assert "hexicun" in agent.log_path.read_text()  # log lines carry the station id
        n = len(sub.of_type("status"))
        agent2 = processes.start("agent2", qingliu("agent", "run", "--config", str(cfg)))
        assert sub.wait_for(lambda: any(s.state is StationState.ONLINE for s in sub.of_type("status")[n:]))
        agent2.kill9()  # no goodbye: the broker publishes the will
        assert sub.wait_for(lambda: sub.of_type("status")[-1].state is StationState.OFFLINE, timeout=20)
    finally:
        sub.close()


def test_cli_check_from_console(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text("[station]\nid = 'Bad Id'\n")
    result = subprocess.run(
        [sys.executable, "-m", "qingliu_cli", "agent", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "station.id" in result.stderr


def test_cli_check_names_an_unknown_profile(tmp_path: Path, capsys: object) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        config_text(Mosquitto(tmp_path / "b"), tmp_path / "o.db").replace("nutrient_nh3n", "no_such")
    )
    assert cli_main(["check", "--config", str(cfg)]) == 2
    assert "no_such" in capsys.readouterr().err  # type: ignore[attr-defined]
