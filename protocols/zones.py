"""Time zones by name, without the IANA database for the one nearly every station and bureau uses.

China Standard Time is UTC+8 all year and has been since 1992 (China kept summer time from 1986 to 1991 only),
so ``Asia/Shanghai`` is a fixed offset for any date qingliu sees. ``zoneinfo`` (and ``sysconfig``, which it
reads to find the database) costs a station agent ~0.5 MiB resident (issue 17); it is loaded only for another
zone.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache

CHINA = timezone(timedelta(hours=8), "CST")
FIXED = {"Asia/Shanghai": CHINA, "Asia/Chongqing": CHINA, "Asia/Harbin": CHINA, "PRC": CHINA, "UTC": UTC}


@lru_cache(maxsize=32)
def zone(name: str) -> tzinfo:
    """The zone called ``name``: a fixed offset for China's (and UTC), the IANA zone otherwise. Raises
    ``zoneinfo.ZoneInfoNotFoundError`` (a KeyError) for a name that is not a zone."""
    if name in FIXED:
        return FIXED[name]
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
