"""Station health maths: expected-value schedules (and which applies to each parameter), capture rates,
uptime. Pure: values in, values out."""

from collector.health.capture import (
    EXCLUDED_LABEL_EN,
    EXCLUDED_LABEL_ZH,
    CaptureFigures,
    capture_by_day,
    capture_rates,
    capture_streams,
    combine,
)
from collector.health.schedule import Schedule, schedules
from collector.health.uptime import UptimeFigures, uptime

__all__ = [
    "EXCLUDED_LABEL_EN",
    "EXCLUDED_LABEL_ZH",
    "CaptureFigures",
    "Schedule",
    "UptimeFigures",
    "capture_by_day",
    "capture_rates",
    "capture_streams",
    "combine",
    "schedules",
    "uptime",
]
