"""The one console command: ``qingliu <agent|collector|assess|report|sim|demo> ...``.

Each package owns its own sub-command parser; this module only dispatches, importing lazily so that a station
PC running the agent never imports FastAPI.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("agent.cli", "run a station agent / 运行站点采集代理"),
    "collector": ("collector.cli", "run the central collector / 运行中心采集服务"),
    "assess": ("collector.assess_cli", "assess sections: class, CWQI, flood intensity / 断面水质评价"),
    "report": (
        "collector.report_cli",
        "make a product: daily, weekly, monthly, flood / 制作日预警、周研判、月通报",
    ),
    "sim": ("simulators.cli", "run simulated analysers, stations, scenarios / 运行模拟器"),
    "demo": ("simulators.demo", "run the demo fleet with collector and dashboard / 一键演示"),
}


def _usage() -> str:
    lines = ["usage: qingliu <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"qingliu: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = import_module(SUBCOMMANDS[name][0])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":
    raise SystemExit(main())
