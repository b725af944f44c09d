"""DingTalk group-robot signing: HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret, base64, URL-encoded.

The timestamp (milliseconds since the epoch) is an argument: the caller owns the clock. DingTalk rejects a
signature whose timestamp is more than an hour away from its own time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value, already URL-encoded (as DingTalk's own examples do with quote_plus)."""
    if not secret:
        raise ValueError("the DingTalk secret must not be empty")
    if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, int) or timestamp_ms < 0:
        raise ValueError(f"timestamp must be a non-negative integer of milliseconds, got {timestamp_ms!r}")
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int) -> str:
    """``webhook_url`` (…/robot/send?access_token=…) with ``timestamp`` and ``sign`` appended."""
    parts = urlsplit(webhook_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {webhook_url!r}")
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("timestamp", "sign")
    ]
    query = urlencode(kept)
    extra = f"timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, f"{query}&{extra}" if query else extra, ""))
