"""tests/support/processes.py: a terminated run stops the children it started (benchmarks and tests alike)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A parent that starts a long-lived child the way benchmarks do (own session), stops it in a finally block,
# prints the child's pid and then waits to be terminated.
PARENT = """
import sys, time
from pathlib import Path
from tests.support.processes import ProcessGroup
group = ProcessGroup(Path(sys.argv[1]))
child = group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
try:
    print(child.pid, flush=True)
    time.sleep(120)
finally:
    group.stop_all()
"""


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie of ours would still answer: the child is the parent's, reaped by it or by init
        time.sleep(0.05)
    return False


def test_sigterm_to_the_parent_stops_the_children_it_started(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        os.kill(child, 0)  # running
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
        assert _gone(child, 15), "the child outlived its terminated parent"
        assert "KeyboardInterrupt" in parent.stderr.read()  # type: ignore[union-attr]
    finally:
        if parent.poll() is None:
            parent.kill()
