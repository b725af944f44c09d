"""Station health from stored readings: the fleet view's 24 h figures and one station's week (the health page).

Both read every reading of a window: at one-minute data with ten parameters a station has 14,400 a day, and the
fleet view counts them for every station each time its figures' 30 s cache has expired (1,000 stations: 14.4
million). Measured on a SQLite store holding ``--stations`` stations × 7 days of one-minute readings of ten
parameters (every 97th fault-flagged, dissolved oxygen faulty four hours a day, three hours a day missing, two
devices), with a real CollectorService, per station, ours and the baseline alternating for ``--rounds``:

- fleet (the last 24 h): baseline ``station_health`` made from reading objects (``store.readings`` per
  parameter, as clipped_health read them before) reduced to the fleet's figures; ours ``clipped_headline``,
  which counts the store's marks (t in µs, valid) and nothing else;
- week (the health page's default 7 days): baseline the same body from reading objects; ours
  ``clipped_health``, from marks and the store's device counts.

Ours must give exactly the baseline's figures and body for every station (checked). Targets: ours ≤ 0.25 ×
the baseline (median of the rounds) on both, and 1,000 stations' fleet figures computed in less than the 30 s
they are kept (projected from the per-station time; longer, and an open fleet view keeps the collector
computing them). The last line is PASS or FAIL (exit 1 on FAIL).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_health [--stations 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.rounds import Check, conclude
from collector import summaries
from collector.api import health
from collector.api.fleet import CACHE_S
from collector.api.health_window import clipped_headline, clipped_health
from collector.config import parse_config
from collector.health import schedules
from collector.service import CollectorService
from collector.store.base import Transition
from collector.store.sqlite import SqliteStore
from collector.timestamps import to_us
from protocols.messages import StationState

PARAMS = ("w01010", "w01001", "w01009", "w01014", "w01003", "w21003", "w21011", "w01019", "w21001", "w01018")
FLEET = 1000
RATIO_MAX = 0.25
END = datetime(2026, 7, 8, tzinfo=UTC)
DAYS = 7
DAY = timedelta(days=1)
HEADLINE = ("from", "first_heard", "uptime_pct", "capture_rate", "valid_rate")


def station_id(i: int) -> str:
    return f"bench{i:04d}"


def config_text(db: Path, stations: int) -> str:
    lines = [f'[store]\nurl = "sqlite:///{db}"', "[gaps]\nenabled = false", "[reports]\nenabled = false"]
    for i in range(stations):
        lines.append(f'[[stations]]\nid = "{station_id(i)}"\nname_zh = "站{i}"\nriver = "fen"')
    return "\n".join(lines) + "\n"


def prefill(db: Path, stations: int) -> int:
    """Each station's week of one-minute readings and an online transition before it."""
    store = SqliteStore(db)
    start = END - DAYS * DAY
    rows = 0
    for i in range(stations):
        sid = station_id(i)
        for day in range(DAYS):
            batch = []
            for minute in range(day * 1440, (day + 1) * 1440):
                if 13 * 60 <= minute % 1440 < 16 * 60:
                    continue  # three hours a day missing
                t = to_us(start + timedelta(minutes=minute))
                for k, param in enumerate(PARAMS):
                    faulty = param == "w01009" and 2 * 60 <= minute % 1440 < 6 * 60
                    flag = "D" if faulty or (minute + k) % 97 == 0 else "N"
                    device = "spare" if param == "w01010" and minute % 1440 < 60 else "probe"
                    batch.append((sid, param, t, None if flag == "D" else 1.0 + k, flag, device, 1, t))
            with store._transaction() as connection:
                connection.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
            rows += len(batch)
        store.add_transitions(
            [Transition(sid, start - timedelta(hours=1), StationState.OFFLINE, StationState.ONLINE, ())]
        )
    store.close()
    return rows


def from_objects(service: CollectorService, sid: str, start: datetime) -> dict[str, Any]:
    """The health body as clipped_health made it before: a reading object per value, per parameter."""
    site = service.site(sid)
    assert site is not None
    store = service.store
    initial, transitions = store.transitions_between(sid, start, END)
    readings = {
        code: store.readings(sid, param=code, start=start, end=END, limit=1_000_000)
        for code in schedules(site, service.config.schedule)
    }
    body = health.station_health(site, service.config.schedule, start, END, readings, initial, transitions)
    body["from"], body["to"], body["first_heard"] = summaries.iso(start), summaries.iso(END), None
    return body


def ours_body(service: CollectorService, sid: str, start: datetime) -> dict[str, Any]:
    site = service.site(sid)
    assert site is not None
    body = clipped_health(service, site, start, END)
    del body["asked_from"]
    return body


def ours_headline(service: CollectorService, sid: str, start: datetime) -> dict[str, Any]:
    site = service.site(sid)
    assert site is not None
    return clipped_headline(service, site, start, END)


def headline_of(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in HEADLINE}


Compute = Callable[[CollectorService, str, datetime], dict[str, Any]]


def alternate(
    name: str,
    service: CollectorService,
    ids: list[str],
    start: datetime,
    base: Compute,
    ours: Compute,
    rounds: int,
) -> tuple[float, float]:
    """Rounds of (baseline, ours) over every station: the median ratio and ours' median ms a station."""
    base_ms: list[float] = []
    ours_ms: list[float] = []
    for r in range(rounds):
        for compute, out in ((base, base_ms), (ours, ours_ms)):
            begun = time.perf_counter()
            for sid in ids:
                compute(service, sid, start)
            out.append((time.perf_counter() - begun) * 1000 / len(ids))
        print(
            f"  {name} round {r + 1}: baseline {base_ms[-1]:.1f} ms a station, ours {ours_ms[-1]:.1f} ms "
            f"→ ratio {ours_ms[-1] / base_ms[-1]:.3f}",
            flush=True,
        )
    ratios = [o / b for o, b in zip(ours_ms, base_ms, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"{name}: ours ÷ baseline median {ratio:.3f} over {rounds} rounds (spread {min(ratios):.3f}–"
        f"{max(ratios):.3f}); baseline {statistics.median(base_ms):.1f} ms, ours {statistics.median(ours_ms):.1f} ms"
        " a station"
    )
    return ratio, statistics.median(ours_ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    day_start, week_start = END - DAY, END - DAYS * DAY
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
        db = Path(tmp) / "collector.db"
        began = time.perf_counter()
        rows = prefill(db, args.stations)
        print(
            f"store: {args.stations} stations × {DAYS} days × {len(PARAMS)} parameters each minute = {rows:,} "
            f"readings ({time.perf_counter() - began:.1f} s to write)",
            flush=True,
        )
        service = CollectorService(parse_config(config_text(db, args.stations)), clock=lambda: END)
        service.start(mqtt=False)
        try:
            ids = [station_id(i) for i in range(args.stations)]
            same_headline = all(
                headline_of(from_objects(service, sid, day_start)) == ours_headline(service, sid, day_start)
                for sid in ids
            )
            same_body = all(
                from_objects(service, sid, week_start) == ours_body(service, sid, week_start) for sid in ids
            )
            example = ours_body(service, ids[0], week_start)
            print(
                f"same figures as from reading objects: fleet {same_headline}, week's body {same_body}; "
                f"e.g. {headline_of(example)}, devices {[d['device'] for d in example['devices']]}"
            )
            fleet_ratio, fleet_ms = alternate(
                "fleet (24 h)", service, ids, day_start, from_objects, ours_headline, args.rounds
            )
            week_ratio, _ = alternate(
                "week (7 days)", service, ids, week_start, from_objects, ours_body, args.rounds
            )
        finally:
            service.stop()
    fleet_s = fleet_ms * FLEET / 1000
    print(f"{FLEET:,} stations' fleet figures: {fleet_s:.1f} s (kept {CACHE_S:g} s)")
    return conclude(
        [
            Check(
                "same figures and body", str(same_headline and same_body), "True", same_headline and same_body
            ),
            Check("fleet: ours ÷ baseline", f"{fleet_ratio:.3f}", f"≤ {RATIO_MAX}", fleet_ratio <= RATIO_MAX),
            Check("week: ours ÷ baseline", f"{week_ratio:.3f}", f"≤ {RATIO_MAX}", week_ratio <= RATIO_MAX),
            Check(
                f"{FLEET:,} stations' fleet figures",
                f"{fleet_s:.1f} s",
                f"< {CACHE_S:g} s",
                fleet_s < CACHE_S,
            ),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
