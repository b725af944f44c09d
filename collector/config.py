"""The collector's TOML config, validated by pydantic. A wrong field gives a ConfigError that names the field.

    [mqtt]      url, username, password, ca_file, client_id, protocol, shared_group, session_expiry_s,
                keepalive_s, receive_maximum
    [store]     url ("sqlite:///path" or "postgresql://user@host/db"), batch_max, batch_wait_s
    [inbox]     path, max_bytes, batch_max (the receiver's durable inbox, collector/inbox.py)
    [ingest]    earliest, max_ahead_s (the time window), retry_max_s, stall_s, max_inbox_age_s (/healthz)
    [api]       host, port, admin_token (bootstrap admin; env:/file:/credential: references), read_requires_login,
                cookie_secure, session_hours, login_max_failures, lockout_s (docs/SECURITY.md)
    [state]     offline_after_heartbeats, clock_offset_max_s, default_heartbeat_s
    [schedule]  every_s {param = seconds}, slot_params, slot_hours, timezone (expected values, for capture)
    [[stations]] id, name_zh, river, basin, level, county, target_class, water_type, expected_params
    [gaps]      enabled, samples, check_every_s, samples_every_s, grace_s, reply_timeout_s, max_outstanding,
                max_attempts, max_seq_span, max_seq_jump, max_window_s, lookback_s (re-send requests, gaps.py)
    [[notify]]  kind (webhook|wecom|dingtalk|mqtt), url, secret, min_severity, stations, timeout_s, name
    [alerts]    rules = [{id, type, ...}] (collector.alerts.config; the default rule set when absent)
    [ice]       max_water_temp_c (ice vs no-water periods, collector/controller_history.py)
    [assessment] sections (registry file; "" = the shipped one), flood_first_month, flood_last_month,
                cwqi_items (collector/assessing.py; expected counts come from [schedule])
    [reports]   enabled, issuer_zh, issuer_en, daily_at, weekly_at, monthly_at, flood_at (cron), warning_ratio,
                trend_days, low_capture, national_reference, push_daily, base_url, archive_dir
    [hj212]     enabled, host, port, crc_variant, length_unit, loggers = [{mn, password, station | outfall, st,
                primary, zone, heartbeat_s, cns, history_cn, legacy_codes, codes_2005}], [hj212.limits]
                (collector/hj212/)
    [outfalls]  registry (outfalls TOML; "" = the shipped one): an hj212 logger's ``outfall`` is one of its ids,
                and reports as a site of kind "outfall" (collector/outfalls.py)
    [log]       file, max_bytes, backups: a log file rotated by size (protocols/logfiles.py; default stderr)
    [retention] raw_days (0 = keep all), batch_hours, pause_s, every_s: old raw readings into hourly aggregates
    accept_unknown_stations, log_level

With no ``[[stations]]`` tables the eight sections of the city plan (protocols/sections.py) are the sites.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from collector import secret_refs
from collector.alerts.config import Rule
from collector.notify.registry import KindName as NotifierKind
from collector.notify.registry import check_target
from collector.outfalls import OutfallRegistry, load_outfalls
from collector.sections import load_sections
from collector.wire_types import StationId
from protocols import catalogue
from protocols.errors import ConfigError, FieldProblem
from protocols.hj212_codes import code_table
from protocols.logfiles import LogConfig
from protocols.mqtt import MqttConnection
from protocols.paths import resolve
from protocols.sections import RIVERS, SECTIONS
from protocols.tomldoc import StructField, parse_toml_model, read_text
from protocols.topics import is_station_id

SEVEN_DAYS_S = 7 * 24 * 3600


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _secret(value: str, info: ValidationInfo) -> str:
    """A secret field's value with its reference resolved (collector/secret_refs.py)."""
    return secret_refs.resolve(value, base_dir=(info.context or {}).get("base_dir"))  # see parse_config


class MqttConfig(MqttConnection, kw_only=True):
    """``[mqtt]``: the shared connection settings (``protocols.mqtt``, a msgspec Struct) and the collector's
    own. ``password`` may be a reference (env:NAME, file:PATH, credential:NAME): CollectorConfig resolves it."""

    # The receiving process's persistent session; the main process publishes as <client_id>-pub.
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=124)] = "qingliu-collector"
    # Several collectors share the load through $share/<group>/...; None = one collector sees everything.
    shared_group: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    session_expiry_s: Annotated[int, msgspec.Meta(ge=0, le=0xFFFFFFFF)] = SEVEN_DAYS_S
    # How many unacknowledged QoS 1 messages the broker may have in flight to us: bounds a commit batch.
    receive_maximum: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 1000


class StoreConfig(_Section):
    url: str = "sqlite:///var/collector.db"
    batch_max: int = Field(default=500, ge=1, le=100_000)  # messages per transaction at most
    batch_wait_s: float = Field(default=0.02, ge=0, le=5)  # wait this long for more work before committing

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("must be sqlite:///path/to/file.db or postgresql://user@host/db")

    @property
    def kind(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    @property
    def sqlite_path(self) -> str:
        return self.url[len(SQLITE) :]


DEFAULT_PG_INBOX = "var/collector-inbox.db"
SQLITE = "sqlite:///"
BASE_DIR = "base_dir"  # validation context: the config file's directory


class InboxConfig(_Section):
    """The receiving process's durable inbox (collector/inbox.py): what was acknowledged to the broker and
    is not yet in the store."""

    # Default: beside a SQLite store (collector.db → collector.inbox.db); var/collector-inbox.db (relative to
    # the working directory) with PostgreSQL. Keep it on a local disk.
    path: str = ""
    # Above this size (file + WAL) the receiver stops acknowledging, so the broker keeps the messages in our
    # session until the store catches up. 0: no limit.
    max_bytes: int = Field(default=0, ge=0)
    batch_max: int = Field(default=2000, ge=1, le=100_000)  # messages per inbox commit at most


class IngestConfig(_Section):
    """The applier (collector/ingest.py) and what /healthz judges it by."""

    # A reading sampled before ``earliest`` or more than ``max_ahead_s`` past the receiver's clock is kept
    # apart as suspect (never "latest", never an alert), with an analyser_clock event.
    earliest: date = date(2000, 1, 1)
    max_ahead_s: float = Field(default=600.0, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0, le=3600)  # back-off cap while the store is down
    # /healthz is not ok when the applier has made no progress for stall_s while the inbox holds messages,
    # or when the inbox's oldest message is older than max_inbox_age_s.
    stall_s: float = Field(default=60.0, gt=0)
    max_inbox_age_s: float = Field(default=300.0, gt=0)


class ApiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # A bootstrap admin for scripts (Bearer), or a reference (env:NAME, file:PATH, credential:NAME); empty:
    # none, people sign in as named users (collector/auth/). See docs/SECURITY.md.
    admin_token: str = ""
    read_requires_login: bool = True  # reading the API and dashboard needs a signed-in user (the demo: false)
    cookie_secure: bool = True  # session cookies only over HTTPS (false only for plain http on loopback)
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    login_max_failures: int = Field(
        default=5, ge=1, le=1000
    )  # then the user name (and address) is locked out
    lockout_s: float = Field(default=900.0, gt=0, le=86400)
    # HTTPS served by the collector itself (PEM files); empty: plain http, e.g. behind deploy/nginx/qingliu.conf.
    tls_cert_file: str = ""
    tls_key_file: str = ""

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiConfig:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    @field_validator("admin_token")
    @classmethod
    def _token_reference(cls, value: str, info: ValidationInfo) -> str:
        return _secret(value, info)


class StateConfig(_Section):
    offline_after_heartbeats: float = Field(default=3.0, gt=0)  # silent this many heartbeats → offline
    clock_offset_max_s: float = Field(default=60.0, gt=0)  # larger station clock offset → degraded
    default_heartbeat_s: float = Field(default=30.0, gt=0)  # before a station has told us its own
    backlog_degraded_above: int = Field(default=100, ge=0)  # readings queued at a station, still growing


BASIC_FIVE = ("w01010", "w01001", "w01009", "w01014", "w01003")
NUTRIENTS = ("w01019", "w21003", "w21011", "w21001")


class ScheduleConfig(_Section):
    """When values are expected, for capture rates (STANDARDS.md §2, §7): probes every ``every_s`` seconds,
    wet-chemistry analysers at ``slot_hours`` local time. A station's ``expected_params`` picks among them."""

    every_s: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(BASIC_FIVE, 3600.0))
    slot_params: list[str] = Field(default_factory=lambda: list(NUTRIENTS))
    slot_hours: list[int] = Field(default_factory=lambda: [0, 4, 8, 12, 16, 20])
    timezone: str = "Asia/Shanghai"

    @field_validator("every_s")
    @classmethod
    def _every(cls, value: dict[str, float]) -> dict[str, float]:
        for code, interval in value.items():
            if not catalogue.is_known(code):
                raise ValueError(f"unknown parameter code {code!r}")
            if interval <= 0:
                raise ValueError(f"{code}: interval must be > 0 s")
        return value

    @field_validator("slot_params")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        for code in value:
            if not catalogue.is_known(code):
                raise ValueError(f"unknown parameter code {code!r}")
        return value

    @field_validator("slot_hours")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        if not value or any(h < 0 or h > 23 for h in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct hours 0-23")
        return value


class StationConfig(_Section):
    id: StationId  # the wire contract's station id (protocols/messages.py)
    name_zh: str = ""
    river: str = ""
    basin: str = ""
    level: str = ""
    county: str = ""
    target_class: int = Field(default=3, ge=1, le=5)
    water_type: Literal["river", "lake"] = "river"
    expected_params: list[str] | None = None
    kind: Literal["station", "outfall"] = "station"  # an outfall's monitor (collector/outfalls.py)

    @field_validator("expected_params")
    @classmethod
    def _known_params(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not catalogue.is_known(code):
                raise ValueError(f"unknown parameter code {code!r}")
        return value

    @model_validator(mode="after")
    def _fill_from_city_plan(self) -> StationConfig:
        """A known section's names, river, basin, level and county need not be typed again."""
        section = SECTIONS.get(self.id)
        if section is not None:
            self.name_zh = self.name_zh or section.name_zh
            self.river = self.river or section.river
            self.basin = self.basin or RIVERS[section.river].basin
            self.level = self.level or section.level
            self.county = self.county or section.county
        return self


def default_stations() -> list[StationConfig]:
    """The eight sections of the city plan, target class III (STANDARDS.md §1)."""
    return [
        StationConfig(
            id=s.station,
            name_zh=s.name_zh,
            river=s.river,
            basin=RIVERS[s.river].basin,
            level=s.level,
            county=s.county,
        )
        for s in SECTIONS.values()
    ]


class GapsConfig(_Section):
    """Re-send requests for lost messages and missing expected samples (collector/gaps.py)."""

    enabled: bool = True
    samples: bool = True  # also ask for expected samples missing where the station was producing
    check_every_s: float = Field(default=60.0, gt=0)  # seq holes: one seq_summary query per station
    samples_every_s: float = Field(default=600.0, gt=0)  # expected samples (reads lookback_s of readings)
    grace_s: float = Field(default=120.0, ge=0)  # a hole must persist this long (QoS 1 / lanes fill most)
    reply_timeout_s: float = Field(default=300.0, gt=0)
    max_outstanding: int = Field(default=2, ge=1, le=100)  # per station
    max_attempts: int = Field(default=3, ge=1, le=100)
    max_seq_span: int = Field(default=1000, ge=1)
    max_seq_jump: int = Field(default=1_000_000, ge=1)  # a wider seq hole is bad input, never asked
    max_window_s: float = Field(default=6 * 3600.0, gt=0)
    lookback_s: float = Field(default=86400.0, gt=0)  # how far back expected samples are checked


class NotifyTarget(_Section):
    """One place alert transitions are delivered to (collector/notify/sender.py)."""

    kind: NotifierKind  # a registered kind (collector/notify/kinds/): webhook | wecom | dingtalk | mqtt
    name: str = Field(default="", max_length=64)  # label in metrics; default kind-N
    url: str = ""  # http(s) for webhook / wecom / dingtalk; unused for mqtt (the collector's broker)
    secret: str = ""  # DingTalk signing secret
    min_severity: Literal["info", "warning", "critical"] = "info"
    stations: list[str] | None = None  # None: every station
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _url(self) -> NotifyTarget:
        check_target(self.kind, self.url, self.secret)  # what its kind needs: a URL, a secret or neither
        for station in self.stations or []:
            if not is_station_id(station):
                raise ValueError(f"stations: not a station id: {station!r}")
        return self


class AlertRulesConfig(_Section):
    """The ``[alerts]`` section: the rule set (collector.alerts.config); None keeps the defaults."""

    rules: list[Rule] | None = None

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: list[Rule] | None) -> list[Rule] | None:
        ids = [r.id for r in value or []]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(repeated)}")
        return value


class IceConfig(_Section):
    # A no-water period counts as ice when the water was this cold or colder when the flow stopped.
    max_water_temp_c: float = 0.5


class AssessmentConfig(_Section):
    """``[assessment]``: the assessed sections and the assessment's settings (collector/assessing.py).
    Expected counts for completeness come from ``[schedule]`` and each station's ``expected_params``."""

    sections: str = ""  # a section registry TOML (collector/sections.py); "" = the shipped city registry
    flood_first_month: int = Field(default=7, ge=1, le=12)  # flood season, inclusive (STANDARDS.md §4)
    flood_last_month: int = Field(default=9, ge=1, le=12)
    cwqi_items: list[str] | None = None  # None: the 2011 method's items in the catalogue (STANDARDS.md §8)

    @field_validator("sections")
    @classmethod
    def _registry(cls, value: str) -> str:
        if value:  # validated with the config: a bad registry fails at start, named
            try:
                load_sections(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("cwqi_items")
    @classmethod
    def _items(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not catalogue.is_known(code):
                raise ValueError(f"unknown parameter code {code!r}")
        return value


class ReportsConfig(_Section):
    """``[reports]``: the bureau's products (collector/reports/). Times are cron expressions in Asia/Shanghai
    (minute hour day-of-month month day-of-week), parsed by croniter; "" turns a product's schedule off."""

    enabled: bool = True  # make the products on schedule in the running collector
    issuer_zh: str = Field(default="市生态环境局", max_length=100)  # on the title page of each product
    issuer_en: str = Field(default="Municipal Ecology and Environment Bureau", max_length=200)
    daily_at: str = "0 8 * * *"  # 日预警 each morning, for the previous day
    weekly_at: str = "0 9 * * 1"  # 周研判 Monday morning, for the ISO week before
    monthly_at: str = "0 9 3 * *"  # 月通报 on the 3rd, for the month before (late manual results arrive)
    flood_at: str = "30 8 * * *"  # flood-season ranking, daily while the season runs, and once after it
    # An item at ≥ this × its target-class limit is at warning level.
    warning_ratio: float = Field(default=0.8, gt=0, le=1)
    trend_days: int = Field(default=7, ge=2, le=31)  # the daily warning's trend window
    low_capture: float = Field(default=0.9, gt=0, le=1)  # station operation below this rate is highlighted
    # The national top-50 line of flood-season intensity (e.g. last year's 50th value); None: no line drawn.
    national_reference: float | None = Field(default=None, gt=0)
    push_daily: bool = True  # send the daily warning's summary to the [[notify]] targets
    base_url: str = ""  # the dashboard's address as readers reach it, for links in pushed messages
    archive_dir: str = ""  # "" = the store only; else also write each product's files here

    @field_validator("daily_at", "weekly_at", "monthly_at", "flood_at")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value:
            from croniter import croniter

            if not croniter.is_valid(value):
                raise ValueError(f"not a cron expression (minute hour day month weekday): {value!r}")
        return value


# Real-time, minute, hourly and daily data (STANDARDS.md §6).
Hj212DataCn = Literal["2011", "2051", "2061", "2031"]
HOURLY: tuple[Hj212DataCn, ...] = ("2061",)


class Hj212Logger(_Section):
    """One data logger (数采仪) that reports over HJ 212-2017 TCP: its MN, its password, and the site it reports
    for (a station, or an outfall of the outfalls registry, which a later issue adds)."""

    mn: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")
    password: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_-]+$")
    station: StationId | None = None
    outfall: StationId | None = None  # an outfall id: its readings are kept under that id
    st: str = Field(default="21", pattern=r"^[0-9]{2}$")  # 21 surface water, 32 outfall (STANDARDS.md §10)
    # The logger is the station's reporter: its connection makes the station's status, and commands for the
    # station go to it. False when a qingliu agent also reports for the station (the logger adds readings only).
    primary: bool = True
    zone: str = "Asia/Shanghai"  # the logger's clock: QN, DataTime and SystemTime are local times
    heartbeat_s: float = Field(default=60.0, gt=0, le=86_400)  # how often its synthesized status is written
    # The data CNs stored as readings: one series per logger. Hourly data (the data of record, what [schedule]
    # expects) by default; ["2011"] for a logger that forwards the same samples as an agent beside it. Storing
    # real-time and period data together would give one identity (param, time) two values at each period start.
    cns: list[Hj212DataCn] = Field(default_factory=lambda: list(HOURLY), min_length=1)
    history_cn: Hj212DataCn = "2061"  # what a re-send request pulls (BeginTime/EndTime): one of ``cns``
    # HJ/T 212-2005 three-character codes: ``legacy_codes`` maps them by the standard's table
    # (protocols/hj212_codes.py, STANDARDS.md §10); ``codes_2005`` adds to it or overrides it, per logger.
    legacy_codes: bool = False
    codes_2005: dict[str, str] = Field(default_factory=dict)

    @field_validator("codes_2005")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for old, new in value.items():
            if not re.fullmatch(r"[A-Za-z0-9]{3}", old):
                raise ValueError(f"{old!r} is not a three-character HJ/T 212-2005 code")
            if not catalogue.is_known(new):
                raise ValueError(f"{old} maps to unknown parameter code {new!r}")
        return value

    @model_validator(mode="after")
    def _site(self) -> Hj212Logger:
        if (self.station is None) == (self.outfall is None):
            raise ValueError("give exactly one of 'station' and 'outfall'")
        if self.history_cn not in self.cns:
            raise ValueError(f"history_cn {self.history_cn} is not one of the stored cns {self.cns}")
        self.code_table()  # ValueError: two old codes for one new one
        return self

    def code_table(self) -> dict[str, str]:
        """The 2005 → 2017 code mapping this logger's frames are read with."""
        return code_table(self.codes_2005, legacy=self.legacy_codes)

    @property
    def site(self) -> str:
        """The id the logger's readings, status and commands are kept under."""
        return self.station or self.outfall or ""


class Hj212Limits(_Section):
    """Per-connection limits of the HJ 212 server: what one logger (or anything that connects) may cost."""

    max_frame_bytes: int = Field(default=4096, ge=64, le=1_048_576)  # a line longer than this is dropped
    max_frames_per_s: float = Field(default=50.0, gt=0)  # per connection, a burst of as many; more dropped
    idle_timeout_s: float = Field(default=600.0, gt=0)  # nothing received for this long: closed
    garbage_close_after: int = Field(default=20, ge=1)  # this many bad frames in a row: closed
    split_reassembly_timeout_s: float = Field(
        default=60.0, gt=0
    )  # a split message not complete by then: dropped
    max_split_messages: int = Field(default=16, ge=1)  # split messages being reassembled per connection
    max_connections: int = Field(default=2000, ge=1)


class Hj212Config(_Section):
    """``[hj212]``: the collector's HJ 212-2017 TCP server for existing data loggers (collector/hj212/)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9212, ge=0, le=65535)  # 0: any free port (tests)
    crc_variant: Literal["hj212", "modbus"] = "hj212"  # STANDARDS.md §6 (config)
    length_unit: Literal["bytes", "chars"] = "bytes"
    loggers: list[Hj212Logger] = Field(default_factory=list)
    limits: Hj212Limits = Hj212Limits()

    @field_validator("loggers")
    @classmethod
    def _unique(cls, value: list[Hj212Logger]) -> list[Hj212Logger]:
        mns = [logger.mn for logger in value]
        repeated = sorted({mn for mn in mns if mns.count(mn) > 1})
        if repeated:
            raise ValueError(f"logger MNs must be unique; repeated: {', '.join(repeated)}")
        return value


class OutfallsConfig(_Section):
    """``[outfalls]``: the outfalls registry (collector/outfalls.py), checked against ``[assessment] sections``."""

    registry: str = ""  # an outfalls TOML; "" = the shipped one (collector/outfalls.toml)
    # A section's exceedance names the outfalls upstream with their worst values over this window before it.
    window_s: float = Field(default=6 * 3600.0, gt=0, le=7 * 86400.0)


class RetentionConfig(_Section):
    """``[retention]``: raw readings older than ``raw_days`` move into hourly aggregates, kept for years
    (collector/retention.py); 0 keeps every raw reading."""

    raw_days: int = Field(default=0, ge=0)  # e.g. 400: a year and a month of raw readings
    batch_hours: int = Field(default=24, ge=1, le=24 * 31)  # one station's hours per transaction
    pause_s: float = Field(default=0.2, ge=0)  # between batches: ingest commits in between
    every_s: float = Field(default=3600.0, gt=0)  # how often a pass runs


class CollectorConfig(_Section):
    mqtt: Annotated[MqttConfig, StructField()] = Field(default_factory=MqttConfig)
    store: StoreConfig = StoreConfig()
    inbox: InboxConfig = InboxConfig()
    ingest: IngestConfig = IngestConfig()
    api: ApiConfig = ApiConfig()
    state: StateConfig = StateConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    stations: list[StationConfig] = Field(default_factory=list)
    gaps: GapsConfig = GapsConfig()
    notify: list[NotifyTarget] = Field(default_factory=list)
    alerts: AlertRulesConfig = AlertRulesConfig()
    ice: IceConfig = IceConfig()
    assessment: AssessmentConfig = AssessmentConfig()
    reports: ReportsConfig = ReportsConfig()
    hj212: Hj212Config = Hj212Config()
    outfalls: OutfallsConfig = OutfallsConfig()
    # [log] file, max_bytes, backups (protocols/logfiles.py); [mqtt] and [log] are the msgspec Structs a station
    # reads too, embedded with StructField (protocols/tomldoc.py)
    log: Annotated[LogConfig, StructField()] = Field(default_factory=LogConfig)
    retention: RetentionConfig = RetentionConfig()
    accept_unknown_stations: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("mqtt")
    @classmethod
    def _password_reference(cls, value: MqttConfig, info: ValidationInfo) -> MqttConfig:
        """env:NAME, file:PATH, credential:NAME (collector/secret_refs.py), resolved once, when the file loads."""
        try:
            password = _secret(value.password, info)
        except ValueError as exc:
            raise FieldProblem(("password",), str(exc)) from None
        return value if password == value.password else msgspec.structs.replace(value, password=password)

    @model_validator(mode="before")
    @classmethod
    def _paths_from_config_dir(cls, data: Any, info: ValidationInfo) -> Any:
        """Relative paths are relative to the config file's directory, ``~`` is home (protocols/paths.py):
        the same rule as the agent's, whatever directory the collector was started in."""
        base = (info.context or {}).get(BASE_DIR)
        if base is None or not isinstance(data, dict):
            return data
        data = dict(data)

        def section(name: str) -> dict[str, Any] | None:
            value = data.get(name, {})
            if not isinstance(value, dict):
                return None  # the field's own validation reports it
            data[name] = dict(value)
            return data[name]

        store = section("store")
        if store is not None:
            url = store.get("url", StoreConfig().url)
            if isinstance(url, str) and url.startswith(SQLITE) and len(url) > len(SQLITE):
                store["url"] = SQLITE + str(resolve(url[len(SQLITE) :], base))
            elif isinstance(url, str) and url.startswith("postgresql://"):
                inbox = section("inbox")
                if inbox is not None and not inbox.get("path"):
                    inbox["path"] = DEFAULT_PG_INBOX
        for name, key in (
            ("inbox", "path"),
            ("assessment", "sections"),
            ("reports", "archive_dir"),
            ("outfalls", "registry"),
            ("log", "file"),
            ("api", "tls_cert_file"),
            ("api", "tls_key_file"),
        ):
            part = section(name)
            if part is not None and isinstance(part.get(key), str) and part[key]:
                part[key] = str(resolve(part[key], base))
        return data

    @model_validator(mode="after")
    def _defaults(self) -> CollectorConfig:
        ids = [s.id for s in self.stations]
        if len(set(ids)) != len(ids):
            raise ValueError("station ids must be unique")
        if not self.stations:
            self.stations = default_stations()
        self._outfall_sites()
        if not self.accept_unknown_stations:
            known = {s.id for s in self.stations}
            for rule in self.alerts.rules or []:
                unknown = sorted(set(rule.stations or []) - known)
                if unknown:
                    raise ValueError(f"alerts.rules {rule.id}: unknown stations {', '.join(unknown)}")
            for logger in self.hj212.loggers:
                if logger.station is not None and logger.station not in known:
                    raise ValueError(f"hj212.loggers {logger.mn}: unknown station {logger.station}")
        return self

    def outfall_registry(self) -> OutfallRegistry:
        """The outfalls registry in use, validated against the section registry in use. The shipped outfalls
        against a section registry of the bureau's own that cannot place them: none (give ``[outfalls]
        registry`` to have some)."""
        sections = load_sections(self.assessment.sections or None)
        if self.outfalls.registry or not self.assessment.sections:
            return load_outfalls(sections, self.outfalls.registry or None)
        try:
            return load_outfalls(sections, None)
        except ConfigError:
            return OutfallRegistry(())

    def _outfall_sites(self) -> None:
        """Each outfall an HJ 212 logger reports for is a known site of kind "outfall" (its readings are
        stored under its id), unless ``[[stations]]`` names it already."""
        reporting = [logger for logger in self.hj212.loggers if logger.outfall is not None]
        if not reporting and not self.outfalls.registry:
            return
        try:
            registry = self.outfall_registry()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        ids = {s.id for s in self.stations}
        for logger in reporting:
            outfall = registry.get(logger.outfall or "")
            if outfall is None:
                known = ", ".join(o.id for o in registry) or "none"
                raise ValueError(
                    f"hj212.loggers {logger.mn}: unknown outfall {logger.outfall}; known: {known}"
                )
            if outfall.mn and outfall.mn != logger.mn:
                raise ValueError(
                    f"hj212.loggers {logger.mn}: outfall {outfall.id}'s monitor has MN {outfall.mn} in the registry"
                )
            if outfall.id not in ids:
                ids.add(outfall.id)
                self.stations.append(
                    StationConfig(
                        id=outfall.id,
                        name_zh=outfall.name_zh,
                        river=outfall.river,
                        basin=RIVERS[outfall.river].basin if outfall.river in RIVERS else "",
                        expected_params=list(outfall.items),
                        kind="outfall",
                    )
                )

    @property
    def inbox_path(self) -> Path:
        if self.inbox.path:
            return Path(self.inbox.path)
        if self.store.kind == "sqlite":
            store = Path(self.store.sqlite_path)
            return store.with_name(store.stem + ".inbox.db")
        return Path(DEFAULT_PG_INBOX)

    def station(self, station_id: str) -> StationConfig | None:
        for station in self.stations:
            if station.id == station_id:
                return station
        return None


def parse_config(
    text: str, *, source: str = "<config>", base_dir: str | Path | None = None
) -> CollectorConfig:
    """With ``base_dir`` (the config file's directory) relative paths in the file are relative to it."""
    context = {BASE_DIR: Path(base_dir)} if base_dir is not None else None
    return parse_toml_model(CollectorConfig, text, source=source, what="collector config", context=context)


def load_config(path: str | Path) -> CollectorConfig:
    """The config file at ``path``; the paths it names are relative to its directory (protocols/paths.py)."""
    return parse_config(
        read_text(path, what="collector config"), source=str(path), base_dir=Path(path).resolve().parent
    )
