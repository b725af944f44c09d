"""An alert's last value as people read it, in each language: a parameter's value rounded to its decimals
with its unit (collector/alerts/texts.py, GB/T 8170), an age as a duration, a count as a whole number, a
clock offset in seconds. What the alerts view prints beside each alert (issue 18). Pure."""

from __future__ import annotations

from collector.alerts import texts

AGES = frozenset({"offline", "stale", "calibration_overdue"})  # the value is seconds since
COUNTS = frozenset({"backlog", "dropped", "dead_letters", "revisions", "inbox_write", "hj212_backlog"})


def value_texts(rule_type: str, param: str | None, value: float | None) -> tuple[str, str]:
    """(Chinese, English) text of ``value`` as the rule of ``rule_type`` measured it; "—" for none."""
    if value is None:
        return "—", "—"
    if rule_type in AGES:
        return texts.duration(value)
    if rule_type in COUNTS:
        return f"{value:.0f}", f"{value:.0f}"
    if rule_type == "clock_skew":
        return f"{value:+.1f} 秒", f"{value:+.1f} s"
    if param:
        try:
            _, _, unit = texts.name(param)
        except KeyError:  # a code outside the catalogue: as it came, shortened
            return f"{value:.4g}", f"{value:.4g}"
        shown = f"{texts.number(param, value)} {unit}".strip()
        return shown, shown
    return f"{value:.4g}", f"{value:.4g}"
