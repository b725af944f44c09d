"""The registry of alert rule types, keyed by the ``type`` literal of their config model.

A rule type is its config model (a ``RuleBase`` subclass) and the hooks through which the engine feeds it
observations. Every hook is optional; the engine calls them in registration order:

* ``status(ctx, rules, status, memo)`` on each station status, also when no rule of the type applies (it may
  keep its bookkeeping in the station's memo), → checks;
* ``station_tick(ctx, rules, station, memo, now)`` and ``param_tick(ctx, rules, station, param, memo, now)``
  on each tick, per station and per (station, parameter) memo, → checks;
* ``reading(verdicts, rules, station, param)`` once per config and (station, parameter): a ``ReadingStep``
  that judges that parameter's readings (or None: nothing to do);
* ``incident(ctx, rule, station, memo)`` makes the type an incident kind (``AlertEngine.on_incident``): the
  bad check of ``memo``'s incidents; the model must be an ``IncidentRule``.

``rules`` are the enabled rules of the type that apply to the station. ``Rule`` validates a rule config
against whatever is registered when it is validated, so a rule type added by a module (or a test) needs no
edit to the engine or to any config model: one module that calls ``register``, imported once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Union

from pydantic import Field, PlainValidator, SerializeAsAny, TypeAdapter

from collector.alerts.check import Check, Context, ReadingStep, Verdicts
from collector.alerts.model import IncidentMemo, ParamMemo, StationMemo
from collector.alerts.rule import IncidentRule, RuleBase
from protocols.messages import Status

StatusHook = Callable[[Context, list[Any], Status, StationMemo], list[Check]]
StationTickHook = Callable[[Context, list[Any], str, StationMemo, datetime], list[Check]]
ParamTickHook = Callable[[Context, list[Any], str, str, ParamMemo, datetime], list[Check]]
ReadingHook = Callable[[Verdicts, list[Any], str, str], ReadingStep | None]
IncidentHook = Callable[[Context, Any, str, IncidentMemo], Check]


@dataclass(frozen=True, slots=True)
class RuleType:
    name: str
    model: type[RuleBase]
    status: StatusHook | None = None
    station_tick: StationTickHook | None = None
    param_tick: ParamTickHook | None = None
    reading: ReadingHook | None = None
    incident: IncidentHook | None = None
    defaults: tuple[RuleBase, ...] = ()  # the rules of this type in the default rule set


@dataclass(frozen=True, slots=True)
class Hooks:
    """The registered types that have each hook, with the hook, in registration order. A new object on each
    change, so the engine can tell that its cached plans are out of date."""

    status: tuple[tuple[RuleType, StatusHook], ...] = ()
    station_tick: tuple[tuple[RuleType, StationTickHook], ...] = ()
    param_tick: tuple[tuple[RuleType, ParamTickHook], ...] = ()
    reading: tuple[tuple[RuleType, ReadingHook], ...] = ()


_TYPES: dict[str, RuleType] = {}
_adapter: TypeAdapter[Any] | None = None  # the discriminated union of what is registered now
current = Hooks()  # read by the engine on every batch: an attribute, not a call


def _changed() -> None:
    global _adapter, current
    _adapter = None
    every = tuple(_TYPES.values())
    current = Hooks(
        status=tuple((e, e.status) for e in every if e.status is not None),
        station_tick=tuple((e, e.station_tick) for e in every if e.station_tick is not None),
        param_tick=tuple((e, e.param_tick) for e in every if e.param_tick is not None),
        reading=tuple((e, e.reading) for e in every if e.reading is not None),
    )


def type_name(model: type[RuleBase]) -> str:
    field = model.model_fields.get("type")
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{model.__name__} needs a `type: Literal[...]` field with its name as the default")
    return field.default


def register(
    model: type[RuleBase],
    *,
    status: StatusHook | None = None,
    station_tick: StationTickHook | None = None,
    param_tick: ParamTickHook | None = None,
    reading: ReadingHook | None = None,
    incident: IncidentHook | None = None,
    defaults: Sequence[RuleBase] = (),
) -> RuleType:
    """Register a rule type under its model's ``type`` literal; a name can be registered once."""
    name = type_name(model)
    if name in _TYPES:
        raise ValueError(f"alert rule type {name!r} is already registered")
    if incident is not None and not issubclass(model, IncidentRule):
        raise TypeError(f"{model.__name__}: an incident rule type's model must be an IncidentRule")
    entry = RuleType(name, model, status, station_tick, param_tick, reading, incident, tuple(defaults))
    _TYPES[name] = entry
    _changed()
    return entry


def unregister(name: str) -> None:
    """Forget a rule type (tests that register their own clean up with this)."""
    del _TYPES[name]
    _changed()


def get(name: str) -> RuleType | None:
    return _TYPES.get(name)


def types() -> list[RuleType]:
    """Every registered rule type, in registration order (the order the engine calls their hooks in)."""
    return list(_TYPES.values())


def default_rules() -> list[RuleBase]:
    return [rule for entry in _TYPES.values() for rule in entry.defaults]


def _union() -> TypeAdapter[Any]:
    global _adapter
    if _adapter is None:
        models = tuple(entry.model for entry in _TYPES.values())
        # Built at run time from what is registered (so not `A | B`); a union of one model is that model.
        union: Any = models[0]
        if len(models) > 1:
            union = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007
        _adapter = TypeAdapter(union)
    return _adapter


def validate_rule(value: Any) -> RuleBase:
    """A rule config (a mapping or a rule) as the registered model of its ``type``. Errors read as a
    discriminated union's do: ``rules.0.stale.open_after_s``, an unknown tag naming the known ones."""
    rule = _union().validate_python(value)
    assert isinstance(rule, RuleBase)
    return rule


# A rule of any registered type: validated against the registry, serialised with all of its own fields.
Rule = Annotated[SerializeAsAny[RuleBase], PlainValidator(validate_rule)]
