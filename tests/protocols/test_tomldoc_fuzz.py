"""The TOML loaders on hostile text: the model, or ConfigError naming the file; nothing else escapes.

Every loader goes through protocols.tomldoc.parse_toml_model: the agent and collector configs, the analyser
profiles and the simulator scenarios. Input: arbitrary text, and the shipped examples with a line's value
replaced by a hostile one (huge, infinite, negative, wrong type, deeply nested) or with bytes mutated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from agent.config import parse_config as parse_agent_config
from collector.config import parse_config as parse_collector_config
from protocols.errors import ConfigError
from protocols.profiles import parse_profile
from simulators.scenarios.schema import parse_scenario
from tests.fuzz_settings import Budget, budgets, check

REPO = Path(__file__).resolve().parents[2]
LOADERS: dict[str, tuple[Callable[..., Any], list[Path]]] = {
    "agent": (parse_agent_config, sorted((REPO / "deploy/examples").glob("agent*.toml"))),
    "collector": (parse_collector_config, [REPO / "deploy/examples/collector.toml"]),
    "profile": (parse_profile, sorted((REPO / "protocols/profiles").glob("*.toml"))),
    "scenario": (parse_scenario, sorted((REPO / "simulators/scenarios").glob("*.toml"))),
}
HOSTILE_VALUES = [
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-1",
    "0",
    "9" * 30,
    "-" + "9" * 30,
    "9223372036854775808",
    "1e308",
    "-1e308",
    "5e-324",
    "true",
    '""',
    '"' + "x" * 10_000 + '"',
    '"\\u0000"',
    '"../../etc/passwd"',
    "[]",
    "{}",
    "[1, 2, 3]",
    "{ a = 1 }",
    "[" * 2000 + "]" * 2000,
    "{a=" * 2000 + "1" + "}" * 2000,
    "1979-05-27T07:32:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "00:00:00",
    "1979-05-27",
]
VALUE_LINE = re.compile(r"^(\s*[A-Za-z0-9_.\"-]+\s*=\s*)(.+)$", re.MULTILINE)


def assert_model_or_config_error(parse: Callable[..., Any], text: str) -> None:
    try:
        parse(text, source="fuzz.toml")
    except ConfigError as exc:
        assert "fuzz.toml" in str(exc)


@st.composite
def mutated(draw: st.DrawFn, paths: list[Path]) -> str:
    text = draw(st.sampled_from(paths)).read_text(encoding="utf-8")
    lines = list(VALUE_LINE.finditer(text))
    for _ in range(draw(st.integers(1, 3))):
        if lines and draw(st.booleans()):
            match = draw(st.sampled_from(lines))
            value = draw(st.sampled_from(HOSTILE_VALUES) | st.integers().map(str) | st.floats().map(repr))
            text = text.replace(match.group(0), match.group(1) + value, 1)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=5)) + text[at + draw(st.integers(0, 5)) :]
    return text


@pytest.mark.parametrize("loader", sorted(LOADERS))
@budgets(100)
def test_arbitrary_text(loader: str, budget: Budget) -> None:
    parse = LOADERS[loader][0]
    check(lambda text: assert_model_or_config_error(parse, text), budget, st.text(max_size=300))


@pytest.mark.parametrize("loader", sorted(LOADERS))
@budgets(200)
def test_mutated_shipped_examples(loader: str, budget: Budget) -> None:
    parse, paths = LOADERS[loader]
    assert paths
    check(lambda text: assert_model_or_config_error(parse, text), budget, mutated(paths))


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_the_shipped_examples_load(loader: str) -> None:
    parse, paths = LOADERS[loader]
    for path in paths:
        parse(path.read_text(encoding="utf-8"), source=str(path))


@pytest.mark.parametrize(
    "nested", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b=" * 5000 + "1" + "}" * 5000]
)
def test_deep_nesting_is_a_config_error(nested: str) -> None:
    # tomllib raised RecursionError here before.
    for parse, _ in LOADERS.values():
        with pytest.raises(ConfigError, match="nested too deeply"):
            parse(nested, source="fuzz.toml")
