"""Wrote wire_v1_corpus.jsonl with the pydantic protocols.messages (commit f2776e2), before msgspec (issue 17).

Run: PYTHONPATH=. python tests/protocols/data/make_wire_v1_corpus.py > tests/protocols/data/wire_v1_corpus.jsonl
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from protocols import messages as m
from protocols.flags import Flag

T0 = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
T1 = datetime(2026, 7, 15, 2, 0, 5, 123, tzinfo=UTC)
T2 = datetime(2026, 7, 15, 10, 0, 1, 654321, tzinfo=timezone(timedelta(hours=8)))
T3 = datetime(2026, 7, 15, 2, 0, 0, 500000, tzinfo=UTC)
out = []


def add(msg):
    out.append(m.encode(msg).decode())


R = m.Reading
add(m.ReadingBatch(station="hexicun", seq=0, sent_at=T0, readings=[R(param="w01001", t=T0, value=7.25)]))
add(
    m.ReadingBatch(
        station="s-1",
        seq=2**63 - 1,
        lane=m.Lane.BACKFILL,
        sent_at=T1,
        readings=[
            R(param="w21003", t=T1, value=0.452, device="nh3"),
            R(param="w21011", t=T2, value=None, flag=Flag.COMM_FAILED),
            R(param="w01010", t=T3, value=-0.0, flag=Flag.CALIBRATION, device='probe "1" 名'),
            R(param="w01014", t=T0, value=1e20, flag=Flag.OVER_RANGE),
            R(param="w01003", t=T0, value=1.0e-9, flag=Flag.FAULT),
            R(param="w00000", t=T0, value=123456789.125, flag=Flag.MANUAL),
            R(param="w01009", t=T0, value=3.0, flag=Flag.MAINTENANCE),
            R(param="w01019", t=T0, value=1.7976931348623157e308, flag=Flag.STOPPED),
            R(param="w21001", t=T0, value=5e-324),
            R(param="w01018", t=datetime(1, 1, 1, tzinfo=UTC), value=1.0),
            R(param="w01017", t=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), value=2.0),
        ],
    )
)
add(
    m.ReadingBatch(
        station="boshuicun",
        seq=42,
        lane=m.Lane.RESEND,
        sent_at=T2,
        readings=[R(param="w01001", t=T0 + timedelta(minutes=i), value=7.0 + i / 100) for i in range(20)],
    )
)
add(m.Status(station="hexicun", state=m.StationState.ONLINE, at=T0))
add(m.Status(station="hexicun", state=m.StationState.OFFLINE, at=T1, agent_version="1.2.3"))
add(
    m.Status(
        station="boshuicun",
        state=m.StationState.DEGRADED,
        at=T2,
        agent_version="0.9",
        started_at=T0,
        next_seq=99,
        backlog=3,
        oldest_unsent=T3,
        dropped=2**63 - 1,
        clock_offset_s=-0.25,
        devices={
            "tp": m.DeviceStatus(up=True),
            "nh3": m.DeviceStatus(up=False, flag=Flag.FAULT, failures=4, last_ok=T1, error="timeout 名"),
            "x": m.DeviceStatus(up=True, last_ok=T2),
        },
        controller={"pump": True, "water": 1.5, "door": "open", "mains": False, "zero": 0.0, "n": 3},
        heartbeat_s=15.5,
        intervals={"tp": 60.0, "nh3": 600.0},
        uplinks={
            "province": m.UplinkStatus(
                host="10.0.0.1",
                port=8080,
                connected=True,
                last_reply=T1,
                backlog=5,
                oldest_unsent=T2,
                periods_pending=1,
                retries=2,
                refusals=3,
                lost=4,
                sent_frames=5,
                alert=True,
            ),
            "city": m.UplinkStatus(),
        },
    )
)
add(m.Status(station="hexicun", state=m.StationState.ONLINE, at=T0, uplinks={}, clock_offset_s=0.0))
add(m.Event(station="hexicun", id="e1", at=T0, kind=m.EventKind.AGENT_STARTED))
add(
    m.Event(
        station="hexicun",
        id="e2",
        at=T3,
        kind=m.EventKind.DEVICE_DOWN,
        severity=m.Severity.CRITICAL,
        device="tp",
        param="w21011",
        message="no answer 无响应",
        detail={
            "a": None,
            "b": [1, 2.5, "x", None, {"c": True}],
            "n": -(2**63),
            "m": 2**63 - 1,
            "f": 1e-7,
            "s": "名",
            "e": {},
            "l": [],
        },
    )
)
for kind in m.EventKind:
    add(m.Event(station="s-1", id=f"k-{kind.value}", at=T1, kind=kind, severity=m.Severity.WARNING))
add(
    m.Command(
        station="hexicun",
        id="c1",
        kind=m.CommandKind.RESEND,
        issued_at=T0,
        args={"from": "2026-07-15T00:00:00Z", "to": "2026-07-15T01:00:00Z"},
    )
)
add(
    m.Command(
        station="hexicun",
        id="c2",
        kind=m.CommandKind.SET_INTERVAL,
        issued_at=T2,
        args={"device": "tp", "interval_s": 30},
    )
)
add(
    m.Command(
        station="hexicun", id="c3", kind=m.CommandKind.SYNC_CLOCK, issued_at=T1, args={"reference": None}
    )
)
add(m.Command(station="hexicun", id="c4", kind=m.CommandKind.GET_CONFIG, issued_at=T3))
add(m.CommandReply(station="hexicun", id="c1", ok=True, at=T0))
add(
    m.CommandReply(
        station="hexicun", id="c2", ok=False, at=T1, message="no data", result={"x": [None, {"y": 1.5}]}
    )
)
for line in out:
    print(line)
weird = "".join(chr(c) for c in range(0, 0xA0)) + '\u2028\u2029\ufeff\U0001f600名\\/"'
print(
    m.encode(
        m.Event(
            station="hexicun",
            id="weird",
            at=T0,
            kind=m.EventKind.CONTROLLER,
            message=weird,
            detail={weird[:100]: weird},
        )
    ).decode()
)
print(
    m.encode(
        m.CommandReply(
            station="hexicun",
            id="c9",
            ok=True,
            at=T0,
            result={"floats": [0.1, 1e16, 1e-5, 123.0, 2.5e-8, 1e300, -1.5e-300]},
        )
    ).decode()
)
