"""Notification payloads (webhook, WeCom, DingTalk), DingTalk signing and the retry schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from collector.alerts import Alert, Transition, TransitionKind
from collector.notify import (
    Backoff,
    Outcome,
    classify_response,
    dingtalk_markdown,
    dingtalk_sign,
    dingtalk_signed_url,
    local_time,
    webhook_payload,
    wecom_markdown,
    wecom_text,
)
from protocols.messages import Severity

SECRET = "SEC0123456789abcdef"
T = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)  # 08:30 in Asia/Shanghai


def _transition(
    kind: TransitionKind = TransitionKind.OPENED, message_zh: str = "hexicun 氨氮 1.6 mg/L，Ⅳ类"
) -> Transition:
    alert = Alert(
        id="hexicun|exc|w21003|20260715T003000Z",
        station="hexicun",
        rule="exc",
        rule_type="exceedance",
        subject="w21003",
        param="w21003",
        severity=Severity.CRITICAL,
        opened_at=T,
        last_bad_at=T,
        value=1.6,
        title_zh="氨氮超标（Ⅳ类）",
        title_en="ammonia nitrogen exceeds target (Class IV)",
        message_zh=message_zh,
        message_en="hexicun ammonia nitrogen 1.6 mg/L: Class IV",
    )
    return Transition(kind=kind, at=T, alert=alert)


# Computed outside Python with: printf '%s\n%s' TS SECRET | openssl dgst -sha256 -hmac SECRET -binary | base64
@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1700000000000, "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"),
        (1700000000001, "h9I8htdbvJCasKF0f8Gu%2Ba2Cr5fjl9T%2Bpzb6hx3n%2BpE%3D"),
        (1732752000000, "oFXXT0XHybieueaZEblJmaVaqLs0D0pWnZQy7DfGliw%3D"),
    ],
)
def test_dingtalk_sign_known_values(timestamp: int, expected: str) -> None:
    assert dingtalk_sign(SECRET, timestamp) == expected


def test_dingtalk_signed_url() -> None:
    url = dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, 1700000000001)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/robot/send"
    assert query == {
        "access_token": ["abc"],
        "timestamp": ["1700000000001"],
        "sign": ["h9I8htdbvJCasKF0f8Gu+a2Cr5fjl9T+pzb6hx3n+pE="],
    }
    # Signing again replaces the old timestamp and sign instead of piling them up.
    again = dingtalk_signed_url(url, SECRET, 1700000000000)
    assert parse_qs(urlsplit(again).query)["timestamp"] == ["1700000000000"]


@pytest.mark.parametrize(
    ("secret", "timestamp", "message"),
    [("", 1, "secret"), (SECRET, -1, "timestamp"), (SECRET, 1.5, "timestamp")],
)
def test_dingtalk_sign_bad_input(secret: str, timestamp: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dingtalk_sign(secret, timestamp)
    with pytest.raises(ValueError, match="URL"):
        dingtalk_signed_url("ftp://x/y", SECRET, 1)


def test_local_time_is_shanghai() -> None:
    assert local_time(T) == "2026-07-15 08:30:00"
    with pytest.raises(ValueError, match="time zone"):
        local_time(datetime(2026, 1, 1))


def test_webhook_payload() -> None:
    payload = webhook_payload(_transition())
    json.dumps(payload)  # JSON-ready
    assert payload["event"] == "opened" and payload["at"] == "2026-07-15T00:30:00Z"
    assert payload["at_local"] == "2026-07-15 08:30:00" and payload["tz"] == "Asia/Shanghai"
    assert payload["alert"]["severity"] == "critical" and payload["alert"]["param"] == "w21003"
    assert payload["title_zh"] == "【告警】hexicun 氨氮超标（Ⅳ类）"


def test_wecom_markdown_and_text() -> None:
    md = wecom_markdown(_transition())
    assert set(md) == {"msgtype", "markdown"} and md["msgtype"] == "markdown"
    content = md["markdown"]["content"]
    assert '<font color="warning">【告警】hexicun 氨氮超标（Ⅳ类）</font>' in content
    assert "2026-07-15 08:30:00（北京时间）" in content and "Class IV" in content
    resolved = wecom_markdown(_transition(TransitionKind.RESOLVED))["markdown"]["content"]
    assert '<font color="info">【已恢复】' in resolved
    text = wecom_text(_transition(), mentioned_mobiles=["13800000000"])
    assert text["msgtype"] == "text" and text["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert text["text"]["content"].startswith("【告警】hexicun")


def test_wecom_content_cut_to_byte_limit() -> None:
    long = wecom_markdown(_transition(message_zh="超" * 3000))["markdown"]["content"]
    assert len(long.encode("utf-8")) <= 4096 and long.endswith("…")
    short = wecom_text(_transition(message_zh="超" * 3000))["text"]["content"]
    assert len(short.encode("utf-8")) <= 2048


def test_dingtalk_markdown() -> None:
    payload = dingtalk_markdown(_transition(), at_mobiles=["13800000000"])
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "【告警】hexicun 氨氮超标（Ⅳ类）"
    assert payload["markdown"]["text"].startswith("### 【告警】")
    assert payload["markdown"]["text"].endswith("@13800000000")
    assert payload["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}


def test_backoff_schedule() -> None:
    b = Backoff(base_s=2, factor=2, cap_s=20, max_attempts=6, jitter=0.2)
    assert b.schedule() == [2, 4, 8, 16, 20]
    assert b.delay(6) is None
    assert b.delay(1, draw=0.0) == pytest.approx(1.6) and b.delay(1, draw=1.0) == pytest.approx(2.4)
    assert Backoff(max_attempts=1).schedule() == []
    for kwargs in ({"base_s": -1}, {"factor": 0.5}, {"max_attempts": 0}, {"jitter": 1.0}):
        with pytest.raises(ValueError):
            Backoff(**kwargs)
    with pytest.raises(ValueError, match="attempt"):
        b.delay(0)
    with pytest.raises(ValueError, match="draw"):
        b.delay(1, draw=2)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"errcode": 0, "errmsg": "ok"}, Outcome.OK),
        (200, {"errcode": 45009}, Outcome.RETRY),
        (200, {"errcode": 130101}, Outcome.RETRY),
        (200, {"errcode": 310000, "errmsg": "sign not match"}, Outcome.FAIL),
        (204, None, Outcome.OK),
        (None, None, Outcome.RETRY),
        (429, None, Outcome.RETRY),
        (503, None, Outcome.RETRY),
        (404, None, Outcome.FAIL),
    ],
)
def test_classify_response(status: int | None, body: object, outcome: Outcome) -> None:
    assert classify_response(status, body) is outcome
