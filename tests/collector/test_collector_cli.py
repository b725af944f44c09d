from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
    assert "hexicun" in out and "河西村" in out and "read-only" in out


def test_check_names_the_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[api]\nport = 70000\n")
    assert main(["check", "--config", str(path)]) == 2
    assert "api.port" in capsys.readouterr().err
    assert main(["check", "--config", str(tmp_path / "missing.toml")]) == 2


def test_run_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    path = tmp_path / "c.toml"
    path.write_text(f'[mqtt]\nurl = "{mosquitto.url}"\n[store]\nurl = "sqlite:///{tmp_path / "c.db"}"\n')
    log = open(tmp_path / "collector.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "qingliu_cli", "collector", "run", "--config", str(path), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30)
        deadline = time.monotonic() + 10
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.loads(response.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert health == {"ok": True, "store": "ok", "mqtt": "connected"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert (tmp_path / "c.db").exists()
