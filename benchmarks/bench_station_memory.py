"""One device polled at 1 Hz: the agent's resident memory, and thingsboard-gateway's beside it (issue 17).

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_station_memory [--seconds S] [--samples N] [--every E]
        [--gateway-dir DIR] [--no-gateway] [--dev-agent] [--keep DIR]

Setup: a Mosquitto broker on a free port and ``qingliu sim station --port P`` (a separate process) serving the
station's devices over Modbus TCP. Both programs poll the same ONE device — the multi-parameter probe, unit 1,
profile ``multiparam_probe`` (``simulators.fleet.DEVICE_LAYOUT``) — every 1 s, publish to the same broker, and
run side by side for the same time.

1. The agent: ``qingliu agent run`` (a real process), its TOML config naming one TCP bus and the probe with
   ``interval_s = 1.0``, the broker as its ``[mqtt]`` url and an outbox in a temporary directory. It runs as a
   station runs it: from a venv with this checkout installed as a station installs it (``pip install
   '.[agent]'``, a wheel, not the development venv's editable install, whose import finder alone costs a
   station-sized process ~1.4 MiB), in ``~/.cache/qingliu-bench/station-venv``, the package reinstalled from
   the checkout on every run. ``--dev-agent`` runs the development venv's agent instead.

2. thingsboard-gateway 3.8.5, the open-source Python IoT gateway, in its own venv in a cache directory outside
   the repo (default ``~/.cache/qingliu-bench/tb-gateway-3.8.5``, reused when present; created with
   ``python -m venv`` and ``pip install thingsboard-gateway==3.8.5`` from the package registry). Its Modbus
   connector would pip-install pymodbus 3.9.2, pyserial and pyserial-asyncio on first import; they are
   installed with it here so that nothing is fetched while it runs. Its configs start from the package's own
   defaults (``thingsboard_gateway/config/tb_gateway.json``, ``logs.json``, ``modbus.json``) with only what
   must differ changed: the "ThingsBoard" host is the Mosquitto (plain MQTT, an access token as username),
   the one connector is Modbus with one slave — the probe, the same host/port/unit — whose timeseries are the
   profile's own registers (five float32 ABCD and the status word, read from the profile, so both read the
   same values) and ``pollPeriod`` 1000 ms. The benchmark plays ThingsBoard where the gateway needs it: it
   answers the ``getSessionLimits`` RPC (no limits; the gateway sends nothing before it has an answer), and a
   broker ACL keeps the gateway from reading back its own uploads, which ThingsBoard never echoes (see
   ``BROKER_ACL``). It counts the gateway's messages on ``v1/gateway/telemetry`` (and the agent's readings)
   and checks the gateway's values against the profile's ranges, to show that both really poll. The gateway
   also tries once an hour to reach updates.thingsboard.io (a version check; it fails offline, and the run
   says so).

After a warm-up (``--seconds``, default 60 s) each process is sampled ``--samples`` times (default 5),
``--every`` seconds apart (default 10): VmRSS and thread count from /proc/PID/status (summed over its
children, should it have any) and CPU from /proc/PID/stat (utime + stime, children's included) over the
sampling window. The medians are printed, and the ratio agent ÷ gateway. Targets: agent VmRSS ≤ 30 MiB;
ratio ≤ 0.5. Where the gateway cannot be installed or started, its half is skipped with the reason
(``--no-gateway`` skips it on purpose) and only the agent's bound applies. ``--keep DIR`` runs in DIR and
leaves the logs and configs there.

The last line is PASS or FAIL with every figure and its bound (exit 1 on FAIL).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.rounds import Check, conclude
from benchmarks.station_install import agent_env, agent_python
from protocols.planning import plan_profile
from protocols.profiles import Profile, load_profile
from simulators.fleet import DEVICE_LAYOUT
from tests.support.broker import Mosquitto
from tests.support.ports import free_port, wait_for_port
from tests.support.ptypair import stop_process

RSS_TARGET_MIB = 30.0
RATIO_TARGET = 0.5
INTERVAL_S = 1.0
STATION = "hexicun"
PROBE = next(slot for slot in DEVICE_LAYOUT if slot.name == "probe")

GATEWAY_VERSION = "3.8.5"
# What the gateway's Modbus connector pip-installs at import when missing (its modbus_connector.py)
GATEWAY_EXTRAS = ("pymodbus==3.9.2", "pyserial", "pyserial-asyncio")
GATEWAY_DIR = Path.home() / ".cache" / "qingliu-bench" / f"tb-gateway-{GATEWAY_VERSION}"
GATEWAY_TOKEN = "bench-gateway"  # the access token, sent as the MQTT username
GATEWAY_TELEMETRY = "v1/gateway/telemetry"
RPC_REQUEST = "v1/devices/me/rpc/request/"
RPC_RESPONSE = "v1/devices/me/rpc/response/"
# ThingsBoard's answer to getSessionLimits when no limits are configured.
SESSION_LIMITS = {
    "maxPayloadSize": 65536,
    "maxInflightMessages": 100,
    "rateLimits": {},
    "gatewayRateLimits": {},
}
# Unlike ThingsBoard, a plain broker hands a client back what it publishes on a topic it also subscribes to:
# the gateway would read its own client attributes on v1/devices/me/attributes as shared-attribute updates
# from the server (its remote configurator then rewrites and reloads its connectors, and logs an error) and
# its own requests on v1/devices/me/rpc/request/+ as server RPCs. The ACL lets it publish anywhere but read
# only what ThingsBoard sends a gateway: responses and server-side RPC. Anonymous clients (agent, listener):
# everything.
BROKER_ACL = f"""topic readwrite #

user {GATEWAY_TOKEN}
topic write #
topic read v1/devices/me/attributes/response/+
topic read v1/devices/me/rpc/response/+
topic read v1/gateway/attributes/response
topic read v1/gateway/rpc
topic read v2/fw/response/+
"""

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- /proc --------------------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, queue = [], [pid]
    while queue:
        p = queue.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                queue += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class ProcSample:
    at: float  # monotonic seconds
    rss_mib: float
    threads: int
    cpu_s: float  # utime + stime, with the reaped children's (cutime + cstime)
    processes: int


def sample(pid: int) -> ProcSample:
    """VmRSS, threads and CPU seconds of ``pid`` and its children (a child gone meanwhile is left out)."""
    at = time.monotonic()
    rss_kb = threads = ticks = processes = 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            if p == pid:
                raise
            continue
        processes += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
            elif line.startswith("Threads:"):
                threads += int(line.split()[1])
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
    return ProcSample(at, rss_kb / 1024, threads, ticks / CLK_TCK, processes)


@dataclass
class Figures:
    samples: list[ProcSample] = field(default_factory=list)

    @property
    def rss_mib(self) -> float:
        return statistics.median(s.rss_mib for s in self.samples)

    @property
    def threads(self) -> float:
        return statistics.median(s.threads for s in self.samples)

    @property
    def cpu_percent(self) -> float:
        first, last = self.samples[0], self.samples[-1]
        wall = last.at - first.at
        return 100 * (last.cpu_s - first.cpu_s) / wall if wall > 0 else float("nan")

    def line(self, name: str) -> str:
        rss = ", ".join(f"{s.rss_mib:.1f}" for s in self.samples)
        procs = max(s.processes for s in self.samples)
        return (
            f"{name}: VmRSS median {self.rss_mib:.1f} MiB (samples {rss}), threads {self.threads:g}, "
            f"CPU {self.cpu_percent:.2f} % of one core over {self.samples[-1].at - self.samples[0].at:.0f} s"
            + (f", {procs} processes" if procs > 1 else "")
        )


# --- the broker side: counts both programs' messages, answers the gateway as ThingsBoard would --------------


class Listener:
    """A paho client on the broker: counts the agent's readings and the gateway's telemetry, and answers the
    gateway's ``getSessionLimits`` RPC (ThingsBoard does; the gateway sends nothing before it is answered)."""

    def __init__(self, port: int, profile: Profile) -> None:
        self.lock = threading.Lock()
        self.agent_messages: list[float] = []  # arrival times (monotonic)
        self.agent_readings = 0
        self.gateway_messages: list[float] = []
        self.gateway_points = 0  # telemetry entries (one per poll) for the probe
        self.gateway_out_of_range = 0
        self.gateway_last: dict[str, Any] = {}
        self.limits_asked = 0
        self._ranges = {f.param: f.range for f in profile.fields if f.param and f.range is not None}
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-listener")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the benchmark's MQTT listener did not subscribe")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(
            [(f"qingliu/v1/{STATION}/readings", 1), (GATEWAY_TELEMETRY, 1), (RPC_REQUEST + "+", 1)]
        )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        topic = message.topic
        try:
            body = json.loads(bytes(message.payload))
        except ValueError:
            body = None
        with self.lock:
            if topic.startswith("qingliu/"):
                self.agent_messages.append(now)
                if isinstance(body, dict):
                    self.agent_readings += len(body.get("readings", []))
            elif topic == GATEWAY_TELEMETRY:
                self.gateway_messages.append(now)
                entries = body.get(PROBE.name, []) if isinstance(body, dict) else []
                for entry in entries:
                    values = entry.get("values", {}) if isinstance(entry, dict) else {}
                    self.gateway_points += 1
                    self.gateway_last = values
                    if not self._in_range(values):
                        self.gateway_out_of_range += 1
            elif (
                topic.startswith(RPC_REQUEST)
                and isinstance(body, dict)
                and body.get("method") == "getSessionLimits"
            ):
                self.limits_asked += 1
                request_id = topic[len(RPC_REQUEST) :]
                client.publish(RPC_RESPONSE + request_id, json.dumps(SESSION_LIMITS), qos=1)

    def _in_range(self, values: dict[str, Any]) -> bool:
        for param, (low, high) in self._ranges.items():
            value = values.get(param)
            if not isinstance(value, int | float) or not low <= value <= high:
                return False
        return True

    @staticmethod
    def between(times: list[float], start: float, end: float) -> int:
        return sum(1 for t in times if start <= t <= end)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# --- the agent ----------------------------------------------------------------------------------------------


def agent_toml(workdir: Path, broker_url: str, sim_port: int) -> str:
    return (
        "\n".join(
            [
                "[station]",
                f'id = "{STATION}"',
                "[mqtt]",
                f'url = "{broker_url}"',
                "[outbox]",
                f'path = "{workdir / "outbox.db"}"',
                "[[bus]]",
                'name = "lan"',
                'type = "tcp"',
                "[[devices]]",
                f'name = "{PROBE.name}"',
                f'profile = "{PROBE.profile}"',
                'bus = "lan"',
                'host = "127.0.0.1"',
                f"port = {sim_port}",
                f"unit = {PROBE.unit}",
                f"interval_s = {INTERVAL_S}",
            ]
        )
        + "\n"
    )


def start_agent(workdir: Path, broker_url: str, sim_port: int, python: str) -> subprocess.Popen[bytes]:
    cfg = workdir / "agent.toml"
    cfg.write_text(agent_toml(workdir, broker_url, sim_port))
    log = open(workdir / "agent.log", "wb")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [python, "-m", "qingliu_cli", "agent", "run", "--config", str(cfg)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=agent_env(),  # the station install's code, not ours
    )


# --- thingsboard-gateway ------------------------------------------------------------------------------------


def gateway_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def gateway_ready(venv: Path) -> bool:
    probe = (
        "import importlib.metadata as m, sys; "
        f"sys.exit(m.version('thingsboard-gateway') != {GATEWAY_VERSION!r} "
        f"or m.version('pymodbus') != {GATEWAY_EXTRAS[0].split('==')[1]!r})"
    )
    python = gateway_python(venv)
    return python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def install_gateway(venv: Path) -> str | None:
    """Make the gateway's venv (reused when it is complete); None when ready, else why it cannot be."""
    if gateway_ready(venv):
        print(f"thingsboard-gateway {GATEWAY_VERSION}: reusing {venv}", flush=True)
        return None
    print(f"thingsboard-gateway {GATEWAY_VERSION}: installing into {venv} …", flush=True)
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot make {venv.parent}: {exc}"
    started = time.monotonic()
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [
            *(str(gateway_python(venv)), "-m", "pip", "install", "--disable-pip-version-check"),
            *(f"thingsboard-gateway=={GATEWAY_VERSION}", *GATEWAY_EXTRAS),
        ],
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for cmd in steps:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(cmd[:4])} failed: {exc}"
        if done.returncode != 0:
            tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-8:])
            return f"{' '.join(cmd[:4])} exited {done.returncode}:\n    {tail}"
    if not gateway_ready(venv):
        return "installed, but thingsboard-gateway/pymodbus do not import at the expected versions"
    print(f"  installed in {time.monotonic() - started:.0f} s", flush=True)
    return None


def package_config(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages/thingsboard_gateway/config"))
    if not found:
        raise RuntimeError(f"no thingsboard_gateway/config in {venv}")
    return found[0]


def timeseries(profile: Profile) -> list[dict[str, Any]]:
    """The profile's registers as the gateway's Modbus timeseries: the fields, then the status word."""
    if profile.table != "holding":
        raise ValueError(f"profile {profile.name} reads {profile.table} registers; only holding is mapped")
    kinds = {"float32": ("32float", 2), "int16": ("16int", 1), "uint16": ("16uint", 1)}
    kinds |= {"int32": ("32int", 2), "uint32": ("32uint", 2)}
    points: list[dict[str, Any]] = []
    for f in profile.fields:
        if f.type not in kinds or f.order != "ABCD" or f.scale != 1.0 or f.offset != 0.0:
            raise ValueError(f"field {f.param} ({f.type} {f.order}) has no plain gateway equivalent")
        kind, count = kinds[f.type]
        points.append(
            {"tag": f.param, "type": kind, "functionCode": 3, "objectsCount": count, "address": f.address}
        )
    if profile.status is not None:
        points.append(
            {
                "tag": "status",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": profile.status.address,
            }
        )
    return points


def write_gateway_config(
    venv: Path, confdir: Path, broker_port: int, sim_port: int, profile: Profile
) -> None:
    defaults = package_config(venv)
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "logs.json").write_text((defaults / "logs.json").read_text())

    main = json.loads((defaults / "tb_gateway.json").read_text())
    tb = main["thingsboard"]
    tb["host"], tb["port"] = "127.0.0.1", broker_port
    tb["security"] = {"type": "accessToken", "accessToken": GATEWAY_TOKEN}
    main["connectors"] = [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}]
    (confdir / "tb_gateway.json").write_text(json.dumps(main, indent=2))

    modbus = json.loads((defaults / "modbus.json").read_text())
    slave = dict(modbus["master"]["slaves"][0])
    slave.update(
        host="127.0.0.1",
        port=sim_port,
        type="tcp",
        method="socket",
        unitId=PROBE.unit,
        deviceName=PROBE.name,
        byteOrder="BIG",  # ABCD: big-endian bytes, high word first
        wordOrder="BIG",
        pollPeriod=int(INTERVAL_S * 1000),
        attributes=[],
        timeseries=timeseries(profile),
        attributeUpdates=[],
        rpc=[],
    )
    # The master side only: the default file also starts a Modbus server ("slave") on port 5026.
    (confdir / "modbus.json").write_text(json.dumps({"master": {"slaves": [slave]}}, indent=2))


def start_gateway(venv: Path, home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TB_GW_CONFIG_DIR"] = str(home / "config")
    log = open(home / "gateway.log", "wb")  # noqa: SIM115 - the child owns it
    # The gateway writes ./logs and its storage relative to its working directory.
    return subprocess.Popen(
        [str(gateway_python(venv)), "-m", "thingsboard_gateway.tb_gateway"],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def gateway_notes(home: Path) -> list[str]:
    """What the gateway's log says it tried that needs more than the broker and the simulator."""
    text = (home / "gateway.log").read_text(errors="replace")
    notes = []
    if "update service" in text:
        notes.append("it tried updates.thingsboard.io (hourly version check) and could not connect; harmless")
    if "installing" in text.lower() or "pip install" in text:
        notes.append("it tried to pip-install a package at run time")
    errors = [line for line in text.splitlines() if "|ERROR|" in line or "Traceback" in line]
    if errors:
        notes.append(f"{len(errors)} error lines in its log, the first: {errors[0][-200:]}")
    return notes


# --- the run ------------------------------------------------------------------------------------------------


def start_sim(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = open(workdir / "sim.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "qingliu_cli", "sim", "station", "--station", STATION, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        stop_process(proc)
        raise RuntimeError(f"simulator did not start: {(workdir / 'sim.log').read_text()[-2000:]}") from None
    return proc, port


def tail(path: Path, n: int = 2000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_station_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="warm-up before sampling (default 60)")
    parser.add_argument("--samples", type=int, default=5, help="samples per process (default 5)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples (default 10)")
    (parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep its logs"),)
    parser.add_argument(
        "--gateway-dir", type=Path, default=GATEWAY_DIR, help=f"its venv (default {GATEWAY_DIR})"
    )
    parser.add_argument("--no-gateway", action="store_true", help="skip thingsboard-gateway")
    parser.add_argument(
        "--dev-agent", action="store_true", help="run the development venv's agent, not a station install"
    )
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2 (CPU is measured between the first and the last)")

    started = time.monotonic()
    profile = load_profile(PROBE.profile)
    plan = ", ".join(f"{r.address}+{r.count}" for r in plan_profile(profile))
    print(
        f"device: {PROBE.name} (unit {PROBE.unit}, profile {PROBE.profile}: {len(profile.fields)} fields"
        f"{' + status' if profile.status else ''}; the agent reads {plan}) every {INTERVAL_S:g} s",
        flush=True,
    )

    python = agent_python(dev=args.dev_agent)

    skip: str | None = "--no-gateway" if args.no_gateway else None
    if skip is None:
        skip = install_gateway(args.gateway_dir)

    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="bench-station-memory-") as tmp:
        workdir = Path(tmp) if args.keep is None else args.keep.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        broker = Mosquitto(workdir / "broker", acl=BROKER_ACL, persistence=False).start()
        procs: list[subprocess.Popen[bytes]] = []
        listener: Listener | None = None
        gw_home = workdir / "tb-gateway"
        try:
            sim, sim_port = start_sim(workdir)
            procs.append(sim)
            listener = Listener(broker.port, profile)
            agent = start_agent(workdir, broker.url, sim_port, python)
            procs.append(agent)
            gateway: subprocess.Popen[bytes] | None = None
            if skip is None:
                try:
                    write_gateway_config(args.gateway_dir, gw_home / "config", broker.port, sim_port, profile)
                    gateway = start_gateway(args.gateway_dir, gw_home)
                    procs.append(gateway)
                except (OSError, RuntimeError, ValueError, KeyError) as exc:
                    skip = f"could not configure or start it: {exc}"
            print(
                f"running: agent pid {agent.pid}"
                + (f", gateway pid {gateway.pid}" if gateway else "")
                + f"; warm-up {args.seconds:g} s, then {args.samples} samples {args.every:g} s apart",
                flush=True,
            )

            agent_fig, gateway_fig = Figures(), Figures()
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                if agent.poll() is not None:
                    raise RuntimeError(f"agent exited during the warm-up: {tail(workdir / 'agent.log')}")
                if gateway is not None and gateway.poll() is not None:
                    log = tail(gw_home / "gateway.log")
                    skip = f"it exited ({gateway.returncode}) during the warm-up: {log}"
                    gateway = None
            window_start = time.monotonic()
            for i in range(args.samples):
                if i:
                    time.sleep(args.every)
                if agent.poll() is not None:
                    raise RuntimeError(f"agent exited: {tail(workdir / 'agent.log')}")
                agent_fig.samples.append(sample(agent.pid))
                if gateway is not None:
                    if gateway.poll() is not None:
                        skip = f"it exited ({gateway.returncode}): {tail(gw_home / 'gateway.log')}"
                        gateway = None
                    else:
                        gateway_fig.samples.append(sample(gateway.pid))
            window_end = time.monotonic()
            window = window_end - window_start
            time.sleep(0.5)  # the last second's messages reach the listener

            with listener.lock:
                agent_total = len(listener.agent_messages)
                agent_window = Listener.between(listener.agent_messages, window_start, window_end)
                gw_total = len(listener.gateway_messages)
                gw_window = Listener.between(listener.gateway_messages, window_start, window_end)
            print(agent_fig.line("agent  "), flush=True)
            print(
                f"  published {agent_total} readings messages ({listener.agent_readings} readings), "
                f"{agent_window} in the {window:.0f} s window",
                flush=True,
            )
            agent_rss = agent_fig.rss_mib
            checks.append(
                Check(
                    "agent VmRSS",
                    f"{agent_rss:.1f} MiB",
                    f"≤ {RSS_TARGET_MIB:g} MiB",
                    agent_rss <= RSS_TARGET_MIB,
                )
            )
            checks.append(
                Check(
                    "agent readings published",
                    f"{listener.agent_readings}",
                    "> 0",
                    listener.agent_readings > 0,
                )
            )

            if gateway is not None and gateway_fig.samples:
                print(gateway_fig.line("gateway"), flush=True)
                print(
                    f"  published {gw_total} messages on {GATEWAY_TELEMETRY} ({listener.gateway_points} "
                    f"probe points, {listener.gateway_out_of_range} outside the profile's ranges), "
                    f"{gw_window} in the "
                    f"{window:.0f} s window; getSessionLimits answered {listener.limits_asked}×",
                    flush=True,
                )
                if listener.gateway_last:
                    last = ", ".join(f"{k} {v}" for k, v in listener.gateway_last.items())
                    print(f"  its last values: {last}", flush=True)
                for note in gateway_notes(gw_home):
                    print(f"  note: {note}", flush=True)
                expected = math.floor(window / INTERVAL_S * 0.8)
                polls_ok = gw_window >= expected and listener.gateway_out_of_range == 0
                checks.append(
                    Check(
                        "gateway telemetry in the window",
                        f"{gw_window} ({listener.gateway_out_of_range} out of range)",
                        f"≥ {expected}, all in range",
                        polls_ok,
                    )
                )
                ratio = agent_rss / gateway_fig.rss_mib
                print(
                    f"ratio agent ÷ gateway VmRSS: {agent_rss:.1f} / {gateway_fig.rss_mib:.1f} = {ratio:.3f} "
                    f"(target ≤ {RATIO_TARGET:g})",
                    flush=True,
                )
                checks.append(
                    Check(
                        "VmRSS agent ÷ gateway", f"{ratio:.3f}", f"≤ {RATIO_TARGET:g}", ratio <= RATIO_TARGET
                    )
                )
            else:
                print(f"gateway half skipped: {skip}", flush=True)
        finally:
            if listener is not None:
                listener.stop()
            for proc in reversed(procs):
                stop_process(proc, timeout_s=15)
            broker.stop()
    print(f"took {time.monotonic() - started:.0f} s", flush=True)
    return conclude(checks)


if __name__ == "__main__":
    sys.exit(main())
