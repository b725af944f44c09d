"""Notification of alert transitions: payloads, DingTalk signing and delivery back-off (pure builders), the
notifier kinds (``registry``, one module per kind under ``kinds/``, registered on import) and the sender.
"""

from collector.notify import kinds  # registers the built-in notifier kinds
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
    "kinds",
    "local_time",
    "markdown_text",
    "plain_text",
    "webhook_payload",
    "wecom_markdown",
    "wecom_text",
]
