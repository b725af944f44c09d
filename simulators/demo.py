"""``qingliu demo``: the whole system on one machine — broker, eight simulated stations, their agents, the collector.

Every part runs as its own process, as in production (the embedded broker, when no broker is given, runs in
this process). Ctrl-C stops everything this command started. Agents and the collector are started as
``qingliu agent`` / ``qingliu collector`` commands, so this module imports neither. Unless ``--no-history``, 13
months of clearly marked synthetic history are bulk-written into the collector's store while the live fleet
starts (simulators/demo_history.py), so that the Reports view has every product to show.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from simulators import demo_loggers
from simulators.demo_history import HistoryFill, history_end, remake_archived

log = logging.getLogger("qingliu.demo")

DEMO_INTERVALS = {"probe": 5.0, "controller": 5.0}  # seconds; analysers with a result time poll every 15 s
ANALYSER_INTERVAL_S = 15.0
# A fresh secret each run: the collector refuses a known example token (collector/secret_refs.py); the demo
# prints it (LOGIN_HINT).
ADMIN_TOKEN = secrets.token_hex(16)
DEMO_USER = "demo-admin"  # a named admin made each run with a fresh password, printed (issue 16)
# How to change anything (acknowledge an alert, send a command): the demo's admin token (README, issue 18).
LOGIN_HINT = (
    "demo: to acknowledge alerts or send commands, open http://127.0.0.1:{port}/alerts, press 登录 / Log in "
    "and enter the admin token {token}"
)


def _demo_user(exe: list[str], config: Path) -> str:
    """Make (or, with --keep, reset) the demo's named admin with a fresh password; "" if that failed."""
    password = secrets.token_urlsafe(12)
    for argv in (["add", DEMO_USER, "--role", "admin"], ["passwd", DEMO_USER]):
        done = subprocess.run(
            [*exe, "collector", "user", *argv, "--password-stdin", "--config", str(config)],
            input=password + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return password
    log.warning("demo: could not make the user %s: %s", DEMO_USER, done.stderr.strip())
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def agent_config(station: dict[str, Any], broker_url: str, var_dir: Path, protocol: str = "5") -> str:
    """The TOML config of one demo agent, from a station entry of the simulator fleet manifest."""
    lines = [
        "[station]",
        f'id = "{station["id"]}"',
        "",
        "[mqtt]",
        f'url = "{broker_url}"',
        f'protocol = "{protocol}"',
        "heartbeat_s = 5.0",
        "",
        "[outbox]",
        f'path = "{var_dir / (station["id"] + ".outbox.db")}"',
        "",
        "[[bus]]",
        'name = "lan"',
        'type = "tcp"',
        "timeout_s = 1.0",
    ]
    for device in station["devices"]:
        interval = DEMO_INTERVALS.get(device["name"], ANALYSER_INTERVAL_S)
        lines += [
            "",
            "[[devices]]",
            f'name = "{device["name"]}"',
            f'profile = "{device["profile"]}"',
            'bus = "lan"',
            f'host = "{station.get("host", "127.0.0.1")}"',
            f"port = {int(station['port'])}",
            f"unit = {int(device['unit'])}",
            f"interval_s = {interval}",
        ]
    return "\n".join(lines) + "\n"


def collector_config(broker_url: str, var_dir: Path, port: int, protocol: str = "5") -> str:
    return "\n".join(
        [
            "[mqtt]",
            f'url = "{broker_url}"',
            f'protocol = "{protocol}"',
            'client_id = "qingliu-demo-collector"',
            "",
            "[store]",
            f'url = "sqlite:///{var_dir / "collector.db"}"',
            "",
            "[api]",
            'host = "127.0.0.1"',
            f"port = {port}",
            f'admin_token = "{ADMIN_TOKEN}"',
            "cookie_secure = false  # plain http on loopback: the session cookie must still reach the page",
            "read_requires_login = false  # the demo is read by whoever opens it; changes need the token",
            "",
        ]
    )


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM it if the demo dies, even by kill -9."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Children:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log_file = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.procs.append((name, proc))
        return proc

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs if proc.poll() is not None]

    def stop_all(self, timeout: float = 10.0) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


async def _embedded_broker(port: int) -> Any:
    from amqtt.broker import Broker  # only the demo needs it

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    return broker


def _history_report(fill: HistoryFill, port: int) -> None:
    result = fill.result
    assert result is not None
    if result.ok:
        print(
            f"demo: synthetic history written to the store in {result.seconds:.1f} s ({result.summary}); "
            f"reports: http://127.0.0.1:{port}/#/reports",
            flush=True,
        )
    else:
        print(f"demo: no history: {result.summary}; see {fill.log_path}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    var_dir = Path(args.var_dir).resolve()
    if var_dir.exists() and not args.keep:
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "qingliu_cli"]

    broker = None
    # amqtt 0.12 speaks MQTT 3.1.1 only; with a real broker everything runs v5 as in production.
    protocol = "5" if args.broker else "3.1.1"
    if args.broker:
        broker_url = args.broker
        parsed = urlparse(broker_url)
        if not _wait_port(parsed.hostname or "127.0.0.1", parsed.port or 1883, 5):
            print(f"demo: no MQTT broker answers at {broker_url}", file=sys.stderr)
            return 1
    else:
        port = _free_port()
        broker = await _embedded_broker(port)
        broker_url = f"mqtt://127.0.0.1:{port}"
        print(f"demo: embedded MQTT broker (amqtt) on {broker_url}")

    children = _Children(var_dir)
    fill: HistoryFill | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        # The history is made while the simulators start and imported once the collector answers.
        if not args.no_history:
            fill = HistoryFill(
                exe,
                var_dir,
                var_dir / "collector.toml",  # written below; the import waits for the collector
                history_end(started, args.nutrient_cycle_min),
                collector_ready=lambda: (
                    (var_dir / "collector.toml").exists() and _wait_port("127.0.0.1", args.port, 0.5)
                ),
                preexec_fn=_die_with_parent,
                remake=lambda: remake_archived(f"http://127.0.0.1:{args.port}", ADMIN_TOKEN),
            )
            if fill.already_imported:
                print("demo: keeping the synthetic history imported by an earlier run")
                fill = None
            else:
                fill.start()
                print(f"demo: writing 13 months of synthetic history into the store ({fill.log_path})")
        manifest_path = var_dir / "fleet.json"
        children.start(
            "simulators",
            [
                *exe,
                "sim",
                "fleet",
                "--base-port",
                "0",
                "--manifest",
                str(manifest_path),
                "--nutrient-cycle-min",
                str(args.nutrient_cycle_min),
                *(["--scenario", args.scenario, "--speed", "1"] if args.scenario else []),
            ],
        )
        deadline = time.monotonic() + 20
        while not manifest_path.exists():
            if time.monotonic() > deadline or children.dead():
                print(
                    f"demo: the simulator fleet did not start; see {var_dir / 'simulators.log'}",
                    file=sys.stderr,
                )
                return 1
            await asyncio.sleep(0.1)
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

        collector_conf = var_dir / "collector.toml"
        hj212_port = _free_port()  # the legacy data loggers' HJ 212 server (simulators/demo_loggers.py)
        collector_conf.write_text(
            collector_config(broker_url, var_dir, args.port, protocol)
            + demo_loggers.collector_toml(hj212_port),
            encoding="utf-8",
        )
        demo_password = _demo_user(exe, collector_conf)
        children.start("collector", [*exe, "collector", "run", "--config", str(collector_conf)])
        for station in manifest["stations"]:
            conf = var_dir / f"{station['id']}.agent.toml"
            conf.write_text(agent_config(station, broker_url, var_dir, protocol), encoding="utf-8")
            children.start(f"agent-{station['id']}", [*exe, "agent", "run", "--config", str(conf)])
        for name, logger_argv in demo_loggers.commands(
            exe, hj212_port, args.scenario, args.nutrient_cycle_min
        ):
            children.start(name, logger_argv)

        if _wait_port("127.0.0.1", args.port, 20):
            print(
                f"demo: {len(manifest['stations'])} stations running; dashboard http://127.0.0.1:{args.port}/ "
                f"(logs and data in {var_dir}); Ctrl-C stops everything"
            )
            print(LOGIN_HINT.format(port=args.port, token=ADMIN_TOKEN), flush=True)
            if demo_password:
                print(f"demo: or sign in as user {DEMO_USER} with the password {demo_password}", flush=True)
            print(
                f"demo: {len(demo_loggers.LOGGERS)} legacy data loggers (代县桥 and an outfall above 界河铺村) "
                f"report over HJ 212 to port {hj212_port}",
                flush=True,
            )
        else:
            print(f"demo: the collector did not start; see {var_dir / 'collector.log'}", file=sys.stderr)
            return 1
        while not stop.is_set():
            if fill is not None and fill.result is not None:
                _history_report(fill, args.port)
                fill = None
            dead = children.dead()
            if dead:
                print(
                    f"demo: {', '.join(dead)} stopped unexpectedly; see the logs in {var_dir}",
                    file=sys.stderr,
                )
                return 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        print("demo: stopping")
        return 0
    finally:
        if fill is not None:
            fill.stop()
        children.stop_all()
        if broker is not None:
            # The agents are gone: what amqtt still holds for them is nobody's loss, not a warning to print.
            logging.getLogger("amqtt.broker").setLevel(logging.ERROR)
            await broker.shutdown()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="qingliu demo", description="Run the eight simulated stations, their agents and the collector."
    )
    parser.add_argument("--port", type=int, default=8000, help="collector HTTP port (default 8000)")
    parser.add_argument("--broker", help="use this MQTT broker (mqtt://host:port) instead of an embedded one")
    parser.add_argument(
        "--var-dir", default="var/demo", help="where configs, data and logs go (default var/demo)"
    )
    parser.add_argument("--keep", action="store_true", help="keep data from an earlier demo run")
    parser.add_argument(
        "--scenario",
        help="run a scenario (e.g. pollution_plume) in real time on the fleet and the legacy loggers",
    )
    parser.add_argument(
        "--nutrient-cycle-min",
        type=float,
        default=2.0,
        help="minutes between nutrient analyser results in the demo (real ones: 240)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="start without the 13 months of synthetic history (the Reports view then has little to show)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("amqtt", "transitions"):  # the embedded broker logs every state change at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 0
