"""The collector's side of the flood-season supervision (collector/supervising.py) on both store engines: which
alerts take a judgement, what it reads from the store, and how the alert desk attaches it to the one message,
the stored alert and the engine's memory."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collector.alerting import AlertDesk
from collector.alerts import Alert, AlertsConfig, Transition, TransitionKind
from collector.alerts.config import Site
from collector.alerts.supervision import Sample, Settings, detail, judge, upstream
from collector.assessment.classes import parse_class
from collector.assessment.periods import FloodSeason
from collector.notify.payloads import webhook_payload
from collector.sections import load_sections
from collector.store.base import Received, Store
from collector.supervising import Supervisor, _place
from collector.timestamps import ONE_US
from protocols.messages import Reading, ReadingBatch, Severity

TP, TEMP, NH3N = "w21011", "w01010", "w21003"
T = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, in the default July–September season
REGISTRY = load_sections()  # 河西村 below 川胡屯 on the Fen; 雷鸣寺 above 川胡屯 is sampled by hand


def write(
    store: Store, station: str, rows: Sequence[tuple[float, str, float | None, str]], seq: int = 1
) -> None:
    """Readings at T + hours: (hours, param, value, flag)."""
    readings = [Reading(param=p, t=T + timedelta(hours=h), value=v, flag=f) for h, p, v, f in rows]
    batch = ReadingBatch(station=station, seq=seq, lane="live", sent_at=T, readings=readings)
    store.apply([Received(batch, T)])


def exceedance(station: str = "hexicun", value: float = 0.31, at: datetime = T) -> Alert:
    return Alert(
        id=f"{station}|exceedance|{TP}|x",
        station=station,
        rule="exceedance",
        rule_type="exceedance",
        subject=TP,
        param=TP,
        severity=Severity.WARNING,
        opened_at=at,
        last_bad_at=at,
        value=value,
        title_zh="总磷超标（Ⅴ类）",
        title_en="total phosphorus exceeds target (Class V)",
        message_zh="河西村 总磷 0.310 mg/L",
        message_en="河西村 total phosphorus 0.310 mg/L",
        detail={"class": "V", "target": "III", "multiple": 0.55},
    )


def opened(alert: Alert) -> Transition:
    return Transition(kind=TransitionKind.OPENED, at=alert.last_bad_at, alert=alert)


HEXICUN_TP = [
    (-25, TP, 0.1, "D"),  # older than 24 h
    (-3, TP, 0.10, "N"),
    (-2, TP, 0.15, "N"),
    (-1.5, TP, None, "B"),
    (-1, TP, 0.25, "N"),
    (0, TP, 0.31, "N"),
    (1, TP, 0.50, "N"),  # after the alert's value
    (0, TEMP, 20.0, "N"),
]


def test_an_exceedance_in_the_season_is_judged_from_the_store(store: Store) -> None:
    write(store, "hexicun", HEXICUN_TP)
    write(store, "chuanhutun", [(-0.25, TP, 0.32, "N"), (-7, NH3N, 3.0, "N")])  # NH3-N: older than 6 h
    supervisor = Supervisor(store, REGISTRY, FloodSeason(7, 9))
    alert = exceedance()
    judged = supervisor.supervise([opened(alert)])
    said = judged[alert.id]
    assert (said["section"], said["county"], said["class"], said["multiple"]) == (
        "hexicun",
        "静乐",
        "V",
        0.55,
    )
    # The run over class III began at T − 1 h (0.15 at T − 2 h was within it; the B value is skipped).
    assert said["over_since"] == "2026-07-15T01:00:00Z" and said["over_for_s"] == 3600.0
    assert said["upstream"]["section"] == "chuanhutun" and said["upstream"]["value"] == 0.32
    assert said["upstream"]["class"] == "V"  # TP 0.32 alone: the NH3-N value is not "at the same time"
    assert said["upstream"]["t"] == "2026-07-15T01:45:00Z"
    assert said["trend"]["direction"] == "rising" and said["trend"]["n"] == 4
    assert said["trend"]["per_hour"] == pytest.approx(0.073)  # 0.365 / 5, see test_supervision
    v = said["validity"]
    assert (v["valid"], v["total"], v["flags"], v["share"]) == (4, 5, {"B": 1}, 0.8)
    assert (v["station_valid"], v["station_total"]) == (5, 6)


def test_the_lean_reads_judge_as_every_reading_read_back(store: Store) -> None:
    """The supervisor reads the item's values, the station's counts and upstream's newest valid values
    (an alert flapping at a limit is judged at every opening): the judgement must be the one made from every
    reading of both stations, window edges, flags, values without a number and newer invalid ones included."""
    day = 24.0
    write(
        store,
        "hexicun",
        [
            *HEXICUN_TP,
            (-day, TEMP, 19.0, "N"),  # on the validity window's first instant: in
            (-day - 0.0001, NH3N, 1.0, "N"),  # just before it: out
            (-5, NH3N, 1.2, "D"),
            (-4, NH3N, None, "B"),
            (-0.5, TEMP, 21.0, "M"),
        ],
    )
    write(
        store,
        "chuanhutun",
        [
            (-6, NH3N, 3.0, "N"),  # on the upstream window's first instant: in
            (-2, TP, 0.32, "N"),
            (-1, TP, 0.5, "D"),  # newer, not valid: the 0.32 is upstream's value
            (-1, TEMP, None, "B"),
            (0, TEMP, 22.0, "T"),
            (0.5, TP, 0.9, "N"),  # after the alert's value
        ],
    )
    lean = Supervisor(store, REGISTRY, FloodSeason(7, 9)).judge(exceedance())
    assert lean == _judged_from_every_reading(store, exceedance())
    assert lean["validity"]["station_total"] == 10 and lean["upstream"]["value"] == 0.32
    assert lean["over_since"] == "2026-07-15T01:00:00Z"  # within the trend window: read no further


def test_a_run_over_target_longer_than_the_trend_window_is_read_back_to_its_start(store: Store) -> None:
    write(store, "hexicun", [(-h, TP, 0.3 + h / 100, "N") for h in range(0, 11)] + [(-11, TP, 0.1, "N")])
    lean = Supervisor(store, REGISTRY, FloodSeason(7, 9)).judge(exceedance(value=0.3))
    assert lean == _judged_from_every_reading(store, exceedance(value=0.3))
    assert lean["over_since"] == "2026-07-14T16:00:00Z" and lean["over_for_s"] == 10 * 3600.0


def _judged_from_every_reading(store: Store, alert: Alert) -> dict[str, Any]:
    """The judgement of ``alert`` made from every reading of hexicun's day and chuanhutun's six hours."""

    def every(station: str, hours: float) -> dict[str, list[Sample]]:
        found: dict[str, list[Sample]] = {}
        for r in store.readings(station, start=T - timedelta(hours=hours), end=T + ONE_US, limit=10_000):
            found.setdefault(r.param, []).append(Sample(r.t, r.value, r.flag))
        return found

    settings = Settings()
    section, above = REGISTRY.for_station("hexicun"), REGISTRY.for_station("chuanhutun")
    assert section is not None and above is not None and alert.value is not None
    up = upstream(_place(above, REGISTRY), every("chuanhutun", 6), TP, T, settings.upstream_window)
    place = _place(section, REGISTRY, parse_class("III"))
    return detail(judge(place, TP, alert.value, T, T, every("hexicun", 24), up, settings))


def test_the_top_of_a_river_and_a_silent_neighbour(store: Store) -> None:
    write(store, "chuanhutun", [(-1, TP, 0.3, "N"), (0, TP, 0.31, "N")])
    write(store, "jiehepucun", [(0, TP, 0.31, "N")])
    write(store, "boshuicun", [(-7, TP, 0.1, "N")])  # above 界河铺村, but nothing within 6 h
    supervisor = Supervisor(store, REGISTRY, FloodSeason(7, 9))
    top, below = exceedance("chuanhutun"), exceedance("jiehepucun")
    judged = supervisor.supervise([opened(top), opened(below)])
    assert judged[top.id]["upstream"] == {"state": "no_station"}  # 雷鸣寺 has no station
    assert judged[below.id]["upstream"]["state"] == "no_data"
    assert judged[below.id]["upstream"]["section"] == "boshuicun"


def test_only_exceedances_that_open_or_escalate_in_the_season_are_judged(store: Store) -> None:
    write(store, "hexicun", HEXICUN_TP)
    alert = exceedance()
    assert Supervisor(store, REGISTRY, FloodSeason(8, 9)).supervise([opened(alert)]) == {}  # July: not in it
    supervisor = Supervisor(store, REGISTRY, FloodSeason(7, 9))
    escalated = Transition(kind=TransitionKind.ESCALATED, at=T, alert=alert)
    assert list(supervisor.supervise([escalated])) == [alert.id]
    for kind in (TransitionKind.ACKNOWLEDGED, TransitionKind.RESOLVED):
        assert supervisor.supervise([Transition(kind=kind, at=T, alert=alert)]) == {}
    other = alert.model_copy(update={"rule": "sudden_rise", "rule_type": "sudden_rise"})
    assert supervisor.supervise([opened(other)]) == {}
    unknown = alert.model_copy(update={"station": "teststation", "id": "teststation|x"})
    assert supervisor.supervise([opened(unknown)]) == {}  # measures no assessed section


class FailingReads:
    def __init__(self, store: Store) -> None:
        self.store = store

    def readings(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("store gone")


def test_a_failed_read_costs_only_the_judgement(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(FailingReads(store), REGISTRY, FloodSeason(7, 9))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="qingliu.collector"):
        assert supervisor.supervise([opened(exceedance())]) == {}
    assert "flood-season supervision" in caplog.text


class Recorder:
    """Stands in for the notifier: what was queued."""

    def __init__(self) -> None:
        self.sent: list[Transition] = []

    def submit(self, transitions: Sequence[Transition]) -> None:
        self.sent += transitions


def test_the_desk_attaches_it_to_the_message_the_stored_alert_and_the_engine(store: Store) -> None:
    rows = [(-2, TP, 0.10, "N"), (-1, TP, 0.25, "N"), (0, TP, 0.31, "N"), (0.5, TP, 0.33, "N")]
    write(store, "hexicun", rows)
    recorder = Recorder()
    config = AlertsConfig(sites={"hexicun": Site(name_zh="河西村")})
    desk = AlertDesk(
        config,
        store,
        recorder,  # type: ignore[arg-type]
        lambda _: None,
        Supervisor(store, REGISTRY, FloodSeason(7, 9)),
    )
    readings = [Reading(param=TP, t=T + timedelta(hours=h), value=v) for h, _, v, _ in rows[:3]]
    with desk.lock:
        changes = desk.engine.on_readings("hexicun", readings)
    desk.apply(changes)
    # The default rule opens on the second value over class III (0.25 at T − 1 h, then 0.31 at T).
    [sent] = [t for t in recorder.sent if t.alert.rule_type == "exceedance"]
    assert sent.kind is TransitionKind.OPENED and sent.alert.opened_at == T
    judged = sent.alert.detail["supervision"]
    assert judged["class"] == "V" and judged["over_since"] == "2026-07-15T01:00:00Z"
    assert webhook_payload(sent)["supervision"] == judged  # the one message carries it
    stored = store.alert(sent.alert.id)
    assert stored is not None and stored.detail["supervision"] == judged
    # A later value over target keeps the judgement in the engine's alert (and so in later snapshots) ...
    with desk.lock:
        desk.engine.on_readings("hexicun", [Reading(param=TP, t=T + timedelta(hours=0.5), value=0.33)])
        [held] = desk.engine.active()
    assert held.detail["supervision"] == judged
    # ... but a resolution's message does not print it again.
    with desk.lock:
        done = desk.engine.resolve(held.id, T + timedelta(hours=1))
    assert done.alert.detail["supervision"] == judged
    assert "supervision" not in webhook_payload(done)
