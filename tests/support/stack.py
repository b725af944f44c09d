"""A whole qingliu path as real processes: simulated station → agent → Mosquitto → collector (→ API).

End-to-end and fault tests build on this: each part is its own OS process that the test can kill -9, stop or
restart, and the result is read back through the collector's HTTP API and the agent's own outbox file.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulators.fleet import DEVICE_LAYOUT
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.processes import Proc, ProcessGroup, qingliu

ADMIN_TOKEN = "test-admin-token"
# Every reading a test can have made: the API refuses ranges that reach years past its own clock.
ALL_TIME = "from=2000-01-01T00:00:00Z&to=" + (datetime.now(UTC) + timedelta(days=30)).strftime(
    "%Y-%m-%dT%H:%M:%SZ"
)

# The devices of one simulated station (units as the simulator fleet serves them).
STATION_DEVICES = [(slot.name, slot.profile, slot.unit) for slot in DEVICE_LAYOUT]


def wait_until(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.25, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout} s (last: {last!r})")


def http_json(
    url: str, *, method: str = "GET", body: Any = None, token: str | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except json.JSONDecodeError:
            return exc.code, raw.decode(errors="replace")


@dataclass
class Stack:
    root: Path
    broker: Mosquitto
    processes: ProcessGroup
    station: str = "hexicun"
    probe_interval_s: float = 0.5
    analyser_interval_s: float = 0.5
    nutrient_cycle_min: float = 0.05  # a new nutrient/COD result every 3 s
    sim_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    agent_extra: str = ""
    collector_extra: str = ""  # extra TOML appended to the collector config (e.g. [schedule])
    sim: Proc | None = None
    agent: Proc | None = None
    collector: Proc | None = None
    agent_starts: int = 0

    # --- paths -----------------------------------------------------------------------------------
    @property
    def journal(self) -> Path:
        return self.root / "sim-journal.jsonl"

    @property
    def outbox_path(self) -> Path:
        return self.root / "agent" / "outbox.db"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # --- configs ---------------------------------------------------------------------------------
    def agent_config(self) -> Path:
        lines = [
            "[station]",
            f'id = "{self.station}"',
            "",
            "[mqtt]",
            f'url = "{self.broker.url}"',
            "heartbeat_s = 2.0",
            "reconnect_min_s = 0.2",
            "reconnect_max_s = 2.0",
            "",
            "[outbox]",
            f'path = "{self.outbox_path}"',
            "",
            "[[bus]]",
            'name = "lan"',
            'type = "tcp"',
            "timeout_s = 1.0",
        ]
        for name, profile, unit in STATION_DEVICES:
            interval = self.probe_interval_s if name in ("probe", "controller") else self.analyser_interval_s
            lines += [
                "",
                "[[devices]]",
                f'name = "{name}"',
                f'profile = "{profile}"',
                'bus = "lan"',
                'host = "127.0.0.1"',
                f"port = {self.sim_port}",
                f"unit = {unit}",
                f"interval_s = {interval}",
            ]
        path = self.root / "agent.toml"
        path.write_text("\n".join(lines) + "\n" + self.agent_extra)
        return path

    def collector_config(self) -> Path:
        path = self.root / "collector.toml"
        path.write_text(
            "\n".join(
                [
                    "[mqtt]",
                    f'url = "{self.broker.url}"',
                    'client_id = "qingliu-collector-test"',
                    "",
                    "[store]",
                    f'url = "sqlite:///{self.root / "collector.db"}"',
                    "",
                    "[api]",
                    'host = "127.0.0.1"',
                    f"port = {self.api_port}",
                    f'admin_token = "{ADMIN_TOKEN}"',
                    "read_requires_login = false",  # the tests read the API as a monitor would
                    "cookie_secure = false",  # plain http on loopback
                    "",
                ]
            )
            + "\n"
            + self.collector_extra
        )
        return path

    # --- processes -------------------------------------------------------------------------------
    def start_sim(self, *extra: str) -> Proc:
        self.sim = self.processes.start(
            "sim",
            qingliu(
                "sim",
                "station",
                "--station",
                self.station,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.sim_port),
                "--journal",
                str(self.journal),
                "--nutrient-cycle-min",
                str(self.nutrient_cycle_min),
                "--seed",
                "7",
                *extra,
            ),
        )
        wait_for_port(self.sim_port, timeout=20)
        return self.sim

    def start_collector(self) -> Proc:
        self.collector = self.processes.start(
            "collector", qingliu("collector", "run", "--config", str(self.collector_config()))
        )
        wait_for_port(self.api_port, timeout=30)
        # The API answers before the receiving process has its MQTT session: a station publishing in between
        # (the very first start, before the session exists) would publish to nobody.
        wait_until(self._collector_subscribed, 30, what="the collector's receiver connected to the broker")
        return self.collector

    def _collector_subscribed(self) -> bool:
        try:
            _, body = http_json(f"{self.api}/healthz", timeout=2)
        except OSError:
            return False
        return isinstance(body, dict) and body.get("mqtt") == "connected"

    def start_agent(self) -> Proc:
        (self.root / "agent").mkdir(exist_ok=True)
        self.agent_starts += 1
        self.agent = self.processes.start(
            f"agent-{self.agent_starts}", qingliu("agent", "run", "--config", str(self.agent_config()))
        )
        return self.agent

    def start_all(self) -> Stack:
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_sim()
        self.start_collector()
        self.start_agent()
        return self

    # --- what each end has -----------------------------------------------------------------------
    def agent_readings(self) -> list[tuple[str, str, float | None, str]]:
        """Every reading the agent ever committed (its outbox keeps sent ones as history)."""
        return outbox_readings(self.outbox_path)

    def agent_unsent(self) -> int:
        """Readings the agent holds that the broker has not acknowledged."""
        uri = f"file:{self.outbox_path}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as db:
            return int(db.execute("SELECT COALESCE(SUM(n), 0) FROM chunks WHERE sent = 0").fetchone()[0])

    def collector_readings(self, param: str) -> list[dict[str, Any]]:
        status, body = http_json(
            f"{self.api}/api/stations/{self.station}/readings?param={param}&limit=1000000&{ALL_TIME}"
        )
        assert status == 200, body
        return list(body["readings"])

    def journal_results(self) -> list[dict[str, Any]]:
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines() if line.strip()]


def _iso(value: Any) -> str:
    """Normalise a stored timestamp (ISO text or epoch ms) to ISO 8601 UTC with Z, microsecond precision
    (readings of several devices may fall in one millisecond; the collector keeps microseconds)."""
    from datetime import UTC, datetime

    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(value: Any) -> str:
    return _iso(value)


def outbox_readings(path: Path) -> list[tuple[str, str, float | None, str]]:
    """Every reading an agent's outbox file holds (unsent and sent history), in the order stored:
    (param, t as ``iso``, value, flag). A chunk's body (chunks.body for a poll's chunk, else table bodies,
    same id as chunks) is the readings' wire JSON, comma-joined (agent/outbox.py)."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        # An outbox of the format before inline bodies has no chunks.body: every body is in ``bodies``.
        inline = any(row[1] == "body" for row in db.execute("PRAGMA table_info(chunks)"))
        text = "COALESCE(c.body, b.body)" if inline else "b.body"
        bodies = [
            row[0]
            for row in db.execute(
                f"SELECT {text} FROM chunks c LEFT JOIN bodies b ON b.id = c.id ORDER BY c.id"
            )
        ]
    rows = [item for body in bodies for item in json.loads(f"[{body}]")]
    return [(str(r["param"]), _iso(r["t"]), r.get("value"), str(r.get("flag", "N"))) for r in rows]


AgentReading = tuple[str, str, float | None, str]  # param, t (iso), value, flag


@dataclass
class Tally:
    """What one end produced against what the collector stored: the figures a fault test reports."""

    produced: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    extra: int = 0  # stored but never produced
    mismatched: int = 0  # stored with another value or flag
    not_polled: int = 0  # journal only: results replaced on the analyser before anyone read them
    examples: list[str] = field(default_factory=list)

    def line(self, what: str) -> str:
        return (
            f"{what}: produced={self.produced} stored={self.stored} lost={self.lost} "
            f"duplicated={self.duplicated} extra={self.extra} mismatched={self.mismatched}"
            + (f" not_polled={self.not_polled}" if self.not_polled else "")
        )


def compare_collector_with_agent(stack: Stack, produced: list[AgentReading] | None = None) -> Tally:
    """Count every reading the agent committed (or ``produced``) against the collector's store."""
    produced = stack.agent_readings() if produced is None else produced
    tally = Tally(produced=len(produced))
    by_param: dict[str, dict[str, tuple[float | None, str]]] = {}
    for param, t, value, flag in produced:
        by_param.setdefault(param, {})[t] = (value, flag)
    for param, expected in by_param.items():
        stored = stack.collector_readings(param)
        tally.stored += len(stored)
        times = Counter(iso(r["t"]) for r in stored)
        duplicated = [t for t, n in times.items() if n > 1]
        missing = sorted(set(expected) - set(times))
        extra = sorted(set(times) - set(expected))
        tally.duplicated += sum(times[t] - 1 for t in duplicated)
        tally.lost += len(missing)
        tally.extra += len(extra)
        for label, items in (("stored twice", duplicated), ("lost", missing), ("never produced", extra)):
            if items:
                tally.examples.append(f"{param}: {len(items)} {label}, e.g. {items[:3]}")
        for row in stored:
            if iso(row["t"]) not in expected:
                continue
            value, flag = expected[iso(row["t"])]
            same = row["value"] is None if value is None else row["value"] == pytest.approx(value)
            if row["flag"] != flag or not same:
                tally.mismatched += 1
                tally.examples.append(f"{param} at {row['t']}: stored {row['value']}/{row['flag']}")
    return tally


def assert_collector_matches_agent(stack: Stack, produced: list[AgentReading] | None = None) -> int:
    """Zero lost, zero duplicated: the collector holds exactly the readings the agent committed."""
    tally = compare_collector_with_agent(stack, produced)
    assert tally.produced, "the agent committed no readings"
    assert (tally.lost, tally.duplicated, tally.extra, tally.mismatched) == (0, 0, 0, 0), tally.examples
    return tally.produced


def wait_drained(stack: Stack, timeout: float = 60, produced: list[AgentReading] | None = None) -> None:
    """Wait until the agent has nothing unsent and the collector holds as many readings as the agent made."""
    wait_until(lambda: stack.agent_unsent() == 0, timeout, what="agent outbox drained")
    # Distinct readings per parameter: an agent killed between committing an analyser's result and moving on
    # commits it again after its restart, and the collector rightly keeps one (same station, parameter, time).
    made = {(param, t) for param, t, *_ in (produced or stack.agent_readings())}
    counts: dict[str, int] = Counter(param for param, _ in made)

    def collector_caught_up() -> bool:
        return all(len(stack.collector_readings(param)) >= n for param, n in counts.items())

    # The broker has the messages; the collector may still be reconnecting or committing its last batch.
    wait_until(collector_caught_up, timeout, interval=0.5, what="collector holding every reading")


def register_step(param: str) -> float:
    """The resolution of ``param`` in its analyser's registers (an int32 with scale 0.01 shows 11.74 for
    11.7404...): what the agent reads can differ from the simulator's value by half of it."""
    from protocols.profiles import load_profile

    for _, profile, _ in STATION_DEVICES:
        for entry in load_profile(profile).fields:
            if entry.param == param and not entry.type.startswith("float"):
                return float(entry.scale)
    return 0.0


FIRST_CYCLE_GRACE = timedelta(seconds=3)

NUTRIENT_PARAMS = ("w21003", "w01019", "w21011", "w21001", "w01018")  # NH3-N, CODMn, TP, TN, COD


def compare_journal(
    stack: Stack, params: tuple[str, ...] = NUTRIENT_PARAMS, *, until: str | None = None
) -> Tally:
    """The simulator's record of nutrient/COD results against the agent and the collector.

    ``produced``: results in the journal; ``lost``: results the agent committed that the collector lacks;
    ``not_polled``: results the analyser replaced before the agent read them (only while the agent was down);
    results replaced before the agent's first poll (plus FIRST_CYCLE_GRACE) are not counted at all;
    ``extra``: stored results the simulator never produced; ``mismatched``: stored with another value.
    Results after ``until`` (ISO; e.g. when the agent was stopped) count only if they were stored.
    """
    journal = [r for r in stack.journal_results() if r["param"] in params]
    agent = stack.agent_readings()
    committed = {(p, t) for p, t, *_ in agent if p in params}
    # A result is on the analyser's display from half a cycle after its result time until the next one
    # replaces it, 1.5 cycles after: one replaced before the agent's first poll could never be read.
    # The first poll seen is a probe's; the analysers' buses may come round up to one poll cycle later
    # (more on a loaded machine), so a result replaced within that grace was never readable either.
    polled = [t for p, t, *_ in agent if p not in params]
    first_poll = (
        iso(datetime.fromisoformat(min(polled).replace("Z", "+00:00")) + FIRST_CYCLE_GRACE)
        if polled
        else None
    )
    shown_for = timedelta(minutes=1.5 * stack.nutrient_cycle_min)
    tally = Tally()
    for param in params:
        stored = stack.collector_readings(param)
        tally.stored += len(stored)
        times = Counter(iso(r["t"]) for r in stored)
        tally.duplicated += sum(n - 1 for n in times.values() if n > 1)
        values = {iso(r["t"]): r["value"] for r in stored}
        results = {iso(r["result_time"]): r for r in journal if r["param"] == param}
        for t, result in list(results.items()):
            if until is not None and t > iso(until) and t not in values:
                continue  # produced after the agent stopped: nobody was there to read it
            replaced_at = datetime.fromisoformat(t.replace("Z", "+00:00")) + shown_for
            if first_poll is not None and iso(replaced_at) < first_poll and t not in values:
                continue  # replaced before the agent started: nobody was there to read it
            tally.produced += 1
            if t not in values:
                if (param, t) in committed:
                    tally.lost += 1
                    tally.examples.append(f"{param} result at {t} committed but not stored")
                else:
                    tally.not_polled += 1
                    tally.examples.append(
                        f"{param} result at {t} never read (agent's first poll {first_poll})"
                    )
            elif values[t] != pytest.approx(result["value"], rel=1e-6, abs=register_step(param) / 2 + 1e-9):
                tally.mismatched += 1
                tally.examples.append(f"{param} at {t}: stored {values[t]}, analyser {result['value']}")
        tally.extra += sum(1 for t in times if t not in results)
    return tally
