"""Alert churn through the whole collector: one station whose values flap across a class limit, against the same
station reporting steadily, in the same run.

A real CollectorService (SQLite store, the city plan's sections and outfalls, so that flood-season
supervision and source tracing run as in production; July, inside the season) takes 河西村's one-minute batches
of ten parameters through its inbox, applier and alert desk. The outfall upstream of it (金能煤业) has its
monitor's one-minute values of six items stored for the whole time, as its data logger would have sent them.
First a day of steady history (what the judgements read back), then ``--minutes`` more, timed until the applier
is idle:

- steady: ammonia nitrogen at 0.3 mg/L (class II) throughout;
- flapping: ammonia nitrogen at 2.5 mg/L (worse than class V) for two minutes in every five, so an exceedance
  opens (and is judged: supervision, possible sources) and resolves every five minutes.

Rounds alternate (steady, flapping, …), each on a fresh store. Printed: readings/s of both, the ratio, the
alerts each round opened. Target: a 30-day backlog of such a flapping station (432,000 readings) applies in
at most 120 s, the bound the agents' backlog drain is held to (issue 17), projected from the median flapping
rate. The last line is PASS or FAIL (exit 1 on FAIL).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_alert_churn [--minutes 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.rounds import Check, conclude
from collector.config import parse_config
from collector.service import CollectorService
from collector.store.sqlite import SqliteStore
from collector.timestamps import to_us
from protocols import messages
from protocols.messages import Reading, ReadingBatch

STATION = "hexicun"
T0 = datetime(2026, 7, 1, tzinfo=UTC)  # the flood season (June–September by default)
HISTORY_MIN = 1440
PROBE = {
    "w01010": 25.0,
    "w01001": 7.6,
    "w01009": 7.0,
    "w01014": 450.0,
    "w01003": 20.0,
    "w21011": 0.05,
    "w01019": 3.0,
    "w21001": 0.8,
    "w01018": 12.0,
}
OUTFALL = "jinneng"  # collector/outfalls.toml: upstream of 河西村
OUTFALL_ITEMS = {"w01018": 30.0, "w01001": 7.5, "w21003": 2.0, "w21011": 0.3, "w21001": 8.0, "w00000": 40.0}
BACKLOG_READINGS = 30 * 1440 * 10
DRAIN_MAX_S = 120.0


def config_text(folder: Path) -> str:
    return (
        f'[store]\nurl = "sqlite:///{folder / "collector.db"}"\n'
        f'[inbox]\npath = "{folder / "inbox.db"}"\n'
        "[gaps]\nenabled = false\n[reports]\nenabled = false\n"
    )


def payload(seq: int, minute: int, flapping: bool) -> bytes:
    t = T0 + timedelta(minutes=minute)
    nh3n = 2.5 if flapping and minute >= HISTORY_MIN and minute % 5 < 2 else 0.3
    readings = [Reading(param=p, t=t, value=v) for p, v in PROBE.items()]
    readings.append(Reading(param="w21003", t=t, value=nh3n))
    return messages.encode(ReadingBatch(station=STATION, seq=seq, sent_at=t, readings=readings))


def store_outfall(service: CollectorService, minutes: int) -> None:
    """The upstream outfall's monitor values, written straight into the SQLite store (not timed)."""
    store = service.store
    assert isinstance(store, SqliteStore)
    rows = [
        (OUTFALL, param, to_us(T0 + timedelta(minutes=minute)), value, "N", "hj212", 1, to_us(T0))
        for minute in range(minutes)
        for param, value in OUTFALL_ITEMS.items()
    ]
    with store._transaction() as connection:
        connection.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def one_round(flapping: bool, minutes: int) -> tuple[float, int]:
    """(readings/s over the timed minutes, alerts opened in them)."""
    with tempfile.TemporaryDirectory(prefix="bench-churn-") as tmp:
        now = T0 + timedelta(minutes=HISTORY_MIN + minutes + 1)
        service = CollectorService(parse_config(config_text(Path(tmp))), clock=lambda: now, tick_s=3600.0)
        service.start(mqtt=False)
        try:
            store_outfall(service, HISTORY_MIN + minutes)
            topic = f"qingliu/v1/{STATION}/readings"
            receiver = service.receiver
            assert receiver is not None  # in-process: started with mqtt=False
            for minute in range(HISTORY_MIN):
                receiver.handle(topic, payload(minute + 1, minute, flapping), lambda: True)
            assert service.wait_idle(120), "the history was not applied"
            before = len(service.store.alerts(station=STATION, limit=1_000_000))
            began = time.perf_counter()
            for minute in range(HISTORY_MIN, HISTORY_MIN + minutes):
                receiver.handle(topic, payload(minute + 1, minute, flapping), lambda: True)
            assert service.wait_idle(600), "the timed minutes were not applied"
            seconds = time.perf_counter() - began
            alerts = service.store.alerts(station=STATION, limit=1_000_000)
            opened = len(alerts) - before
            # Not vacuous: the exceedances opened were judged and traced to the outfall's data.
            judged = [a for a in alerts if a.rule_type == "exceedance"]
            if any("supervision" not in a.detail or "sources" not in a.detail for a in judged):
                raise SystemExit("FAIL: an exceedance was not judged (supervision) or traced (sources)")
        finally:
            service.stop()
    return minutes * (len(PROBE) + 1) / seconds, opened


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    steady: list[float] = []
    flapping: list[float] = []
    openings: list[int] = []
    for r in range(args.rounds):
        rate, quiet = one_round(False, args.minutes)
        steady.append(rate)
        rate, opened = one_round(True, args.minutes)
        flapping.append(rate)
        openings.append(opened)
        print(
            f"  round {r + 1}: steady {steady[-1]:,.0f} readings/s ({quiet} alerts), flapping {flapping[-1]:,.0f}"
            f" readings/s ({opened} alerts opened) → ratio {flapping[-1] / steady[-1]:.3f}",
            flush=True,
        )
    ratio = statistics.median(f / s for f, s in zip(flapping, steady, strict=True))
    drain_s = BACKLOG_READINGS / statistics.median(flapping)
    print(
        f"flapping ÷ steady: median {ratio:.3f} over {args.rounds} rounds; a 30-day backlog of the flapping station "
        f"({BACKLOG_READINGS:,} readings, about {openings[0] * 30 * 1440 // args.minutes:,} openings) in "
        f"{drain_s:.0f} s"
    )
    return conclude(
        [
            Check("alerts opened while flapping", str(min(openings)), "> 0", min(openings) > 0),
            Check(
                "30-day flapping backlog", f"{drain_s:.0f} s", f"≤ {DRAIN_MAX_S:g} s", drain_s <= DRAIN_MAX_S
            ),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
