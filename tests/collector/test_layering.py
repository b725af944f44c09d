"""The package rules of docs/ARCHITECTURE.md, checked on the source with ``ast`` (every import, including those
inside functions and ``if TYPE_CHECKING`` blocks):

(a) only collector/api/ itself and the CLI (collector/cli.py) import collector.api: the HTTP layer sits on top
    of the service, never under it;
(b) agent never imports collector and collector never imports agent;
(c) protocols imports no package of ours but protocols;
(d) simulators import neither agent nor collector.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("agent", "collector", "protocols", "simulators", "tests", "benchmarks", "qingliu_cli")


def imported(path: Path) -> Iterator[tuple[int, str]]:
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return imports_of(path.read_text(encoding="utf-8"), package)


def imports_of(source: str, package: list[str]) -> Iterator[tuple[int, str]]:
    """(line, module) of each import in ``source``: ``from a.b import c`` yields a.b and a.b.c (c may be a
    module); a relative import is resolved against ``package`` (the file's package, as parts)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def offending(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in files
        for line, module in imported(path)
        if any(under(module, p) for p in forbidden)
    ]


def forbidden_lines(source: str, package: list[str], forbidden: tuple[str, ...]) -> list[int]:
    return [line for line, module in imports_of(source, package) if any(under(module, p) for p in forbidden)]


def test_the_source_is_there() -> None:
    """The rules below are not vacuous: the packages exist and their imports are seen."""
    for package in ("agent", "collector", "protocols", "simulators"):
        assert len(sources(package)) > 5, package
    assert any(under(m, "collector.api") for _, m in imported(ROOT / "collector" / "cli.py"))


def test_only_the_api_itself_and_the_cli_import_the_api() -> None:
    allowed = {ROOT / "collector" / "cli.py"}
    files = [
        p
        for package in ("agent", "collector", "protocols", "simulators")
        for p in sources(package)
        if p not in allowed and ROOT / "collector" / "api" not in p.parents
    ]
    files += [p for p in [ROOT / "qingliu_cli.py"] if p.exists()]
    assert offending(files, ("collector.api",)) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("agent", ("collector",)),
        ("collector", ("agent",)),
        ("protocols", tuple(p for p in OURS if p != "protocols")),
        ("simulators", ("agent", "collector")),
    ],
)
def test_package_rules(package: str, forbidden: tuple[str, ...]) -> None:
    assert offending(sources(package), forbidden) == []


def test_a_forbidden_import_is_seen() -> None:
    """The checker itself: each form of import is caught (so an empty list above means something)."""
    source = (
        "import collector.api.app\n"
        "from collector import api\n"
        "from .api import views\n"
        "def late():\n"
        "    from collector.api.health import station_health\n"
        "from collector import service\n"
        "import collectorx\n"
    )
    assert forbidden_lines(source, ["collector"], ("collector.api",)) == [1, 2, 3, 3, 5, 5]
    assert forbidden_lines("from ..agent import outbox\n", ["collector", "store"], ("agent",)) == []
    assert forbidden_lines("import agent.outbox\n", ["protocols"], ("agent",)) == [1]
