"""What the API accepts from a request, in one place: bounded query types and FastAPI dependencies.

Every input is checked before it reaches a store or date arithmetic, so a bad one is a 422 that says what
is wrong (or a 404 for an unknown station), never a 500:

- times carry a zone and lie within [EARLIEST, the service clock + AHEAD]; a range has ``from`` < ``to``
  and, where the endpoint says so, a maximum span;
- limits are integers within 1..the endpoint's maximum; parameter codes are in the catalogue; states and
  severities are closed sets; ids are short. (Free text with a lone surrogate, which no store can encode,
  is refused by pydantic itself; the app's 422 handler answers it in ASCII JSON.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import HTTPException, Path, Query
from pydantic import AfterValidator

from collector.config import StationConfig
from protocols import catalogue

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # nothing older exists: the network is younger
AHEAD = timedelta(days=366)  # a query may look a little into the future (a chart's right edge), not years
LATEST_EVER = datetime(2200, 1, 1, tzinfo=UTC)  # before the clock is known: keeps arithmetic in range
MAX_ID = 64  # alert, command and station ids are far shorter


def _time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone, e.g. 2026-07-01T00:00:00Z")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC time
        raise ValueError(f"must lie after {EARLIEST.isoformat()}") from None
    if not EARLIEST <= value <= LATEST_EVER:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST_EVER.isoformat()}")
    return value


def _param_code(value: str) -> str:
    if not catalogue.is_known(value):
        raise ValueError(f"unknown parameter code {value[:MAX_ID]!r} (see /api/parameters)")
    return value


Time = Annotated[datetime, AfterValidator(_time)]
"""An aware time within [EARLIEST, LATEST_EVER], in UTC."""
ParamCode = Annotated[
    str,
    AfterValidator(_param_code),
    Query(max_length=16, json_schema_extra={"enum": sorted(catalogue.PARAMETERS)}),
]
Limit = Annotated[int, Query(ge=1, le=10_000, description="at most this many, 1 to 10000")]
AlertState = Literal["open", "acknowledged", "resolved", "active"]
Severity = Literal["info", "warning", "critical"]
StationPath = Annotated[str, Path(min_length=1, max_length=MAX_ID)]
IdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID)]
StationQuery = Annotated[str, Query(max_length=MAX_ID)]
Reason = Annotated[str, Query(min_length=1, max_length=MAX_ID, pattern=r"^[a-z0-9_]+$")]


def unprocessable(message: str) -> HTTPException:
    return HTTPException(422, message)


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime | None
    end: datetime | None
    defaulted: bool = False  # ``start`` was not given: the endpoint's default span was used


class Inputs:
    """The dependencies that need the service: its clock (the future bound) and its stations (404)."""

    def __init__(self, clock: Callable[[], datetime], site: Callable[[str], StationConfig | None]) -> None:
        self._clock = clock
        self._site = site

    def latest(self) -> datetime:
        return self._clock().astimezone(UTC) + AHEAD

    def station(self, station_id: StationPath) -> StationConfig:
        """A station in the path: its config, or 404."""
        return self.known(station_id)

    def known(self, station_id: str) -> StationConfig:
        config = self._site(station_id)
        if config is None:
            raise HTTPException(404, f"unknown station {station_id[:MAX_ID]!r}")
        return config

    def station_filter(self, station: StationQuery | None = None) -> str | None:
        """An optional ``station`` filter: None, or a known station (404 otherwise)."""
        if station is None or station == "":
            return None
        self.known(station)
        return station

    def _check(self, name: str, value: datetime | None) -> None:
        if value is not None and value > self.latest():
            raise unprocessable(f"'{name}' must not lie after {self.latest().isoformat()}")

    def time_range(
        self, *, max_span: timedelta | None = None, default_span: timedelta | None = None
    ) -> Callable[..., TimeRange]:
        """A dependency for ``from`` and ``to``: in bounds, in order, at most ``max_span`` apart. With
        ``default_span``, a missing ``to`` is now and a missing ``from`` is ``to`` − ``default_span``."""

        def dependency(
            start: Annotated[
                Time | None, Query(alias="from", description="ISO 8601 time with a zone (inclusive)")
            ] = None,
            end: Annotated[
                Time | None, Query(alias="to", description="ISO 8601 time with a zone (exclusive)")
            ] = None,
        ) -> TimeRange:
            self._check("from", start)
            self._check("to", end)
            defaulted = start is None
            if default_span is not None:
                end = end or self._clock().astimezone(UTC)
                start = start or max(EARLIEST, end - default_span)
            if start is not None and end is not None:
                if start >= end:
                    raise unprocessable("'from' must be before 'to'")
                if max_span is not None and end - start > max_span:
                    raise unprocessable(f"the range may span at most {max_span.days} days")
            return TimeRange(start, end, defaulted)

        return dependency
