"""Notification payloads, DingTalk signing and delivery back-off: pure builders, the caller does the HTTP."""

from collector.notify.payloads import (
    dingtalk_markdown,
    headline,
    local_time,
    markdown_text,
    plain_text,
    webhook_payload,
    wecom_markdown,
    wecom_text,
)
from collector.notify.retry import Backoff, Outcome, classify_response
from collector.notify.signing import dingtalk_sign, dingtalk_signed_url

__all__ = [
    "Backoff",
    "Outcome",
    "classify_response",
    "dingtalk_markdown",
    "dingtalk_sign",
    "dingtalk_signed_url",
    "headline",
    "local_time",
    "markdown_text",
    "plain_text",
    "webhook_payload",
    "wecom_markdown",
    "wecom_text",
]
