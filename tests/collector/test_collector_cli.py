from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port


def test_check_prints_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1884"\nshared_group = "g"\n[api]\nport = 8123\n')
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "mqtt://127.0.0.1:1884" in out and "shared group 'g'" in out and "8123" in out
    assert (
        "hexicun" in out and "河西村" in out and "reads need a login; changes by signed-in users only" in out
    )
    # Beside the default SQLite store, which is relative to the config file's directory (not the cwd).
    assert f"inbox:  {tmp_path.resolve() / 'var' / 'collector.inbox.db'}, no size limit" in out
    assert "target=III" in out and "target=3" not in out  # classes as the rest of the product writes them
    assert "assessment: 21 sections (14 national, 7 provincial) from the shipped city registry" in out


def test_check_shows_the_hj212_server_and_its_loggers_but_no_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[hj212]\nenabled = true\nport = 9300\n[hj212.limits]\nmax_connections = 300\n"
        '[[hj212.loggers]]\nmn = "MN0001"\npassword = "s3cretpw"\nstation = "hexicun"\n'
        '[[hj212.loggers]]\nmn = "MN0002"\npassword = "other-pw"\nstation = "hexicun"\nprimary = false\n'
        'cns = ["2011"]\nhistory_cn = "2011"\nlegacy_codes = true\n'
    )
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "hj212:  listening on 127.0.0.1:9300 in a process of its own, 2 loggers" in out
    assert "at most 300 connections" in out
    assert (
        "MN0001                   station hexicun ST 21, stores CN 2061, status and commands of the site"
        in out
    )
    assert "MN0002" in out and "readings only (an agent reports the site), HJ/T 212-2005 codes mapped" in out
    assert "s3cretpw" not in out and "other-pw" not in out
    path.write_text("")
    assert main(["check", "--config", str(path)]) == 0
    assert "hj212:  off" in capsys.readouterr().out


def test_check_names_the_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[api]\nport = 70000\n")
    assert main(["check", "--config", str(path)]) == 2
    assert "api.port" in capsys.readouterr().err
    assert main(["check", "--config", str(tmp_path / "missing.toml")]) == 2


@contextlib.contextmanager
def running_collector(
    tmp_path: Path, mosquitto: Mosquitto, extra: str = ""
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``qingliu collector run`` with its API on a free port; killed at the end if it is still running."""
    port = free_port()
    path = tmp_path / "c.toml"
    path.write_text(
        f'[mqtt]\nurl = "{mosquitto.url}"\n[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\n'
        "[api]\nread_requires_login = false\n" + extra  # it reads /api/stats as a monitor would
    )
    with open(tmp_path / "collector.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qingliu_cli",
                "collector",
                "run",
                "--config",
                str(path),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc, port
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def get_json(port: int, path: str, timeout: float = 15) -> dict[str, Any]:
    """The first 200 answer of ``path`` within ``timeout``; {} when none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                return dict(json.loads(response.read()))
        except OSError:
            time.sleep(0.2)
    return {}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill 0: it counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_run_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with running_collector(tmp_path, mosquitto) as (proc, port):
        wait_for_port(port, timeout=30)
        health = get_json(port, "/healthz")
        assert health == {
            "ok": True,
            "store": "ok",
            "mqtt": "connected",
            "receiver": "up",
            "receiver_restarts": 0,
            "inbox_depth": 0,
            "inbox_oldest_age_s": 0.0,
            "applier": "running",
            "reasons": [],
            "dead_letters": 0,
            "inbox_write_errors": 0,
        }
        child = get_json(port, "/api/stats")["receiver"]["pid"]
        assert child and pid_alive(child)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert wait_gone(child, 5), "the receiving process outlived the collector"
    assert (tmp_path / "c.db").exists() and (tmp_path / "c.inbox.db").exists()


def test_receiver_restarted_when_it_dies_and_gone_with_a_killed_collector(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    with running_collector(tmp_path, mosquitto) as (proc, port):
        wait_for_port(port, timeout=30)
        assert get_json(port, "/healthz").get("ok") is True
        first = get_json(port, "/api/stats")["receiver"]["pid"]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        receiver: dict[str, Any] = {}
        while time.monotonic() < deadline:
            receiver = get_json(port, "/api/stats")["receiver"]
            if receiver["pid"] != first and receiver["connected"]:
                break
            time.sleep(0.2)
        assert receiver["pid"] != first and receiver["connected"] and receiver["restarts"] == 1
        assert (
            "qingliu_collector_receiver_restarts_total 1"
            in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
        proc.kill()  # kill -9 of the collector: its receiver must not stay behind
        proc.wait()
        assert wait_gone(receiver["pid"], 10), "the receiving process outlived a killed collector"


def test_the_hj212_server_runs_in_its_own_process_and_goes_with_a_killed_collector(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    hj212_port = free_port()
    with running_collector(
        tmp_path,
        mosquitto,
        f"[hj212]\nenabled = true\nport = {hj212_port}\n"
        '[[hj212.loggers]]\nmn = "MN0001"\npassword = "123456"\nstation = "hexicun"\n',
    ) as (proc, port):
        wait_for_port(port, timeout=30)
        health = get_json(port, "/healthz")
        assert health.get("ok") is True and (health["hj212"], health["hj212_restarts"]) == ("up", 0)
        server = get_json(port, "/api/stats")["hj212"]
        assert server["mode"] == "process" and server["running"] and server["port"] == hj212_port
        child = server["pid"]
        assert child and child != proc.pid and pid_alive(child)
        wait_for_port(hj212_port, timeout=10)
        proc.kill()  # kill -9 of the collector: the process holding the loggers' port must not stay behind
        proc.wait()
        assert wait_gone(child, 10), "the HJ 212 server's process outlived a killed collector"
