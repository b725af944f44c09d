"""Making a product for the archive, on both engines: archived with its cut-off; re-made with the same data it
says "same figures as made at …"; re-made after late readings or manual results it says what arrived and
which tables changed; a running period is archived only when asked; files go into archive_dir."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.config import CollectorConfig, ReportsConfig
from collector.reports.context import ReportContext
from collector.reports.document import Report, ReportKind, figures_digest, from_json, loads
from collector.reports.making import Made, document_text, file_name, make_product
from collector.reports.remaking import TableName, changed_tables, local, remake_note
from collector.store.base import Store
from collector.store.manual_rows import ManualRow
from collector.store.report_rows import Arrivals, StoredReport
from tests.collector.factories import batch, received
from tests.collector.reports.fakes import fake_maker, fake_renderer

DAY = "2026-07-01"  # local day: 2026-06-30T16:00Z .. 2026-07-01T16:00Z
START = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
FIRST_MAKING = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)  # 08:00 local on the 2nd


def context(store: Store, now: list[datetime], archive_dir: str = "") -> ReportContext:
    config = CollectorConfig(reports=ReportsConfig(archive_dir=archive_dir))
    return ReportContext.from_config(config, store, clock=lambda: now[0])


def make(ctx: ReportContext, archive: bool | None = None) -> Made:
    return make_product(ctx, "daily", DAY, archive=archive, maker=fake_maker, renderer=fake_renderer)


def test_a_product_is_archived_and_remade_with_the_same_figures_says_so(store: Store) -> None:
    store.apply(
        [received(batch("hexicun", 1, start=START + timedelta(hours=1), n=3), START + timedelta(hours=2))]
    )
    now = [FIRST_MAKING]
    ctx = context(store, now)
    first = make(ctx)
    assert first.previous is None and first.same is None and first.report.notes == ()
    assert first.archived is not None
    held = store.report("daily", DAY)
    assert held is not None and held.cutoff == FIRST_MAKING and held.made_at == FIRST_MAKING
    assert held.figures == {"readings": 3, "ratio": first.report.figures["ratio"]}
    assert held.digest == figures_digest(first.report)
    assert from_json(loads(held.document)).table("readings").rows[0] == ("河西村", 3)

    now[0] = FIRST_MAKING + timedelta(days=1)
    again = make(ctx)
    assert again.same is True and again.previous is not None and again.previous.id == first.archived
    assert again.report.notes[-1].zh == "与 2026-07-02 08:00 所作产品的数字相同。"
    assert again.report.notes[-1].en == "Same figures as made at 2026-07-02 08:00."
    assert [h.id for h in store.report_history("daily", DAY)] == [again.archived, first.archived]


def test_late_readings_and_manual_results_are_named_in_the_remade_product(store: Store) -> None:
    store.apply(
        [received(batch("hexicun", 1, start=START + timedelta(hours=1), n=3), START + timedelta(hours=2))]
    )
    now = [FIRST_MAKING]
    ctx = context(store, now)
    make(ctx)
    late = FIRST_MAKING + timedelta(hours=3)
    store.apply([received(batch("hexicun", 2, start=START + timedelta(hours=8), n=2), late)])
    store.apply([received(batch("boshuicun", 1, start=START + timedelta(hours=9), n=1), late)])
    store.save_manual_results(
        [ManualRow("fanwangsi", "w21003", START + timedelta(hours=3), 0.5, "N", "f.csv:row 2")],
        imported_at=late,
    )
    now[0] = FIRST_MAKING + timedelta(days=1)
    again = make(ctx)
    assert again.same is False
    note = again.report.notes[-1]
    assert note.zh == (
        "迟到数据：2026-07-02 08:00 制作本产品（数据截止 2026-07-02 08:00）后，又收到该时段的"
        "自动监测数据 3 条（泊水村 1, 河西村 2）、手工监测结果 1 条（梵王寺 1），本版数字已计入。变化的表：读数。"
    )
    assert note.en.startswith(
        "Late data: after the making of 2026-07-02 08:00 (data cut-off 2026-07-02 08:00), "
    )
    assert "3 readings (泊水村 1, 河西村 2); 1 manual results (梵王寺 1) arrived" in note.en
    assert note.en.endswith("Tables changed: Readings.")
    held = store.report("daily", DAY)
    assert held is not None and held.figures["readings"] == 6 and held.id == again.archived
    assert loads(held.document)["notes"][-1]["zh"] == note.zh  # the archived document carries the note


def test_changed_figures_without_late_data_say_so(store: Store) -> None:
    store.apply(
        [received(batch("hexicun", 1, start=START + timedelta(hours=1), n=3), START + timedelta(hours=2))]
    )
    now = [FIRST_MAKING]
    ctx = context(store, now)
    first = make(ctx)
    # The same data, another product: e.g. a changed configuration (here: only one station configured).
    fewer = replace(ctx, stations=ctx.stations[1:])
    now[0] = FIRST_MAKING + timedelta(hours=1)
    again = make(fewer)
    assert again.same is False and first.archived != again.archived
    assert again.report.notes[-1].en == (
        "Figures changed since the making of 2026-07-02 08:00 (no data for this period arrived after its "
        "cut-off 2026-07-02 08:00). Tables changed: Readings."
    )


def test_a_running_period_is_archived_only_when_asked(store: Store) -> None:
    now = [START + timedelta(hours=5)]  # the day is still running
    ctx = context(store, now)
    made = make(ctx)
    assert made.report.partial and made.archived is None and store.report("daily", DAY) is None
    forced = make(ctx, archive=True)
    assert forced.archived is not None and store.report("daily", DAY) is not None
    now[0] = FIRST_MAKING
    assert make(ctx, archive=False).archived is None
    with pytest.raises(ValueError, match="has not started"):
        make_product(ctx, "daily", "2026-08-01", maker=fake_maker, renderer=fake_renderer)


def test_files_of_every_format_go_into_the_archive_dir(store: Store, tmp_path: Path) -> None:
    now = [FIRST_MAKING]
    ctx = context(store, now, archive_dir=str(tmp_path / "archive"))
    made = make(ctx)
    folder = tmp_path / "archive" / "daily"
    assert [p.name for p in made.files] == [
        "qingliu-daily-2026-07-01.json",
        "qingliu-daily-2026-07-01.html",
        "qingliu-daily-2026-07-01.xlsx",
        "qingliu-daily-2026-07-01.docx",
    ]
    assert (
        folder / "qingliu-daily-2026-07-01.xlsx"
    ).read_bytes() == b"xlsx:zh:\xe6\xb0\xb4\xe8\xb4\xa8\xe6\x97\xa5\xe9\xa2\x84\xe8\xad\xa6:2026-07-01:0"
    assert loads((folder / "qingliu-daily-2026-07-01.json").read_text())["period"] == DAY
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in made.files)  # no .part left


def test_a_renderer_that_fails_costs_only_its_own_file(store: Store, tmp_path: Path) -> None:
    def flaky(report: Report, fmt: str, lang: str) -> bytes:
        if fmt == "docx":
            raise RuntimeError("no font")
        return fake_renderer(report, fmt, lang)

    ctx = context(store, [FIRST_MAKING], archive_dir=str(tmp_path))
    made = make_product(ctx, "daily", DAY, maker=fake_maker, renderer=flaky)
    assert [p.suffix for p in made.files] == [".json", ".html", ".xlsx"]
    assert made.archived is not None


def test_file_names() -> None:
    assert file_name("monthly", "2026-06", "xlsx") == "qingliu-monthly-2026-06.xlsx"
    assert file_name("monthly", "2026-06", "docx", "en") == "qingliu-monthly-2026-06-en.docx"
    assert file_name("flood", "2026", "json", "en") == "qingliu-flood-2026.json"


# -- the pure note ----------------------------------------------------------------------------------------------


def earlier(document: str = "{}") -> StoredReport:
    t = datetime(2026, 7, 2, 0, 30, tzinfo=UTC)
    return StoredReport(1, "daily", DAY, t, t - timedelta(minutes=30), None, False, "x", {}, document)


def test_the_note_names_at_most_five_and_counts_the_rest() -> None:
    arrivals = Arrivals(readings={f"s{i}": i for i in range(1, 8)}, revisions={"s1": 2})
    note = remake_note(earlier(), False, arrivals, [], {"s1": "一"})
    assert "自动监测数据 28 条（一 1, s2 2, s3 3, s4 4, s5 5, … +2）" in note.zh
    assert "修订值 2 条（一 2）" in note.zh
    assert "2 revised values (一 2)" in note.en and "数据截止 2026-07-02 08:00" in note.zh
    assert local(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01-01 00:00"


def test_changed_tables_compares_rows_by_table(store: Store) -> None:
    ctx = context(store, [FIRST_MAKING])
    report = fake_maker(ctx, ReportKind.DAILY, DAY)
    same = document_text(report)
    assert changed_tables(same, report) == []
    assert [t.key for t in changed_tables("{}", report)] == ["readings"]
    assert [t.key for t in changed_tables("not json", report)] == ["readings"]


def test_a_making_of_a_running_period_is_followed_not_corrected() -> None:
    running = replace(earlier(), partial=True)
    note = remake_note(running, False, Arrivals(readings={"s1": 3}), [TableName("t", "表", "Table")])
    assert note.zh == "2026-07-02 08:30 制作时该时段尚未结束；此后的数据已计入。变化的表：表。"
    assert note.en == (
        "The period was still running at the making of 2026-07-02 08:30; the data since are included. "
        "Tables changed: Table."
    )


def test_the_real_daily_warning_remade_is_the_same_until_late_data_arrive(store: Store) -> None:
    """With the real product: the same figures when made again a day later; late ammonia readings for the day
    change them and the note names them."""
    from protocols.messages import Reading, ReadingBatch

    def nh3n(seq: int, hours: range, value: float, at: datetime) -> None:
        readings = [Reading(param="w21003", t=START + timedelta(hours=h), value=value) for h in hours]
        store.apply(
            [
                received(
                    ReadingBatch(station="boshuicun", seq=seq, lane="live", sent_at=at, readings=readings), at
                )
            ]
        )

    nh3n(1, range(0, 12, 4), 0.5, START + timedelta(hours=13))
    now = [FIRST_MAKING]
    ctx = context(store, now)
    first = make_product(ctx, "daily", DAY, archive=True)
    assert first.previous is None and not first.report.partial
    now[0] = FIRST_MAKING + timedelta(days=1)
    again = make_product(ctx, "daily", DAY, archive=True)
    assert again.same is True and again.report.notes[-1].en == "Same figures as made at 2026-07-02 08:00."
    nh3n(2, range(12, 24, 4), 1.9, now[0] + timedelta(minutes=5))  # the afternoon's results, late
    now[0] += timedelta(hours=1)
    late = make_product(ctx, "daily", DAY, archive=True)
    assert late.same is False
    assert "3 readings (泊水村 3) arrived for this period" in late.report.notes[-1].en
    assert figures_digest(late.report) != figures_digest(first.report)
