"""Incident rules from the collector's own ingest (``AlertEngine.on_incident``): ``dead_letters`` (a station's
messages quarantined), ``revisions`` (stored readings re-sent with another value) and ``inbox_write`` (the
receiver cannot write its inbox; a collector-level alert under station ``_collector``).

An incident alert opens on the first incident of its kind and resolves after ``quiet_s`` without another; the
engine keeps the count and the detail (counts by reason add up), these build the texts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from collector.alerts import texts
from collector.alerts.check import Check, Context
from collector.alerts.model import IncidentMemo
from collector.alerts.registry import register
from collector.alerts.rule import IncidentRule
from protocols.messages import Severity


class DeadLettersRule(IncidentRule):
    """A station's messages were quarantined: the collector could not validate or store them."""

    type: Literal["dead_letters"] = "dead_letters"


class RevisionsRule(IncidentRule):
    """A station re-sent readings already stored with another value or flag (an analyser clock set back):
    the first value is kept and the new one saved as a revision."""

    type: Literal["revisions"] = "revisions"


class InboxWriteRule(IncidentRule):
    """The collector's receiver cannot write its inbox (disk full, I/O error): nothing is acknowledged, the
    broker keeps the messages. A collector-level alert (station ``_collector``)."""

    type: Literal["inbox_write"] = "inbox_write"
    severity: Severity = Severity.CRITICAL
    quiet_s: float = Field(default=300.0, gt=0)


def _check(key: str, rule: IncidentRule, station: str, memo: IncidentMemo, **fields: object) -> Check:
    said = texts.render(key, n=memo.count, **fields)
    detail = {"count": memo.count, "since": memo.first_at.isoformat(), **memo.detail}
    return Check(rule, station, "", True, memo.last_at, *said, value=float(memo.count), detail=detail)


def dead_letters(ctx: Context, rule: DeadLettersRule, station: str, memo: IncidentMemo) -> Check:
    reasons = ", ".join(f"{r} {c}" for r, c in sorted(memo.detail.items()) if isinstance(c, int))
    return _check("dead_letters", rule, station, memo, **ctx.labels(station), reasons=reasons)


def revisions(ctx: Context, rule: RevisionsRule, station: str, memo: IncidentMemo) -> Check:
    return _check("revisions", rule, station, memo, **ctx.labels(station))


def inbox_write(ctx: Context, rule: InboxWriteRule, station: str, memo: IncidentMemo) -> Check:
    return _check("inbox_write", rule, station, memo)


register(DeadLettersRule, incident=dead_letters, defaults=[DeadLettersRule(id="dead_letters")])
register(RevisionsRule, incident=revisions, defaults=[RevisionsRule(id="revisions")])
register(InboxWriteRule, incident=inbox_write, defaults=[InboxWriteRule(id="inbox_write")])
