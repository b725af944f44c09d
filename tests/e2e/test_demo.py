"""`qingliu demo` comes up with all eight stations online and fresh readings, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.stack import http_json, wait_until

pytestmark = pytest.mark.e2e

EIGHT = {
    "hexicun",
    "chuanhutun",
    "huayuanzi",
    "leijiaping",
    "bifengcun",
    "boshuicun",
    "jiehepucun",
    "cigouyingqiao",
}


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def test_demo_comes_up_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "demo.log", "wb")  # noqa: SIM115
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qingliu_cli",
            "demo",
            "--port",
            str(port),
            "--var-dir",
            str(tmp_path / "var"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        started = time.monotonic()

        def all_online_and_fresh() -> bool:
            try:
                status, body = http_json(f"http://127.0.0.1:{port}/api/stations", timeout=2)
            except OSError:
                return False
            if status != 200:
                return False
            now = datetime.now(UTC)
            fresh = {
                s["id"]
                for s in body
                if s["online"]
                and s["last_reading_at"]
                and (
                    now - datetime.fromisoformat(s["last_reading_at"].replace("Z", "+00:00"))
                ).total_seconds()
                < 30
                and s["latest"]
            }
            return fresh >= EIGHT

        wait_until(
            all_online_and_fresh, 45, interval=1.0, what="all eight stations online with fresh readings"
        )
        took = time.monotonic() - started
        assert took < 30, f"the demo took {took:.1f} s to show eight fresh stations (target: 30 s)"
        children = _children_of(demo.pid)
        assert len(children) >= 10  # simulators, collector, eight agents
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        time.sleep(0.5)
        alive = [
            pid
            for pid in children
            if Path(f"/proc/{pid}").exists()
            and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        ]
        assert not alive, f"processes left running after Ctrl-C: {alive}"
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        log.close()
        print((tmp_path / "demo.log").read_text(errors="replace")[-3000:])
