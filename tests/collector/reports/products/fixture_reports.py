"""A hand-made November 2026 for the daily warning and the weekly analysis, written into a real store (SQLite and
PostgreSQL). Data and the one way to write them; the expected figures are worked out by hand in the tests.

Schedule: NH3-N (w21003) and TP (w21011) every 6 h, at 00/06/12/18 UTC = 08/14/20/02 h local: four values a
local day, the "02 h" one stamped 18:00 UTC the day before. Every one of the eight stations expects both items.
Target class III everywhere: NH3-N ≤ 1.0 (3 decimals), TP ≤ 0.2 (3 decimals); warning at 0.8 × the limit.

- boshuicun 泊水村 (代县): NH3-N 3.4, 3.6, 3.8, 4.0, 4.2, 4.4, 4.6 on 4–10 Nov (four each); TP 0.170 on the
  same days; 10–16 Nov 2025 one NH3-N 0.900 and one TP 0.150 (a year earlier); online since 1 Nov.
- jiehepucun 界河铺村 (原平): NH3-N 0.850 on 1–10 Nov (four each) and 5.000 on 11 Nov 02:00 local (after the
  day of the daily warning); TP 0.100 on 10 Nov; no state stored.
- bifengcun 笔峰村 (繁峙): NH3-N 0.300 and TP 0.050 on every slot of 9–15 Nov, plus NH3-N 1.500 / 0.400 at
  10:00 / 10:30 and 1.200 / 0.900 at 11:00 / 11:30 on 12 Nov; online since 1 Nov.
- hexicun 河西村: frozen all November (the exclusion below): no readings.
- chuanhutun 川胡屯: NH3-N 0.500 on 8 Nov; online from 1 Nov 00:00 UTC, offline from 9 Nov 12:00 UTC.
- huayuanzi 花园子: NH3-N and TP flagged D (analyser fault) on every slot of 10 Nov; online since 1 Nov.
- leijiaping 雷家坪, cigouyingqiao 茨沟营桥: never heard.
- xiaruyue 下茹越 (manual): NH3-N 0.400, TP 0.100 on 10 Nov 10:00 local. The other twelve manual sections: nothing.
- Alerts: see ALERTS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from collector.alerts.model import Alert, AlertStatus
from collector.assessing import Assessor
from collector.assessment.periods import ZONE
from collector.config import CollectorConfig, parse_config
from collector.controller_history import Excluded
from collector.reports.context import ReportContext
from collector.store.base import Received, Store, Transition
from collector.store.manual_rows import ManualRow
from protocols.flags import Flag
from protocols.messages import Reading, ReadingBatch, Severity, StationState

NH3N, TP = "w21003", "w21011"
STATIONS = (
    "hexicun",
    "chuanhutun",
    "huayuanzi",
    "leijiaping",
    "bifengcun",
    "boshuicun",
    "jiehepucun",
    "cigouyingqiao",
)
NOV_START = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 Nov 00:00 local
DEC_START = datetime(2026, 11, 30, 16, tzinfo=UTC)


def local(day: int, hour: int = 0, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def slots(day: date) -> list[datetime]:
    """The four scheduled times of local day ``day``: 02, 08, 14, 20 h local."""
    return [datetime(day.year, day.month, day.day, h, tzinfo=ZONE).astimezone(UTC) for h in (2, 8, 14, 20)]


def nov(day: int) -> date:
    return date(2026, 11, day)


def _readings() -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = defaultdict(list)

    def put(station: str, param: str, t: datetime, value: float, flag: Flag = Flag.NORMAL) -> None:
        out[station].append(Reading(param=param, t=t, value=value, flag=flag))

    for k, v in enumerate((3.4, 3.6, 3.8, 4.0, 4.2, 4.4, 4.6)):
        for t in slots(nov(4 + k)):
            put("boshuicun", NH3N, t, v)
            put("boshuicun", TP, t, 0.170)
    put("boshuicun", NH3N, local(12, 8, year=2025), 0.900)
    put("boshuicun", TP, local(12, 8, year=2025), 0.150)
    for d in range(1, 11):
        for t in slots(nov(d)):
            put("jiehepucun", NH3N, t, 0.850)
    for t in slots(nov(10)):
        put("jiehepucun", TP, t, 0.100)
    put("jiehepucun", NH3N, local(11, 2), 5.000)
    for d in range(9, 16):
        for t in slots(nov(d)):
            put("bifengcun", NH3N, t, 0.300)
            put("bifengcun", TP, t, 0.050)
    for (h, m), v in {(10, 0): 1.5, (10, 30): 0.4, (11, 0): 1.2, (11, 30): 0.9}.items():
        put("bifengcun", NH3N, local(12, h, m), v)
    for t in slots(nov(8)):
        put("chuanhutun", NH3N, t, 0.500)
    for t in slots(nov(10)):
        put("huayuanzi", NH3N, t, 0.600, Flag.FAULT)
        put("huayuanzi", TP, t, 0.100, Flag.FAULT)
    return out


def _alert(
    id_: str,
    station: str,
    rule_type: str,
    opened: datetime,
    acked: datetime | None = None,
    resolved: datetime | None = None,
    param: str | None = None,
) -> Alert:
    status = AlertStatus.RESOLVED if resolved else AlertStatus.ACKNOWLEDGED if acked else AlertStatus.OPEN
    return Alert(
        id=id_,
        station=station,
        rule=rule_type,
        rule_type=rule_type,
        subject=param or "",
        param=param,
        severity=Severity.WARNING,
        status=status,
        opened_at=opened,
        last_bad_at=opened,
        acknowledged_at=acked,
        acknowledged_by="duty" if acked else None,
        resolved_at=resolved,
        title_zh=f"{rule_type} 告警",
        title_en=f"{rule_type} alert",
        message_zh="",
        message_en="",
    )


U = datetime  # brevity below: UTC times
ALERTS = (
    # in week 46 (9–15 Nov local = 8 Nov 16:00 UTC – 15 Nov 16:00 UTC):
    _alert(
        "a1",
        "huayuanzi",
        "fault_flag",
        U(2026, 11, 10, 1, tzinfo=UTC),
        U(2026, 11, 10, 3, 30, tzinfo=UTC),
        param=NH3N,
    ),
    _alert(
        "a2",
        "boshuicun",
        "exceedance",
        U(2026, 11, 9, 2, tzinfo=UTC),
        U(2026, 11, 9, 3, tzinfo=UTC),
        U(2026, 11, 12, tzinfo=UTC),
        param=NH3N,
    ),
    _alert("a3", "chuanhutun", "offline", U(2026, 11, 9, 12, tzinfo=UTC)),
    _alert(
        "a4",
        "jiehepucun",
        "exceedance",
        U(2026, 11, 1, tzinfo=UTC),
        U(2026, 11, 9, 6, tzinfo=UTC),
        U(2026, 11, 9, 10, tzinfo=UTC),
        param=NH3N,
    ),
    # before the week, resolved before it:
    _alert("a5", "bifengcun", "stale", U(2026, 10, 20, tzinfo=UTC), None, U(2026, 10, 21, tzinfo=UTC)),
)


def frozen(station: str, start: datetime, end: datetime) -> list[Excluded]:
    """hexicun's intake frozen all November."""
    if station != "hexicun":
        return []
    a, b = max(start, NOV_START), min(end, DEC_START)
    return [Excluded(a, b, "ice")] if a < b else []


def config(tmp_path: Path) -> CollectorConfig:
    stations = "".join(f'[[stations]]\nid = "{s}"\nexpected_params = ["{NH3N}", "{TP}"]\n' for s in STATIONS)
    return parse_config(
        f'[store]\nurl = "sqlite:///{tmp_path / "collector.db"}"\n'
        "[api]\nread_requires_login = false\n"  # the API tests read without signing in
        f"[schedule]\nevery_s = {{{NH3N} = 21600.0, {TP} = 21600.0}}\nslot_params = []\n" + stations
    )


def fill(store: Store) -> None:
    for seq, (station, readings) in enumerate(_readings().items(), start=1):
        batch = ReadingBatch(station=station, seq=seq, lane="live", sent_at=DEC_START, readings=readings)
        result = store.apply([Received(batch, DEC_START)])
        assert result.readings_inserted == len(readings)
    online = U(2026, 11, 1, tzinfo=UTC)
    store.add_transitions(
        [
            Transition("boshuicun", online, None, StationState.ONLINE),
            Transition("bifengcun", online, None, StationState.ONLINE),
            Transition("huayuanzi", online, None, StationState.ONLINE),
            Transition("chuanhutun", online, None, StationState.ONLINE),
            Transition(
                "chuanhutun", U(2026, 11, 9, 12, tzinfo=UTC), StationState.ONLINE, StationState.OFFLINE
            ),
        ]
    )
    t = local(10, 10)
    store.save_manual_results(
        [
            ManualRow("xiaruyue", NH3N, t, 0.400, "N", "lab:1"),
            ManualRow("xiaruyue", TP, t, 0.100, "N", "lab:2"),
        ]
    )
    store.save_alerts(list(ALERTS))


def context(store: Store, tmp_path: Path, now: datetime) -> ReportContext:
    cfg = config(tmp_path)
    clock: Callable[[], datetime] = lambda: now  # noqa: E731
    assessor = Assessor.from_config(cfg, store, excluded=frozen, clock=clock)
    return ReportContext(assessor, store, cfg.reports, cfg.stations, cfg, clock)
