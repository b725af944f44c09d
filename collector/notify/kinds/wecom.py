"""``wecom``: a WeCom (企业微信) group robot, sent markdown; its ``errcode`` decides as well as the status."""

from __future__ import annotations

from collector.alerts.model import Transition
from collector.notify.notice import Notice, notice_wecom
from collector.notify.payloads import wecom_markdown
from collector.notify.registry import Channel, register
from collector.notify.retry import Outcome, classify_response
from collector.notify.target import TargetSpec


def deliver(spec: TargetSpec, transition: Transition, channel: Channel) -> Outcome:
    status, body = channel.post(spec.url, wecom_markdown(transition, channel.tz), spec.timeout_s)
    return classify_response(status, body)


def deliver_notice(spec: TargetSpec, notice: Notice, channel: Channel) -> Outcome:
    status, body = channel.post(spec.url, notice_wecom(notice, channel.tz), spec.timeout_s)
    return classify_response(status, body)


register("wecom", deliver, notice=deliver_notice)
