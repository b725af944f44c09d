"""A hand-made Report for the renderers: every column kind, both emphasis marks, notes, the three chart kinds.

Its figures are chosen so each formatting rule shows: a concentration stored with fewer digits than its places
(1 → "1.00"), a tie that the bulletins round to even (1.265 at 2 places → "1.26"), a tiny value that keeps one
significant digit (0.004), a percentage (0.968 → "96.8%"), an int count, yes/no, a local time, an empty cell,
and a section name that would be markup if it were not escaped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from collector.reports.document import (
    Chart,
    ChartKind,
    Column,
    ColumnKind,
    Emphasis,
    Part,
    Report,
    ReportKind,
    Table,
    Text,
)

SCRIPT_NAME = "<script>alert(1)</script>桥"

SECTIONS = Table(
    key="sections",
    title_zh="断面水质",
    title_en="Section water quality",
    columns=(
        Column("section", "断面", "Section"),
        Column("river", "河流", "River"),
        Column("class", "水质类别", "Class", ColumnKind.CLASS),
        Column("target", "目标", "Target", ColumnKind.CLASS),
        Column("meets", "达标", "Meets target", ColumnKind.BOOL),
        Column("w21003", "氨氮", "NH3-N", ColumnKind.NUMBER, "mg/L", 2),
        Column("w21011", "总磷", "TP", ColumnKind.NUMBER, "mg/L", 3),
        Column("multiple", "超标倍数", "Exceedance multiple", ColumnKind.NUMBER, "", 2),
        Column("hours", "超标时长", "Hours over target", ColumnKind.NUMBER, "h"),
        Column("capture", "数据捕获率", "Data capture", ColumnKind.PERCENT, "", 1),
        Column("last", "最新数据", "Latest data", ColumnKind.TIME),
    ),
    rows=(
        (
            "河西村",
            "汾河",
            "II",
            "III",
            True,
            Decimal("1"),
            Decimal("0.052"),
            None,
            0,
            Decimal("0.968"),
            "2026-12-02T23:00:00+08:00",
        ),
        (
            "界河铺村",
            "滹沱河",
            "IV",
            "III",
            False,
            Decimal("1.265"),
            Decimal("0.125"),
            Decimal("0.27"),
            14,
            Decimal("0.875"),
            "2026-12-02T15:00:00+00:00",
        ),
        (
            "茨沟营桥",
            "青羊河",
            "劣V",
            "III",
            False,
            Decimal("2.51"),
            Decimal("0.004"),
            Decimal("1.51"),
            24,
            Decimal("1"),
            "2026-12-02",
        ),
        (SCRIPT_NAME, "汾河", None, "III", None, None, None, None, None, None, None),
    ),
    emphasis=(None, Emphasis.WARN, Emphasis.BAD, None),
    note=Text("超标倍数按目标类别限值计。", "Multiples against the target-class limit."),
)

COUNTIES = Table(
    key="county_ranking_by_cwqi_and_delta_cwqi",  # 37 characters: the sheet name is cut to 31
    title_zh="区县CWQI排名",
    title_en="County CWQI ranking",
    columns=(
        Column("rank", "排名", "Rank", ColumnKind.NUMBER),
        Column("county", "区县", "County"),
        Column("cwqi", "CWQI", "CWQI", ColumnKind.NUMBER, "", 2),
        Column("share", "I–III类比例", "Share I–III", ColumnKind.PERCENT, "%", 0),
    ),
    rows=(
        (1, "静乐", Decimal("3.42"), Decimal("1")),
        (2, "原平", Decimal("5.08"), Decimal("0.667")),
    ),
)

SECTION_MAP = Chart(
    key="map",
    kind=ChartKind.SECTION_MAP,
    title_zh="断面水质分布",
    title_en="Sections by class",
    data={
        "rivers": [
            {
                "id": "fen",
                "name_zh": "汾河",
                "name_en": "Fen",
                "sections": [
                    {
                        "id": "chuanhutun",
                        "name_zh": "川胡屯",
                        "name_en": "Chuanhutun",
                        "class": "II",
                        "target": "III",
                        "meets": True,
                        "status": "judged",
                    },
                    {
                        "id": "hexicun",
                        "name_zh": "河西村",
                        "class": "III",
                        "target": "III",
                        "meets": True,
                        "status": "judged",
                    },
                ],
            },
            {
                "id": "hutuo",
                "name_zh": "滹沱河",
                "name_en": "Hutuo",
                "sections": [
                    {
                        "id": "bifengcun",
                        "name_zh": "笔峰村",
                        "class": None,
                        "target": "III",
                        "meets": None,
                        "status": "not_measured",
                    },
                    {
                        "id": "boshuicun",
                        "name_zh": "泊水村",
                        "class": "IV",
                        "target": "III",
                        "meets": False,
                        "status": "judged",
                    },
                    {
                        "id": "jiehepucun",
                        "name_zh": "界河铺村",
                        "class": "劣V",
                        "target": "III",
                        "meets": False,
                        "status": "judged",
                    },
                    {
                        "id": "nanzhuang",
                        "name_zh": "南庄",
                        "class": None,
                        "target": "III",
                        "meets": None,
                        "status": "no_data",
                    },
                ],
            },
        ]
    },
)

TREND = Chart(
    key="trend_jiehepucun_w21003",
    kind=ChartKind.TREND,
    title_zh="界河铺村 氨氮 日均值",
    title_en="Jiehepucun NH3-N daily means",
    data={
        "section": "jiehepucun",
        "param": "w21003",
        "name_zh": "氨氮",
        "name_en": "NH3-N",
        "unit": "mg/L",
        "points": [
            ["2026-11-26", Decimal("0.62")],
            ["2026-11-27", Decimal("0.85")],
            ["2026-11-28", None],
            ["2026-11-29", Decimal("0.97")],
            ["2026-11-30", Decimal("1.12")],
            ["2026-12-01", Decimal("1.31")],
            ["2026-12-02", Decimal("1.27")],
        ],
        "limit": Decimal("1.0"),
        "warning": Decimal("0.80"),
    },
)

BARS = Chart(
    key="cwqi_bars",
    kind=ChartKind.BARS,
    title_zh="断面CWQI排名",
    title_en="Section CWQI ranking",
    data={
        "unit": "CWQI",
        "bars": [
            {"label_zh": "茨沟营桥", "label_en": "Cigouyingqiao", "value": Decimal("9.87"), "class": "劣V"},
            {"label_zh": "界河铺村", "label_en": "Jiehepucun", "value": Decimal("5.08"), "class": "IV"},
            {"label_zh": "河西村", "label_en": "", "value": Decimal("3.42"), "class": "II"},
            {"label_zh": SCRIPT_NAME, "label_en": "", "value": Decimal("4.10"), "class": None},
        ],
        "reference": {"value": Decimal("6.00"), "label_zh": "国家前50线", "label_en": "national top-50 line"},
    },
)


def make_report() -> Report:
    return Report(
        kind=ReportKind.DAILY,
        period="2026-12-02",
        first_day=date(2026, 12, 2),
        last_day=date(2026, 12, 2),
        issuer_zh="忻州市生态环境局",
        issuer_en="Xinzhou Ecology and Environment Bureau",
        issued=date(2026, 12, 3),
        made_at=datetime(2026, 12, 3, 0, 0, 5, tzinfo=UTC),
        cutoff=datetime(2026, 12, 3, 0, 0, tzinfo=UTC),  # 08:00 in Asia/Shanghai
        completeness=Decimal("0.952"),
        summary=(
            Text("21个断面中3个未达标。", "3 of 21 sections are off target."),
            Text("原平、繁峙须采取措施。", "Yuanping and Fanshi must act."),
        ),
        parts=(
            Part(
                "sections",
                "断面情况",
                "Sections",
                paragraphs=(Text("界河铺村氨氮超标0.27倍。", "NH3-N at Jiehepucun 0.27 times over."),),
                tables=(SECTIONS,),
                charts=(SECTION_MAP, TREND),
            ),
            Part("ranking", "排名", "Ranking", tables=(COUNTIES,), charts=(BARS,)),
        ),
        partial=False,
        notes=(
            Text("合成演示数据 · synthetic demo data", "synthetic demo data"),
            Text("迟到数据改变了本期数字。", "Late data changed these figures."),
        ),
        push=Text("日预警：3个断面未达标。", "Daily warning: 3 sections off target."),
        figures={"sections": 21, "off_target": 3},
    )


# How the tables read on the page and in the docx, worked out by hand from the rows above (zh, then en where it
# differs): places padded, 1.265 → 1.26 (half to even), 0.004 kept, fractions as percentages, times in Beijing time.
SECTIONS_HEADER_ZH = [
    "断面",
    "河流",
    "水质类别",
    "目标",
    "达标",
    "氨氮 (mg/L)",
    "总磷 (mg/L)",
    "超标倍数",
    "超标时长 (h)",
    "数据捕获率",
    "最新数据",
]
SECTIONS_HEADER_EN = [
    "Section",
    "River",
    "Class",
    "Target",
    "Meets target",
    "NH3-N (mg/L)",
    "TP (mg/L)",
    "Exceedance multiple",
    "Hours over target (h)",
    "Data capture",
    "Latest data",
]
SECTIONS_ZH = [
    ["河西村", "汾河", "II", "III", "是", "1.00", "0.052", "—", "0", "96.8%", "2026-12-02 23:00"],
    ["界河铺村", "滹沱河", "IV", "III", "否", "1.26", "0.125", "0.27", "14", "87.5%", "2026-12-02 23:00"],
    ["茨沟营桥", "青羊河", "劣V", "III", "否", "2.51", "0.004", "1.51", "24", "100.0%", "2026-12-02"],
    [SCRIPT_NAME, "汾河", "—", "III", "—", "—", "—", "—", "—", "—", "—"],
]
SECTIONS_EN_YES_NO = ["yes", "no", "no", "—"]
COUNTIES_HEADER_ZH = ["排名", "区县", "CWQI", "I–III类比例 (%)"]
COUNTIES_ZH = [["1", "静乐", "3.42", "100%"], ["2", "原平", "5.08", "67%"]]
COUNTIES_SHEET = "county_ranking_by_cwqi_and_delt"  # the key cut to 31 characters
