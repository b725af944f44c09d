"""The agent's TOML config, validated by pydantic. A wrong field gives a message that names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.errors import FieldProblem
from protocols.logfiles import LogConfig
from protocols.messages import MAX_PERIOD_S, StationId
from protocols.mqtt import MqttConnection
from protocols.tomldoc import parse_toml_model, read_text


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StationConfig(_Section):
    id: StationId  # the wire contract's station id (protocols/messages.py)
    mn: str = Field(default="", max_length=24)  # HJ 212 MN, where the station reports to a platform
    timezone: str = "Asia/Shanghai"


class MqttConfig(MqttConnection):
    """``[mqtt]``: the shared connection settings (``protocols.mqtt``) and the station's own."""

    client_cert: str = ""
    client_key: str = ""
    heartbeat_s: float = Field(default=30.0, gt=0, le=MAX_PERIOD_S)  # the status must stay valid on the wire
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)


class OutboxConfig(_Section):
    path: str = "var/outbox.db"
    max_bytes: int = Field(default=2_000_000_000, ge=1_000_000)  # disk quota for the outbox file
    max_age_days: float = Field(default=400.0, gt=0)  # unsent readings older than this are dropped
    history_days: float = Field(default=90.0, ge=0)  # sent readings kept to answer re-send requests
    full_policy: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    reserve_bytes: int = Field(default=5_000_000, ge=0)  # kept free for health and alarm events
    # Free space kept on the outbox's filesystem: below it the quota dropping (counted) starts, before the
    # disk is full. Covers the WAL at its largest (~1 MiB), the -shm file and the events of a fault.
    min_free_bytes: int = Field(default=8_000_000, ge=0)
    batch_max_readings: int = Field(default=500, ge=1, le=2000)
    batch_max_bytes: int = Field(default=128 * 1024, ge=1024, le=256 * 1024)
    inflight: int = Field(default=16, ge=1, le=1000)  # messages awaiting PUBACK at once
    live_window_s: float = Field(default=600.0, gt=0)  # readings younger than this go in the live lane
    backfill_rate: float = Field(default=5000.0, gt=0)  # readings/s at most in the backfill lane
    housekeeping_s: float = Field(default=60.0, gt=0)  # how often history and age limits run


class SerialBus(_Section):
    name: str
    type: Literal["rtu", "ascii"]
    port: str
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=0.5, gt=0)
    gap_ms: float = Field(default=5.0, ge=0)  # inter-frame gap between requests on the line


class TcpBus(_Section):
    name: str
    type: Literal["tcp"]
    timeout_s: float = Field(default=1.0, gt=0)


Bus = Annotated[SerialBus | TcpBus, Field(discriminator="type")]


class DeviceConfig(_Section):
    name: str = Field(min_length=1, max_length=64)
    profile: str  # built-in profile name or a .toml path
    bus: str
    unit: int = Field(default=1, ge=0, le=247)  # Modbus unit (slave) id
    host: str = ""  # TCP devices only
    port: int = Field(default=502, ge=1, le=65535)
    interval_s: float | None = Field(default=None, gt=0, le=MAX_PERIOD_S)  # default: the profile's
    enabled: bool = True
    failures_before_down: int = Field(default=3, ge=1)
    backoff_max_s: float = Field(default=300.0, gt=0)


class FlaggingConfig(_Section):
    stuck_after_s: float = Field(default=6 * 3600.0, gt=0)  # same value this long → stuck
    clock_jump_s: float = Field(default=120.0, gt=0)  # forward jump beyond this is reported
    clock_back_tolerance_s: float = Field(default=1.0, ge=0)  # backward steps up to this are NTP noise


class ClockConfig(_Section):
    """How far an analyser's result time may be from the agent's (NTP-disciplined) clock.

    Ahead 300 s: a result's time is when its sample was taken, never after the agent's now; five minutes
    allow for an analyser's RTC drifting a few seconds a day between manual settings, and stay inside the
    collector's 10-minute future window, so the station warns before the collector has to flag. Behind 24 h:
    a nutrient analyser keeps its last result in the register until the next cycle, every 1-4 h and at some
    stations daily; a NEW result dated more than a day back can only come from a clock that is behind.
    """

    analyser_ahead_s: float = Field(default=300.0, gt=0)
    analyser_behind_s: float = Field(default=86_400.0, gt=0)
    # keep: readings keep the analyser's time (the event says so); restamp: a result from an analyser whose
    # clock is off is stamped with the agent's acquisition time instead. Values are never rewritten.
    analyser_time: Literal["keep", "restamp"] = "keep"
    report_every_s: float = Field(default=3600.0, ge=0)  # one analyser_clock event per device and kind


class Hj212Target(_Section):
    """``[[uplink.hj212]]``: one platform above the station (national, provincial) over HJ 212-2017 TCP.

    Reply timeout and retries default to the standard's answer timeout and re-send count (HJ 212-2017's
    request-answer rules and command 1000, OverTime/ReCount; the same 5 s and 3 as ``qingliu sim hj212-logger``);
    ``reply_required`` sets the Flag A bit, and a frame then counts as delivered only on its 9014.
    """

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    mn: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")
    password: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")
    st: str = Field(default="21", pattern=r"^[0-9]{2}$")  # 21: surface water
    realtime: bool = True  # 2011, every reading
    # RtdInterval (1061/1062): how often fresh rows go; a platform may set 30-3600 s, the config also less
    realtime_interval_s: float = Field(default=60.0, gt=0, le=3600)
    hourly: bool = True  # 2061 on the hour: Avg/Min/Max and Flag per item
    daily: bool = False  # 2031 after the local day closes
    period_grace_s: float = Field(default=300.0, ge=0)  # a period is sent this long after it closes
    reply_required: bool = True
    reply_timeout_s: float = Field(default=5.0, gt=0)
    retries: int = Field(default=3, ge=0)  # re-sends before waiting for the next round (never dropped)
    codes: dict[str, str] = Field(default_factory=dict)  # qingliu code -> the platform's code
    legacy_codes: bool = False  # HJ/T 212-2005 three-digit codes where the table has one
    backlog_rate: float = Field(default=50.0, gt=0)  # catch-up frames per second at most
    backlog_alert: int = Field(default=10_000, ge=1)  # readings: the status says so beyond this
    reconnect_max_s: float = Field(default=30.0, gt=0)


class UplinkConfig(_Section):
    hj212: list[Hj212Target] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> UplinkConfig:
        names = [t.name for t in self.hj212]
        for i, name in enumerate(names):
            if names.count(name) > 1:
                raise FieldProblem(("hj212", i, "name"), f"target name {name!r} is used twice")
        return self


class AgentConfig(_Section):
    station: StationConfig
    mqtt: MqttConfig = MqttConfig()
    outbox: OutboxConfig = OutboxConfig()
    flagging: FlaggingConfig = FlaggingConfig()
    clock: ClockConfig = ClockConfig()
    bus: list[Bus] = Field(default_factory=list)
    devices: list[DeviceConfig] = Field(default_factory=list)
    uplink: UplinkConfig = UplinkConfig()
    log: LogConfig = LogConfig()  # [log] file, max_bytes, backups (protocols/logfiles.py)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _references(self) -> AgentConfig:
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
        return self


def parse_config(text: str, *, source: str = "<config>") -> AgentConfig:
    return parse_toml_model(AgentConfig, text, source=source, what="agent config")


def load_config(path: str | Path) -> AgentConfig:
    return parse_config(read_text(path, what="agent config"), source=str(path))
