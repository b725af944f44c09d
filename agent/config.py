"""The agent's TOML config, validated by msgspec. A wrong field gives a message that names the field.

msgspec, not pydantic: a station has 30 MiB (issue 17), and pydantic alone took ~13 of them. The sections are
Structs: ``msgspec.structs.replace`` changes a copy, ``msgspec.to_builtins`` gives the plain dict, and
``protocols.tomldoc.convert`` validates a document (a constructor does not check bounds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import msgspec
from msgspec import Meta, field

from protocols.errors import FieldProblem
from protocols.logfiles import LogConfig
from protocols.messages import MAX_PERIOD_S, StationId
from protocols.mqtt import MqttConnection
from protocols.tomldoc import parse_toml_model, read_text

Positive = Annotated[float, Meta(gt=0)]
NotNegative = Annotated[float, Meta(ge=0)]
Period = Annotated[float, Meta(gt=0, le=MAX_PERIOD_S)]
Name = Annotated[str, Meta(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")]


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A table of the config: unknown keys are refused."""


class StationConfig(_Section, kw_only=True):
    id: StationId  # the wire contract's station id (protocols/messages.py)
    mn: Annotated[str, Meta(max_length=24)] = ""  # HJ 212 MN, where the station reports to a platform
    timezone: str = "Asia/Shanghai"


class MqttConfig(MqttConnection, kw_only=True):
    """``[mqtt]``: the shared connection settings (``protocols.mqtt``) and the station's own."""

    client_cert: str = ""
    client_key: str = ""
    heartbeat_s: Period = 30.0  # the status must stay valid on the wire
    reconnect_min_s: Positive = 0.5
    reconnect_max_s: Positive = 30.0


class OutboxConfig(_Section, kw_only=True):
    path: str = "var/outbox.db"
    max_bytes: Annotated[int, Meta(ge=1_000_000)] = 2_000_000_000  # disk quota for the outbox file
    max_age_days: Positive = 400.0  # unsent readings older than this are dropped
    history_days: NotNegative = 90.0  # sent readings kept to answer re-send requests
    full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    reserve_bytes: Annotated[int, Meta(ge=0)] = 5_000_000  # kept free for health and alarm events
    # Free space kept on the outbox's filesystem: below it the quota dropping (counted) starts, before the
    # disk is full. Covers the WAL at its largest (~1 MiB), the -shm file and the events of a fault.
    min_free_bytes: Annotated[int, Meta(ge=0)] = 8_000_000
    batch_max_readings: Annotated[int, Meta(ge=1, le=2000)] = 500
    batch_max_bytes: Annotated[int, Meta(ge=1024, le=256 * 1024)] = 128 * 1024
    inflight: Annotated[int, Meta(ge=1, le=1000)] = 16  # messages awaiting PUBACK at once
    live_window_s: Positive = 600.0  # readings younger than this go in the live lane
    backfill_rate: Positive = 5000.0  # readings/s at most in the backfill lane
    housekeeping_s: Positive = 60.0  # how often history and age limits run


class _Bus(_Section, tag_field="type", kw_only=True):
    """``[[bus]]``: its ``type`` (the tag) selects the class, RtuBus, AsciiBus or TcpBus."""

    name: str

    @property
    def type(self) -> Literal["rtu", "ascii", "tcp"]:
        return cast(Literal["rtu", "ascii", "tcp"], self.__struct_config__.tag)


class SerialBus(_Bus, kw_only=True):
    """An RS-485/RS-232 line: RtuBus or AsciiBus (Modbus RTU or ASCII framing)."""

    port: str
    baudrate: Annotated[int, Meta(gt=0)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_s: Positive = 0.5
    gap_ms: NotNegative = 5.0  # inter-frame gap between requests on the line


class RtuBus(SerialBus, tag="rtu", kw_only=True):
    pass


class AsciiBus(SerialBus, tag="ascii", kw_only=True):
    pass


class TcpBus(_Bus, tag="tcp", kw_only=True):
    timeout_s: Positive = 1.0


Bus = RtuBus | AsciiBus | TcpBus


class DeviceConfig(_Section, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    profile: str  # built-in profile name or a .toml path
    bus: str
    unit: Annotated[int, Meta(ge=0, le=247)] = 1  # Modbus unit (slave) id
    host: str = ""  # TCP devices only
    port: Annotated[int, Meta(ge=1, le=65535)] = 502
    interval_s: Period | None = None  # default: the profile's
    enabled: bool = True
    failures_before_down: Annotated[int, Meta(ge=1)] = 3
    backoff_max_s: Positive = 300.0


class FlaggingConfig(_Section, kw_only=True):
    stuck_after_s: Positive = 6 * 3600.0  # same value this long → stuck
    clock_jump_s: Positive = 120.0  # forward jump beyond this is reported
    clock_back_tolerance_s: NotNegative = 1.0  # backward steps up to this are NTP noise


class ClockConfig(_Section, kw_only=True):
    """How far an analyser's result time may be from the agent's (NTP-disciplined) clock.

    Ahead 300 s: a result's time is when its sample was taken, never after the agent's now; five minutes
    allow for an analyser's RTC drifting a few seconds a day between manual settings, and stay inside the
    collector's 10-minute future window, so the station warns before the collector has to flag. Behind 24 h:
    a nutrient analyser keeps its last result in the register until the next cycle, every 1-4 h and at some
    stations daily; a NEW result dated more than a day back can only come from a clock that is behind.
    """

    analyser_ahead_s: Positive = 300.0
    analyser_behind_s: Positive = 86_400.0
    # keep: readings keep the analyser's time (the event says so); restamp: a result from an analyser whose
    # clock is off is stamped with the agent's acquisition time instead. Values are never rewritten.
    analyser_time: Literal["keep", "restamp"] = "keep"
    report_every_s: NotNegative = 3600.0  # one analyser_clock event per device and kind


class Hj212Target(_Section, kw_only=True):
    """``[[uplink.hj212]]``: one platform above the station (national, provincial) over HJ 212-2017 TCP.

    Reply timeout and retries default to the standard's answer timeout and re-send count (HJ 212-2017's
    request-answer rules and command 1000, OverTime/ReCount; the same 5 s and 3 as ``qingliu sim hj212-logger``);
    ``reply_required`` sets the Flag A bit, and a frame then counts as delivered only on its 9014.
    """

    name: Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
    host: Annotated[str, Meta(min_length=1)]
    port: Annotated[int, Meta(ge=1, le=65535)]
    mn: Name
    password: Name
    st: Annotated[str, Meta(pattern=r"^[0-9]{2}$")] = "21"  # 21: surface water
    realtime: bool = True  # 2011, every reading
    # RtdInterval (1061/1062): how often fresh rows go; a platform may set 30-3600 s, the config also less
    realtime_interval_s: Annotated[float, Meta(gt=0, le=3600)] = 60.0
    hourly: bool = True  # 2061 on the hour: Avg/Min/Max and Flag per item
    daily: bool = False  # 2031 after the local day closes
    period_grace_s: NotNegative = 300.0  # a period is sent this long after it closes
    reply_required: bool = True
    reply_timeout_s: Positive = 5.0
    retries: Annotated[int, Meta(ge=0)] = 3  # re-sends before waiting for the next round (never dropped)
    codes: dict[str, str] = field(default_factory=dict)  # qingliu code -> the platform's code
    legacy_codes: bool = False  # HJ/T 212-2005 three-digit codes where the table has one
    backlog_rate: Positive = 50.0  # catch-up frames per second at most
    backlog_alert: Annotated[int, Meta(ge=1)] = 10_000  # readings: the status says so beyond this
    reconnect_max_s: Positive = 30.0


class UplinkConfig(_Section, kw_only=True):
    hj212: list[Hj212Target] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [t.name for t in self.hj212]
        for i, name in enumerate(names):
            if names.count(name) > 1:
                raise FieldProblem(("hj212", i, "name"), f"target name {name!r} is used twice")


class AgentConfig(_Section, kw_only=True):
    station: StationConfig
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    flagging: FlaggingConfig = field(default_factory=FlaggingConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    bus: list[Bus] = field(default_factory=list)
    devices: list[DeviceConfig] = field(default_factory=list)
    uplink: UplinkConfig = field(default_factory=UplinkConfig)
    log: LogConfig = field(
        default_factory=LogConfig
    )  # [log] file, max_bytes, backups (protocols/logfiles.py)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def __post_init__(self) -> None:
        buses = {b.name: b for b in self.bus}
        bus_names = [b.name for b in self.bus]
        for i, name in enumerate(bus_names):
            if bus_names.count(name) > 1:
                raise FieldProblem(("bus", i, "name"), f"bus name {name!r} is used twice")
        names = [d.name for d in self.devices]
        for i, device in enumerate(self.devices):
            if names.count(device.name) > 1:
                raise FieldProblem(("devices", i, "name"), f"device name {device.name!r} is used twice")
            on = buses.get(device.bus)
            if on is None:
                known = ", ".join(repr(b) for b in buses) or "none"
                raise FieldProblem(("devices", i, "bus"), f"unknown bus {device.bus!r} (buses: {known})")
            if isinstance(on, TcpBus) and not device.host:
                raise FieldProblem(
                    ("devices", i, "host"), f"is required: the device is on TCP bus {on.name!r}"
                )


def parse_config(text: str, *, source: str = "<config>") -> AgentConfig:
    return parse_toml_model(AgentConfig, text, source=source, what="agent config")


def load_config(path: str | Path) -> AgentConfig:
    return parse_config(read_text(path, what="agent config"), source=str(path))
