"""Is an analyser's clock telling the truth? Its result time against the agent's clock and its own past. Pure.

Only a NEW result time is judged (acquisition takes each result once). Three findings:

* ahead: the result is dated more than ``clock.analyser_ahead_s`` after the agent's now;
* behind: more than ``clock.analyser_behind_s`` before it;
* went back: earlier than the last result taken from this device. Still a new result — the analyser's
  clock was set back, or its RTC lost its battery — so it is taken, never swallowed as "seen already"
  (the collector keeps a same-key value that differs as a revision).

Each finding is reported as an ``analyser_clock`` event at most once per ``report_every_s`` per device and
kind (ahead/behind, went back); a device whose clock agrees again gets one info event. With
``clock.analyser_time = "restamp"`` a result from a clock that is off (ahead or behind) is stamped with the
agent's acquisition time; with "keep" it keeps the analyser's time. Values are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.config import ClockConfig


@dataclass(frozen=True)
class ClockFinding:
    device: str
    analyser_time: datetime
    agent_time: datetime
    skew_s: float  # analyser minus agent: positive = the analyser is ahead
    ahead: bool
    behind: bool
    went_back_s: float | None  # how far before the last result taken, when earlier than it
    last_taken: datetime | None

    @property
    def off(self) -> bool:
        return self.ahead or self.behind

    def note(self) -> str | None:
        """A short text for the device's status, or None when the clock looks right."""
        if self.ahead:
            return f"analyser clock {self.skew_s:.0f} s ahead of the agent"
        if self.behind:
            return f"analyser clock {-self.skew_s:.0f} s behind the agent"
        return None


class AnalyserClock:
    """Judges result times and paces the events about them, per device."""

    def __init__(self, config: ClockConfig) -> None:
        self.config = config
        self._reported: dict[tuple[str, str], datetime] = {}  # (device, kind) -> agent time of the event
        self._off: set[str] = set()  # devices whose clock was last found off

    def judge(
        self, device: str, analyser_time: datetime, agent_time: datetime, last_taken: datetime | None
    ) -> ClockFinding:
        skew = (analyser_time - agent_time).total_seconds()
        back = None
        if last_taken is not None and analyser_time < last_taken:
            back = (last_taken - analyser_time).total_seconds()
        return ClockFinding(
            device=device,
            analyser_time=analyser_time,
            agent_time=agent_time,
            skew_s=skew,
            ahead=skew > self.config.analyser_ahead_s,
            behind=-skew > self.config.analyser_behind_s,
            went_back_s=back,
            last_taken=last_taken,
        )

    def stamp(self, finding: ClockFinding) -> datetime:
        """The time the result's readings carry."""
        if finding.off and self.config.analyser_time == "restamp":
            return finding.agent_time
        return finding.analyser_time

    def due(self, finding: ClockFinding) -> list[str]:
        """The kinds of event to send now: "skew", "back", "ok" (the clock agrees again); rate-limited."""
        kinds = []
        if finding.off:
            self._off.add(finding.device)
            if self._take(finding, "skew"):
                kinds.append("skew")
        elif finding.device in self._off:
            self._off.discard(finding.device)
            self._reported.pop((finding.device, "skew"), None)
            kinds.append("ok")
        if finding.went_back_s is not None and self._take(finding, "back"):
            kinds.append("back")
        return kinds

    def _take(self, finding: ClockFinding, kind: str) -> bool:
        key = (finding.device, kind)
        last = self._reported.get(key)
        now = finding.agent_time
        if last is not None and abs((now - last).total_seconds()) < self.config.report_every_s:
            return False
        self._reported[key] = now
        return True
