"""The shipped systemd units: clean under ``systemd-analyze verify`` and hardened (issue 16).

Both are checked in a throwaway root holding the units, a stand-in for the installed ``qingliu`` command and
the host's own system units (what ``After=`` and the default dependencies name), so that nothing on this
machine is installed or changed. ``systemd-analyze security`` scores what a unit may do (0 locked down, 10
anything); the units must stay below 4 ("OK").
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
MAX_EXPOSURE = 4.0
REQUIRED = {
    "ProtectSystem": "strict",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "ReadWritePaths": "/var/lib/qingliu",
    "User": "qingliu",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unitroot")
    exe = root / "opt/qingliu/venv/bin/qingliu"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    return root


def settings(unit: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            found[key.strip()] = value.strip()
    return found


def test_there_are_the_two_units() -> None:
    assert [u.name for u in UNITS] == ["qingliu-agent.service", "qingliu-collector.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_is_clean(root: Path, unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{unit.name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_units_are_hardened_and_write_only_their_state_dir(root: Path, unit: Path) -> None:
    found = settings(unit)
    assert {k: found.get(k) for k in REQUIRED} == REQUIRED
    assert found["StateDirectory"] == "qingliu"
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--root={root}",
            f"/etc/systemd/system/{unit.name}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert score is not None, result.stdout + result.stderr
    assert float(score.group(1)) < MAX_EXPOSURE, result.stdout
