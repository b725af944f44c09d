"""A table cell and a column header as text, and a class cell's colours: shared by the page and the docx.

The xlsx stores numbers as numbers and only borrows the header, the colours and the number of places from here,
so the three formats show a figure with the same digits: a Decimal is shown with its column's ``places``,
rounded as the bulletins round (GB/T 8170, collector/assessment/rounding.py) should it carry more.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from collector.assessment.classes import DEFAULT_COLOURS, WaterClass, parse_class
from collector.assessment.periods import ZONE
from collector.assessment.rounding import round_value
from collector.reports.document import Cell, Column, ColumnKind, Text

LANGS = ("zh", "en")
EMPTY = "—"  # an empty cell: no data, not applicable

_YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}
# Text on a class fill: dark on the light yellow and orange, white on the rest.
_DARK_TEXT = {WaterClass.IV, WaterClass.V}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    return lang


def pick(text: Text, lang: str) -> str:
    """The text in ``lang``; the Chinese where the English was left empty."""
    return (text.en or text.zh) if lang == "en" else text.zh


def title(zh: str, en: str, lang: str) -> str:
    return pick(Text(zh, en), lang)


def header(column: Column, lang: str) -> str:
    """The column's title with its unit: "COD (mg/L)"."""
    name = title(column.title_zh, column.title_en, lang)
    return f"{name} ({column.unit})" if column.unit else name


def number(value: int | Decimal, places: int | None) -> Decimal:
    """``value`` with exactly ``places`` decimals (rounded half-even if it carries more); as stored if None."""
    d = Decimal(value)
    if places is None:
        return d
    rounded = round_value(d, places)
    exponent = rounded.as_tuple().exponent
    assert isinstance(exponent, int)
    # round_value keeps one significant digit of a tiny value (0.004 at 2 places): keep it, don't pad it away.
    return rounded if -exponent > places else rounded.quantize(Decimal(1).scaleb(-places))


def percent(value: int | Decimal, places: int | None) -> Decimal:
    """A fraction (0.968) as its percentage (96.8) with ``places`` decimals (1 if None)."""
    return number(Decimal(value) * 100, 1 if places is None else places)


def local_time(text: str) -> str:
    """An ISO 8601 time as "2026-12-02 08:00" in Asia/Shanghai; a date stays a date; other text as it is."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if "T" not in text and " " not in text:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZONE)
    return moment.strftime("%Y-%m-%d %H:%M")


def water_class(value: Cell) -> WaterClass | None:
    """The class a class cell names, or None (empty, or text that is not a class: "结冰")."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_class(value)
    except ValueError:
        return None


def class_fill(value: Cell) -> tuple[str, str] | None:
    """(background, text) CSS hex colours of a class cell, from the bulletin colours; None if not a class."""
    klass = water_class(value)
    if klass is None:
        return None
    return DEFAULT_COLOURS[klass], "#000000" if klass in _DARK_TEXT else "#ffffff"


def cell_text(value: Cell, column: Column, lang: str) -> str:
    """How a cell reads on the page and in the docx."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        yes, no = _YES_NO[lang]
        return yes if value else no
    if isinstance(value, int | Decimal):
        if column.kind is ColumnKind.PERCENT:
            return f"{percent(value, column.places)}%"
        return str(number(value, column.places))
    if column.kind is ColumnKind.TIME:
        return local_time(value)
    return value


def is_numeric(column: Column) -> bool:
    return column.kind in (ColumnKind.NUMBER, ColumnKind.PERCENT)


__all__ = [
    "EMPTY",
    "LANGS",
    "cell_text",
    "check_lang",
    "class_fill",
    "header",
    "is_numeric",
    "local_time",
    "number",
    "percent",
    "pick",
    "title",
    "water_class",
]
