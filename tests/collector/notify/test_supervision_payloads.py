"""Every message format carries the flood-season judgement of an exceedance in its one message: the webhook
(and MQTT) document as figures and texts, WeCom and DingTalk markdown and plain text as one row per part in
Chinese and the whole of it in English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.alerts import Alert, Transition, TransitionKind
from collector.alerts.supervision import Place, Sample, Upstream, UpstreamState, detail, judge
from collector.assessment.classes import WaterClass
from collector.notify import dingtalk_markdown, webhook_payload, wecom_markdown, wecom_text
from collector.notify.payloads import WECOM_MARKDOWN_MAX_BYTES
from protocols.messages import Severity

TP = "w21011"
T = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
PLACE = Place("hexicun", "河西村", "Hexicun", "river", WaterClass.III, "静乐", "汾河", "Fen", "hexicun")
UP = Place("chuanhutun", "川胡屯", "Chuanhutun", "river", WaterClass.III, "宁武", "汾河", "Fen", "chuanhutun")


def judged() -> dict[str, object]:
    samples = {TP: [Sample(T - timedelta(hours=h), v, "N") for h, v in ((2, 0.1), (1, 0.25), (0, 0.31))]}
    return detail(judge(PLACE, TP, 0.31, T, T, samples, Upstream(UpstreamState.NO_DATA, UP)))


def transition(kind: TransitionKind = TransitionKind.OPENED) -> Transition:
    alert = Alert(
        id="hexicun|exceedance|w21011|20260715T020000Z",
        station="hexicun",
        rule="exceedance",
        rule_type="exceedance",
        subject=TP,
        param=TP,
        severity=Severity.WARNING,
        opened_at=T,
        last_bad_at=T,
        value=0.31,
        title_zh="总磷超标（Ⅴ类）",
        title_en="total phosphorus exceeds target (Class V)",
        message_zh="河西村 总磷 0.310 mg/L，Ⅴ类，目标Ⅲ类",
        message_en="河西村 total phosphorus 0.310 mg/L: Class V, target Class III",
        detail={"class": "V", "target": "III", "supervision": judged()},
    )
    return Transition(kind=kind, at=T, alert=alert)


EXPECTED_ZH = [
    "> 类别 Class：总磷 0.310 mg/L，Ⅴ类（目标Ⅲ类）",
    "> 超标倍数 Multiple：超目标类别限值 0.55 倍",
    "> 持续时间 Duration：自首个超标值（07-15 09:00:00）起已持续 1.0 小时，告警已开启 0 秒",
    "> 上游断面 Upstream：川胡屯：无数据（6 小时内无有效值）",
    "> 变化趋势 Trend：上升（近 3 小时 3 个有效值，每小时 +0.105 mg/L）",
    "> 数据有效性 Validity：该项 24 小时内有效 3/3（100.0%）；全站 100.0%",
]


@pytest.mark.parametrize("kind", [TransitionKind.OPENED, TransitionKind.ESCALATED])
def test_markdown_messages_carry_each_part_and_the_english(kind: TransitionKind) -> None:
    t = transition(kind)
    wecom = wecom_markdown(t)["markdown"]["content"]
    ding = dingtalk_markdown(t)["markdown"]["text"]
    for text in (wecom, ding):
        lines = text.splitlines()
        for line in EXPECTED_ZH:
            assert line in lines, (line, text)
        # Under the heading: the section, then each part in Chinese, then the whole in English.
        heading = lines.index("> 汛期24小时监管研判：Flood-season 24-hour supervision")
        assert lines[heading + 2 : heading + 2 + len(EXPECTED_ZH)] == EXPECTED_ZH
        english = lines[heading + 2 + len(EXPECTED_ZH)]
        assert english.startswith("> Judgement：Section: Hexicun")
        assert "Class: total phosphorus 0.310 mg/L: Class V (target Class III)" in english
        assert "Upstream: Chuanhutun: no data (no valid value within 6 h)" in english
        # The alert's own texts stay, above the judgement: one message, not two.
        assert lines.index("> 详情：河西村 总磷 0.310 mg/L，Ⅴ类，目标Ⅲ类") < lines.index(EXPECTED_ZH[0])
    assert len(wecom.encode()) <= WECOM_MARKDOWN_MAX_BYTES
    plain = wecom_text(t)["text"]["content"]
    assert "类别 Class：总磷 0.310 mg/L，Ⅴ类（目标Ⅲ类）" in plain.splitlines()


def test_the_webhook_document_carries_the_figures() -> None:
    document = webhook_payload(transition())
    said = document["supervision"]
    assert said == document["alert"]["detail"]["supervision"]
    # 0.1, 0.25, 0.31 an hour apart: slope (−1 × −0.12 + 1 × 0.09) / 2 = 0.105 per hour.
    assert (said["class"], said["multiple"], said["over_for_s"]) == ("V", 0.55, 3600.0)
    assert said["upstream"]["state"] == "no_data" and said["trend"]["direction"] == "rising"
    assert said["validity"]["share"] == 1.0


@pytest.mark.parametrize("kind", [TransitionKind.ACKNOWLEDGED, TransitionKind.RESOLVED])
def test_later_messages_of_the_alert_do_not_repeat_it(kind: TransitionKind) -> None:
    t = transition(kind)
    assert "supervision" not in webhook_payload(t)
    assert "超标倍数" not in wecom_markdown(t)["markdown"]["content"]
    assert "超标倍数" not in dingtalk_markdown(t)["markdown"]["text"]


def test_an_alert_without_a_judgement_reads_as_before() -> None:
    t = transition()
    t.alert.detail.pop("supervision")
    assert "supervision" not in webhook_payload(t)
    assert "超标倍数" not in wecom_markdown(t)["markdown"]["content"]
