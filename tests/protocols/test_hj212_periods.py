"""Period rows by hand: Avg/Min/Max of the valid readings only, the flag of the worst doubt without any."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocols.flags import Flag
from protocols.hj212_periods import PeriodRow, aggregate, period_end, period_start


def test_hourly_row_of_valid_readings_only() -> None:
    rows = aggregate(
        [
            ("w21003", 0.40, Flag.NORMAL),
            ("w01001", 7.2, "N"),
            ("w21003", 0.50, Flag.OVER_RANGE),  # T is valid: it enters the average
            ("w21003", 9.99, Flag.MAINTENANCE),  # M is not
            ("w21003", 0.45, Flag.NORMAL),
            ("w01001", 7.4, "N"),
        ]
    )
    # NH3-N: (0.40 + 0.50 + 0.45) / 3 = 0.45; pH (7.2 + 7.4) / 2 = 7.3. Codes in order of first appearance.
    assert rows == [
        PeriodRow("w21003", 0.45, 0.40, 0.50, Flag.NORMAL, 3),
        PeriodRow("w01001", 7.3, 7.2, 7.4, Flag.NORMAL, 2),
    ]


def test_average_is_rounded_to_four_decimals() -> None:
    (row,) = aggregate([("w01009", 1.0, "N"), ("w01009", 1.0, "N"), ("w01009", 2.0, "N")])
    assert row.avg == 1.3333  # 4/3
    assert (row.min, row.max, row.count) == (1.0, 2.0, 3)


def test_without_a_valid_reading_the_row_carries_the_most_telling_flag() -> None:
    (row,) = aggregate(
        [("w21011", 0.1, Flag.CALIBRATION), ("w21011", None, Flag.FAULT), ("w21011", 0.2, "M")]
    )
    assert row == PeriodRow("w21011", None, None, None, Flag.FAULT, 0)  # D before M before C
    (row,) = aggregate([("w21011", None, Flag.COMM_FAILED), ("w21011", None, Flag.FAULT)])
    assert row.flag is Flag.COMM_FAILED


def test_periods_are_local() -> None:
    at = datetime(2026, 7, 1, 17, 25, 12, tzinfo=UTC)  # 01:25:12 on 2 July in Asia/Shanghai
    hour = period_start("2061", at)
    assert hour.astimezone(UTC) == datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
    day = period_start("2031", at)
    assert day.astimezone(UTC) == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # local midnight of 2 July
    assert period_end("2031", day).astimezone(UTC) == datetime(2026, 7, 2, 16, 0, tzinfo=UTC)
    ten = period_start("2051", at, minutes=10)
    assert ten.astimezone(UTC) == datetime(2026, 7, 1, 17, 20, tzinfo=UTC)
    assert period_end("2051", ten, minutes=10).astimezone(UTC) == datetime(2026, 7, 1, 17, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        period_start("2011", at)
