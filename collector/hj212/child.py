"""The HJ 212 server in a process of its own: ``python -m collector.hj212.child``, started, watched and
restarted by ``Hj212Process`` (collector/hj212/process.py) through collector/childproc.py.

Why a process: the server's per-frame work (read, check, decode, map, commit, answer) is Python code, and in
the main process it shared one interpreter lock with the applier. At 4,000 frames/s the main process was held
at one CPU: the server took 0.7–0.8 of it, the applier got 0.1–0.2 and fell behind, and readings reached the
store 6–8 s after the last frame. Here the server has an interpreter of its own; what it commits reaches the
applier through the inbox file, as the receiving child's messages do.

The pipe to the parent carries JSON lines:

    {"op": "ready", "port": p}      listening (after each start; the port matters when the config asks for 0)
    {"op": "failed", "error": e}    cannot listen; the process then exits
    {"op": "state", ...}            every REPORT_S and before an "idle" answer: frames, connections, refused
                                    counts, each logger's presence (for /metrics and the fleet)
    {"op": "command", "id": n, "error": null | {"message": m, "reason": r}}
    {"op": "idle", "id": n, "ok": b}

Requests come on stdin, one JSON line each after the settings:

    {"op": "command", "id": n, "command": <a Command as JSON>, "timeout": s}
    {"op": "idle", "id": n, "timeout": s}
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from collector.childproc import ChildSettings, Report, enter, pipe_writer, read_settings
from collector.config import Hj212Config
from collector.hj212.server import Hj212Server
from protocols import messages
from protocols.errors import CommandError
from protocols.messages import Command

log = logging.getLogger("qingliu.collector.hj212")

REPORT_S = 0.5


class Hj212ChildSettings(ChildSettings):
    hj212: Hj212Config
    inbox: str
    drain_s: float = 5.0


def state(server: Hj212Server) -> Report:
    return {
        "op": "state",
        "frames": server.frames,
        "connections": server.connections,
        "refused": server.counts.snapshot(),
        "presence": {mn: p.to_report() for mn, p in server.presence.items()},
    }


def answer(server: Hj212Server, request: dict[str, Any], report: Callable[[Report], None]) -> None:
    """Carry out one request from the parent and report its answer (on a thread of its own: a command waits
    for the logger's connection to take it)."""
    op, ident = request.get("op"), request.get("id")
    timeout = float(request.get("timeout") or 5.0)
    if op == "idle":
        ok = server.wait_idle(timeout)
        report(state(server))  # what the parent reads next is at least as new as what was committed
        report({"op": "idle", "id": ident, "ok": ok})
    elif op == "command":
        error: dict[str, str] | None = None
        try:
            command = messages.decode_as(Command, json.dumps(request.get("command")))
            server.send_command(command, timeout)
        except CommandError as exc:
            error = {"message": str(exc), "reason": exc.reason}
        except Exception as exc:  # a request we cannot read: the parent's bug, answered, never fatal
            log.exception("HJ 212 command request failed")
            error = {"message": f"the command could not be carried out: {exc}", "reason": "command"}
        report({"op": "command", "id": ident, "error": error})


def serve_requests(server: Hj212Server, report: Callable[[Report], None]) -> None:
    for line in sys.stdin.buffer:
        try:
            request = json.loads(line)
        except ValueError:
            log.error("unreadable request from the collector: %r", line[:200])
            continue
        if isinstance(request, dict):
            threading.Thread(target=answer, args=(server, request, report), daemon=True).start()


def main() -> int:
    settings = read_settings(Hj212ChildSettings)
    done = enter(settings)
    report = pipe_writer(settings.status_fd, blocking=True) if settings.status_fd >= 0 else _nowhere
    server = Hj212Server(settings.hj212, settings.inbox)
    try:
        server.start()
    except RuntimeError as exc:
        report({"op": "failed", "error": str(server.start_error or exc)})
        server.stop(0)
        return 1
    report({"op": "ready", "port": server.port})
    threading.Thread(target=serve_requests, args=(server, report), name="hj212-requests", daemon=True).start()
    while not done.wait(REPORT_S):
        report(state(server))
    server.stop(settings.drain_s)
    report(state(server))
    log.info("stopped")
    return 0


def _nowhere(report: Report) -> None:
    pass


if __name__ == "__main__":
    raise SystemExit(main())
