"""A notifier kind defined here, outside the notify package, registers without an edit to the sender or to
the config: a ``[[notify]]`` target of that kind is validated (its URL and secret rules included), and the
sender delivers to it with the same retries and counts as a built-in kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from collector.alerts import Alert, Transition, TransitionKind
from collector.config import parse_config
from collector.notify import Backoff, Outcome, registry
from collector.notify.registry import Channel
from collector.notify.sender import Notifier, TargetSpec, specs_from_config
from protocols.errors import ConfigError
from protocols.messages import Severity

T = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)
FAST = Backoff(base_s=0.01, factor=1.0, cap_s=0.01, max_attempts=3, jitter=0.0)


class Pager:
    """A made-up receiver that refuses the first attempt and takes the next (its outcomes are the test's)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def deliver(self, spec: TargetSpec, transition: Transition, channel: Channel) -> Outcome:
        self.calls.append((spec.name, transition.alert.id, channel.tz))
        return Outcome.RETRY if len(self.calls) == 1 else Outcome.OK


@pytest.fixture
def pager() -> Iterator[Pager]:
    made = Pager()
    registry.register("test_pager", made.deliver, needs_url=False)
    registry.register("test_signed_http", made.deliver, signed=True)
    yield made
    registry.unregister("test_pager")
    registry.unregister("test_signed_http")


def transition() -> Transition:
    alert = Alert(
        id="a1",
        station="hexicun",
        rule="exc",
        rule_type="exceedance",
        severity=Severity.WARNING,
        opened_at=T,
        last_bad_at=T,
        title_zh="氨氮超标",
        title_en="ammonia nitrogen exceeds target",
        message_zh="氨氮 1.6 mg/L",
        message_en="ammonia nitrogen 1.6 mg/L",
    )
    return Transition(kind=TransitionKind.OPENED, at=T, alert=alert)


def test_a_kind_defined_outside_is_configured_and_delivered_with_retries(pager: Pager) -> None:
    specs = specs_from_config(parse_config('[[notify]]\nkind = "test_pager"\nname = "duty"\n').notify)
    assert [(s.name, s.kind, s.url) for s in specs] == [("duty", "test_pager", "")]
    notifier = Notifier(specs, backoff=FAST, tz="UTC")
    notifier.start()
    try:
        notifier.submit([transition()])
        assert notifier.wait_idle(5.0)
    finally:
        notifier.stop(0.5)
    assert pager.calls == [("duty", "a1", "UTC"), ("duty", "a1", "UTC")]
    counts = notifier.snapshot()
    assert (counts[("duty", "retry")], counts[("duty", "ok")], counts[("duty", "failed")]) == (1, 1, 0)


def test_a_kind_states_whether_it_needs_a_url_and_takes_a_secret(pager: Pager) -> None:
    with pytest.raises(ConfigError, match=r"notify\[0\].*a test_signed_http target needs an http\(s\) URL"):
        parse_config('[[notify]]\nkind = "test_signed_http"\n')
    signed = '[[notify]]\nkind = "test_signed_http"\nurl = "https://pager.example/send"\nsecret = "S"\n'
    assert parse_config(signed).notify[0].secret == "S"
    with pytest.raises(
        ConfigError, match=r"notify\[0\].*only a dingtalk or test_signed_http target is signed"
    ):
        parse_config('[[notify]]\nkind = "test_pager"\nsecret = "S"\n')


def test_an_unregistered_kind_is_refused_by_the_config_and_the_sender() -> None:
    with pytest.raises(ConfigError, match=r"notify\[0\]\.kind"):
        parse_config('[[notify]]\nkind = "test_pager"\n')
    with pytest.raises(ValueError, match="unknown notifier kind 'test_pager'"):
        Notifier([TargetSpec("duty", "test_pager")])
    with pytest.raises(ValueError, match="already registered"):
        registry.register("webhook", lambda spec, transition, channel: Outcome.OK)
    assert registry.kinds()[:4] == ["dingtalk", "mqtt", "webhook", "wecom"]
