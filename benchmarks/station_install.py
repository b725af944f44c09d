"""The agent as a station runs it, for the memory benchmarks (issue 17): this checkout installed with
``pip install '.[agent]'`` into its own venv (``~/.cache/qingliu-bench/station-venv``, kept between runs, the
code reinstalled from the checkout each time), not the development venv's editable install — whose import hook
and extra packages cost ~2 MiB that no station carries.

``agent_python(dev=False)`` gives the interpreter to start ``-m qingliu_cli agent run`` with, and
``agent_env()`` its environment (without PYTHONPATH: the installed code, not the checkout's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STATION_VENV = Path.home() / ".cache" / "qingliu-bench" / "station-venv"
REPO = Path(__file__).resolve().parents[1]


def install_station(venv: Path = STATION_VENV) -> Path:
    """The python of a venv holding this checkout installed as a station installs it (``.[agent]``)."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    steps = [] if python.exists() else [[sys.executable, "-m", "venv", str(venv)]]
    with tempfile.TemporaryDirectory(prefix="qingliu-station-src-") as tmp:
        # Built from a copy: setuptools writes build/ beside the sources, and the checkout stays as it is.
        source = Path(tmp) / "qingliu"
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info"))
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        steps.append([*pip, f"{source}[agent]"])  # the station's dependencies
        steps.append([*pip, "--force-reinstall", "--no-deps", str(source)])  # and this checkout's code
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=venv.parent)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[:5])} exited {done.returncode}: {done.stderr[-800:]}")
    return python


def agent_python(dev: bool = False) -> str:
    """The interpreter the measured agent runs under (printed by the caller): a station install, or with
    ``dev`` the development venv's."""
    if dev:
        print("agent: the development venv's (--dev-agent)", flush=True)
        return sys.executable
    python = str(install_station())
    print(f"agent: installed as a station installs it ('.[agent]') in {STATION_VENV}", flush=True)
    return python


def agent_env() -> dict[str, str]:
    """The agent's environment: PYTHONPATH dropped, so a station install runs its own code."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
