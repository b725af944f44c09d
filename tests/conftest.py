"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto on a free port with anonymous access; stopped after the test."""
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    """Start real processes; every one is stopped (SIGTERM, then SIGKILL) after the test."""
    group = ProcessGroup(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


# Under CI every tool and service the tests use is installed and started by .ci/run: a test that skips there
# because PostgreSQL, socat, mbpoll, Chromium or Mosquitto is missing hides a broken setup, so it fails instead.
# A test that may legitimately skip in CI says so with @pytest.mark.ci_may_skip(reason).
STRICT_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ci_may_skip(reason): this test may skip under CI=true")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if (
        STRICT_CI
        and report.skipped
        and not hasattr(report, "wasxfail")
        and not item.get_closest_marker("ci_may_skip")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where setup must provide what it needs: {reason}"


# Registers and loads the hypothesis profiles ("ci" by default) before any property test is collected.
import tests.fuzz_settings  # noqa: E402, F401
