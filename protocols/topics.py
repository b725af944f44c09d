"""The MQTT topic scheme. One place builds and parses topics so that ACLs, agent and collector agree.

    qingliu/v1/<station>/readings   agent → collector, QoS 1        ReadingBatch
    qingliu/v1/<station>/status     agent → collector, QoS 1, retained; the will sets it offline   Status
    qingliu/v1/<station>/events     agent → collector, QoS 1        Event
    qingliu/v1/<station>/cmd        collector → agent, QoS 1        Command
    qingliu/v1/<station>/reply      agent → collector, QoS 1        CommandReply
    qingliu/v1/alerts/<station>     collector → anyone, QoS 1       alert notifications

A Mosquitto ACL can then say: a station user may write ``qingliu/v1/%u/#`` except ``cmd`` and read
``qingliu/v1/%u/cmd``, so that a station can only publish as itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PREFIX = "qingliu/v1"
Kind = Literal["readings", "status", "events", "cmd", "reply"]
UPLINK_KINDS: tuple[Kind, ...] = ("readings", "status", "events", "reply")

STATION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


# Words that name topic levels of their own and so cannot be station ids.
RESERVED_IDS = frozenset({"alerts"})


def is_station_id(value: str) -> bool:
    return bool(STATION_ID_RE.fullmatch(value)) and value not in RESERVED_IDS


def topic(station: str, kind: Kind) -> str:
    if not is_station_id(station):
        raise ValueError(f"invalid station id {station!r}: lower-case ASCII letters, digits, '_' or '-'")
    return f"{PREFIX}/{station}/{kind}"


def alert_topic(station: str) -> str:
    return f"{PREFIX}/alerts/{station}"


def collector_subscriptions(shared_group: str | None = None) -> list[str]:
    """Topic filters the collector subscribes to; with a group, as an MQTT v5 shared subscription."""
    filters = [f"{PREFIX}/+/{kind}" for kind in UPLINK_KINDS]
    if shared_group:
        return [f"$share/{shared_group}/{f}" for f in filters]
    return filters


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    station: str
    kind: Kind


def parse(value: str) -> ParsedTopic | None:
    """The station and kind of an agent topic, or None for anything that is not one."""
    parts = value.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != PREFIX:
        return None
    station, kind = parts[2], parts[3]
    if not is_station_id(station) or kind not in ("readings", "status", "events", "cmd", "reply"):
        return None
    return ParsedTopic(station, kind)  # type: ignore[arg-type]
