from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from collector.store.base import Store, Transition, seq_ranges
from collector.store.sqlite import SqliteStore
from collector.timestamps import to_us
from protocols.flags import Flag
from protocols.messages import Command, CommandKind, Reading, ReadingBatch, StationState
from tests.collector.factories import T0, batch, event, received, reply, status, unchecked


def test_readings_stored_once_and_duplicates_counted(store: Store) -> None:
    first = store.apply([received(batch(seq=1, n=5))])
    assert (first.readings_inserted, first.readings_duplicate, first.messages_inserted) == (5, 0, 1)
    again = store.apply([received(batch(seq=1, n=5)), received(batch(seq=1, n=5))])
    assert (again.readings_inserted, again.readings_duplicate) == (0, 10)
    assert again.messages_duplicate == 2
    # A resend carries old readings under a new seq: the message is new, the readings are not.
    resend = store.apply([received(batch(seq=7, n=5, lane="resend"))])
    assert (resend.messages_inserted, resend.readings_inserted, resend.readings_duplicate) == (1, 0, 5)
    assert len(store.readings("hexicun")) == 5


def test_value_is_never_rewritten_by_a_later_duplicate(store: Store) -> None:
    store.apply([received(batch(seq=1, n=1, value=1.5))])
    store.apply([received(batch(seq=2, n=1, value=99.0))])  # same (station, param, t), other value
    assert [r.value for r in store.readings("hexicun")] == [1.5]


def test_readings_query_range_param_and_limit(store: Store) -> None:
    store.apply([received(batch(seq=1, n=10)), received(batch(seq=2, n=10, param="w01001", value=7.0))])
    rows = store.readings(
        "hexicun", param="w01010", start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5)
    )
    assert [r.t for r in rows] == [T0 + timedelta(minutes=m) for m in (2, 3, 4)]  # end excluded
    assert all(r.param == "w01010" for r in rows)
    assert rows[0].value == 12.0 and rows[0].flag == "N" and rows[0].t.tzinfo is not None
    assert len(store.readings("hexicun", limit=4)) == 4
    assert len(store.readings("hexicun")) == 20
    assert store.readings("chuanhutun") == []


def test_reading_marks_are_the_readings_times_and_validity(store: Store) -> None:
    """What capture rates count, straight from the store: per parameter (t in µs, flag N/T), the range
    half-open, the same readings as ``readings`` gives."""
    flagged = ReadingBatch(
        station="hexicun",
        seq=3,
        sent_at=T0 + timedelta(minutes=10),
        readings=[
            Reading(param="w01001", t=T0 + timedelta(minutes=1), value=7.1, flag=Flag.MAINTENANCE),
            Reading(param="w01001", t=T0 + timedelta(minutes=2), value=7.2, flag=Flag.OVER_RANGE),
            Reading(param="w01001", t=T0 + timedelta(minutes=3), value=None, flag=Flag.FAULT),
            Reading(param="w01001", t=T0 + timedelta(minutes=4, microseconds=7), value=7.4),
        ],
    )
    store.apply([received(batch(seq=1, n=10)), received(flagged)])
    start, end = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    marks = store.reading_marks("hexicun", start, end)
    assert sorted(marks["w01010"]) == [(to_us(T0 + timedelta(minutes=m)), True) for m in (2, 3, 4)]
    assert sorted(marks["w01001"]) == [
        (to_us(T0 + timedelta(minutes=2)), True),  # T: valid
        (to_us(T0 + timedelta(minutes=3)), False),  # D
        (to_us(T0 + timedelta(minutes=4, microseconds=7)), True),  # exact to the µs
    ]
    assert {p: sorted(m) for p, m in marks.items()} == {
        p: sorted(
            (to_us(r.t), r.flag in ("N", "T"))
            for r in store.readings("hexicun", param=p, start=start, end=end)
        )
        for p in ("w01010", "w01001")
    }
    assert store.reading_marks("chuanhutun", start, end) == {}


def test_device_owners_report_most_of_a_parameter(store: Store) -> None:
    """Each parameter's device in a range: the one with most readings; of equals, the one heard first;
    readings without a device do not count."""

    def reading(param: str, minute: int, device: str | None) -> Reading:
        return Reading(param=param, t=T0 + timedelta(minutes=minute), value=1.0, device=device)

    readings = [
        *(reading("w01010", m, "probe") for m in range(0, 5)),
        *(reading("w01010", m, "spare") for m in range(5, 8)),
        reading("w01001", 1, "late"),  # a tie of one each: "early" was heard first
        reading("w01001", 0, "early"),
        *(reading("w01009", m, None) for m in range(0, 4)),
        reading("w01009", 4, "do"),
        reading("w21003", 0, "before the range"),
        *(reading("w21003", m, "") for m in range(1, 3)),
    ]
    store.apply([received(ReadingBatch(station="hexicun", seq=1, sent_at=T0, readings=readings))])
    owners = store.device_owners("hexicun", T0, T0 + timedelta(minutes=8))
    assert owners == {"w01010": "probe", "w01001": "early", "w01009": "do", "w21003": "before the range"}
    later = store.device_owners("hexicun", T0 + timedelta(minutes=1), T0 + timedelta(minutes=8))
    assert later["w01010"] == "probe" and later["w01001"] == "late" and "w21003" not in later
    assert store.device_owners("hexicun", T0 + timedelta(minutes=5), T0 + timedelta(minutes=8)) == {
        "w01010": "spare"
    }


def test_latest_per_parameter_by_sample_time(store: Store) -> None:
    store.apply([received(batch(seq=2, n=3, start=T0 + timedelta(hours=1), value=20.0))])
    store.apply([received(batch(seq=1, n=3, value=10.0))])  # older data arriving later
    latest = store.latest("hexicun")
    assert set(latest) == {"w01010"}
    assert latest["w01010"].t == T0 + timedelta(hours=1, minutes=2)
    assert latest["w01010"].value == 22.0
    assert store.last_reading_at("hexicun") == T0 + timedelta(hours=1, minutes=2)
    assert store.last_reading_at("nowhere") is None


def test_events_replies_and_commands_are_idempotent(store: Store) -> None:
    result = store.apply([received(event()), received(event()), received(reply("hexicun", "c1"))])
    assert (result.events_inserted, result.events_duplicate, result.replies_inserted) == (1, 1, 1)
    assert store.apply([received(reply("hexicun", "c1"))]).replies_duplicate == 1
    assert [e.event.id for e in store.events("hexicun")] == ["e1"]
    assert store.command("hexicun", "c1") is None  # a reply without our command is not a command
    command = Command(station="hexicun", id="c2", kind=CommandKind.SYNC_CLOCK, issued_at=T0)
    store.save_command(command)
    stored = store.command("hexicun", "c2")
    assert stored is not None and stored.command == command and stored.reply is None
    store.apply([received(reply("hexicun", "c2"), at=T0 + timedelta(seconds=3))])
    stored = store.command("hexicun", "c2")
    assert stored is not None and stored.reply is not None and stored.reply.ok
    assert stored.reply_received_at == T0 + timedelta(seconds=3)


def test_status_keeps_the_newest(store: Store) -> None:
    store.apply([received(status(at=T0 + timedelta(minutes=1), backlog=5))])
    result = store.apply([received(status(at=T0, backlog=9))])  # a stale copy
    assert result.statuses_stale == 1
    assert store.statuses()["hexicun"].status.backlog == 5


def test_seq_gaps(store: Store) -> None:
    store.apply([received(batch(seq=s, n=1, start=T0 + timedelta(hours=s))) for s in (0, 1, 2, 5, 6, 9)])
    summary = store.seq_summary("hexicun")
    assert summary.ranges == [(0, 2), (5, 6), (9, 9)]
    assert summary.missing == [(3, 4), (7, 8)]
    assert summary.missing_count == 4
    assert store.seq_summary("chuanhutun").ranges == []
    assert seq_ranges([1, 2, 3, 7]).missing == [(4, 6)]


def test_transitions_and_failed_transaction_rolls_back(store: Store) -> None:
    store.add_transitions(
        [
            Transition("hexicun", T0, None, StationState.OFFLINE, ("never heard",)),
            Transition("hexicun", T0 + timedelta(seconds=5), StationState.OFFLINE, StationState.ONLINE, ()),
        ]
    )
    assert [t.new for t in store.transitions("hexicun")] == [StationState.ONLINE, StationState.OFFLINE]
    assert store.last_transitions()["hexicun"].new is StationState.ONLINE

    # A batch that fails half-way through the transaction (no lane): nothing of the transaction is kept.
    broken = unchecked(batch(seq=99, n=1), lane=None, readings=[])
    with pytest.raises(AttributeError):  # the broken message, whichever engine
        store.apply([received(batch(seq=1, n=2)), received(event()), received(broken)])
    assert store.readings("hexicun") == [] and store.events("hexicun") == []
    assert store.seq_summary("hexicun").ranges == []


def test_data_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    first = SqliteStore(path)
    first.apply([received(batch(seq=1, n=3))])
    first.close()
    second = SqliteStore(path)
    assert len(second.readings("hexicun")) == 3
    assert second.counts()["readings"] == 3
    assert second.ping()
    second.close()


def test_will_status_replaces_newer_heartbeat_of_the_same_run(store: Store) -> None:
    store.apply([received(status(at=T0 + timedelta(minutes=10), started_at=T0))])
    will = status(at=T0 + timedelta(seconds=1), state=StationState.OFFLINE)
    assert store.apply([received(will)]).statuses_saved == 1
    assert store.statuses()["hexicun"].status.state is StationState.OFFLINE


def test_latest_table_ignores_a_duplicate_with_another_value(store: Store) -> None:
    store.apply([received(batch(seq=1, n=2, value=1.0))])
    store.apply([received(batch(seq=2, n=2, value=50.0))])  # same times: duplicates, value never rewritten
    assert store.latest("hexicun")["w01010"].value == 2.0


def test_newest_readings_oldest_first(store: Store) -> None:
    store.apply([received(batch(seq=1, n=10))])
    rows = store.readings("hexicun", limit=3, newest=True, end=T0 + timedelta(minutes=9))
    assert [r.t for r in rows] == [T0 + timedelta(minutes=m) for m in (6, 7, 8)]


def test_transitions_between(store: Store) -> None:
    at = [T0 + timedelta(minutes=m) for m in (0, 10, 20, 30)]
    states = [StationState.OFFLINE, StationState.ONLINE, StationState.DEGRADED, StationState.OFFLINE]
    store.add_transitions([Transition("hexicun", t, None, s) for t, s in zip(at, states, strict=True)])
    initial, inside = store.transitions_between(
        "hexicun", T0 + timedelta(minutes=15), T0 + timedelta(minutes=30)
    )
    assert initial is not None and initial.new is StationState.ONLINE
    assert [t.new for t in inside] == [StationState.DEGRADED]
    assert store.transitions_between("hexicun", T0 - timedelta(hours=1), T0)[0] is None


def test_latest_follows_commits_after_it_was_first_read(store: Store) -> None:
    assert store.latest("hexicun") == {}  # read (and, for SQLite, mirrored in memory) before any data
    store.apply([received(batch(seq=1, n=2, value=1.0))])
    assert store.latest("hexicun")["w01010"].value == 2.0
    store.apply([received(batch(seq=2, n=2, value=50.0))])  # duplicates: the latest value stays
    store.apply([received(batch(seq=3, n=1, start=T0 - timedelta(hours=1), value=9.0))])  # older: ignored
    latest = store.latest("hexicun")
    assert latest["w01010"].value == 2.0 and latest["w01010"].t == T0 + timedelta(minutes=1)
    store.apply([received(batch(seq=4, n=1, start=T0 + timedelta(hours=1), value=30.0))])
    assert store.latest("hexicun")["w01010"].value == 30.0
    latest["w01010"] = latest["w01010"]  # a caller's copy: changing it changes nothing stored
    latest.clear()
    assert set(store.latest("hexicun")) == {"w01010"}


def test_alerts_filter_by_state_station_and_severity(store: Store) -> None:
    from collector.alerts.model import Alert, AlertStatus
    from protocols.messages import Severity

    def alert(n: int, station: str, status: AlertStatus, severity: Severity) -> Alert:
        at = T0 + timedelta(minutes=n)
        return Alert(
            id=f"a{n}",
            station=station,
            rule="exc",
            rule_type="exceedance",
            severity=severity,
            status=status,
            opened_at=at,
            last_bad_at=at,
            title_zh="t",
            title_en="t",
            message_zh="m",
            message_en="m",
        )

    store.save_alerts(
        [
            alert(1, "hexicun", AlertStatus.OPEN, Severity.WARNING),
            alert(2, "hexicun", AlertStatus.ACKNOWLEDGED, Severity.CRITICAL),
            alert(3, "boshuicun", AlertStatus.RESOLVED, Severity.WARNING),
        ]
    )
    ids = lambda **kw: [a.id for a in store.alerts(**kw)]  # noqa: E731
    assert ids() == ["a3", "a2", "a1"]  # newest first
    assert ids(state="active") == ["a2", "a1"]
    assert ids(state="resolved") == ["a3"]
    assert ids(station="hexicun", severity="critical") == ["a2"]
    assert ids(limit=1) == ["a3"]
    assert store.alert("a2") is not None and store.alert("nope") is None


def test_valid_ranges_count_the_valid_values_and_find_each_extreme_first_seen(store: Store) -> None:
    m = [T0 + timedelta(minutes=i) for i in range(8)]
    cod = [
        (9.0, "N"),
        (30.0, "N"),
        (99.0, "D"),
        (30.0, "T"),
        (4.5, "N"),
        (None, "B"),
        (4.5, "N"),
        (60.0, "N"),
    ]
    readings = [Reading(param="w01018", t=m[i], value=v, flag=Flag(f)) for i, (v, f) in enumerate(cod)]
    readings += [
        Reading(param="w01001", t=m[0], value=7.1),
        Reading(param="w01001", t=m[1], value=None, flag=Flag.COMM_FAILED),
        Reading(param="w21003", t=m[2], value=3.0, flag=Flag.FAULT),  # no valid value: absent
    ]
    store.apply([received(ReadingBatch(station="outfall1", seq=1, sent_at=m[7], readings=readings))])
    store.apply([received(batch(station="other", seq=1, param="w01018", value=1000.0))])  # not this site's
    found = store.valid_ranges("outfall1", ["w01018", "w01001", "w21003", "w00000"], m[1], m[7])
    assert set(found) == {"w01018"}  # [m1, m7): pH's only value and the last COD are outside
    cod_range = found["w01018"]
    # Valid in the range: 30 (m1), 30 (T, m3), 4.5 (m4), 4.5 (m6); the 99 is flagged D, the B has no value.
    assert cod_range.n == 4
    assert (cod_range.low, cod_range.low_t) == (4.5, m[4])  # the first time it was seen
    assert (cod_range.high, cod_range.high_t) == (30.0, m[1])
    everything = store.valid_ranges("outfall1", ["w01018", "w01001"], m[0], m[7] + timedelta(seconds=1))
    assert everything["w01001"].n == 1 and everything["w01001"].high_t == m[0]
    assert (everything["w01018"].n, everything["w01018"].high, everything["w01018"].low) == (6, 60.0, 4.5)
    assert store.valid_ranges("outfall1", [], m[0], m[7]) == {}
