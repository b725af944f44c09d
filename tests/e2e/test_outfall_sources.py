"""The chain "pollution source → outfall → water body" end to end: the compressed plume on the Hutuo
(tests/e2e/scenarios/plume_hutuo_fast.toml) runs at 界河铺村 (simulated station → agent → Mosquitto → collector)
and at the demo outfall above it, whose monitor is the simulated HJ 212 data logger (``qingliu sim hj212-logger``,
ST 32, over real TCP to the collector's HJ 212 server). The outfall breaches its discharge limits and raises its
own alert; then 界河铺村's exceedance opens, and its message — as the webhook receives it and as the API shows it —
names the outfall upstream as a possible source, over its limit, with the value the collector stored."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_flood_supervision import Receiver
from tests.support.broker import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import ProcessGroup, qingliu
from tests.support.stack import ALL_TIME, Stack, http_json, wait_until

pytestmark = pytest.mark.e2e

SCENARIO = Path(__file__).parent / "scenarios" / "plume_hutuo_fast.toml"
NH3N, COD = "w21003", "w01018"
MN = "OUTFALLDEMO01"  # the demo outfall's MN in collector/outfalls.toml
HEAD_START_S = 15.0
NH3N_LIMIT, COD_LIMIT = 5.0, 50.0  # its GB 18918-2002 class 1 A limits (STANDARDS.md §11)


def collector_extra(hj212_port: int, hook: str) -> str:
    # Real-time data (2011) stored, so a 30 s real-time interval is enough for a test of under a minute.
    return (
        "[hj212]\nenabled = true\n"
        f"port = {hj212_port}\n"
        f'loggers = [{{ mn = "{MN}", password = "123456", outfall = "hutuo_demo", st = "32", '
        'cns = ["2011"], history_cn = "2011" }]\n'
        f'\n[[notify]]\nkind = "webhook"\nurl = "{hook}"\n'
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def alerts(stack: Stack, station: str) -> list[dict[str, Any]]:
    status, body = http_json(f"{stack.api}/api/alerts?station={station}&limit=1000")
    assert status == 200, body
    return list(body["alerts"])


def readings(stack: Stack, station: str, param: str) -> list[dict[str, Any]]:
    status, body = http_json(
        f"{stack.api}/api/stations/{station}/readings?param={param}&limit=100000&{ALL_TIME}"
    )
    assert status == 200, body
    return list(body["readings"])


def test_the_plume_opens_a_section_alert_naming_the_breaching_outfall_upstream(
    tmp_path: Path, mosquitto: Mosquitto, processes: ProcessGroup
) -> None:
    receiver = Receiver()
    hj212_port = free_port()
    stack = Stack(
        tmp_path / "stack",
        mosquitto,
        processes,
        station="jiehepucun",
        collector_extra=collector_extra(hj212_port, receiver.url),
    )
    try:
        stack.root.mkdir(parents=True, exist_ok=True)
        stack.start_collector()
        processes.start(
            "outfall-logger",
            qingliu(
                "sim",
                "hj212-logger",
                "--port",
                str(hj212_port),
                "--mn",
                MN,
                "--outfall",
                "hutuo_demo",
                "--scenario",
                str(SCENARIO),
                "--follow",
                "boshuicun",
                "--interval",
                "30",
                "--nutrient-cycle-min",
                "0.05",
                "--no-hourly",
            ),
        )
        # The logger samples on the half minute: 15 s ahead, its plume (6 s after its start) is sampled at the
        # latest 39 s after its start, while 界河铺村 sees the plume 15 + 6 + 30 s after the logger's start.
        time.sleep(HEAD_START_S)
        stack.start_sim("--scenario", str(SCENARIO), "--speed", "1")
        stack.start_agent()

        # The outfall's own alert: its effluent over a discharge limit, stored under its id over HJ 212.
        def outfall_alert() -> dict[str, Any] | None:
            return next((a for a in alerts(stack, "hutuo_demo") if a["rule"] == "outfall_limit"), None)

        own = wait_until(outfall_alert, 75, interval=0.5, what="the outfall's outfall_limit alert")
        assert (
            own["param"] in (NH3N, COD)
            and own["last_value"] > {NH3N: NH3N_LIMIT, COD: COD_LIMIT}[own["param"]]
        )
        assert "滹沱河演示排口" in own["message_zh"] and "GB 18918-2002" in own["message_zh"]

        # 界河铺村's NH3-N exceedance beyond class V, once the plume arrives there (0.88 + 2.8 mg/L): it opens so,
        # or escalates to it if the baseline's noise (0.88 against a 1.0 target) opened it already. Either
        # transition's one message carries the sources; the webhook keeps it as it was sent.
        def plume_message() -> dict[str, Any] | None:
            with receiver.lock:
                for doc in receiver.documents:
                    alert = doc.get("alert", {})
                    if (
                        doc.get("event") in ("opened", "escalated")
                        and alert.get("station") == "jiehepucun"
                        and alert.get("rule_type") == "exceedance"
                        and alert.get("param") == NH3N
                        and alert.get("severity") == "critical"
                    ):
                        return dict(doc)
            return None

        doc = wait_until(plume_message, 60, interval=0.5, what="界河铺村's NH3-N exceedance beyond class V")
        sent, when = doc["alert"], at(doc["at"])
        stored = [r for r in readings(stack, "hutuo_demo", NH3N) if r["flag"] == "N"]
        before = [r for r in stored if at(r["t"]) <= when]
        assert any(r["value"] > NH3N_LIMIT for r in before), stored  # the breach came first

        # The message names the outfall upstream, over its limit, with its worst NH3-N value in the window: one
        # the collector stored, over 5 mg/L, and at least every value sampled well before (a sample of the last
        # seconds may still have been on its way).
        assert "；可能来源：滹沱河演示排口：" in sent["message_zh"], sent["message_zh"]
        said = re.search(r"氨氮 ([0-9.]+) mg/L（限值 5 mg/L，超标）", sent["message_zh"])
        assert said is not None, sent["message_zh"]
        value = float(said.group(1))
        assert said.group(1) in {f"{r['value']:.3f}" for r in before} and value > NH3N_LIMIT
        settled = when - timedelta(seconds=5)
        assert all(value >= round(r["value"], 3) for r in before if at(r["t"]) <= settled)
        assert "; possible sources: Hutuo demo outfall: " in sent["message_en"]
        assert f"ammonia nitrogen {said.group(1)} mg/L (limit 5 mg/L, over the limit)" in sent["message_en"]
        assert sent["detail"]["sources"]["over"] == ["hutuo_demo"]

        # The API's alert names it too (after the clause, its message may hold a later value of 界河铺村).
        [shown] = [a for a in alerts(stack, "jiehepucun") if a["id"] == sent["id"]]
        clause = sent["message_zh"][sent["message_zh"].index("；可能来源：") :]
        assert shown["message_zh"].endswith(clause) and shown["sources"]["over"] == ["hutuo_demo"]

        # The section's view lists the outfall upstream, with the breach the collector holds.
        status, body = http_json(f"{stack.api}/api/sections/jiehepucun/outfalls")
        assert status == 200 and [o["id"] for o in body["outfalls"]] == ["hutuo_demo"]
        assert body["outfalls"][0]["reporting"] is True
    finally:
        receiver.close()
