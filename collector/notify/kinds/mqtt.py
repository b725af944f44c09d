"""``mqtt``: the webhook document published at QoS 1 on ``qingliu/v1/alerts/<station>`` through the
collector's own broker connection (no URL); retried until the broker acknowledges it."""

from __future__ import annotations

import json

from collector.alerts.model import Transition
from collector.notify.payloads import webhook_payload
from collector.notify.registry import Channel, register
from collector.notify.retry import Outcome
from collector.notify.target import TargetSpec
from protocols.topics import alert_topic


def deliver(spec: TargetSpec, transition: Transition, channel: Channel) -> Outcome:
    if channel.publish is None:
        return Outcome.RETRY
    payload = json.dumps(webhook_payload(transition, channel.tz), ensure_ascii=False).encode("utf-8")
    ok = channel.publish(alert_topic(transition.alert.station), payload, 1, spec.timeout_s)
    return Outcome.OK if ok else Outcome.RETRY


register("mqtt", deliver, needs_url=False)
