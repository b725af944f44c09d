"""A station installs what a station runs: the agent extra alone runs the agent, without FastAPI, uvicorn or amqtt.

Builds a fresh venv from this checkout with ``pip install .[agent]`` (from the package registry or pip's cache),
then runs the agent's entry points in it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("agent-venv")
    # A copy of the source: building writes build/ and *.egg-info beside it, which must not land in the checkout.
    source = work / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "venv", "build", "var", "artifacts", "__pycache__", "*.db*"
        ),
    )
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Non-editable, so nothing of the dev venv leaks in.
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"{source}[agent]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_agent_runs_from_the_agent_extra_alone(agent_venv: Path) -> None:
    imported = _run(
        agent_venv, "-c", "import agent.runtime, agent.cli, agent.commands, agent.acquisition.core"
    )
    assert imported.returncode == 0, imported.stderr
    checked = _run(
        agent_venv.parent / "qingliu",
        "agent",
        "check",
        "--config",
        str(ROOT / "deploy/examples/agent-local.toml"),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_station_venv_has_no_web_server_or_demo_broker(agent_venv: Path) -> None:
    for module in ("fastapi", "uvicorn", "amqtt", "starlette"):
        probe = _run(agent_venv, "-c", f"import {module}")
        assert probe.returncode != 0, f"{module} is installed in the station venv"
