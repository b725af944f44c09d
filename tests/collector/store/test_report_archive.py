"""The products' archive on both engines: every making kept, the latest served, lists without documents; and
what arrived after a cut-off for a period (readings, revisions, manual results), counted per station/section."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from collector.store.base import Store
from collector.store.manual_rows import ManualRow
from collector.store.report_rows import ReportRecord
from tests.collector.factories import T0, batch, received


def record(kind: str, period: str, made_hours: int, digest: str, **figures: object) -> ReportRecord:
    made = T0 + timedelta(hours=made_hours)
    return ReportRecord(
        kind=kind,
        period=period,
        made_at=made,
        cutoff=made - timedelta(seconds=1),
        completeness=Decimal("0.968"),
        partial=False,
        digest=digest,
        figures='{"sections": 21, "ratio": 0.125}' if not figures else str(figures["text"]),
        document=f'{{"kind": "{kind}", "period": "{period}", "digest": "{digest}"}}',
    )


def test_every_making_is_kept_and_the_latest_is_served(store: Store) -> None:
    assert store.report("monthly", "2026-06") is None
    first = store.save_report(record("monthly", "2026-06", 1, "aaa"))
    second = store.save_report(record("monthly", "2026-06", 5, "bbb"))
    assert second > first
    latest = store.report("monthly", "2026-06")
    assert latest is not None
    assert (latest.id, latest.digest, latest.made_at) == (second, "bbb", T0 + timedelta(hours=5))
    assert latest.cutoff == T0 + timedelta(hours=5) - timedelta(seconds=1)
    assert latest.document == '{"kind": "monthly", "period": "2026-06", "digest": "bbb"}'
    assert latest.completeness == Decimal("0.968") and latest.partial is False
    # figures come back with exact decimals
    assert latest.figures == {"sections": 21, "ratio": Decimal("0.125")}
    assert [h.digest for h in store.report_history("monthly", "2026-06")] == ["bbb", "aaa"]
    assert store.report_history("monthly", "2026-06")[0].document == ""  # lists leave documents out
    assert store.report("monthly", "2026-05") is None and store.report("weekly", "2026-06") is None


def test_the_list_holds_the_latest_making_of_each_period_newest_period_first(store: Store) -> None:
    store.save_report(record("daily", "2026-06-30", 1, "d1"))
    store.save_report(record("daily", "2026-07-01", 2, "d2"))
    store.save_report(record("monthly", "2026-06", 3, "m1"))
    store.save_report(record("daily", "2026-06-30", 4, "d1-again"))
    listed = store.reports()
    assert [(r.kind, r.period, r.digest) for r in listed] == [
        ("daily", "2026-07-01", "d2"),
        ("daily", "2026-06-30", "d1-again"),
        ("monthly", "2026-06", "m1"),
    ]
    assert all(r.document == "" for r in listed)
    assert [r.period for r in store.reports(kind="daily")] == ["2026-07-01", "2026-06-30"]
    assert [r.period for r in store.reports(kind="daily", limit=1)] == ["2026-07-01"]
    assert store.reports(kind="flood") == []


def test_a_partial_making_and_no_completeness_round_trip(store: Store) -> None:
    rec = record("flood", "2026", 1, "f")
    store.save_report(
        ReportRecord(
            rec.kind, rec.period, rec.made_at, rec.cutoff, None, True, rec.digest, "{}", rec.document
        )
    )
    got = store.report("flood", "2026")
    assert got is not None and got.partial is True and got.completeness is None and got.figures == {}


def test_arrivals_count_what_came_after_the_cutoff_for_times_inside_the_period(store: Store) -> None:
    cutoff = T0 + timedelta(days=2)
    start, end = T0, T0 + timedelta(days=1)
    # Inside the period, received before the cut-off: not late.
    store.apply([received(batch("hexicun", 1, start=T0, n=3), T0 + timedelta(hours=1))])
    # Inside the period, received after it: late (2 readings of hexicun, 1 of boshuicun).
    store.apply(
        [received(batch("hexicun", 2, start=T0 + timedelta(hours=5), n=2), cutoff + timedelta(hours=1))]
    )
    store.apply(
        [received(batch("boshuicun", 1, start=T0 + timedelta(hours=6), n=1), cutoff + timedelta(hours=1))]
    )
    # After the cut-off but sampled outside the period: not for this period.
    store.apply([received(batch("hexicun", 3, start=end, n=4), cutoff + timedelta(hours=1))])
    # A revised value of a reading already held (same identity, another value), received late.
    revised = batch("hexicun", 4, start=T0, n=1, value=99.0)
    store.apply([received(revised, cutoff + timedelta(hours=2))])
    store.save_manual_results(
        [ManualRow("fanwangsi", "w21003", T0 + timedelta(hours=3), 0.5, "N", "f.csv:row 2")],
        imported_at=cutoff + timedelta(minutes=5),
    )
    store.save_manual_results(
        [ManualRow("guanhekou", "w21003", T0 + timedelta(hours=3), 0.5, "N", "f.csv:row 3")],
        imported_at=cutoff - timedelta(minutes=5),  # before the cut-off: in the figures already
    )
    found = store.arrivals(["hexicun", "boshuicun", "chuanhutun"], start, end, cutoff)
    assert found.readings == {"boshuicun": 1, "hexicun": 2}
    assert found.revisions == {"hexicun": 1}
    assert found.manual_results == {"fanwangsi": 1}
    assert found.any
    assert not store.arrivals(["hexicun"], start, end, cutoff + timedelta(days=1)).any
    assert store.arrivals([], start, end, cutoff).readings == {}
