"""Schedules, capture and valid-data rates (figures worked out by hand) and uptime from transitions."""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import strategies as st
from pydantic import ValidationError

from collector.health import Schedule, capture_by_day, capture_rates, capture_streams, combine, uptime
from collector.health.capture import CaptureFigures, capture_from_marks, default_early_s
from collector.timestamps import ONE_US, to_us
from tests.fuzz_settings import Budget, budgets, check

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 1, 10, tzinfo=CST)  # local midnight = 2026-01-09 16:00 UTC


def test_interval_schedule_counts() -> None:
    hourly = Schedule.every(3600)
    assert hourly.expected_count(DAY, DAY + timedelta(days=1)) == 24
    assert hourly.expected_count(DAY, DAY + timedelta(days=7)) == 168
    five_min = Schedule.every(300)
    assert five_min.expected_count(DAY, DAY + timedelta(days=1)) == 288
    # Half-open [start, end): a start on a slot counts it, an end on a slot does not.
    times = hourly.expected_times(DAY + timedelta(minutes=30), DAY + timedelta(hours=3))
    assert [t.astimezone(CST).hour for t in times] == [1, 2]


def test_slot_schedule_is_in_local_hours() -> None:
    nutrients = Schedule.slots((0, 4, 8, 12, 16, 20))
    times = nutrients.expected_times(DAY, DAY + timedelta(days=1))
    assert [t.astimezone(CST).hour for t in times] == [0, 4, 8, 12, 16, 20]
    assert times[0] == datetime(2026, 1, 9, 16, tzinfo=UTC)
    assert nutrients.expected_count(DAY, DAY + timedelta(days=31)) == 186
    assert nutrients.nominal_interval_s == 4 * 3600
    assert Schedule.slots((2, 8)).nominal_interval_s == 18 * 3600


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"interval_s": 60, "slot_hours": (0,)},
        {"interval_s": -5},
        {"interval_s": 0},
        {"slot_hours": (24,)},
        {"slot_hours": ()},
        {"slot_hours": (4, 4)},
        {"slot_hours": (0,), "tz": "Mars/Olympus"},
    ],
)
def test_schedule_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Schedule(**kwargs)


def test_naive_times_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Schedule.every(60).expected_times(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_capture_rates_by_hand() -> None:
    # Nutrient analyser, one local day: 6 slots expected.
    s = Schedule.slots()
    at = lambda h, m=30: DAY + timedelta(hours=h, minutes=m)  # noqa: E731
    readings = [
        (at(0), "N"),
        (at(0, 45), "N"),  # two in slot 0 count once
        (at(4), "T"),  # valid
        (at(8), "C"),  # received, not valid
        (at(12), "D"),  # received, not valid
        # slot 16 missing
        (at(20), "N"),
        (at(24), "N"),  # next day: outside the range
    ]
    f = capture_rates(s, DAY, DAY + timedelta(days=1), readings)
    assert f == CaptureFigures(expected=6, received=5, valid=3, excluded=0)
    assert f.capture_rate == pytest.approx(5 / 6)
    assert f.valid_rate == pytest.approx(0.5)
    assert f.missing == 1
    assert f.meets(0.9) is False and f.meets(0.5) is True


def test_ice_window_is_excluded_not_missing() -> None:
    s = Schedule.every(3600)
    start, end = DAY, DAY + timedelta(days=1)
    readings = [(start + timedelta(hours=h, minutes=1), "N") for h in range(24) if not 6 <= h < 12]
    ice = [(start + timedelta(hours=6), start + timedelta(hours=12))]
    f = capture_rates(s, start, end, readings, ice)
    assert f == CaptureFigures(expected=18, received=18, valid=18, excluded=6)
    assert f.capture_rate == 1.0
    without = capture_rates(s, start, end, readings)
    assert without.capture_rate == pytest.approx(18 / 24)


def test_nothing_expected_gives_no_rate() -> None:
    f = capture_rates(Schedule.every(3600), DAY, DAY, [])
    assert f.expected == 0 and f.capture_rate is None and f.valid_rate is None and f.meets() is None


def test_capture_bad_input() -> None:
    with pytest.raises(ValueError, match="flag"):
        capture_rates(Schedule.every(3600), DAY, DAY + timedelta(hours=2), [(DAY, "Z")])
    with pytest.raises(ValueError, match="window"):
        capture_rates(Schedule.every(3600), DAY, DAY + timedelta(hours=2), [], [(DAY, DAY - timedelta(1))])
    with pytest.raises(ValueError, match="before"):
        capture_rates(Schedule.every(3600), DAY, DAY - timedelta(hours=2), [])


def test_capture_by_day_and_combine() -> None:
    s = Schedule.every(3600)
    readings = [(DAY + timedelta(hours=h), "N") for h in range(36)]  # day one full, day two half
    days = capture_by_day(s, date(2026, 1, 10), date(2026, 1, 11), readings)
    assert days[date(2026, 1, 10)] == CaptureFigures(24, 24, 24, 0)
    assert days[date(2026, 1, 11)] == CaptureFigures(24, 12, 12, 0)
    total = combine(days.values())
    assert total == CaptureFigures(48, 36, 36, 0) and total.capture_rate == 0.75


@pytest.mark.parametrize("schedule", [Schedule.every(3600), Schedule.every(300), Schedule.slots()])
def test_capture_by_day_counts_each_day_as_capture_rates_does_over_all_readings(schedule: Schedule) -> None:
    """Each day counts only a bisected stretch of the readings: the figures must be those of capture_rates
    given every reading, at the edges of the days (early values, values just before midnight) included."""
    readings = [
        (DAY + timedelta(minutes=m), "D" if m % 7 == 0 else "N")
        for m in range(-90, 7 * 24 * 60 + 90, 13)
        if not 2 * 24 * 60 <= m < 3 * 24 * 60  # a day without data
    ]
    readings += [(DAY + timedelta(days=d, minutes=-1), "N") for d in range(8)]  # just before each midnight
    days = capture_by_day(schedule, date(2026, 1, 10), date(2026, 1, 16), readings)
    for day, figures in days.items():
        start = datetime(day.year, day.month, day.day, tzinfo=CST)
        assert figures == capture_rates(schedule, start, start + timedelta(days=1), readings), day
    assert days[date(2026, 1, 12)].received <= 1 < days[date(2026, 1, 13)].received  # 23:59 counts early


def _h(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def test_uptime_from_transitions() -> None:
    transitions = [(_h(0), "online"), (_h(6), "offline"), (_h(8), "online"), (_h(20), "degraded")]
    u = uptime(transitions, _h(0), _h(24))
    assert (u.online_s, u.offline_s, u.degraded_s, u.unknown_s) == (18 * 3600, 2 * 3600, 4 * 3600, 0)
    assert u.uptime_pct == pytest.approx(100 * 22 / 24)
    assert u.fully_online == pytest.approx(18 / 24)


def test_uptime_state_before_range_and_unknown() -> None:
    transitions = [(_h(-5), "offline"), (_h(12), "online")]
    u = uptime(transitions, _h(0), _h(24))
    assert u.offline_s == 12 * 3600 and u.online_s == 12 * 3600
    u = uptime([(_h(12), "online")], _h(0), _h(24))
    assert u.unknown_s == 12 * 3600 and u.uptime == pytest.approx(0.5)
    u = uptime([(_h(12), "online")], _h(0), _h(24), initial="online")
    assert u.uptime == 1.0
    u = uptime([(_h(30), "offline"), (_h(3), "offline"), (_h(1), "online")], _h(0), _h(24), initial="online")
    assert u.offline_s == 21 * 3600  # unsorted input; the transition after the range is ignored


def test_uptime_bad_input() -> None:
    with pytest.raises(ValueError, match="station state"):
        uptime([(_h(1), "sleeping")], _h(0), _h(2))
    with pytest.raises(ValueError, match="time zone"):
        uptime([(datetime(2026, 1, 1), "online")], _h(0), _h(2))


def test_early_reading_counts_for_its_slot() -> None:
    s = Schedule.slots()  # default tolerance: 10 % of 4 h capped at 5 min
    start, end = DAY, DAY + timedelta(days=1)
    readings = [(DAY + timedelta(hours=h, seconds=-90), "N") for h in (4, 8, 12, 16, 20)]
    readings.append((DAY, "N"))
    assert capture_rates(s, start, end, readings) == CaptureFigures(6, 6, 6, 0)
    # Without tolerance those five land in the previous slots: only slots 0, 4, 8, 12, 16 are filled.
    assert capture_rates(s, start, end, readings, early_s=0).received == 5
    # A reading just before the next day's first slot belongs to the next day, not to slot 20.
    late = [(end - timedelta(seconds=30), "N")]
    assert capture_rates(s, start, end, late).received == 0
    assert capture_rates(s, end, end + timedelta(days=1), late).received == 1
    with pytest.raises(ValueError, match="early_s"):
        capture_rates(s, start, end, [], early_s=-1)


def test_capture_streams_per_key() -> None:
    schedules = {("hexicun", "w21003"): Schedule.slots(), ("hexicun", "w01009"): Schedule.every(3600)}
    readings = {("hexicun", "w21003"): [(DAY + timedelta(hours=h), "N") for h in (0, 4, 8)]}
    figures = capture_streams(schedules, DAY, DAY + timedelta(days=1), readings)
    assert figures[("hexicun", "w21003")] == CaptureFigures(6, 3, 3, 0)
    assert figures[("hexicun", "w01009")] == CaptureFigures(24, 0, 0, 0)
    assert combine(figures.values()).capture_rate == pytest.approx(3 / 30)


def _per_reading_reference(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    marks: list[tuple[int, bool]],
    excluded: list[tuple[datetime, datetime]],
) -> CaptureFigures:
    """The counting as it was first written: each reading bisected into its slot."""
    shift = timedelta(seconds=default_early_s(schedule)) // ONE_US
    after = schedule.expected_times(end, end + timedelta(seconds=2 * schedule.nominal_interval_s + 1))
    boundary = to_us(after[0] if after else end)
    times = schedule.expected_times(start, end)
    slots = [to_us(t) for t in times]
    received: set[int] = set()
    valid: set[int] = set()
    for t, is_valid in marks:
        if t + shift >= boundary:
            continue
        index = bisect.bisect_right(slots, t + shift) - 1
        if index < 0:
            continue
        received.add(index)
        if is_valid:
            valid.add(index)
    skipped = {i for i, t in enumerate(times) if any(a <= t < b for a, b in excluded)}
    return CaptureFigures(
        len(times) - len(skipped), len(received - skipped), len(valid - skipped), len(skipped)
    )


@budgets(ci=400)
def test_slot_walk_counts_as_each_reading_bisected(budget: Budget) -> None:
    """capture_from_marks walks the slots over the sorted marks: the same figures as bisecting each reading
    into its slot, for any readings (duplicates, unsorted, on slot edges, early, outside the range)."""
    span_us = 3 * 86400 * 10**6
    origin = to_us(DAY)

    def prop(
        kind: int, offsets: list[int], flags: list[bool], start_h: int, hours: int, ice: tuple[int, int]
    ) -> None:
        schedule = [Schedule.every(3600), Schedule.every(300), Schedule.every(7.5), Schedule.slots()][kind]
        start = DAY + timedelta(hours=start_h)
        end = start + timedelta(hours=hours)
        marks = [(origin + o, v) for o, v in zip(offsets, flags, strict=False)]
        marks += [(to_us(t) - 300 * 10**6, True) for t in schedule.expected_times(start, end)[:3]]  # early
        excluded = [(DAY + timedelta(minutes=ice[0]), DAY + timedelta(minutes=ice[0] + ice[1]))]
        assert capture_from_marks(schedule, start, end, marks, excluded) == _per_reading_reference(
            schedule, start, end, marks, excluded
        )

    check(
        prop,
        budget,
        st.integers(0, 3),
        st.lists(st.integers(-span_us // 3, span_us), max_size=300),
        st.lists(st.booleans(), max_size=300),
        st.integers(-6, 30),
        st.integers(0, 40),
        st.tuples(st.integers(0, 2000), st.integers(0, 600)),
    )
