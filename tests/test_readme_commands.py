"""The README's commands hold as written on a fresh clone (issue 18).

Every ``sh`` block's command is checked without running what it would start (a demo, a collector, a report over
a deployment's store): each ``qingliu …`` line is handed to the real CLI, whose argument parser must accept it
exactly as written (the command stops right after parsing); the scripts and files it names inside the repo must
exist; each ``python -m`` module must be importable. The cheapest one is also run for real.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import qingliu_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def sh_commands() -> list[list[str]]:
    """Each command of the README's ``sh`` blocks, as argv (comments dropped, ``a && b`` split)."""
    out: list[list[str]] = []
    for block in re.findall(r"^```sh\n(.*?)^```", README, flags=re.M | re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            command: list[str] = []
            for word in [*words, "&&"]:
                if word == "&&":
                    if command:
                        out.append(command)
                    command = []
                else:
                    command.append(word)
    return out


COMMANDS = sh_commands()
QINGLIU = [c for c in COMMANDS if Path(c[0]).name == "qingliu"]


class _Parsed(Exception):
    """Raised in place of running a command once its arguments parsed."""


@contextlib.contextmanager
def parse_only() -> Iterator[list[argparse.Namespace]]:
    parsed: list[argparse.Namespace] = []
    original = argparse.ArgumentParser.parse_args

    def stop_after_parsing(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        parsed.append(original(self, *args, **kwargs))  # a wrong option or value: SystemExit(2) here
        raise _Parsed

    argparse.ArgumentParser.parse_args = stop_after_parsing  # type: ignore[method-assign]
    try:
        yield parsed
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]


def test_the_readme_has_the_two_fresh_machine_commands() -> None:
    assert ["bash", "deploy/dev-setup.sh"] in COMMANDS
    assert [".venv/bin/qingliu", "demo"] in COMMANDS
    assert [".venv/bin/python", "-m", "pytest", "-q"] in COMMANDS
    assert len(QINGLIU) >= 15  # the blocks were found (a changed fence would otherwise pass everything)


@pytest.mark.parametrize("argv", QINGLIU, ids=[" ".join(c[1:4]) for c in QINGLIU])
def test_each_qingliu_command_parses_as_written(argv: list[str]) -> None:
    with parse_only() as parsed, pytest.raises(_Parsed):
        qingliu_cli.main(argv[1:])
    assert len(parsed) == 1


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_what_each_command_names_in_the_repo_exists(argv: list[str]) -> None:
    program = argv[0]
    if program.startswith((".venv/", "/")) or program == "qingliu":
        assert program in (".venv/bin/qingliu", ".venv/bin/python", "qingliu"), program
    else:
        assert program == "bash" and (ROOT / argv[1]).is_file(), argv
    for word in argv[1:]:
        if word.startswith(("deploy/", "docs/", "benchmarks/")):
            assert (ROOT / word).exists(), f"{' '.join(argv)}: {word} is not in the repo"
    if argv[1:2] == ["-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, argv


def test_each_benchmark_in_the_readme_is_a_module() -> None:
    named = set(re.findall(r"python -m (benchmarks\.\w+)", README))
    assert len(named) >= 5
    for module in sorted(named):
        assert importlib.util.find_spec(module) is not None, module


def test_a_readme_command_run_for_real() -> None:
    # `qingliu sim profiles` needs nothing but the checkout: run as the README gives it.
    got = subprocess.run(
        [sys.executable, "-m", "qingliu_cli", "sim", "profiles"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    assert len(got.stdout.splitlines()) >= 5
