"""``qingliu agent run|check|outbox --config FILE``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, load_config
from agent.outbox import Outbox
from protocols.errors import ConfigError
from protocols.logfiles import setup as setup_logging
from protocols.paths import resolve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qingliu agent", description="station agent / 站点采集代理")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run the agent until SIGINT/SIGTERM"),
        ("check", "validate the config and print a summary"),
        ("outbox", "what is queued: backlog, oldest unsent, dropped, next seq"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--config", required=True, metavar="FILE", help="agent TOML config")
    return parser


def _outbox_path(config: AgentConfig, config_file: Path) -> Path:
    return resolve(config.outbox.path, config_file.parent)


def summary(config: AgentConfig, config_file: Path) -> str:
    lines = [
        f"station   {config.station.id}" + (f"  (MN {config.station.mn})" if config.station.mn else ""),
        f"broker    {config.mqtt.url}" + (f"  user {config.mqtt.username}" if config.mqtt.username else ""),
        f"outbox    {_outbox_path(config, config_file)}  quota {config.outbox.max_bytes:,} bytes, "
        f"history {config.outbox.history_days:g} d, policy {config.outbox.full_policy}",
        f"buses     {', '.join(f'{b.name} ({b.type})' for b in config.bus) or 'none'}",
        f"devices   {len(config.devices)}",
    ]
    for t in config.uplink.hj212:
        data = ", ".join(
            name for name, on in (("2011", t.realtime), ("2061", t.hourly), ("2031", t.daily)) if on
        )
        lines.append(
            f"hj212     {t.name} {t.host}:{t.port}  MN {t.mn}  ST {t.st}  {data}"
            + ("  (9014 required)" if t.reply_required else "")
        )
    for device in config.devices:
        where = f"{device.host}:{device.port}" if device.host else f"unit {device.unit}"
        interval = f"{device.interval_s:g} s" if device.interval_s else "profile default"
        lines.append(
            f"  {device.name:<16} {device.profile:<20} bus {device.bus:<8} {where:<22} "
            f"every {interval}{'' if device.enabled else '  (disabled)'}"
        )
    return "\n".join(lines)


def outbox_report(config: AgentConfig, config_file: Path) -> str:
    path = _outbox_path(config, config_file)
    if not path.exists():
        return f"outbox {path} does not exist yet (the agent has not run)"
    # Here, not at the top: `qingliu agent run` never needs the HJ 212 report (memory on small station PCs).
    from agent.hj212up.report import target_lines

    outbox = Outbox(path, config.outbox, config.station.id)
    try:
        stats = outbox.stats(detail=True)
        resends = outbox.pending_resends()
        uplinks = target_lines(outbox, config.uplink.hj212)  # HJ 212 platforms: each its own cursor
    finally:
        outbox.close()
    oldest = stats.oldest_unsent.isoformat() if stats.oldest_unsent else "-"
    lines = [
        f"outbox          {path}",
        f"backlog         {stats.backlog} readings not yet acknowledged by the broker",
        f"oldest unsent   {oldest}",
        f"dropped         {stats.dropped} readings (quota or age), ever",
        f"next seq        {stats.next_seq}",
        f"unacked msgs    {stats.unacked_messages}",
        f"unsent events   {stats.unsent_events}",
        f"resend queued   {resends}",
        f"stored          {stats.stored_readings} readings, {stats.used_bytes:,} bytes in use",
    ]
    lines += [f"count {name:<14} {value}" for name, value in sorted(stats.counters.items())]
    lines += uplinks
    return "\n".join(lines)


def _check_devices(config: AgentConfig) -> None:
    """Load every device's profile the way acquisition will, so that a wrong profile fails here."""
    from agent.acquisition import Acquisition
    from agent.sink import MemorySink

    Acquisition(config, MemorySink())


def import_runtime(config: AgentConfig) -> Callable[..., Coroutine[Any, Any, None]]:
    """``agent.runtime.run_agent``, imported (with asyncio and paho) only when running, and without OpenSSL
    unless the broker link uses TLS: ~4 MiB of a station's 30 (agent/notls.py)."""
    from agent import notls

    without_tls = not config.mqtt.tls and notls.keep_openssl_out()
    try:
        from agent.runtime import run_agent
    finally:
        if without_tls:
            notls.let_openssl_in()
    return run_agent


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config_file = Path(args.config)
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        print(f"qingliu agent: {exc}", file=sys.stderr)
        return 2
    if args.command == "check":
        try:
            _check_devices(config)
        except ConfigError as exc:
            print(f"qingliu agent: {config_file}: {exc}", file=sys.stderr)
            return 2
        print(f"{config_file}: ok\n{summary(config, config_file)}")
        return 0
    if args.command == "outbox":
        print(outbox_report(config, config_file))
        return 0
    setup_logging(
        config.log_level,
        f"%(asctime)s {config.station.id} %(levelname)s %(name)s: %(message)s",
        config.log,
        config_file.parent,
    )
    run_agent = import_runtime(config)

    import asyncio

    try:
        asyncio.run(run_agent(config, base_dir=config_file.parent))
    except ConfigError as exc:
        logging.getLogger("agent").error("%s", exc)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
