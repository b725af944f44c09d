"""A notice: a message for people that is not an alert transition, such as the daily warning's summary
(issue 13 item 7). It goes to the same ``[[notify]]`` targets through the same workers (retries, counts), to
every target not limited to some stations (a report is about the whole city); a kind delivers notices when it
registers a ``notice`` deliverer (webhook, wecom, dingtalk; not mqtt, whose topics are per station).

The payload builders are pure: a notice in, a JSON-ready dict out; times in UTC for machines and in
Asia/Shanghai for people, as for alerts (payloads.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collector.notify.payloads import DEFAULT_TZ, DINGTALK_MAX_BYTES, WECOM_MARKDOWN_MAX_BYTES, local_time

REPORT = "report"  # a product of the bureau's (collector/reports/)


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # what it is about: "report"
    title_zh: str
    title_en: str
    text_zh: str
    text_en: str
    at: datetime  # when it was made (aware)
    link: str = ""  # where a reader opens the whole of it ("" when the dashboard's address is not configured)
    subject: Mapping[str, Any] = field(
        default_factory=dict
    )  # machine fields: {"kind": "daily", "period": ...}

    @property
    def label(self) -> str:
        """For logs: ``report daily 2026-07-01``."""
        return " ".join([self.kind, *(str(v) for v in self.subject.values())])


def _fit(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode("utf-8", errors="ignore") + "…"


def notice_markdown(notice: Notice, tz: str = DEFAULT_TZ) -> str:
    lines = [f"### {notice.title_zh}", f"**{notice.title_en}**", "", notice.text_zh, "", notice.text_en, ""]
    lines.append(f"> 时间 Time：{local_time(notice.at, tz)}")
    if notice.link:
        lines.append(f"> [查看全文 Open]({notice.link})")
    return "\n".join(lines)


def notice_webhook(notice: Notice, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    return {
        "v": 1,
        "type": notice.kind,
        "at": notice.at.isoformat().replace("+00:00", "Z"),
        "at_local": local_time(notice.at, tz),
        "tz": tz,
        "title_zh": notice.title_zh,
        "title_en": notice.title_en,
        "text_zh": notice.text_zh,
        "text_en": notice.text_en,
        "link": notice.link or None,
        notice.kind: dict(notice.subject),
    }


def notice_wecom(notice: Notice, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    content = _fit(notice_markdown(notice, tz), WECOM_MARKDOWN_MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def notice_dingtalk(notice: Notice, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    return {
        "msgtype": "markdown",
        "markdown": {"title": notice.title_zh, "text": _fit(notice_markdown(notice, tz), DINGTALK_MAX_BYTES)},
        "at": {"atMobiles": [], "isAtAll": False},
    }


__all__ = ["REPORT", "Notice", "notice_dingtalk", "notice_markdown", "notice_webhook", "notice_wecom"]
