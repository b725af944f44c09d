"""TOML documents validated by msgspec Structs or pydantic models: configs, analyser profiles, scenarios.

One place turns TOML syntax errors and validation errors into a ConfigError that names the file and each
wrong field in plain words (``devices[probe].port: must be a whole number, not 'five'``), so that every
file an operator writes fails the same readable way.

Two engines: msgspec Structs for what a station loads (the agent's config, the analyser profiles, the shared
``[mqtt]`` and ``[log]`` sections), since pydantic alone would take ~13 MiB of a station's 30 (issue 17); pydantic
models for the collector's config and the simulators' scenarios. pydantic is imported only on the pydantic
path, so a station never loads it. msgspec stops at the first problem, so a Struct document reports one
problem at a time; a pydantic one reports up to MAX_PROBLEMS at once.

A msgspec section may sit inside a pydantic model (the collector's ``[mqtt]`` and ``[log]``) through
``Annotated[Section, StructField()]``: its problems are reported at their place in the whole document
(``mqtt.keepalive_s: must be at least 5, not 1``).
"""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, cast, get_args, get_origin

import msgspec

from protocols.errors import ConfigError, FieldProblem

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, ValidationError
    from pydantic_core import CoreSchema

M = TypeVar("M")
S = TypeVar("S", bound=msgspec.Struct)
LocFilter = Callable[[list[str]], list[str]]
Loc = list[str | int]
MAX_PROBLEMS = 8


def _shown(given: Any) -> str:
    return repr(given) if isinstance(given, str | int | float | bool) else type(given).__name__


def _one_of(values: Sequence[Any]) -> str:
    """``'5' or '3.1.1'``, ``'a', 'b' or 'c'``: the choices as pydantic words them."""
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _plain(error: Mapping[str, Any]) -> str:
    """The problem in an operator's words, not pydantic's (which stay for kinds not listed)."""
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    shown = _shown(given)
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
    problem once, at most MAX_PROBLEMS of them (a pydantic model's problems)."""
    lines: list[str] = []
    for error in exc.errors():
        problem = (error.get("ctx") or {}).get("error")
        loc: Loc = list(error["loc"])
        if isinstance(problem, FieldProblem):  # raised at a section: its loc is within the section
            loc += problem.loc
        line = f"  {_place(_filtered(loc, loc_filter), document) or '(root)'}: {_plain(error)}"
        if line not in lines:
            lines.append(line)
    shown = lines[:MAX_PROBLEMS]
    if len(lines) > MAX_PROBLEMS:
        shown.append(f"  (+{len(lines) - MAX_PROBLEMS} more)")
    return "\n".join(shown)


def _filtered(loc: Loc, loc_filter: LocFilter | None) -> Loc:
    if loc_filter is None:
        return loc
    return [int(p) if p.isdigit() else p for p in loc_filter([str(p) for p in loc])]


# msgspec's ValidationError is one line: ``Expected `int`, got `str` - at `$.devices[0].port` ``; a dict key's
# problem is ``... - at `key` in `$.status.bits` ``; a dict value's path has ``[...]`` for the key.
_AT = re.compile(r"(?s)(?P<what>.*) - at `(?P<path>[^`]*)`(?: in `(?P<outer>[^`]*)`)?")
_STEP = re.compile(r"\.(?P<field>[A-Za-z_]\w*)|\[(?P<index>\d+)\]|(?P<key>\[\.\.\.\])")
_TYPE = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_BOUND = re.compile(r"Expected `(?:int|float)` (?P<op>>=|>|<=|<) (?P<bound>\S+)")
_LENGTH = re.compile(r"Expected `(?P<kind>str|array|object)` of length (?P<op>>=|<=) (?P<n>\d+)")
_EXACT_LENGTH = re.compile(r"Expected `array` of length (?P<n>\d+), got (?P<got>\d+)")
_INVALID = re.compile(r"Invalid (?:enum )?value (?P<value>.*)")
_FIELD = re.compile(r"Object (?P<kind>contains unknown|missing required) field `(?P<name>[^`]+)`")
WANTED = {
    "int": "must be a whole number",
    "float": "must be a number",
    "str": "must be text in quotes",
    "bool": "must be true or false",
    "array": "must be a list [...]",
    "object": "must be a table",
}
BOUNDS = {">=": "at least", ">": "greater than", "<=": "at most", "<": "less than"}
MSGSPEC_NAMES = {"array": "list", "object": "dict", "null": "None"}


def convert(document: Any, model: type[S]) -> S:
    """``document`` (what tomllib gives) as the Struct ``model``, with TOML's types taken as they are: an
    integer where a number is expected is accepted, a float where a whole number is expected is not, nor a
    string where a number is; a table's keys may stand for whole numbers (``{ 3 = "D" }``)."""
    return msgspec.convert(document, model, strict=True, str_keys=True)


def _value_at(document: Any, loc: Sequence[str | int]) -> tuple[bool, Any]:
    node = document
    for part in loc:
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        if not (in_list or (isinstance(part, str) and isinstance(node, dict) and part in node)):
            return False, None
        node = node[part]
    return True, node


def _members(tp: Any) -> list[Any]:
    """The types a value of annotation ``tp`` may be, Annotated and None taken off."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is UnionType:
        return [m for arg in get_args(tp) for m in _members(arg)]
    return [] if tp is type(None) else [tp]


def _choices(model: type[Any], loc: Sequence[str | int | None]) -> list[Any] | None:
    """The allowed values at ``loc`` in ``model`` (a Literal, an enum, a tagged union's tags), in the order
    they are declared; None in ``loc`` stands for any key of a table."""
    nodes = _members(model)
    for part in loc:
        found: list[Any] = []
        for node in nodes:
            origin, args = get_origin(node), get_args(node)
            if isinstance(node, type) and issubclass(node, msgspec.Struct) and isinstance(part, str):
                if part == node.__struct_config__.tag_field:
                    structs = [n for n in nodes if isinstance(n, type) and issubclass(n, msgspec.Struct)]
                    return [n.__struct_config__.tag for n in structs if n.__struct_config__.tag is not None]
                found += [m for f in msgspec.structs.fields(node) if f.name == part for m in _members(f.type)]
            elif origin in (list, set, frozenset) and args:
                found += _members(args[0])
            elif origin is tuple and args and isinstance(part, int):
                found += _members(args[0] if args[-1] is Ellipsis else args[min(part, len(args) - 1)])
            elif origin is dict and len(args) == 2:
                found += _members(args[1])
        nodes = found
    values: list[Any] = []
    for node in nodes:
        if get_origin(node) is Literal:
            values += [v for v in get_args(node) if v not in values]
        elif isinstance(node, type) and issubclass(node, Enum):
            values += [member.value for member in node if member.value not in values]
    return values or None


def struct_problem(exc: msgspec.ValidationError, model: type[Any], document: Any) -> tuple[Loc, str]:
    """Where in ``document`` msgspec found its (first) problem, and that problem in an operator's words."""
    text = str(exc)
    match = _AT.fullmatch(text)
    what, path, outer = (match["what"], match["path"], match["outer"]) if match else (text, "$", None)
    key_problem = outer is not None  # a table's key is wrong: its value is not shown
    loc: Loc = []  # where the operator wrote it; it stops at a table whose wrong key msgspec does not name
    type_loc: list[str | int | None] = []  # where it is in the model: None for any key of a table
    named = True
    for step in _STEP.finditer(outer or path):
        part: str | int | None = step["field"] or (int(step["index"]) if step["index"] else None)
        if part is None and named:  # a table's value: named when the table has one key
            found, table = _value_at(document, loc)
            named = found and isinstance(table, dict) and len(table) == 1
            if named:
                loc.append(str(next(iter(table))))
            key_problem = key_problem or not named
        elif part is not None and named:
            loc.append(part)
        type_loc.append(part)
    cause = exc.__cause__
    if isinstance(cause, FieldProblem):  # a Struct's __post_init__ pointed at the field at fault
        return loc + list(cause.loc), str(cause)
    if isinstance(cause, ValueError | TypeError):
        return loc, str(cause)
    field = _FIELD.fullmatch(what)
    if field:
        missing = field["kind"] == "missing required"
        return [*loc, field["name"]], "is required" if missing else "is not a known setting (misspelt?)"
    found, given = (False, None) if key_problem else _value_at(document, loc)
    typed, invalid = _TYPE.fullmatch(what), _INVALID.fullmatch(what)
    got = f", not {_shown(given)}" if found else ""
    if typed and not found:
        got = f", not {MSGSPEC_NAMES.get(typed['got'], typed['got'])}"
    elif invalid and not found:
        got = f", not {invalid['value']}"
    phrase = _struct_phrase(what, typed, got, given if found else None, lambda: _choices(model, type_loc))
    return loc, f"each key {phrase}" if outer is not None else phrase


def _struct_phrase(
    what: str, typed: re.Match[str] | None, got: str, given: Any, choices: Callable[[], list[Any] | None]
) -> str:
    if typed or what.startswith(("Invalid enum value", "Invalid value")):
        allowed = choices()
        if allowed:
            return f"must be one of {_one_of(allowed)}{got}"
    if typed:
        wanted = [WANTED.get(w, f"must be {w}") for w in typed["want"].split(" | ") if w != "null"]
        return f"{' or '.join(wanted)}{got}"
    bound = _BOUND.fullmatch(what)
    if bound:
        return f"must be {BOUNDS[bound['op']]} {bound['bound']}{got}"
    length = _LENGTH.fullmatch(what)
    if length:
        unit = "characters" if length["kind"] == "str" else "items" if length["n"] != "1" else "item"
        return f"must have {'at least' if length['op'] == '>=' else 'at most'} {length['n']} {unit}"
    exact = _EXACT_LENGTH.fullmatch(what)
    if exact:
        return f"must be a list of {exact['n']} values, not {exact['got']}"
    if what.startswith("Expected `str` matching regex"):
        return f"has the wrong form: {_shown(given)}" if got else "has the wrong form"
    if what.startswith(("Invalid enum value", "Invalid value")):
        return f"is not an allowed value{got}"
    if what == "Number out of range":
        return f"is out of range{got}"
    return what


def describe_struct_error(
    exc: msgspec.ValidationError, model: type[Any], document: Any, loc_filter: LocFilter | None = None
) -> str:
    """The indented line of msgspec's problem, like describe_errors' (msgspec reports the first only)."""
    loc, phrase = struct_problem(exc, model, document)
    return f"  {_place(_filtered(loc, loc_filter), document) or '(root)'}: {phrase}"


class StructField:
    """``Annotated[Section, StructField()]``: a msgspec Struct section in a pydantic model (the collector's
    ``[mqtt]`` and ``[log]``). Validated by msgspec as a station validates it; a problem is a FieldProblem
    at its place in the section, so describe_errors shows ``mqtt.keepalive_s: must be at least 5, not 1``.
    Dumped with ``msgspec.to_builtins``."""

    def __get_pydantic_core_schema__(self, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        from pydantic_core import core_schema

        def validate(value: Any) -> Any:
            if isinstance(value, source):
                return value
            try:
                return convert(value, source)
            except msgspec.ValidationError as exc:
                loc, message = struct_problem(exc, source, value)
                raise FieldProblem(tuple(loc), message) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(msgspec.to_builtins)
        )


def _load(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib descends recursively into nested arrays and inline tables
        raise ConfigError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None


def parse_toml_model(
    model: type[M],
    text: str,
    *,
    source: str,
    what: str,
    loc_filter: LocFilter | None = None,
    context: Mapping[str, Any] | None = None,
) -> M:
    """Parse ``text`` as TOML and validate it as ``model`` (a msgspec Struct or a pydantic model);
    ConfigError names ``source`` and the field(s). ``context`` is pydantic's validation context."""
    document = _load(text, source)
    if issubclass(model, msgspec.Struct):
        try:
            return cast(M, convert(document, model))
        except msgspec.ValidationError as exc:
            problem = describe_struct_error(exc, model, document, loc_filter)
            raise ConfigError(f"{source}: invalid {what}:\n{problem}") from None
    from pydantic import ValidationError  # the collector's and the simulators' documents only

    try:
        return cast(M, cast(Any, model).model_validate(document, context=dict(context) if context else None))
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


def _package_dir(package: str) -> Path:
    # The package's own directory, not importlib.resources: that brings tempfile, shutil, bz2 and lzma
    # (~1 MiB of a station's 30, issue 17) for packages that are always plain directories here (wheel or
    # editable install, never a zip).
    return Path(importlib.import_module(package).__file__ or ".").parent


def builtin_names(package: str) -> list[str]:
    """The names of the ``*.toml`` documents shipped in ``package``."""
    return sorted(
        p.name.removesuffix(".toml") for p in _package_dir(package).iterdir() if p.suffix == ".toml"
    )


def load_builtin_or_file(package: str, name_or_path: str, *, what: str) -> tuple[str, str]:
    """(text, source) of a document shipped in ``package`` by name, or of a ``.toml`` file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return read_text(path, what=what), str(path)
    resource = _package_dir(package) / f"{name_or_path}.toml"
    if not resource.is_file():
        known = ", ".join(builtin_names(package))
        raise ConfigError(f"unknown {what} {name_or_path!r}; built-in: {known}")
    return resource.read_text(encoding="utf-8"), f"{what} {name_or_path}"
