"""API fuzz (issue 10 item 7): every operation of the real app, from its OpenAPI schema, with valid and invalid
input (schemathesis, positive and negative modes), never answers 5xx — with the admin token and without.

The app runs over a real CollectorService with a SQLite store in a tmp dir and a fake broker connection that
acknowledges every publish (so commands are really stored and "sent"). The budget is fixed and derandomized:
25 examples per operation by default, 500 under ``-m long``. The number of requests made is printed at the
end of the module (run with ``-s`` to see it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.formats import get_default_format_strategies, unregister_string_format

from collector.api import create_app
from collector.service import CollectorService
from protocols.messages import CommandKind
from tests.collector.api.helpers import AUTH, FakeMqtt, feed, feed_raw
from tests.collector.factories import T0, batch, config, event, status

CALLS = {"requests": 0, "cases": 0}


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorService]:
    svc = CollectorService(config(tmp_path_factory.mktemp("fuzz")), clock=lambda: T0 + timedelta(hours=6))
    svc.start(mqtt=False)
    svc.mqtt = FakeMqtt()  # type: ignore[assignment]
    # Something to find: a status with devices, readings with holes, an event, an exceedance alert, a dead letter.
    feed(svc, "status", status(at=T0, devices={"probe": True, "nh3n": True}, next_seq=9))
    for seq in (1, 2, 5):
        feed(svc, "readings", batch(seq=seq, n=3, start=T0 + timedelta(minutes=10 * seq)))
    for seq, value in ((6, 1.9), (7, 1.95)):
        feed(
            svc,
            "readings",
            batch(seq=seq, n=1, param="w21003", value=value, start=T0 + timedelta(hours=seq - 5)),
        )
    feed(svc, "events", event(at=T0))
    feed_raw(
        svc, "readings", b'{"v": 1, "type": "readings", "seq": 2e999'
    )  # a dead letter to list and reapply
    yield svc
    svc.stop()
    print(f"\nAPI fuzz: {CALLS['cases']} generated cases, {CALLS['requests']} requests, no 5xx")


# Times at the edges of what datetime can hold and of what the API accepts: random RFC 3339 dates almost
# never land within hours of year 1 or 9999, where date arithmetic overflows (the 500s of issue 10).
EDGE_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-02T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-25T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00Z",
    "2026-07-01T00:00:00Z",
    "2026-07-01T08:00:00+08:00",
    "2027-07-03T00:00:00Z",
    "2199-12-31T23:59:59Z",
)


@pytest.fixture(scope="module")
def api_schema(fuzz_service: CollectorService) -> Iterator[schemathesis.BaseSchema]:
    default = get_default_format_strategies()["date-time"]
    schemathesis.openapi.format("date-time", st.sampled_from(EDGE_TIMES) | default)
    try:
        yield schemathesis.openapi.from_asgi("/api/openapi.json", create_app(fuzz_service))
    finally:
        unregister_string_format("date-time")  # the default applies again


def call_both_ways(case: schemathesis.Case) -> None:
    CALLS["cases"] += 1
    for headers in (None, AUTH):  # as generated (any or no Authorization), then as the admin
        response = case.call(headers=headers)
        CALLS["requests"] += 1
        if case.operation.path == "/healthz" and response.status_code == 503:
            continue  # /healthz says "not ok" with 503 by contract
        assert response.status_code < 500, (
            f"{response.status_code} from {case.as_curl_command(headers=headers)}\n{response.text[:2000]}"
        )


@pytest.fixture(scope="module")
def known_ids(fuzz_service: CollectorService) -> dict[str, str]:
    """Ids that exist, so that half the cases get past the 404 of a random id to the checks behind it."""
    alerts = fuzz_service.store.alerts(state=None, station=None, severity=None, limit=1)
    assert alerts, "the fixture's exceedance should have opened an alert"
    command = fuzz_service.send_command("hexicun", CommandKind.GET_CONFIG, {})
    return {
        "station_id": "hexicun",
        "section_id": "hexicun",
        "alert_id": alerts[0].id,
        "command_id": command.id,
        "kind": "daily",  # with the period: a product really made (and archived), rendered in each format
        "period": "2026-06-30",
    }


def fuzz(api_schema: schemathesis.BaseSchema, known: dict[str, str], max_examples: int) -> None:
    """Each operation in both modes, with its own hypothesis run. (schemathesis' lazy pytest integration,
    ``from_fixture``, does not run under pytest 9: it sets ``node._nodeid``.)"""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # The event stream never ends by design: it is tested over a real connection in test_api_stream.py.
    operations = [op for op in operations if op.path != "/api/stream"]
    assert len(operations) >= 15, [op.path for op in operations]
    for operation in operations:
        fixed = {name: value for name, value in known.items() if f"{{{name}}}" in operation.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if fixed:
                strategy |= operation.as_strategy(generation_mode=mode, path_parameters=fixed)

            @settings(
                max_examples=max_examples,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                call_both_ways(case)

            try:
                run()
            except Unsatisfiable:
                # Negative mode has nothing to break in an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label


def test_no_operation_answers_5xx(api_schema: schemathesis.BaseSchema, known_ids: dict[str, str]) -> None:
    fuzz(api_schema, known_ids, max_examples=25)


@pytest.mark.long
def test_no_operation_answers_5xx_long(
    api_schema: schemathesis.BaseSchema, known_ids: dict[str, str]
) -> None:
    fuzz(api_schema, known_ids, max_examples=500)
