"""A real CollectorService over a SQLite store in a tmp dir (no broker), its clock at T0 + 10 min unless moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.api import create_app
from collector.service import CollectorService
from tests.collector.factories import T0, config


@pytest.fixture
def clock() -> list[datetime]:
    """The service's clock: a test moves it by setting ``clock[0]``."""
    return [T0 + timedelta(minutes=10)]


@pytest.fixture
def service(tmp_path: Path, clock: list[datetime]) -> Iterator[CollectorService]:
    svc = CollectorService(config(tmp_path), clock=lambda: clock[0])
    svc.start(mqtt=False)
    yield svc
    svc.stop()


@pytest.fixture
def client(service: CollectorService) -> TestClient:
    return TestClient(create_app(service))
