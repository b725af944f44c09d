"""Why a section has no class for a period (日预警, 周研判): never silent. Ice or dry river (the judgement's own
reason), manual sampling without a result, a station never heard, offline at some time of the period (its state
transitions), an analyser fault (a fault alert active during the period), or else no data received at all
or none of those received valid."""

from __future__ import annotations

from collections.abc import Sequence

from collector.alerts.model import Alert
from collector.assessing import SectionAssessment
from collector.assessment import JudgementStatus, Period
from collector.reports import texts
from collector.reports.alert_window import FAULT_TYPES, active_during
from collector.reports.document import Text
from collector.store.base import Store
from protocols import catalogue
from protocols.messages import StationState


def no_data_reason(
    store: Store,
    a: SectionAssessment,
    period: Period,
    alerts: Sequence[Alert],
    manual: Text = texts.MANUAL_NO_RESULT,
) -> Text:
    """Ice or dry river (the judgement's), manual sampling without a result, never heard, offline at some time
    of the period, analyser fault (a fault alert active during it), or else no data received / none valid."""
    j = a.judgement
    if j.status is JudgementStatus.NOT_MEASURED and j.not_measured is not None:
        return Text(j.not_measured.label_zh, j.not_measured.label_en)
    station = a.section.station
    if station is None:
        return manual
    initial, changes = store.transitions_between(station, period.start, period.end)
    if initial is None and not changes and store.last_reading_at(station) is None:
        return texts.NEVER_HEARD
    reasons: list[Text] = []
    states = ([initial.new] if initial is not None else []) + [t.new for t in changes]
    if StationState.OFFLINE in states:
        reasons.append(texts.OFFLINE)
    faults = [
        x
        for x in alerts
        if x.station == station and x.rule_type in FAULT_TYPES and active_during(x, period.start, period.end)
    ]
    if faults:
        subjects = sorted({x.param or x.subject for x in faults if x.param or x.subject})
        known = [catalogue.get(p) for p in subjects if catalogue.is_known(p)]
        names = [e.name_zh for e in known] + [p for p in subjects if not catalogue.is_known(p)]
        names_en = [e.name_en for e in known] + [p for p in subjects if not catalogue.is_known(p)]
        tail = f"（{'、'.join(names)}）" if names else ""
        tail_en = f" ({', '.join(names_en)})" if names else ""
        reasons.append(Text(texts.ANALYSER_FAULT.zh + tail, texts.ANALYSER_FAULT.en + tail_en))
    if not reasons:
        received = store.readings(station, start=period.start, end=period.end, limit=1)
        return texts.NO_VALID_DATA if received else texts.NO_DATA_RECEIVED
    return Text("；".join(r.zh for r in reasons), "; ".join(r.en for r in reasons))


__all__ = ["no_data_reason"]
