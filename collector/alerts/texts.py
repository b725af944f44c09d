"""Every bilingual alert text in one place: titles and messages keyed by rule type (and condition), short
phrases they are assembled from, and how they print values and durations.

``render(key, **fields)`` fills the four templates of ``key`` (title and message, Chinese and English) with
``str.format``; a field that differs by language comes in twice, ``name_zh`` and ``name_en``. ``define`` adds
the texts of a rule type that lives outside this package.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from collector.assessment.rounding import round_param
from protocols import catalogue


class Texts(NamedTuple):
    """In ``Check``'s field order, so ``Check(rule, station, subject, True, at, *texts)`` reads naturally."""

    title_zh: str
    title_en: str
    message_zh: str
    message_en: str


TEMPLATES: dict[str, Texts] = {
    "offline": Texts(
        "站点离线",
        "Station offline",
        "{label} {reason_zh}已 {span_zh}",
        "{label_en} {reason_en} for {span_en}",
    ),
    "device_down": Texts(
        "设备 {device} {flag_zh}",
        "Device {device}: {flag_en}",
        "{label} 设备 {device} {flag_zh}{error_zh}",
        "{label_en} device {device}: {flag_en}{error_en}",
    ),
    "stale": Texts(
        "{name_zh}数据中断",
        "{name_en} data stale",
        "{label} {name_zh} {age_zh}无新数据（应每 {every_zh}）",
        "{label_en} {name_en}: no new value for {age_en} (expected every {every_en})",
    ),
    "calibration_overdue": Texts(
        "{name_zh}校准逾期",
        "{name_en} calibration overdue",
        "{label} {name_zh} 已 {age_zh} 未校准/核查",
        "{label_en} {name_en}: no calibration or check for {age_en}",
    ),
    "fault_flag": Texts(
        "{name_zh}分析仪{flag_zh}",
        "{name_en} analyser: {flag_en}",
        "{label} {name_zh}数据标识为 {flag}（{flag_zh}）",
        "{label_en} {name_en} values flagged {flag} ({flag_en})",
    ),
    "exceedance": Texts(
        "{name_zh}超标（{class_zh}）",
        "{name_en} exceeds target ({class_en})",
        "{label} {name_zh} {value} {unit}，{class_zh}，目标{target_zh}{times_zh}",
        "{label_en} {name_en} {value} {unit}: {class_en}, target {target_en}{times_en}",
    ),
    "outfall_limit": Texts(
        "{name_zh}超排放限值",
        "{name_en} over the discharge limit",
        "{label} {name_zh} {value}，{limit_zh}（{standard}）{times_zh}",
        "{label_en} {name_en} {value}: {limit_en} ({standard}){times_en}",
    ),
    "sudden_rise": Texts(
        "{name_zh}突升",
        "{name_en} sudden rise",
        "{label} {name_zh} 由 {start} 升至 {value} {unit}，每小时 {rate:.3g}（阈值 {limit:g}）",
        "{label_en} {name_en} rose from {start} to {value} {unit}: {rate:.3g} per hour (threshold {limit:g})",
    ),
    "backlog": Texts(
        "待发数据积压增长",
        "Unsent backlog growing",
        "{label} 待发数据 {backlog} 条，仍在增长",
        "{label_en} has {backlog} unsent readings and rising",
    ),
    "dropped": Texts(
        "站端数据被丢弃",
        "Readings dropped at the station",
        "{label} 因磁盘配额丢弃 {lost} 条数据（累计 {total}）",
        "{label_en} dropped {lost} readings to its disk quota ({total} in all)",
    ),
    "clock_skew": Texts(
        "站点时钟偏差",
        "Station clock skew",
        "{label} 时钟偏差 {offset:+.1f} 秒（阈值 {limit:g} 秒）",
        "{label_en} clock off by {offset:+.1f} s (threshold {limit:g} s)",
    ),
    "controller.no_water": Texts(
        "站房无水（结冰/断流）",
        "No sample water (ice or dry river)",
        "{label} 采水无水，可能结冰或断流",
        "{label_en} has no sample water: ice or a dry river",
    ),
    "controller.mains_lost": Texts(
        "站房市电中断",
        "Mains power lost",
        "{label} 市电中断，由电池供电",
        "{label_en} lost mains power and runs on battery",
    ),
    "dead_letters": Texts(
        "站点消息被隔离",
        "Messages quarantined",
        "{label} 有 {n} 条消息无法校验或入库，已隔离（{reasons}）",
        "{label_en}: {n} message(s) could not be validated or stored and were quarantined ({reasons})",
    ),
    "revisions": Texts(
        "同一时刻数据出现不同值",
        "Readings revised",
        "{label} 有 {n} 条已入库数据以不同的值或标识再次到达（保留首值，另存修订）",
        "{label_en}: {n} stored reading(s) arrived again with another value or flag "
        "(the first is kept, the new one saved as a revision)",
    ),
    "inbox_write": Texts(
        "采集中心收件箱写入失败",
        "Collector inbox cannot be written",
        "采集中心收件箱写入失败 {n} 次（磁盘满或 I/O 错误），消息暂不确认",
        "The collector's inbox failed {n} write(s) (disk full or I/O error): messages stay unacknowledged",
    ),
}

# Pieces of the texts above, (Chinese, English), also str.format templates.
PHRASES: dict[str, tuple[str, str]] = {
    "offline.offline": ("离线", "offline"),
    "offline.silent": ("无消息", "silent"),
    "device_down.not_responding": ("通讯中断", "not responding"),
    "device_down.error": ("：{error}", ": {error}"),
    "exceedance.times": ("，超标 {multiple:.2f} 倍", ", {multiple:.2f} times over the limit"),
    # An outfall over its discharge limit (collector/alerts/rules/outfall.py).
    "outfall_limit.max": ("超过排放限值 {limit}", "over its discharge limit of {limit}"),
    "outfall_limit.min": ("低于排放限值下限 {limit}", "below its discharge limit's lower bound of {limit}"),
    "outfall_limit.times": ("，超标 {multiple:.2f} 倍", ", {multiple:.2f} times over the limit"),
    # Possible sources of a section's exceedance: the outfalls upstream (collector/alerts/sources.py).
    "sources.heading": ("可能来源（上游排口）", "Possible sources (outfalls upstream)"),
    "sources.none": ("上游无在线监测排口", "no monitored outfall upstream"),
    "sources.over": ("超标", "over the limit"),
    "sources.within": ("达标", "within limit"),
    # The item's worst valid value in the window (the highest, against an upper limit).
    "sources.item": (
        "{name_zh} {value}（限值 {limit}，{state_zh}）",
        "{name_en} {value} (limit {limit}, {state_en})",
    ),
    "sources.no_data": ("近 {window_zh}无有效数据", "no valid data in the last {window_en}"),
    "sources.outfall": ("{outfall_zh}：{items_zh}", "{outfall_en}: {items_en}"),
    "sources.message": ("；可能来源：{list_zh}", "; possible sources: {list_en}"),
    # Flood-season 24-hour supervision (collector/alerts/supervision.py): one phrase per part of the judgement.
    "supervision.heading": ("汛期24小时监管研判", "Flood-season 24-hour supervision"),
    "supervision.section": ("{section_zh}（{county_zh}{river_zh}）", "{section_en} ({county_en}{river_en})"),
    "supervision.class": (
        "{name_zh} {value} {unit}，{class_zh}（目标{target_zh}）",
        "{name_en} {value} {unit}: {class_en} (target {target_en})",
    ),
    "supervision.multiple": ("超目标类别限值 {multiple} 倍", "{multiple} times over the target-class limit"),
    "supervision.no_multiple": ("该项不计超标倍数", "no exceedance multiple for this item"),
    "supervision.duration": (
        "自首个超标值（{since}）起已持续{at_least_zh} {span_zh}，告警已开启 {open_zh}",
        "over target for{at_least_en} {span_en} since the first value over it ({since}); alert open {open_en}",
    ),
    "supervision.duration_unknown": ("无超标值记录", "no value over target on record"),
    "supervision.upstream": (
        "{up_zh}：{class_zh}，{name_zh} {value}（{item_zh}，{time}）{hint_zh}",
        "{up_en}: {class_en}, {name_en} {value} ({item_en}, {time}){hint_en}",
    ),
    "supervision.upstream_no_item": (
        "{up_zh}：{class_zh}，{name_zh}无有效值",
        "{up_en}: {class_en}, no valid {name_en} value",
    ),
    "supervision.upstream_over": (
        "，上游同项超标（来水影响）",
        "; over target upstream too (arriving from upstream)",
    ),
    "supervision.upstream_within": (
        "，上游同项达标（问题在本河段）",
        "; within target upstream (the cause lies in this reach)",
    ),
    "supervision.upstream_no_data": (
        "{up_zh}：无数据（{window_zh}内无有效值）",
        "{up_en}: no data (no valid value within {window_en})",
    ),
    "supervision.upstream_no_station": ("上游无自动监测站", "no station upstream"),
    "supervision.trend": (
        "{direction_zh}（近 {window_zh} {n} 个有效值，每小时 {rate} {unit}）",
        "{direction_en} ({n} valid values over the last {window_en}, {rate} {unit} per hour)",
    ),
    "supervision.trend_unknown": (
        "数据不足（近 {window_zh} 仅 {n} 个有效值）",
        "not enough data ({n} valid values over the last {window_en})",
    ),
    "supervision.validity": (
        "该项 {window_zh}内有效 {valid}/{total}（{share}）{flags_zh}；全站 {station_share}",
        "item valid {valid}/{total} in {window_en} ({share}){flags_en}; whole station {station_share}",
    ),
    "supervision.invalid_flags": ("，无效：{flags}", "; not valid: {flags}"),
    "supervision.label.section": ("断面", "Section"),
    "supervision.label.class": ("类别", "Class"),
    "supervision.label.multiple": ("超标倍数", "Multiple"),
    "supervision.label.duration": ("持续时间", "Duration"),
    "supervision.label.upstream": ("上游断面", "Upstream"),
    "supervision.label.trend": ("变化趋势", "Trend"),
    "supervision.label.validity": ("数据有效性", "Validity"),
}


def define(key: str, texts: Texts) -> None:
    """Add the texts of a rule type defined elsewhere; a key is defined once."""
    if key in TEMPLATES:
        raise ValueError(f"alert texts {key!r} are already defined")
    TEMPLATES[key] = texts


def render(key: str, **fields: Any) -> Texts:
    """``label_en`` is the station's English name (collector/names.py); texts defined without one get
    ``label``."""
    if "label" in fields:
        fields.setdefault("label_en", fields["label"])
    return Texts(*(template.format(**fields) for template in TEMPLATES[key]))


def phrase(key: str, **fields: Any) -> tuple[str, str]:
    zh, en = PHRASES[key]
    return zh.format(**fields), en.format(**fields)


def name(param: str) -> tuple[str, str, str]:
    """A parameter's Chinese and English names and its unit."""
    entry = catalogue.get(param)
    return entry.name_zh, entry.name_en, entry.unit


def names(param: str) -> dict[str, str]:
    """A parameter's names as ``render`` fields: ``name_zh``, ``name_en``, ``unit``."""
    zh, en, unit = name(param)
    return {"name_zh": zh, "name_en": en, "unit": unit}


def number(param: str, value: float | None) -> str:
    """A value as the bulletin prints it: the catalogue's decimals for that parameter, rounded half to even
    (GB/T 8170, collector/assessment/rounding.py)."""
    if value is None:
        return "—"
    return str(round_param(param, value))


def amount(param: str, value: float | None) -> str:
    """A value rounded as the bulletin prints it, with its unit: ``57.6 mg/L``; ``7.12`` for pH."""
    unit = catalogue.get(param).unit
    text = number(param, value)
    return f"{text} {unit}" if unit and value is not None else text


def duration(seconds: float) -> tuple[str, str]:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} 小时", f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} 分钟", f"{seconds / 60:.0f} min"
