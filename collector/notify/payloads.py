"""Notification payloads for alert transitions: generic webhook JSON, WeCom and DingTalk group robots.

Pure: a transition in, a JSON-ready dict out. Times go out in UTC in the generic webhook (machines read it)
and in Asia/Shanghai in human messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from collector.alerts.model import Alert, Transition, TransitionKind
from protocols.messages import Severity

DEFAULT_TZ = "Asia/Shanghai"
WECOM_MARKDOWN_MAX_BYTES = 4096
WECOM_TEXT_MAX_BYTES = 2048
DINGTALK_MAX_BYTES = 20000

KIND_NAMES: dict[TransitionKind, tuple[str, str]] = {
    TransitionKind.OPENED: ("告警", "Alert"),
    TransitionKind.ESCALATED: ("告警升级", "Alert escalated"),
    TransitionKind.ACKNOWLEDGED: ("已确认", "Acknowledged"),
    TransitionKind.RESOLVED: ("已恢复", "Resolved"),
}
SEVERITY_NAMES: dict[Severity, tuple[str, str]] = {
    Severity.INFO: ("提示", "info"),
    Severity.WARNING: ("警告", "warning"),
    Severity.CRITICAL: ("严重", "critical"),
}


def local_time(t: datetime, tz: str = DEFAULT_TZ) -> str:
    """``2026-07-01 08:00:00`` in ``tz``; a naive time is refused rather than guessed."""
    if t.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def _tz_label(tz: str) -> str:
    return "北京时间" if tz == DEFAULT_TZ else tz


def headline(transition: Transition) -> tuple[str, str]:
    alert = transition.alert
    kzh, ken = KIND_NAMES[transition.kind]
    return f"【{kzh}】{alert.station} {alert.title_zh}", f"[{ken}] {alert.station} {alert.title_en}"


# The flood-season judgement an exceedance alert carries (collector/supervising.py), printed in the message of
# the transition that made it: opened or escalated.
SUPERVISION = "supervision"
_JUDGED = frozenset({TransitionKind.OPENED, TransitionKind.ESCALATED})


def supervision(transition: Transition) -> dict[str, Any] | None:
    """The flood-season judgement this transition's message carries, or None."""
    if transition.kind not in _JUDGED:
        return None
    found = transition.alert.detail.get(SUPERVISION)
    return found if isinstance(found, dict) else None


def _supervision_lines(transition: Transition) -> list[tuple[str, str]]:
    """The judgement's heading, one row per part of it in Chinese, then the whole of it in English (as 详情 /
    Detail)."""
    judged = supervision(transition)
    if judged is None:
        return []
    rows = [(f"{r['label_zh']} {r['label_en']}", str(r["zh"])) for r in judged.get("rows", [])]
    heading = (str(judged.get("heading_zh", "")), str(judged.get("heading_en", "")))
    return [heading, *rows, ("Judgement", str(judged.get("text_en", "")))]


def _lines(transition: Transition, tz: str) -> list[tuple[str, str]]:
    """(label, value) rows shared by the human formats."""
    alert = transition.alert
    szh, sen = SEVERITY_NAMES[alert.severity]
    rows = [
        ("站点 Station", alert.station),
        ("级别 Severity", f"{szh} {sen}"),
        ("时间 Time", f"{local_time(transition.at, tz)}（{_tz_label(tz)}）"),
        ("开始 Since", f"{local_time(alert.opened_at, tz)}"),
    ]
    if transition.kind is TransitionKind.ACKNOWLEDGED and alert.acknowledged_by:
        rows.append(("确认人 By", alert.acknowledged_by))
    rows.append(("详情", alert.message_zh))
    rows.append(("Detail", alert.message_en))
    rows += _supervision_lines(transition)
    return rows


def _fit(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` UTF-8 bytes on a character boundary (robots refuse longer content)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode("utf-8", errors="ignore") + "…"


def markdown_text(transition: Transition, tz: str = DEFAULT_TZ, *, wecom_colours: bool = False) -> str:
    zh, en = headline(transition)
    if wecom_colours:
        # WeCom markdown colours: warning = orange-red, info = green, comment = grey.
        colour = (
            "info"
            if transition.kind is TransitionKind.RESOLVED
            else ("warning" if transition.alert.severity is Severity.CRITICAL else "comment")
        )
        title = f'### <font color="{colour}">{zh}</font>'
    else:
        title = f"### {zh}"
    body = [title, f"**{en}**", ""]
    body += [f"> {label}：{value}" for label, value in _lines(transition, tz)]
    return "\n".join(body)


def plain_text(transition: Transition, tz: str = DEFAULT_TZ) -> str:
    zh, en = headline(transition)
    return "\n".join([zh, en, *(f"{label}：{value}" for label, value in _lines(transition, tz))])


def alert_document(alert: Alert) -> dict[str, Any]:
    return alert.model_dump(mode="json")


def webhook_payload(transition: Transition, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Generic JSON for any HTTP receiver: machine fields in UTC plus the human texts and local time."""
    zh, en = headline(transition)
    document = {
        "v": 1,
        "type": "alert_transition",
        "event": transition.kind.value,
        "at": transition.at.isoformat().replace("+00:00", "Z"),
        "at_local": local_time(transition.at, tz),
        "tz": tz,
        "title_zh": zh,
        "title_en": en,
        "alert": alert_document(transition.alert),
    }
    judged = supervision(transition)
    if judged is not None:  # the judgement this message carries (also kept in alert.detail)
        document[SUPERVISION] = judged
    return document


def wecom_markdown(transition: Transition, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    content = _fit(markdown_text(transition, tz, wecom_colours=True), WECOM_MARKDOWN_MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def wecom_text(
    transition: Transition, tz: str = DEFAULT_TZ, mentioned_mobiles: list[str] | None = None
) -> dict[str, Any]:
    text: dict[str, Any] = {"content": _fit(plain_text(transition, tz), WECOM_TEXT_MAX_BYTES)}
    if mentioned_mobiles:
        text["mentioned_mobile_list"] = list(mentioned_mobiles)
    return {"msgtype": "text", "text": text}


def dingtalk_markdown(
    transition: Transition, tz: str = DEFAULT_TZ, at_mobiles: list[str] | None = None, at_all: bool = False
) -> dict[str, Any]:
    zh, _ = headline(transition)
    text = markdown_text(transition, tz)
    if at_mobiles:
        # DingTalk only notifies the people whose numbers also appear in the text.
        text += "\n\n" + " ".join(f"@{m}" for m in at_mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {"title": zh, "text": _fit(text, DINGTALK_MAX_BYTES)},
        "at": {"atMobiles": list(at_mobiles or []), "isAtAll": at_all},
    }
