"""TOML documents validated by pydantic models: configs, analyser profiles, scenarios.

One place turns TOML syntax errors and validation errors into a ConfigError that names the file and each
wrong field in plain words (``devices[probe].port: must be a whole number, not 'five'``), so that every
file an operator writes fails the same readable way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from protocols.errors import ConfigError, FieldProblem

M = TypeVar("M", bound=BaseModel)
LocFilter = Callable[[list[str]], list[str]]
MAX_PROBLEMS = 8


def _plain(error: Mapping[str, Any]) -> str:
    """The problem in an operator's words, not pydantic's (which stay for kinds not listed)."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    shown = repr(given) if isinstance(given, str | int | float | bool) else type(given).__name__
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    messages = {
        "missing": "is required",
        "extra_forbidden": "is not a known setting (misspelt?)",
        "int_parsing": f"must be a whole number, not {shown}",
        "int_type": f"must be a whole number, not {shown}",
        "int_from_float": f"must be a whole number, not {shown}",
        "float_parsing": f"must be a number, not {shown}",
        "float_type": f"must be a number, not {shown}",
        "bool_parsing": f"must be true or false, not {shown}",
        "bool_type": f"must be true or false, not {shown}",
        "string_type": f"must be text in quotes, not {shown}",
        "greater_than": f"must be greater than {ctx.get('gt')}, not {shown}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}, not {shown}",
        "less_than": f"must be less than {ctx.get('lt')}, not {shown}",
        "less_than_equal": f"must be at most {ctx.get('le')}, not {shown}",
        "string_too_short": f"must have at least {ctx.get('min_length')} characters",
        "string_too_long": f"must have at most {ctx.get('max_length')} characters",
        "literal_error": f"must be one of {ctx.get('expected')}, not {shown}",
        "enum": f"must be one of {ctx.get('expected')}, not {shown}",
        "list_type": f"must be a list [...], not {shown}",
        "dict_type": f"must be a table, not {shown}",
        "model_type": f"must be a table, not {shown}",
        "string_pattern_mismatch": f"has the wrong form: {shown}",
    }
    return messages.get(kind, str(error["msg"]))


def _place(loc: Sequence[str | int], document: Any) -> str:
    """``devices[probe].port`` for list items that have a name or id, ``bus[1].port`` otherwise; a union's
    tag is left out."""
    out: list[str] = []
    node = document
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part not in node and i < len(loc) - 1:
            continue  # a union's tag (``bus[rs485-1].rtu.baudrate``): not a key the operator wrote
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            label = item.get("name") or item.get("id") if isinstance(item, dict) else None
            out[-1:] = [f"{out[-1] if out else ''}[{label if isinstance(label, str) and label else part}]"]
            node = item
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(out)


def describe_errors(exc: ValidationError, loc_filter: LocFilter | None = None, document: Any = None) -> str:
    """One indented line per problem, ``devices[probe].port: must be a whole number, not 'five'``, each
    problem once, at most MAX_PROBLEMS of them."""
    lines: list[str] = []
    for error in exc.errors():
        problem = (error.get("ctx") or {}).get("error")
        loc: list[str | int] = list(problem.loc if isinstance(problem, FieldProblem) else error["loc"])
        if loc_filter is not None:
            loc = list(loc_filter([str(p) for p in loc]))
            loc = [int(p) if isinstance(p, str) and p.isdigit() else p for p in loc]
        line = f"  {_place(loc, document) or '(root)'}: {_plain(error)}"
        if line not in lines:
            lines.append(line)
    shown = lines[:MAX_PROBLEMS]
    if len(lines) > MAX_PROBLEMS:
        shown.append(f"  (+{len(lines) - MAX_PROBLEMS} more)")
    return "\n".join(shown)


def parse_toml_model(
    model: type[M],
    text: str,
    *,
    source: str,
    what: str,
    loc_filter: LocFilter | None = None,
    context: Mapping[str, Any] | None = None,
) -> M:
    """Parse ``text`` as TOML and validate it as ``model``; ConfigError names ``source`` and the fields."""
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib descends recursively into nested arrays and inline tables
        raise ConfigError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None
    try:
        return model.model_validate(document, context=dict(context) if context else None)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: invalid {what}:\n{describe_errors(exc, loc_filter, document)}"
        ) from None


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
