"""The receiver child reports inbox write failures to its parent on a pipe (its inbox cannot carry them when
the disk is full): the parent sums them over restarts."""

from __future__ import annotations

import os
import threading

from collector.childproc import pipe_writer
from collector.config import MqttConfig
from collector.receiver import ReceiverProcess, ReceiverSettings


def _process() -> ReceiverProcess:
    settings = ReceiverSettings(mqtt=MqttConfig(), inbox="unused.db", known_stations=None)
    return ReceiverProcess(settings, inbox=None)  # type: ignore[arg-type]


def _child(proc: ReceiverProcess, states: list[dict[str, object]]) -> None:
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=proc.child.read_reports, args=(read_fd,))
    reader.start()
    write = pipe_writer(write_fd)
    for state in states:
        write(state)
    os.close(write_fd)  # the child exits
    reader.join(5)


def test_write_failures_reported_on_the_pipe_and_summed_over_restarts() -> None:
    proc = _process()
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=proc.child.read_reports, args=(read_fd,))
    reader.start()
    write = pipe_writer(write_fd)
    write({"errors": 1, "failing": True, "last_error": "database or disk is full"})
    write({"errors": 2, "failing": True, "last_error": "database or disk is full"})
    deadline = 50
    while proc.write_status()["errors"] != 2 and deadline:
        threading.Event().wait(0.02)
        deadline -= 1
    status = proc.write_status()
    assert status["errors"] == 2 and status["last_error"] == "database or disk is full"
    assert status["failing"] is False  # no child process runs: nothing can be failing now
    os.close(write_fd)
    reader.join(5)
    _child(proc, [{"errors": 3, "failing": False, "last_error": ""}])  # a restarted child counts afresh
    assert proc.write_status()["errors"] == 5
