"""``dingtalk``: a DingTalk (钉钉) group robot, sent markdown; with a ``secret`` the URL is signed at each
attempt, since DingTalk refuses a timestamp an hour old."""

from __future__ import annotations

import time

from collector.alerts.model import Transition
from collector.notify.notice import Notice, notice_dingtalk
from collector.notify.payloads import dingtalk_markdown
from collector.notify.registry import Channel, register
from collector.notify.retry import Outcome, classify_response
from collector.notify.signing import dingtalk_signed_url
from collector.notify.target import TargetSpec


def deliver(spec: TargetSpec, transition: Transition, channel: Channel) -> Outcome:
    url = spec.url
    if spec.secret:
        url = dingtalk_signed_url(url, spec.secret, int(time.time() * 1000))
    status, body = channel.post(url, dingtalk_markdown(transition, channel.tz), spec.timeout_s)
    return classify_response(status, body)


def deliver_notice(spec: TargetSpec, notice: Notice, channel: Channel) -> Outcome:
    url = spec.url
    if spec.secret:
        url = dingtalk_signed_url(url, spec.secret, int(time.time() * 1000))
    status, body = channel.post(url, notice_dingtalk(notice, channel.tz), spec.timeout_s)
    return classify_response(status, body)


register("dingtalk", deliver, signed=True, notice=deliver_notice)
