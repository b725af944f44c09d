"""The hand-made report of fixture_report.py as a fixture."""

from __future__ import annotations

import pytest

from collector.reports.document import Report
from tests.collector.reports.render.fixture_report import make_report


@pytest.fixture
def report() -> Report:
    return make_report()
