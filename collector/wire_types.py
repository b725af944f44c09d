"""The wire contract's field rules as pydantic types, for the collector's pydantic models (config, alerts).

protocols.messages is msgspec (a station agent must not import pydantic, issue 17); each rule lives there
once, as a plain check, and is applied here by pydantic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from protocols.messages import check_station_id, utc

# Aware, converted to UTC; a naive or unrepresentable time is refused.
UtcDatetime = Annotated[datetime, AfterValidator(utc)]
# 1-32 lower-case ASCII letters, digits, '_' or '-', not a reserved word (protocols.topics.is_station_id).
StationId = Annotated[str, AfterValidator(check_station_id)]
