"""Notices (a report's summary, collector/notify/notice.py): their webhook, WeCom and DingTalk payloads, and
their delivery through the same workers as alerts to real local HTTP receivers: every target that takes them,
not a station-limited one, not an MQTT one."""

from __future__ import annotations

from datetime import UTC, datetime

from collector.notify.notice import Notice, notice_dingtalk, notice_markdown, notice_webhook, notice_wecom
from collector.notify.sender import Notifier, TargetSpec
from tests.collector.notify.http_sink import http_sink

AT = datetime(2026, 7, 2, 0, 0, 3, tzinfo=UTC)
NOTICE = Notice(
    kind="report",
    title_zh="水质日预警 2026-07-01",
    title_en="Daily water-quality warning 2026-07-01",
    text_zh="3 个断面超标。",
    text_en="3 sections off target.",
    at=AT,
    link="https://water.example.org/#/reports/daily/2026-07-01",
    subject={"kind": "daily", "period": "2026-07-01"},
)


def test_the_payloads_carry_both_languages_the_local_time_and_the_link() -> None:
    text = notice_markdown(NOTICE)
    assert text.splitlines() == [
        "### 水质日预警 2026-07-01",
        "**Daily water-quality warning 2026-07-01**",
        "",
        "3 个断面超标。",
        "",
        "3 sections off target.",
        "",
        "> 时间 Time：2026-07-02 08:00:03",
        "> [查看全文 Open](https://water.example.org/#/reports/daily/2026-07-01)",
    ]
    assert notice_wecom(NOTICE) == {"msgtype": "markdown", "markdown": {"content": text}}
    ding = notice_dingtalk(NOTICE)
    assert ding["markdown"] == {"title": "水质日预警 2026-07-01", "text": text}
    assert notice_webhook(NOTICE) == {
        "v": 1,
        "type": "report",
        "at": "2026-07-02T00:00:03Z",
        "at_local": "2026-07-02 08:00:03",
        "tz": "Asia/Shanghai",
        "title_zh": "水质日预警 2026-07-01",
        "title_en": "Daily water-quality warning 2026-07-01",
        "text_zh": "3 个断面超标。",
        "text_en": "3 sections off target.",
        "link": "https://water.example.org/#/reports/daily/2026-07-01",
        "report": {"kind": "daily", "period": "2026-07-01"},
    }
    bare = Notice("report", "t", "t", "a" * 5000, "b", AT)
    assert "查看全文" not in notice_markdown(bare)
    assert len(notice_wecom(bare)["markdown"]["content"].encode()) == 4096  # WeCom's limit


def test_a_notice_reaches_every_target_that_takes_it() -> None:
    with http_sink() as sink:
        specs = [
            TargetSpec("hook", "webhook", url=f"{sink.url}/hook"),
            TargetSpec("robot", "wecom", url=f"{sink.url}/wecom"),
            TargetSpec("ding", "dingtalk", url=f"{sink.url}/ding", secret="SEC"),
            TargetSpec("crew", "webhook", url=f"{sink.url}/crew", stations=frozenset({"hexicun"})),
            TargetSpec("bus", "mqtt"),
        ]
        notifier = Notifier(specs, publish=lambda *a: True)
        notifier.start()
        try:
            assert notifier.announce(NOTICE) == 3
            posts = sink.wait_for(3)
            assert notifier.wait_idle(5)
        finally:
            notifier.stop()
    by_path = {p["path"]: p for p in posts}
    assert sorted(by_path) == ["/ding", "/hook", "/wecom"]
    assert by_path["/hook"]["json"]["type"] == "report"
    assert by_path["/wecom"]["json"]["markdown"]["content"].startswith("### 水质日预警 2026-07-01")
    assert set(by_path["/ding"]["query"]) == {"timestamp", "sign"}  # signed as alerts are
    counts = notifier.snapshot()
    assert [counts[(name, "ok")] for name in ("hook", "robot", "ding", "crew", "bus")] == [1, 1, 1, 0, 0]
