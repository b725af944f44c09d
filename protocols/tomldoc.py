"""TOML documents validated by pydantic models: configs, analyser profiles, scenarios.

One place turns TOML syntax errors and validation errors into a ConfigError that names the file and each
wrong field (``outbox.batch_max_readings: Input should be greater than or equal to 1``), so that every
file an operator writes fails the same readable way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from protocols.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
LocFilter = Callable[[list[str]], list[str]]
MAX_PROBLEMS = 8


def describe_errors(exc: ValidationError, loc_filter: LocFilter | None = None) -> str:
    """One indented line per problem, ``field.path: message``, at most MAX_PROBLEMS of them."""
    lines = []
    for error in exc.errors()[:MAX_PROBLEMS]:
        loc = [str(part) for part in error["loc"]]
        if loc_filter is not None:
            loc = loc_filter(loc)
        lines.append(f"  {'.'.join(loc) or '(root)'}: {error['msg']}")
    more = exc.error_count() - MAX_PROBLEMS
    if more > 0:
        lines.append(f"  (+{more} more)")
    return "\n".join(lines)


def parse_toml_model(
    model: type[M], text: str, *, source: str, what: str, loc_filter: LocFilter | None = None
) -> M:
    """Parse ``text`` as TOML and validate it as ``model``; ConfigError names ``source`` and the fields."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib descends recursively into nested arrays and inline tables
        raise ConfigError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid {what}:\n{describe_errors(exc, loc_filter)}") from None


def read_text(path: str | Path, *, what: str) -> str:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def builtin_names(package: str) -> list[str]:
    """The names of the ``*.toml`` documents shipped in ``package``."""
    return sorted(
        p.name.removesuffix(".toml") for p in resources.files(package).iterdir() if p.name.endswith(".toml")
    )


def load_builtin_or_file(package: str, name_or_path: str, *, what: str) -> tuple[str, str]:
    """(text, source) of a document shipped in ``package`` by name, or of a ``.toml`` file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return read_text(path, what=what), str(path)
    resource = resources.files(package) / f"{name_or_path}.toml"
    if not resource.is_file():
        known = ", ".join(builtin_names(package))
        raise ConfigError(f"unknown {what} {name_or_path!r}; built-in: {known}")
    return resource.read_text(encoding="utf-8"), f"{what} {name_or_path}"
