"""Real processes: readings and messages lost at the collector are asked for again and the agent fills them."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack, iso, wait_until

pytestmark = pytest.mark.e2e

PARAM = "w01010"
GAPS = """
[schedule]
every_s = {w01010 = 2.0}
slot_params = []

[gaps]
grace_s = 2
check_every_s = 1
samples_every_s = 1
reply_timeout_s = 10
lookback_s = 600
"""


class GapStack(Stack):
    def collector_config(self) -> Path:
        path = super().collector_config()
        path.write_text(path.read_text() + GAPS)
        return path


def to_us(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000)


def resend_commands(db_path: Path) -> list[tuple[dict[str, object], dict[str, object] | None]]:
    """(args, reply) of every resend command the collector stored."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute(
            "SELECT c.body, r.body FROM commands c LEFT JOIN replies r ON r.station = c.station AND r.id = c.id"
        ).fetchall()
    out = []
    for command, reply in rows:
        body = json.loads(command)
        if body["kind"] == "resend":
            out.append((body["args"], json.loads(reply) if reply else None))
    return out


def test_lost_readings_and_messages_are_asked_for_and_filled(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    stack = GapStack(tmp_path / "stack", mosquitto, processes).start_all()
    wait_until(lambda: len(stack.collector_readings(PARAM)) >= 30, 40, what="probe readings at the collector")
    db_path = stack.root / "collector.db"
    stored = stack.collector_readings(PARAM)
    # Lose four whole expected-sample slots of readings (slot k owns [2k − 0.2 s, 2k + 1.8 s): a reading up to
    # 10 % of the interval early counts for its slot), as if never stored, and two whole messages (a hole in
    # the seq numbers).
    slot = 2_000_000
    lost_from = (to_us(stored[5]["t"]) // slot + 1) * slot - slot // 10
    lost_to = lost_from + 4 * slot
    with sqlite3.connect(db_path, timeout=30) as db:
        db.execute(
            "DELETE FROM readings WHERE station = ? AND param = ? AND t >= ? AND t < ?",
            (stack.station, PARAM, lost_from, lost_to),
        )
        seqs = [
            r[0]
            for r in db.execute(
                "SELECT seq FROM messages WHERE station = ? ORDER BY seq LIMIT 2 OFFSET 20", (stack.station,)
            )
        ]
        marks = ",".join("?" * len(seqs))
        db.execute(f"DELETE FROM readings WHERE station = ? AND seq IN ({marks})", (stack.station, *seqs))
        db.execute(f"DELETE FROM messages WHERE station = ? AND seq IN ({marks})", (stack.station, *seqs))
    began = time.monotonic()
    left = {iso(r["t"]) for r in stack.collector_readings(PARAM)}
    wanted = {iso(r["t"]) for r in stored}
    assert wanted - left, "nothing was lost"

    def filled() -> bool:
        return wanted <= {iso(r["t"]) for r in stack.collector_readings(PARAM)}

    wait_until(filled, 40, interval=0.5, what="lost readings re-sent by the agent")
    assert time.monotonic() - began < 40

    commands = resend_commands(db_path)
    by_seq = [(args, reply) for args, reply in commands if "seq_from" in args]
    by_time = [(args, reply) for args, reply in commands if "from" in args]
    assert by_seq, commands
    assert {(a["seq_from"], a["seq_to"]) for a, _ in by_seq} == {(seqs[0], seqs[-1])}
    assert by_time, commands
    wait_until(lambda: all(r is not None for _, r in resend_commands(db_path)), 15, what="replies")
    assert all(reply is not None and reply["ok"] for _, reply in resend_commands(db_path))
    # Not a storm: each lost stretch was asked for a handful of times at most.
    assert len(commands) <= 10, commands
    metrics = stack_metrics(stack)
    assert 'qingliu_collector_resend_requests_total{kind="seq"} 1' in metrics


def stack_metrics(stack: Stack) -> str:
    with urllib.request.urlopen(f"{stack.api}/metrics", timeout=10) as response:
        return str(response.read().decode())
