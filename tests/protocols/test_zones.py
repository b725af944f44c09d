"""protocols/zones.py: China's zone as a fixed offset equals the IANA zone over every date qingliu sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocols.zones import CHINA, zone


def test_china_standard_time_equals_the_iana_zone_from_1992_on() -> None:
    iana = ZoneInfo("Asia/Shanghai")
    at = datetime(1992, 1, 1, tzinfo=UTC)
    while at < datetime(2100, 1, 1, tzinfo=UTC):
        assert at.astimezone(CHINA).utcoffset() == at.astimezone(iana).utcoffset() == timedelta(hours=8)
        at += timedelta(days=7, hours=5)


def test_other_zones_come_from_the_database() -> None:
    assert zone("Asia/Shanghai") is CHINA
    assert zone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    with pytest.raises(KeyError):
        zone("Nowhere/Else")
