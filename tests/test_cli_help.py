"""Every subcommand of `qingliu agent`, `qingliu collector` and `qingliu sim` says what it does, both in the
list (help=) and on its own --help page (description=): issue 18."""

from __future__ import annotations

import argparse

import pytest

from agent.cli import _parser as agent_parser
from collector.cli import _parser as collector_parser
from simulators.cli import _parser as sim_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize(
    "make", [agent_parser, collector_parser, sim_parser], ids=["agent", "collector", "sim"]
)
def test_every_subcommand_has_a_description(make: object) -> None:
    parser = make()  # type: ignore[operator]
    subs = _subcommands(parser)
    assert subs
    missing = sorted(name for name, p in subs.items() if not (p.description or "").strip())
    assert missing == [], f"{parser.prog}: no description for {missing}"
    for name, p in subs.items():
        shown = " ".join(p.format_help().split())  # as `qingliu ... NAME --help` prints it, unwrapped
        assert " ".join((p.description or "").split()) in shown, name


def test_the_named_ones_are_there() -> None:
    assert {"run", "check"} <= set(_subcommands(collector_parser()))
    assert {"station", "fleet", "ascii", "hj212-logger", "hj212-platform", "history"} <= set(
        _subcommands(sim_parser())
    )
