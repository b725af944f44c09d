"""Bilingual words the daily warning and the weekly analysis share (one place, so the two say the same)."""

from __future__ import annotations

from collector.reports.document import Text

# An item's state against its section's target.
OVER = Text("超标", "over target")
WARNING = Text("预警", "at warning level")

# Why a section has no class for a day or week.
MANUAL_NO_RESULT = Text("人工采样，当日无监测结果", "manual sampling, no result this day")
MANUAL_NO_RESULT_WEEK = Text("人工采样，本周无监测结果", "manual sampling, no result this week")
NEVER_HEARD = Text("离线：站点从未上报", "offline: the station was never heard")
OFFLINE = Text("离线", "offline")
ANALYSER_FAULT = Text("分析仪故障", "analyser fault")
NO_DATA_RECEIVED = Text("未收到数据", "no data received")
NO_VALID_DATA = Text("收到的数据均无效", "no valid data among those received")

# Headroom for the rest of the month.
CANNOT = Text("本月无法达标", "cannot be met this month")
SETTLED_MET = Text("本月已无应测数据，月均值达标", "no more values expected; the month meets its target")
NO_HEADROOM_MANUAL = Text("人工采样，无排程，不计算余量", "manual sampling: no schedule, no headroom")
NO_HEADROOM_UNSCHEDULED = Text(
    "该项目不在站点排程内，无应测数，不计算余量",
    "not in the station's schedule: no values expected, no headroom",
)

# A class against an earlier period's.
BETTER = Text("好转", "better")
WORSE = Text("变差", "worse")
SAME = Text("持平", "unchanged")

# Trend arrows over the last days.
UP, DOWN, FLAT = "↑", "↓", "→"

__all__ = [
    "ANALYSER_FAULT",
    "BETTER",
    "CANNOT",
    "DOWN",
    "FLAT",
    "MANUAL_NO_RESULT",
    "MANUAL_NO_RESULT_WEEK",
    "NEVER_HEARD",
    "NO_DATA_RECEIVED",
    "NO_HEADROOM_MANUAL",
    "NO_HEADROOM_UNSCHEDULED",
    "NO_VALID_DATA",
    "OFFLINE",
    "OVER",
    "SAME",
    "SETTLED_MET",
    "UP",
    "WARNING",
    "WORSE",
]
