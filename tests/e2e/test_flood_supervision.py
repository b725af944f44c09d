"""Flood-season 24-hour supervision end to end: the runoff scenario (tests/e2e/scenarios/runoff_fast.toml, the
compressed twin of simulators/scenarios/flood_runoff.toml) drives two simulated stations on the Fen, 川胡屯 above
河西村, through their agents and Mosquitto into one collector whose flood season covers this month; a webhook
notifier posts to an HTTP receiver in the test. The exceedance of total phosphorus at 河西村 must arrive as one
message carrying its class, multiple, duration, the upstream section's state, the trend and the data validity,
each checked here against the readings the collector stored, computed by hand (GB/T 8170 in Decimal)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.broker import Mosquitto
from tests.support.processes import ProcessGroup
from tests.support.stack import Stack, http_json, wait_until

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).parent / "scenarios" / "runoff_fast.toml"
TP = "w21011"
# GB 3838-2002 total phosphorus in rivers, classes I–V (mg/L); the sections' target is class III.
TP_LIMITS = [Decimal("0.02"), Decimal("0.1"), Decimal("0.2"), Decimal("0.3"), Decimal("0.4")]
CLASSES = ["I", "II", "III", "IV", "V", "劣V"]
TARGET = Decimal("0.2")
VALID = ("N", "T")


class Receiver:
    """An HTTP endpoint that keeps every JSON document POSTed to it."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        lock = self.lock = threading.Lock()
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    documents.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def opened(self, station: str, param: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                d
                for d in self.documents
                if d.get("event") == "opened"
                and d["alert"]["station"] == station
                and d["alert"]["rule_type"] == "exceedance"
                and d["alert"]["param"] == param
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rounded(value: float) -> Decimal:
    """The value as the bulletin reads it: total phosphorus to three decimals, half to even."""
    return Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)


def tp_class(value: Decimal) -> str:
    return next((CLASSES[i] for i, limit in enumerate(TP_LIMITS) if value <= limit), "劣V")


def season_around_now() -> tuple[int, int]:
    """Months from the last to the next (Asia/Shanghai): this month is in the season, whatever day it is."""
    month = datetime.now(ZoneInfo("Asia/Shanghai")).month
    return (month - 2) % 12 + 1, month % 12 + 1


def start(stack: Stack) -> None:
    stack.root.mkdir(parents=True, exist_ok=True)
    stack.start_sim("--scenario", str(SCENARIO), "--speed", "1")
    if stack.collector is None:
        stack.start_collector()
    stack.start_agent()


def test_a_flood_season_exceedance_arrives_as_one_message_with_its_degree(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup, receiver: Receiver
) -> None:
    first, last = season_around_now()
    extra = "\n".join(
        [
            "[assessment]",
            f"flood_first_month = {first}",
            f"flood_last_month = {last}",
            "",
            "[[notify]]",
            'kind = "webhook"',
            f'url = "{receiver.url}"',
            "timeout_s = 5",
            "",
        ]
    )
    up = Stack(tmp_path / "up", mosquitto, processes, station="chuanhutun", collector_extra=extra)
    down = Stack(tmp_path / "down", mosquitto, processes, station="hexicun", api_port=up.api_port)
    start(up)
    down.collector = up.collector  # one collector for both stations
    start(down)

    found = wait_until(lambda: receiver.opened("hexicun", TP), 75, interval=0.5, what="河西村's TP alert")
    document = found[0]
    alert, said = document["alert"], document["supervision"]
    opened_at = at(alert["opened_at"])
    assert said == alert["detail"]["supervision"]  # the judgement travels inside the alert's one message

    # --- class and multiple, from the value the alert opened on -------------------------------------------
    rows = sorted(down.collector_readings(TP), key=lambda r: at(r["t"]))
    valid = [r for r in rows if r["flag"] in VALID and r["value"] is not None]
    [opening] = [r for r in valid if at(r["t"]) == opened_at]
    value = rounded(opening["value"])
    assert Decimal(repr(said["value"])) == value
    assert said["class"] == tp_class(value) and said["class"] not in ("I", "II", "III")
    multiple = ((value - TARGET) / TARGET).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert Decimal(repr(said["multiple"])).quantize(Decimal("0.01")) == multiple
    assert said["target"] == "III" and said["section"] == "hexicun"

    # --- duration: since the first value of the run over class III ----------------------------------------
    run_start = None
    for r in reversed([r for r in valid if at(r["t"]) <= opened_at]):
        if rounded(r["value"]) <= TARGET:
            break
        run_start = at(r["t"])
    assert run_start is not None and at(said["over_since"]) == run_start
    assert said["over_for_s"] == pytest.approx((opened_at - run_start).total_seconds())
    assert said["open_for_s"] == 0.0  # judged as it opened
    assert not said["over_at_least"]  # values within target came before the wave

    # --- upstream: 川胡屯 at the same time, the runoff already there --------------------------------------
    upstream = said["upstream"]
    assert (upstream["state"], upstream["section"], upstream["station"]) == (
        "data",
        "chuanhutun",
        "chuanhutun",
    )
    t_up = at(upstream["t"])
    assert t_up <= opened_at and opened_at - t_up < timedelta(seconds=15)  # a TP result every 3 s
    [seen] = [r for r in up.collector_readings(TP) if at(r["t"]) == t_up]
    assert seen["flag"] in VALID
    up_value = rounded(seen["value"])
    assert Decimal(repr(upstream["value"])) == up_value
    assert upstream["item_class"] == tp_class(up_value)
    assert up_value > TARGET and upstream["meets_target"] is False
    assert CLASSES.index(upstream["class"]) >= CLASSES.index(upstream["item_class"])  # the worst item

    # --- trend: the values of the last 3 h are the baseline, then the wave ----------------------------------
    window = [r for r in valid if opened_at - timedelta(hours=3) <= at(r["t"]) <= opened_at]
    assert said["trend"]["n"] == len(window) >= 3
    assert rounded(window[0]["value"]) <= TARGET < rounded(window[-1]["value"])
    assert said["trend"]["direction"] == "rising" and said["trend"]["per_hour"] > 0

    # --- validity: every TP value of the last 24 h, with the flags of those not valid -----------------------
    day = [r for r in rows if opened_at - timedelta(hours=24) <= at(r["t"]) <= opened_at]
    not_valid = Counter(r["flag"] for r in day if r not in valid)
    v = said["validity"]
    assert (v["valid"], v["total"]) == (len(day) - sum(not_valid.values()), len(day))
    assert v["flags"] == dict(not_valid) and v["flags"].get("B", 0) >= 1  # the 6 s without an answer
    share = (Decimal(v["valid"]) / Decimal(v["total"])).quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    assert Decimal(repr(v["share"])) == share
    assert 0 < v["station_share"] <= 1 and v["station_total"] >= v["total"]

    # --- the texts of the one message, in Chinese with the English beside -----------------------------------
    texts = {r["label_en"]: r["zh"] for r in said["rows"]}
    assert list(texts) == ["Section", "Class", "Multiple", "Duration", "Upstream", "Trend", "Validity"]
    assert f"总磷 {value} mg/L" in texts["Class"] and f"{multiple} 倍" in texts["Multiple"]
    assert texts["Upstream"].startswith("川胡屯：") and "上游同项超标" in texts["Upstream"]
    assert texts["Trend"].startswith("上升") and f"有效 {v['valid']}/{v['total']}" in texts["Validity"]
    assert "Upstream: Chuanhutun" in said["text_en"] and "Trend: rising" in said["text_en"]

    # --- 川胡屯 is the top station of the Fen: nothing measured above it ------------------------------------
    top = wait_until(lambda: receiver.opened("chuanhutun", TP), 30, interval=0.5, what="川胡屯's TP alert")
    assert top[0]["supervision"]["upstream"] == {"state": "no_station"}

    # --- one message per alert, and the API shows the same judgement ----------------------------------------
    assert [d["alert"]["id"] for d in receiver.opened("hexicun", TP)] == [alert["id"]]
    status, body = http_json(f"{up.api}/api/alerts?station=hexicun&limit=100")
    assert status == 200, body
    [listed] = [a for a in body["alerts"] if a["id"] == alert["id"]]
    assert listed["supervision"] == said
