"""``qingliu sim``: run simulated stations (Modbus TCP per station, or one station on RTU), list profiles/scenarios.

    qingliu sim station --station ID [--host H] [--port N] [--rtu PTY --baud 9600 --parity N --wire-time]
                        [--scenario NAME_OR_FILE] [--speed X] [--start ISO] [--seed N] [--journal PATH]
                        [--nutrient-cycle-min M] [--manifest PATH] [--duration S]
    qingliu sim fleet [--host H] [--base-port N] [--manifest PATH] [--stations a,b,...] [--scenario ...]
                      [--speed X] [--start ISO] [--seed N] [--journal PATH] [--nutrient-cycle-min M] [--duration S]
    qingliu sim profiles
    qingliu sim scenarios
    qingliu sim ascii --pty PTY [--station ID] [--devices probe:1,nh3n:2] [--fault DEV=SPEC] [--duration S]
    qingliu sim history --out DIR [--months 13] [--end ISO] [--seed N]   (simulators/history.py)
    qingliu sim hj212-logger --port N --mn MN [--station ID | --outfall NAME] [--fault NAME=VALUE] …
                             (a data logger speaking HJ 212-2017 to a platform: simulators/hj212_logger.py)
    qingliu sim hj212-platform --port N [--pw PW] [--reply-delay S] [--loss P] [--refuse P] [--journal PATH] …
                             (a platform receiving HJ 212-2017: simulators/hj212_platform.py)

Port 0 picks free ports; the manifest records where each station listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from protocols.errors import ConfigError
from protocols.profiles import builtin_names, load_profile
from protocols.sections import SECTIONS
from simulators.analysers.nutrient import Schedule
from simulators.ascii_device import add_parser as add_ascii_parser
from simulators.ascii_device import run_cli as run_ascii
from simulators.clock import SimClock
from simulators.fleet import Fleet, Station, build_fleet, station_entry, utc_iso, write_manifest
from simulators.hj212_logger import add_parser as add_hj212_parser
from simulators.hj212_logger import run_cli as run_hj212
from simulators.hj212_platform import add_parser as add_platform_parser
from simulators.hj212_platform import run_cli as run_platform
from simulators.journal import Journal
from simulators.scenarios import ScenarioRunner, builtin_scenarios, load_scenario
from simulators.scenarios.schema import Scenario

log = logging.getLogger("qingliu.sim")

TICK_S = 0.5  # real seconds between scenario/station ticks


def _schedule(args: argparse.Namespace) -> Schedule:
    if args.nutrient_cycle_min is not None:
        if not args.nutrient_cycle_min > 0:
            raise ConfigError("--nutrient-cycle-min must be > 0")
        return Schedule.every(args.nutrient_cycle_min)
    return Schedule()


def _start(text: str | None) -> datetime | None:
    if text is None or text == "now":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--start {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _attach(fleet: Fleet, runner: ScenarioRunner | None) -> None:
    """Every read first applies due scenario steps, then advances the station."""
    if runner is None:
        return
    for station in fleet.stations.values():

        def before(now: datetime, station: Station = station) -> None:
            runner.tick(now)
            station.tick(now)

        for device in station.devices.values():
            device.on_refresh = before


def _scenario_entry(runner: ScenarioRunner | None) -> dict[str, Any] | None:
    if runner is None:
        return None
    return {
        "name": runner.scenario.name,
        "begin": utc_iso(runner.begin),
        "network_drops": [
            {"station": d["station"], "start": utc_iso(d["start"]), "end": utc_iso(d["end"])}
            for d in runner.network_drops()
            if d["station"] in runner.stations
        ],
    }


async def _serve(args: argparse.Namespace, station_ids: list[str]) -> int:
    from simulators.modbus import rtu_server, tcp_server  # I/O only when serving

    scenario: Scenario | None = load_scenario(args.scenario) if args.scenario else None
    speed = args.speed if args.speed is not None else (scenario.speed if scenario and scenario.speed else 1.0)
    clock = SimClock(_start(args.start), speed=speed)
    journal = Journal(args.journal, keep=False) if args.journal else None
    fleet = build_fleet(clock, station_ids, seed=args.seed, schedule=_schedule(args), journal=journal)
    runner = ScenarioRunner(scenario, fleet.stations, clock.now()) if scenario else None
    _attach(fleet, runner)
    fleet.tick()

    servers: list[Any] = []
    entries: list[dict[str, Any]] = []
    try:
        for i, (station_id, station) in enumerate(fleet.stations.items()):
            if getattr(args, "rtu", None):
                rtu = await rtu_server.start_rtu_server(
                    station.by_unit(),
                    args.rtu,
                    baudrate=args.baud,
                    parity=args.parity,
                    emulate_wire_time=args.wire_time,
                )
                servers.append(rtu)
                entries.append(
                    station_entry(
                        station,
                        args.host,
                        None,
                        transport="rtu",
                        serial={"port": args.rtu, "baudrate": args.baud, "parity": args.parity},
                    )
                )
                print(
                    f"sim: {station_id} ({station.name_zh}) Modbus RTU on {args.rtu} at {args.baud} baud, "
                    f"units 1-7",
                    flush=True,
                )
                continue
            port = args.port if hasattr(args, "port") else (0 if args.base_port == 0 else args.base_port + i)
            server = await tcp_server.start_tcp_server(station.by_unit(), args.host, port)
            servers.append(server)
            entries.append(station_entry(station, args.host, server.port))
            print(
                f"sim: {station_id} ({station.name_zh}) Modbus TCP on {args.host}:{server.port}, units 1-7",
                flush=True,
            )
        manifest = {
            "stations": entries,
            "clock": {"start": utc_iso(clock.start), "speed": clock.speed},
            "scenario": _scenario_entry(runner),
            "journal": args.journal,
        }
        if args.manifest:
            write_manifest(args.manifest, manifest)
            print(f"sim: manifest written to {args.manifest}", flush=True)
        if scenario and not set(scenario.stations) & set(fleet.stations):
            print(
                f"sim: warning: scenario {scenario.name} concerns {', '.join(scenario.stations)}, "
                "none of which runs here",
                file=sys.stderr,
                flush=True,
            )
        if scenario:
            print(
                f"sim: scenario {scenario.name} at speed {speed:g}, {runner.pending if runner else 0} steps",
                flush=True,
            )

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        deadline = loop.time() + args.duration if args.duration else None
        printed = 0
        while not stop.is_set():
            now = clock.now()
            if runner is not None:
                runner.tick(now)
                # Reads apply due steps too, so report from the runner's record, not from this tick.
                for at, station_id, describe in runner.applied[printed:]:
                    print(f"sim: {utc_iso(at)} {station_id}: {describe}", flush=True)
                printed = len(runner.applied)
            fleet.tick(now)
            if deadline is not None and loop.time() >= deadline:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=TICK_S)
        print("sim: stopping", flush=True)
        return 0
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if journal is not None:
            journal.close()


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--scenario", help="built-in scenario name or a scenario .toml file")
    parser.add_argument(
        "--speed", type=float, help="sim seconds per real second (default: scenario's, else 1)"
    )
    parser.add_argument("--start", help="sim clock start, ISO 8601 (default: now)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--journal", help="append every analyser result to this JSON-lines file")
    parser.add_argument(
        "--nutrient-cycle-min",
        type=float,
        default=None,
        help="a result every M sim minutes instead of at 0/4/8/12/16/20 h",
    )
    parser.add_argument("--manifest", help="write where each station listens to this JSON file")
    parser.add_argument("--duration", type=float, default=None, help="stop after S real seconds")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qingliu sim", description="Simulated station hardware / 站点模拟器"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    station = sub.add_parser(
        "station",
        help="run one station (units 1-7 behind one Modbus TCP port or RTU line)",
        description="Run one simulated station: its analysers and controller as Modbus units 1-7 behind "
        "one Modbus TCP port or one RTU serial line.",
    )
    station.add_argument("--station", required=True, help=f"station id: {', '.join(SECTIONS)}")
    station.add_argument("--port", type=int, default=5020, help="TCP port (default 5020; 0 = any free port)")
    station.add_argument(
        "--rtu", metavar="PTY_PATH", help="serve Modbus RTU on this serial device instead of TCP"
    )
    station.add_argument("--baud", type=int, default=9600)
    station.add_argument("--parity", choices=["N", "E", "O"], default="N")
    station.add_argument(
        "--wire-time", action="store_true", help="answer RTU as slowly as the baud rate would"
    )
    _add_run_options(station)
    fleet = sub.add_parser(
        "fleet",
        help="run stations, one Modbus TCP port each",
        description="Run several simulated stations (all eight by default), one Modbus TCP port each.",
    )
    fleet.add_argument(
        "--base-port",
        type=int,
        default=5020,
        help="first station's port, the next ones follow (default 5020; 0 = free ports)",
    )
    fleet.add_argument("--stations", help="comma-separated station ids (default: all eight)")
    _add_run_options(fleet)
    add_ascii_parser(sub)
    add_hj212_parser(sub)
    add_platform_parser(sub)
    for name, text in (
        ("profiles", "list the built-in analyser profiles"),
        ("scenarios", "list the built-in scenarios"),
    ):
        sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    history = sub.add_parser(
        "history",
        help="write a synthetic history: readings.jsonl and manual.csv",
        description="Write a clearly marked synthetic history for the eight stations (readings.jsonl) and "
        "monthly manual results for the other sections (manual.csv); load it with "
        "'qingliu collector import-history'.",
    )
    history.add_argument("--out", required=True, help="directory to write into (created if missing)")
    history.add_argument("--months", type=int, default=13, help="calendar months (default 13)")
    history.add_argument("--end", help="end of the history, exclusive (ISO 8601; default: this hour)")
    history.add_argument("--seed", type=int, default=0)
    return parser


def _write_history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from protocols.messages import encode
    from simulators.history import generate

    if args.months < 1:
        raise ConfigError("--months must be at least 1")
    end = _start(args.end) or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    history = generate(end, months=args.months, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "readings.jsonl", "wb") as f:
        for batch in history.batches:
            f.write(encode(batch) + b"\n")
    (out / "manual.csv").write_text(history.manual_csv, encoding="utf-8")
    manual_rows = history.manual_csv.count("\n") - 1
    print(
        f"synthetic history {utc_iso(history.start)} .. {utc_iso(history.end)}: {history.reading_count} readings "
        f"in {len(history.batches)} batches of {len({b.station for b in history.batches})} stations, "
        f"{manual_rows} manual results -> {out}"
    )
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "ascii":
            return run_ascii(args)
        if args.command == "hj212-logger":
            return run_hj212(args)
        if args.command == "hj212-platform":
            return run_platform(args)
        if args.command == "profiles":
            for name in builtin_names():
                profile = load_profile(name)
                params = ", ".join(f.param or f.signal or "?" for f in profile.fields)
                print(f"{name:<20} {profile.kind:<10} {profile.table:<8} {profile.description}  [{params}]")
            return 0
        if args.command == "scenarios":
            for name in builtin_scenarios():
                scenario = load_scenario(name)
                print(f"{name:<20} {', '.join(scenario.stations)}\n    {scenario.description}")
            return 0
        if args.command == "history":
            return _write_history(args)
        if args.command == "station":
            if args.station not in SECTIONS:
                raise ConfigError(f"unknown station {args.station!r}; known: {', '.join(SECTIONS)}")
            ids = [args.station]
        else:
            ids = (
                [s.strip() for s in args.stations.split(",") if s.strip()]
                if args.stations
                else list(SECTIONS)
            )
            unknown = [s for s in ids if s not in SECTIONS]
            if unknown:
                raise ConfigError(f"unknown station(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
        if args.duration is not None and not args.duration > 0:
            raise ConfigError("--duration must be > 0")
        if args.speed is not None and not args.speed > 0:
            raise ConfigError("--speed must be > 0")
        _start(args.start)
        _schedule(args)
        if args.scenario:
            load_scenario(args.scenario)  # fail before any port is opened
        return asyncio.run(_serve(args, ids))
    except ConfigError as exc:
        print(f"qingliu sim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"qingliu sim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
