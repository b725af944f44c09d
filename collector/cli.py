"""The collector's commands.

qingliu collector run --config FILE [--host H] [--port N]
qingliu collector check --config FILE
qingliu collector import-manual --config FILE [--dry-run] RESULTS.csv|RESULTS.xlsx   (collector/manual_import.py)
qingliu collector import-history --config FILE DIR   (collector/history_import.py; DIR from `qingliu sim history`)
qingliu collector user add|passwd|role|disable|enable|token|list ...   (collector/auth/cli.py)

``run`` builds the service, then the HTTP app over it (collector/api/), and serves both in this process until
SIGINT/SIGTERM: the CLI is the one place that joins the two (the service knows nothing of the API).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from collector.assessment.classes import WaterClass
from collector.auth import cli as user_cli
from collector.config import CollectorConfig, load_config
from collector.mqtt_client import PUBLISH_SUFFIX
from collector.secret_refs import weaknesses
from collector.sections import load_sections
from protocols.errors import ConfigError
from protocols.logfiles import setup as setup_logging

if TYPE_CHECKING:
    from collector.service import CollectorService


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qingliu collector", description="the central collector / 中心采集服务"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="ingest from MQTT and serve the API and dashboard",
        description="Run the collector until SIGINT/SIGTERM: receive from MQTT (and HJ 212 where configured), "
        "store, raise alerts, make the scheduled reports and serve the API and dashboard.",
    )
    run.add_argument("--config", required=True, help="collector TOML file")
    run.add_argument("--host", help="API listen address (default: api.host)")
    run.add_argument("--port", type=int, help="API port (default: api.port)")
    check = sub.add_parser(
        "check",
        help="validate the config and print what it means",
        description="Validate a collector config (a wrong field is named with its place) and print what it "
        "means: store, broker, stations and their targets.",
    )
    check.add_argument("--config", required=True, help="collector TOML file")
    manual = sub.add_parser(
        "import-manual",
        help="import manual (laboratory) results from CSV or xlsx",
        description="Import a month of laboratory results (CSV or xlsx) into the store in the config: a file "
        "with any bad row imports nothing and lists every bad row; importing it again changes nothing.",
    )
    manual.add_argument("--config", required=True, help="collector TOML file")
    manual.add_argument("--dry-run", action="store_true", help="validate the file, write nothing")
    manual.add_argument("file", help="CSV (UTF-8) or xlsx file of results")
    history = sub.add_parser(
        "import-history",
        help="bulk-write a synthetic history (qingliu sim history)",
        description="Bulk-write a synthetic history made by 'qingliu sim history' into the store in the "
        "config (importing twice changes nothing).",
    )
    history.add_argument("--config", required=True, help="collector TOML file")
    history.add_argument("dir", help="directory holding readings.jsonl and manual.csv")
    user_cli.add_parser(sub)  # qingliu collector user ... (the dashboard's people)
    return parser


def _redact(url: str) -> str:
    """A store URL without its password."""
    parsed = urlsplit(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return urlunsplit(parsed._replace(netloc=netloc))
    return url


def describe(config: CollectorConfig) -> str:
    mqtt, store, api = config.mqtt, config.store, config.api
    lines = [
        f"mqtt:   {mqtt.url} as {mqtt.client_id!r} (receiving; publishing as "
        f"{mqtt.client_id + PUBLISH_SUFFIX!r})"
        + (f", shared group {mqtt.shared_group!r}" if mqtt.shared_group else "")
        + f", session expiry {mqtt.session_expiry_s} s",
        f"store:  {_redact(store.url)}",
        f"inbox:  {config.inbox_path}"
        + (f", at most {config.inbox.max_bytes} bytes" if config.inbox.max_bytes else ", no size limit")
        + f", up to {config.inbox.batch_max} messages per commit",
        f"api:    http://{api.host}:{api.port}/ "
        + ("reads need a login" if api.read_requires_login else "reads open to anyone")
        + ("; bootstrap admin token set" if api.admin_token else "; changes by signed-in users only"),
        f"stations ({len(config.stations)}"
        + (", unknown stations accepted" if config.accept_unknown_stations else "")
        + "):",
    ]
    lines += [
        f"  {s.id:<16} {s.name_zh}  river={s.river} level={s.level} county={s.county} "
        f"target={WaterClass(s.target_class).roman} {s.water_type}"
        for s in config.stations
    ]
    assessment = config.assessment
    registry = load_sections(assessment.sections or None)
    national = sum(1 for x in registry.sections if x.level == "national")
    lines.append(
        f"assessment: {len(registry.sections)} sections ({national} national, "
        f"{len(registry.sections) - national} provincial) from "
        + (assessment.sections or "the shipped city registry")
        + f"; flood season months {assessment.flood_first_month}-{assessment.flood_last_month}"
    )
    lines += _describe_hj212(config)
    return "\n".join(lines)


def _describe_hj212(config: CollectorConfig) -> list[str]:
    """The HJ 212 server and its loggers as ``check`` shows them (never a password)."""
    hj212 = config.hj212
    if not hj212.enabled:
        return [f"hj212:  off ({len(hj212.loggers)} loggers configured)" if hj212.loggers else "hj212:  off"]
    limits = hj212.limits
    lines = [
        f"hj212:  listening on {hj212.host}:{hj212.port} in a process of its own, {len(hj212.loggers)} loggers; "
        f"CRC {hj212.crc_variant}, length in {hj212.length_unit}; at most {limits.max_connections} connections, "
        f"{limits.max_frames_per_s:g} frames/s and {limits.max_frame_bytes} bytes a frame each, "
        f"closed after {limits.idle_timeout_s:g} s idle"
    ]
    for logger in hj212.loggers:
        site = f"station {logger.station}" if logger.station else f"outfall {logger.outfall}"
        role = (
            "status and commands of the site"
            if logger.primary
            else "readings only (an agent reports the site)"
        )
        codes = ", HJ/T 212-2005 codes mapped" if logger.legacy_codes or logger.codes_2005 else ""
        lines.append(
            f"  {logger.mn:<24} {site} ST {logger.st}, stores CN {'/'.join(logger.cns)}, {role}{codes}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "import-manual":
        from collector.manual_import import run_import_manual

        return run_import_manual(args.config, args.file, dry_run=args.dry_run)
    if args.command == "import-history":
        from collector.history_import import run_import_history

        return run_import_history(args.config, args.dir)
    if args.command == "user":
        return user_cli.run(args)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"qingliu collector: {exc}", file=sys.stderr)
        return 2
    weak = weaknesses(config)  # known example or empty secrets (collector/secret_refs.py, issue 16)
    if args.command == "check":
        print(describe(config))
        for why in weak:
            print(f"qingliu collector: not fit to run: {why}", file=sys.stderr)
        return 2 if weak else 0
    if weak:
        print("qingliu collector: will not start: " + "; ".join(weak), file=sys.stderr)
        return 2
    setup_logging(config.log_level, "%(asctime)s %(levelname)s %(name)s: %(message)s", config.log)
    from collector import memtrim
    from collector.inbox import InboxInUse

    memtrim.limit_arenas()  # before any thread starts (collector/memtrim.py)
    memtrim.fix_mmap_threshold()  # large answers in their own mappings, not holes in the heap
    from collector.service import CollectorService  # the engines and their drivers only when running

    try:
        service = CollectorService(config)
    except InboxInUse as exc:
        print(f"qingliu collector: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # any engine's connection error: report it plainly, no traceback
        print(f"qingliu collector: cannot open the store {_redact(config.store.url)}: {exc}", file=sys.stderr)
        return 2
    from collector.memtrace import from_env  # a debugging aid, off unless QINGLIU_MEMTRACE is set

    from_env()
    serve(service, host=args.host, port=args.port)
    return 0


def serve(service: CollectorService, *, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn in this process until SIGINT/SIGTERM, with the service's ingest alongside."""
    import uvicorn  # FastAPI/uvicorn only when running

    from collector.api import create_app

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service),
            host=host or service.config.api.host,
            port=port or service.config.api.port,
            log_level="warning",
            lifespan="on",
            # [api] tls_cert_file/tls_key_file: HTTPS without a proxy (docs/SECURITY.md)
            ssl_certfile=service.config.api.tls_cert_file or None,
            ssl_keyfile=service.config.api.tls_key_file or None,
        )
    )

    # uvicorn captures SIGINT/SIGTERM while it runs and re-raises them to the previous handlers when it
    # returns: make those handlers ours so that the signal ends in a clean stop(), not a kill.
    def _on_signal(signum: int, frame: object) -> None:
        server.should_exit = True
        service.request_stop()  # the receiving child may have had the signal too: no restart now

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    service.start()
    try:
        server.run()
    finally:
        service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
