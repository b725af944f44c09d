"""Each target's state where people look: ``qingliu agent outbox`` and the status the agent sends."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from agent.cli import main as agent_cli
from agent.config import load_config
from agent.hj212up import cursors
from agent.hj212up.service import UplinkService
from agent.outbox import Outbox
from agent.status import StatusBoard
from protocols.messages import Status, decode, encode
from tests.agent.hj212up.test_target import START, polls

CONFIG = """
[station]
id = "hexicun"
[outbox]
path = "outbox.db"
[[uplink.hj212]]
name = "national"
host = "127.0.0.1"
port = 1
mn = "MN0001"
password = "123456"
backlog_alert = 5
[[uplink.hj212]]
name = "province"
host = "127.0.0.1"
port = 2
mn = "MN0001"
password = "123456"
"""


def test_backlog_per_target_in_the_cli_and_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    stored_at = START + timedelta(minutes=5)
    outbox = Outbox(tmp_path / "outbox.db", config.outbox, "hexicun", clock=lambda: stored_at.timestamp())

    async def scenario() -> Status:
        service = UplinkService(config, outbox, clock=lambda: (START + timedelta(hours=1)).timestamp())
        for poll in polls():
            outbox.add_readings(poll)
        national, _ = service.targets
        national.state.consumed_live(10)  # national had the first 10 polls (one reading each)
        national.state.refusals = 2
        cursors.save(outbox.store, "national", national.state)
        board = StatusBoard("hexicun", 30.0)
        board.uplinks = service.status_field
        return board.status(outbox.stats(), now=START + timedelta(hours=1))

    status = asyncio.run(scenario())
    outbox.close()
    again = decode(encode(status))
    assert isinstance(again, Status) and again.uplinks is not None
    national, province = again.uplinks["national"], again.uplinks["province"]
    assert (national.backlog, province.backlog) == (8, 18)  # 18 readings stored
    assert national.alert is True and province.alert is False  # past national's backlog_alert (5)
    assert national.refusals == 2 and national.connected is False
    assert national.oldest_unsent == stored_at
    assert agent_cli(["outbox", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hj212 national" in out and "backlog 8 readings" in out and "refusals 2" in out
    assert "hj212 province" in out and "backlog 18 readings" in out
