"""The [hj212] section: off by default, each logger's site and series checked with the config."""

from __future__ import annotations

import pytest

from collector.config import parse_config
from protocols.errors import ConfigError


def test_off_by_default_with_hourly_series() -> None:
    config = parse_config('[[hj212.loggers]]\nmn = "MN1"\npassword = "123456"\nstation = "hexicun"\n')
    assert not config.hj212.enabled
    (logger,) = config.hj212.loggers
    assert (logger.site, logger.cns, logger.history_cn, logger.primary) == ("hexicun", ["2061"], "2061", True)


@pytest.mark.parametrize(
    ("logger", "says"),
    [
        ('mn = "MN1"\npassword = "1"\nstation = "nowhere"', "unknown station nowhere"),
        ('mn = "MN1"\npassword = "1"', "exactly one of 'station' and 'outfall'"),
        ('mn = "MN1"\npassword = "1"\nstation = "hexicun"\noutfall = "o1"', "exactly one"),
        ('mn = "MN1"\npassword = "1"\nstation = "hexicun"\nhistory_cn = "2011"', "history_cn 2011"),
        ('mn = "MN=1"\npassword = "1"\nstation = "hexicun"', "mn"),
        ('mn = "MN1"\npassword = "1"\nstation = "hexicun"\ncodes_2005 = {"060" = "w99999"}', "w99999"),
    ],
)
def test_bad_loggers_are_refused_with_the_reason(logger: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_config(f"[[hj212.loggers]]\n{logger}\n")


def test_mns_are_unique() -> None:
    one = 'mn = "MN1"\npassword = "1"\nstation = "hexicun"\n'
    with pytest.raises(ConfigError, match="repeated: MN1"):
        parse_config(f"[[hj212.loggers]]\n{one}[[hj212.loggers]]\n{one}")
