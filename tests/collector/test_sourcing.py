"""Possible sources on the collector's side (collector/sourcing.py) on both store engines: which alerts name the
outfalls upstream, what is read from the store, and how the alert desk puts them in the one message, the stored
alert and the engine's memory — beside the flood-season supervision."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.alerting import AlertDesk
from collector.alerts import Alert, AlertsConfig, Transition, TransitionKind
from collector.alerts.config import Site
from collector.assessment.periods import FloodSeason
from collector.notify.payloads import plain_text
from collector.outfalls import load_outfalls
from collector.sections import load_sections
from collector.sourcing import SourceFinder, attach
from collector.store.base import Received, Store
from collector.summaries import alert as alert_json
from collector.supervising import Supervisor
from protocols.messages import Reading, ReadingBatch, Severity

NH3N, COD = "w21003", "w01018"
T = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
SECTIONS = load_sections()
OUTFALLS = load_outfalls(
    SECTIONS
)  # the shipped registry: hutuo_demo above 界河铺村 (NH3-N ≤ 5, COD ≤ 50 mg/L)
WINDOW = timedelta(hours=6)


def write(
    store: Store, station: str, rows: Sequence[tuple[float, str, float | None, str]], seq: int = 1
) -> None:
    readings = [Reading(param=p, t=T + timedelta(hours=h), value=v, flag=f) for h, p, v, f in rows]
    store.apply(
        [Received(ReadingBatch(station=station, seq=seq, lane="live", sent_at=T, readings=readings), T)]
    )


def exceedance(station: str = "jiehepucun") -> Alert:
    return Alert(
        id=f"{station}|exceedance|{NH3N}|x",
        station=station,
        rule="exceedance",
        rule_type="exceedance",
        subject=NH3N,
        param=NH3N,
        severity=Severity.WARNING,
        opened_at=T,
        last_bad_at=T,
        value=2.6,
        title_zh="氨氮超标（劣Ⅴ类）",
        title_en="ammonia nitrogen exceeds target",
        message_zh="界河铺村 氨氮 2.600 mg/L",
        message_en="Jiehepucun ammonia nitrogen 2.600 mg/L",
    )


def opened(alert: Alert) -> Transition:
    return Transition(kind=TransitionKind.OPENED, at=alert.last_bad_at, alert=alert)


OUTFALL_ROWS = [
    (-7, NH3N, 9.0, "N"),  # before the 6 h window
    (-2, NH3N, 6.4, "N"),  # over 5 mg/L
    (-1, NH3N, 8.8, "D"),  # not valid
    (0, NH3N, 4.0, "N"),
    (0.5, NH3N, 12.0, "N"),  # after the alert's value
    (-2, COD, 41.3, "N"),
]


def test_an_exceedance_below_an_outfall_names_it_with_its_values_in_the_window(store: Store) -> None:
    write(store, "hutuo_demo", OUTFALL_ROWS)
    finder = SourceFinder(store, SECTIONS, OUTFALLS, WINDOW)
    found = finder.find([opened(exceedance())])
    judged, (zh, en) = found[exceedance().id]
    assert judged["over"] == ["hutuo_demo"]
    [demo] = judged["outfalls"]
    items = {i["param"]: (i["value"], i["over"], i["n"]) for i in demo["items"]}
    assert items[NH3N] == (6.4, True, 2) and items[COD] == (41.3, False, 1)
    assert items["w21011"] == (None, False, 0)  # TP has a limit but no value
    assert zh == "；可能来源：滹沱河演示排口：氨氮 6.400 mg/L（限值 5 mg/L，超标）"
    assert (
        en
        == "; possible sources: Hutuo demo outfall: ammonia nitrogen 6.400 mg/L (limit 5 mg/L, over the limit)"
    )


def test_only_opened_or_escalated_exceedances_below_an_outfall_are_traced(store: Store) -> None:
    finder = SourceFinder(store, SECTIONS, OUTFALLS, WINDOW)
    alert = exceedance()
    assert list(finder.find([Transition(kind=TransitionKind.ESCALATED, at=T, alert=alert)])) == [alert.id]
    for kind in (TransitionKind.ACKNOWLEDGED, TransitionKind.RESOLVED):
        assert finder.find([Transition(kind=kind, at=T, alert=alert)]) == {}
    assert finder.find([opened(exceedance("bifengcun"))]) == {}  # the top of the Hutuo: nothing upstream
    assert finder.find([opened(alert.model_copy(update={"rule_type": "sudden_rise"}))]) == {}
    # An outfall without data is still named, as having none.
    judged, (zh, _) = finder.find([opened(alert)])[alert.id]
    assert judged["over"] == [] and zh == "；可能来源：滹沱河演示排口：近 6 小时无有效数据"


class FailingReads:
    def readings(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("store gone")


def test_a_failed_read_costs_only_the_sources(caplog: pytest.LogCaptureFixture) -> None:
    finder = SourceFinder(FailingReads(), SECTIONS, OUTFALLS, WINDOW)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="qingliu.collector"):
        assert finder.find([opened(exceedance())]) == {}
    assert "possible sources" in caplog.text


def test_attaching_twice_replaces_the_clause() -> None:
    alert = exceedance()
    attach(alert, {"v": 1}, ("；一", "; one"))
    attach(alert, {"v": 2}, ("；二", "; two"))
    assert alert.message_zh == "界河铺村 氨氮 2.600 mg/L；二" and alert.message_en.endswith("mg/L; two")
    assert alert.detail["sources"] == {"v": 2}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Transition] = []

    def submit(self, transitions: Sequence[Transition]) -> None:
        self.sent += transitions


def test_the_desk_names_the_outfall_in_the_message_the_stored_alert_and_the_engine(store: Store) -> None:
    write(store, "hutuo_demo", OUTFALL_ROWS)
    recorder = Recorder()
    desk = AlertDesk(
        AlertsConfig(sites={"jiehepucun": Site(name_zh="界河铺村")}),
        store,
        recorder,  # type: ignore[arg-type]
        lambda _: None,
        Supervisor(store, SECTIONS, FloodSeason(7, 9)),  # July: the flood-season judgement too
        SourceFinder(store, SECTIONS, OUTFALLS, WINDOW),
    )
    readings = [Reading(param=NH3N, t=T + timedelta(hours=h), value=v) for h, v in ((-1, 2.2), (0, 2.6))]
    write(store, "jiehepucun", [(h, NH3N, v, "N") for h, v in ((-1, 2.2), (0, 2.6))])
    with desk.lock:
        changes = desk.engine.on_readings("jiehepucun", readings)
    desk.apply(changes)
    [sent] = [t for t in recorder.sent if t.alert.rule_type == "exceedance"]
    assert sent.kind is TransitionKind.OPENED
    assert sent.alert.message_zh.endswith("；可能来源：滹沱河演示排口：氨氮 6.400 mg/L（限值 5 mg/L，超标）")
    assert "possible sources: Hutuo demo outfall" in sent.alert.message_en
    assert "supervision" in sent.alert.detail  # the flood-season judgement is still there
    text = plain_text(sent)
    assert "滹沱河演示排口" in text and "Hutuo demo outfall" in text
    stored = store.alert(sent.alert.id)
    assert stored is not None and stored.message_zh == sent.alert.message_zh
    assert stored.detail["sources"]["over"] == ["hutuo_demo"]
    with desk.lock:
        [held] = desk.engine.active()
    assert held.message_zh == sent.alert.message_zh and held.detail["sources"] == sent.alert.detail["sources"]
    # A later value over target gives the engine's alert the rule's own text again; what the API shows keeps
    # the sources named when it opened.
    with desk.lock:
        desk.engine.on_readings("jiehepucun", [Reading(param=NH3N, t=T + timedelta(hours=1), value=2.9)])
        [later] = desk.engine.active()
    assert "可能来源" not in later.message_zh and later.value == 2.9
    shown = alert_json(later, None)
    assert (
        shown["message_zh"]
        == later.message_zh + "；可能来源：滹沱河演示排口：氨氮 6.400 mg/L（限值 5 mg/L，超标）"
    )
    assert shown["message_en"].endswith("(limit 5 mg/L, over the limit)")
    assert shown["sources"]["over"] == ["hutuo_demo"]
    assert (
        alert_json(exceedance(), None)["message_zh"] == "界河铺村 氨氮 2.600 mg/L"
    )  # nothing traced: as it is
