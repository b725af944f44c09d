"""``webhook``: the generic JSON document (``payloads.webhook_payload``) POSTed to any HTTP receiver; a 2xx
is delivered, 5xx / 429 / no answer retried, any other status final."""

from __future__ import annotations

from collector.alerts.model import Transition
from collector.notify.notice import Notice, notice_webhook
from collector.notify.payloads import webhook_payload
from collector.notify.registry import Channel, register
from collector.notify.retry import Outcome, classify_response
from collector.notify.target import TargetSpec


def deliver(spec: TargetSpec, transition: Transition, channel: Channel) -> Outcome:
    status, body = channel.post(spec.url, webhook_payload(transition, channel.tz), spec.timeout_s)
    return classify_response(status, body)


def deliver_notice(spec: TargetSpec, notice: Notice, channel: Channel) -> Outcome:
    status, body = channel.post(spec.url, notice_webhook(notice, channel.tz), spec.timeout_s)
    return classify_response(status, body)


register("webhook", deliver, notice=deliver_notice)
