"""A hand-computed month (March 2026) of readings for six sections, with every expected result worked out
by hand below, for the pure assessment test (test_month_fixture.py) and for replaying through the store on
SQLite and PostgreSQL.

Data, no logic: READINGS are (section id, parameter code, time ISO 8601 with offset, value, flag). Readings
of March 2025 (the same month a year earlier, for ΔCWQI) and of the 2025 flood season (July–September,
for the intensity) are in the same list: a judgement of March 2026 must leave them out, as it must leave out
the readings just before and just after the month. Expected figures are strings of the rounded Decimals.

Sections (river, level, county; water body river, target III, as STANDARDS.md §1 defaults):
- bifengcun 笔峰村, 滹沱河, provincial, 繁峙 — automatic; ties: DO 7.475 → 7.48, NH3-N 1.0005 → 1.000 (III not IV)
- boshuicun 泊水村, 滹沱河, provincial, 代县 — automatic; class V with three main pollutants, a T value, TN ignored
- jiehepucun 界河铺村, 滹沱河, provincial, 原平 — automatic; pH 9.30 → 劣V, pH the only main pollutant
- xiaruyue 下茹越, 滹沱河, national — one manual sample; class III
- nanzhuang 南庄, 滹沱河, national — one manual sample; 劣V, DO 1.80 (劣V) crowded out of the three main pollutants
- hexicun 河西村, 汾河, national — automatic, frozen all month (结冰): no class, no CWQI
Counties of xiaruyue and nanzhuang are configuration (STANDARDS.md §1); they count for the city only here.

Automatic sections are assumed to expect one value a day per item they report (31 in March): the
completeness figures below rest on EXPECTED_PER_ITEM; a store replay that derives expected counts from
station schedules computes its own completeness and should compare the other figures.
"""

from __future__ import annotations

MONTH = "2026-03"
LAST_YEAR_MONTH = "2025-03"
FLOOD_YEAR = "2025"
RUNNING_FLOOD_NOW = "2025-08-01T00:00:00+08:00"  # the 2025 season "so far" at this instant

PH, DO, CODMN, NH3N, TP, TN, TEMP = "w01001", "w01009", "w01019", "w21003", "w21011", "w21001", "w01010"

# id → (level, river, county or None, water body, target class)
SECTIONS: dict[str, tuple[str, str, str | None, str, str]] = {
    "bifengcun": ("provincial", "滹沱河", "繁峙", "river", "III"),
    "boshuicun": ("provincial", "滹沱河", "代县", "river", "III"),
    "jiehepucun": ("provincial", "滹沱河", "原平", "river", "III"),
    "xiaruyue": ("national", "滹沱河", None, "river", "III"),
    "nanzhuang": ("national", "滹沱河", None, "river", "III"),
    "hexicun": ("national", "汾河", "静乐", "river", "III"),
}
AUTOMATIC = ("bifengcun", "boshuicun", "jiehepucun", "hexicun")
EXPECTED_PER_ITEM = 31  # one value a day in March, for each item an automatic section reports
NOT_MEASURED = {"hexicun": "ice"}  # the month, recorded by the operator as 结冰
HUTUO_ORDER = ("bifengcun", "boshuicun", "jiehepucun")  # upstream → downstream (STANDARDS.md §1)


def _t(day: str, hm: str = "08:00") -> str:
    return f"{day}T{hm}:00+08:00"


READINGS: list[tuple[str, str, str, float, str]] = [
    # --- bifengcun, March 2026 ---------------------------------------------------------------------------
    ("bifengcun", PH, _t("2026-02-28", "23:30"), 5.00, "N"),  # 15:30 UTC on 28 Feb: before the month
    ("bifengcun", PH, _t("2026-03-01", "00:00"), 7.80, "N"),  # the month's first instant: inside
    ("bifengcun", PH, _t("2026-03-02"), 7.90, "N"),
    ("bifengcun", PH, _t("2026-03-03"), 8.00, "N"),
    ("bifengcun", PH, _t("2026-03-04"), 8.10, "N"),
    ("bifengcun", PH, _t("2026-03-05"), 9.90, "C"),  # calibration: not valid
    ("bifengcun", PH, _t("2026-04-01", "00:00"), 5.00, "N"),  # the month's end is exclusive
    ("bifengcun", DO, _t("2026-03-01"), 8.00, "N"),
    ("bifengcun", DO, _t("2026-03-02"), 7.00, "N"),
    ("bifengcun", DO, _t("2026-03-03"), 7.50, "N"),
    ("bifengcun", DO, _t("2026-03-04"), 7.40, "N"),
    ("bifengcun", CODMN, _t("2026-03-01"), 4.0, "N"),
    ("bifengcun", CODMN, _t("2026-03-08"), 5.0, "N"),
    ("bifengcun", CODMN, _t("2026-03-15"), 6.0, "N"),
    ("bifengcun", NH3N, _t("2026-03-01"), 1.001, "N"),
    ("bifengcun", NH3N, _t("2026-03-08"), 1.000, "N"),
    ("bifengcun", NH3N, _t("2026-03-15"), 5.000, "D"),  # analyser fault: not valid
    ("bifengcun", TP, _t("2026-03-01"), 0.150, "N"),
    ("bifengcun", TP, _t("2026-03-08"), 0.170, "N"),
    ("bifengcun", TP, _t("2026-03-15"), 0.160, "N"),
    ("bifengcun", TN, _t("2026-03-01"), 3.50, "N"),
    ("bifengcun", TN, _t("2026-03-08"), 4.50, "N"),
    ("bifengcun", TEMP, _t("2026-03-01"), 2.0, "N"),
    ("bifengcun", TEMP, _t("2026-03-08"), 4.0, "N"),
    # --- boshuicun, March 2026 ---------------------------------------------------------------------------
    ("boshuicun", PH, _t("2026-03-01"), 7.60, "N"),
    ("boshuicun", PH, _t("2026-03-02"), 7.40, "N"),
    ("boshuicun", DO, _t("2026-03-01"), 4.50, "N"),
    ("boshuicun", DO, _t("2026-03-02"), 5.50, "N"),
    ("boshuicun", DO, _t("2026-03-03"), 3.50, "N"),
    ("boshuicun", CODMN, _t("2026-03-01"), 8.0, "N"),
    ("boshuicun", CODMN, _t("2026-03-08"), 9.0, "N"),
    ("boshuicun", NH3N, _t("2026-03-01"), 1.600, "N"),
    ("boshuicun", NH3N, _t("2026-03-08"), 1.800, "T"),  # over the analyser's range: still valid
    ("boshuicun", NH3N, _t("2026-03-15"), 1.700, "N"),
    ("boshuicun", TP, _t("2026-03-01"), 0.350, "N"),
    ("boshuicun", TP, _t("2026-03-08"), 0.450, "N"),
    ("boshuicun", TP, _t("2026-03-09"), 0.900, "M"),  # maintenance: not valid
    ("boshuicun", TN, _t("2026-03-01"), 6.00, "N"),  # 劣V in a lake; a river ignores TN
    # --- jiehepucun, March 2026 --------------------------------------------------------------------------
    ("jiehepucun", PH, _t("2026-03-01"), 9.20, "N"),
    ("jiehepucun", PH, _t("2026-03-02"), 9.40, "N"),
    ("jiehepucun", DO, _t("2026-03-01"), 7.60, "N"),
    ("jiehepucun", DO, _t("2026-03-02"), 7.80, "N"),
    ("jiehepucun", CODMN, _t("2026-03-01"), 3.00, "N"),
    ("jiehepucun", CODMN, _t("2026-03-02"), 3.50, "N"),
    ("jiehepucun", NH3N, _t("2026-03-01"), 0.350, "N"),
    ("jiehepucun", NH3N, _t("2026-03-02"), 0.650, "N"),
    ("jiehepucun", TP, _t("2026-03-01"), 0.070, "N"),
    ("jiehepucun", TP, _t("2026-03-02"), 0.120, "N"),
    # --- xiaruyue and nanzhuang: one manual sample each ----------------------------------------------------
    ("xiaruyue", PH, _t("2026-03-10", "10:00"), 7.20, "N"),
    ("xiaruyue", DO, _t("2026-03-10", "10:00"), 6.50, "N"),
    ("xiaruyue", CODMN, _t("2026-03-10", "10:00"), 4.50, "N"),
    ("xiaruyue", NH3N, _t("2026-03-10", "10:00"), 0.300, "N"),
    ("xiaruyue", TP, _t("2026-03-10", "10:00"), 0.150, "N"),
    ("nanzhuang", PH, _t("2026-03-10", "10:00"), 7.00, "N"),
    ("nanzhuang", DO, _t("2026-03-10", "10:00"), 1.80, "N"),
    ("nanzhuang", CODMN, _t("2026-03-10", "10:00"), 16.0, "N"),
    ("nanzhuang", NH3N, _t("2026-03-10", "10:00"), 2.500, "N"),
    ("nanzhuang", TP, _t("2026-03-10", "10:00"), 0.520, "N"),
    # --- hexicun: frozen; what arrived is not valid ---------------------------------------------------------
    ("hexicun", PH, _t("2026-03-05"), 7.10, "B"),
    ("hexicun", NH3N, _t("2026-03-05"), 0.120, "D"),
    # --- March 2025, for ΔCWQI -------------------------------------------------------------------------------
    ("bifengcun", PH, _t("2025-03-10"), 8.00, "N"),
    ("bifengcun", DO, _t("2025-03-10"), 6.00, "N"),
    ("bifengcun", CODMN, _t("2025-03-10"), 6.00, "N"),
    ("bifengcun", NH3N, _t("2025-03-10"), 0.800, "N"),
    ("bifengcun", TP, _t("2025-03-10"), 0.200, "N"),
    ("boshuicun", PH, _t("2025-03-10"), 7.50, "N"),
    ("boshuicun", DO, _t("2025-03-10"), 5.00, "N"),
    ("boshuicun", CODMN, _t("2025-03-10"), 6.00, "N"),
    ("boshuicun", NH3N, _t("2025-03-10"), 1.000, "N"),
    ("boshuicun", TP, _t("2025-03-10"), 0.300, "N"),
    # --- the 2025 flood season (July–September), for the intensity --------------------------------------------
    ("boshuicun", TP, _t("2025-06-30", "23:00"), 2.000, "N"),  # 30 June local: before the season
    ("boshuicun", TP, _t("2025-07-20"), 0.300, "N"),
    ("boshuicun", TP, _t("2025-08-05"), 0.450, "N"),
    ("boshuicun", TP, _t("2025-08-06"), 0.900, "M"),  # maintenance: not valid
    ("boshuicun", NH3N, _t("2025-08-01"), 1.800, "N"),
    ("boshuicun", CODMN, _t("2025-08-01"), 9.0, "N"),
    ("boshuicun", DO, _t("2025-08-01"), 1.50, "N"),  # DO takes no part in the intensity
    ("boshuicun", PH, _t("2025-08-01"), 9.80, "N"),  # nor pH
    ("jiehepucun", TP, _t("2025-07-01", "00:00"), 0.120, "N"),  # the season's first instant: inside
    ("jiehepucun", CODMN, _t("2025-08-01"), 3.50, "N"),
    ("jiehepucun", NH3N, _t("2025-09-30", "23:00"), 0.650, "N"),  # the season's last hour: inside
    ("jiehepucun", NH3N, _t("2025-10-01", "00:00"), 3.000, "N"),  # after the season
]

# --- Expected, March 2026 -------------------------------------------------------------------------------------
# Per section: class, meets target, per item (mean, class, multiple vs III, multiple vs target III,
# valid count, completeness), main pollutants [(code, multiple)], CWQI, completeness overall.
# Classes are judged on the rounded mean; multiples (C − L) / L from the rounded mean, 2 places.
#
# bifengcun
#   pH    (7.80 + 7.90 + 8.00 + 8.10) / 4 = 7.95 → I            CWQI (7.95 − 7) / 2 = 0.475
#   DO    (8.00 + 7.00 + 7.50 + 7.40) / 4 = 7.475 → tie, 7 odd → 7.48 → II (6 ≤ DO < 7.5)
#                                                                CWQI 5 / 7.48 = 0.668449…
#   CODMn (4 + 5 + 6) / 3 = 5.00 → III                          CWQI 5 / 6 = 0.833333…
#   NH3-N (1.001 + 1.000) / 2 = 1.0005 → tie, 0 even → 1.000 → III (the fault value 5.000 is left out)
#                                                                CWQI 1.000 / 1.0 = 1
#   TP    (0.150 + 0.170 + 0.160) / 3 = 0.160 → III             CWQI 0.160 / 0.2 = 0.8
#   TN 4.00 and temperature 3.0: reported, not evaluated
#   class III, target met, no main pollutant, no multiple
#   CWQI 0.475 + 0.668449… + 0.833333… + 1 + 0.8 = 3.776783 → 3.78
#   completeness: 4, 4, 3, 2, 3, 2, 2 valid of 31 each: 20 / 217 = 0.0922 → 0.092
# boshuicun
#   pH    (7.60 + 7.40) / 2 = 7.50 → I                          CWQI 0.25
#   DO    (4.50 + 5.50 + 3.50) / 3 = 4.50 → IV, no multiple      CWQI 5 / 4.5 = 1.111111…
#   CODMn (8 + 9) / 2 = 8.50 → IV; (8.50 − 6) / 6 = 0.4167 → 0.42          CWQI 8.5 / 6 = 1.416667…
#   NH3-N (1.600 + 1.800 T + 1.700) / 3 = 1.700 → V; 0.70        CWQI 1.7
#   TP    (0.350 + 0.450) / 2 = 0.400 → V (limit inclusive); (0.4 − 0.2) / 0.2 = 1.00   CWQI 2
#   TN 6.00: not evaluated on a river
#   class V, target missed; main pollutants: V before IV, then by multiple: TP 1.00, NH3-N 0.70, CODMn 0.42
#   CWQI 0.25 + 1.111111… + 1.416667… + 1.7 + 2 = 6.477778 → 6.48
#   completeness: 2, 3, 2, 3, 2, 1 of 31: 13 / 186 = 0.0699 → 0.070
# jiehepucun
#   pH (9.20 + 9.40) / 2 = 9.30 → 劣V (outside 6–9), no multiple   CWQI (9.3 − 7) / 2 = 1.15
#   DO 7.70 → I (CWQI 5 / 7.7 = 0.649351…); CODMn 3.25 → II (0.541667…); NH3-N 0.500 → II (0.5);
#   TP 0.095 → II (0.475)
#   class 劣V, target missed; main pollutant pH alone (no multiple)
#   CWQI 1.15 + 0.649351… + 0.541667… + 0.5 + 0.475 = 3.316017 → 3.32
#   completeness: 2 of 31 for each of five items: 10 / 155 = 0.0645 → 0.065
# xiaruyue (manual, no schedule: no completeness)
#   pH 7.20 I (0.1), DO 6.50 II (5 / 6.5 = 0.769231…), CODMn 4.50 III (0.75), NH3-N 0.300 II (0.3),
#   TP 0.150 III (0.75); class III, met; CWQI 2.669231 → 2.67
# nanzhuang (manual)
#   pH 7.00 I (index 0), DO 1.80 劣V (5 / 1.8 = 2.777778…), CODMn 16.00 劣V, (16 − 6) / 6 = 1.67 (2.666667…),
#   NH3-N 2.500 劣V, 1.50 (2.5), TP 0.520 劣V, (0.52 − 0.2) / 0.2 = 1.60 (2.6)
#   class 劣V; all four are 劣V: by multiple CODMn 1.67, TP 1.60, NH3-N 1.50; DO (no multiple) is fourth, left out
#   CWQI 0 + 2.777778… + 2.666667… + 2.5 + 2.6 = 10.544444 → 10.54
# hexicun: 结冰 (ice): no class, target not judged, no CWQI; two invalid values, 0 of 62 expected → 0.000

SectionExpectation = dict[str, object]

EXPECTED: dict[str, SectionExpectation] = {
    "bifengcun": {
        "status": "judged",
        "class": "III",
        "meets_target": True,
        "items": {
            # code: (mean, class, multiple vs III, multiple vs target, valid, completeness)
            PH: ("7.95", "I", None, None, 4, "0.129"),
            DO: ("7.48", "II", None, None, 4, "0.129"),
            CODMN: ("5.00", "III", None, None, 3, "0.097"),
            NH3N: ("1.000", "III", None, None, 2, "0.065"),
            TP: ("0.160", "III", None, None, 3, "0.097"),
            TN: ("4.00", None, None, None, 2, "0.065"),
            TEMP: ("3.0", None, None, None, 2, "0.065"),
        },
        "main_pollutants": [],
        "cwqi": "3.78",
        "completeness": "0.092",
    },
    "boshuicun": {
        "status": "judged",
        "class": "V",
        "meets_target": False,
        "items": {
            PH: ("7.50", "I", None, None, 2, "0.065"),
            DO: ("4.50", "IV", None, None, 3, "0.097"),
            CODMN: ("8.50", "IV", "0.42", "0.42", 2, "0.065"),
            NH3N: ("1.700", "V", "0.70", "0.70", 3, "0.097"),
            TP: ("0.400", "V", "1.00", "1.00", 2, "0.065"),
            TN: ("6.00", None, None, None, 1, "0.032"),
        },
        "main_pollutants": [(TP, "1.00"), (NH3N, "0.70"), (CODMN, "0.42")],
        "cwqi": "6.48",
        "completeness": "0.070",
    },
    "jiehepucun": {
        "status": "judged",
        "class": "劣V",
        "meets_target": False,
        "items": {
            PH: ("9.30", "劣V", None, None, 2, "0.065"),
            DO: ("7.70", "I", None, None, 2, "0.065"),
            CODMN: ("3.25", "II", None, None, 2, "0.065"),
            NH3N: ("0.500", "II", None, None, 2, "0.065"),
            TP: ("0.095", "II", None, None, 2, "0.065"),
        },
        "main_pollutants": [(PH, None)],
        "cwqi": "3.32",
        "completeness": "0.065",
    },
    "xiaruyue": {
        "status": "judged",
        "class": "III",
        "meets_target": True,
        "items": {
            PH: ("7.20", "I", None, None, 1, None),
            DO: ("6.50", "II", None, None, 1, None),
            CODMN: ("4.50", "III", None, None, 1, None),
            NH3N: ("0.300", "II", None, None, 1, None),
            TP: ("0.150", "III", None, None, 1, None),
        },
        "main_pollutants": [],
        "cwqi": "2.67",
        "completeness": None,
    },
    "nanzhuang": {
        "status": "judged",
        "class": "劣V",
        "meets_target": False,
        "items": {
            PH: ("7.00", "I", None, None, 1, None),
            DO: ("1.80", "劣V", None, None, 1, None),
            CODMN: ("16.00", "劣V", "1.67", "1.67", 1, None),
            NH3N: ("2.500", "劣V", "1.50", "1.50", 1, None),
            TP: ("0.520", "劣V", "1.60", "1.60", 1, None),
        },
        "main_pollutants": [(CODMN, "1.67"), (TP, "1.60"), (NH3N, "1.50")],
        "cwqi": "10.54",
        "completeness": None,
    },
    "hexicun": {
        "status": "not_measured",
        "not_measured": "ice",
        "class": None,
        "meets_target": None,
        "items": {
            PH: (None, None, None, None, 0, "0.000"),
            NH3N: (None, None, None, None, 0, "0.000"),
        },
        "main_pollutants": [],
        "cwqi": None,
        "completeness": "0.000",
    },
}

# All five judged sections cover the same five CWQI items, so they compare like with like.
CWQI_ITEMS = (PH, DO, CODMN, NH3N, TP)

# City CWQI: mean over the five judged sections (hexicun has none):
#   (3.776783 + 6.477778 + 3.316017 + 2.669231 + 10.544444) / 5 = 26.784253 / 5 = 5.356851 → 5.36
CITY_CWQI = "5.36"
# Counties (one section each here): 原平 3.32, 繁峙 3.78, 代县 6.48, cleanest first.
COUNTY_SECTIONS = {"繁峙": ("bifengcun",), "代县": ("boshuicun",), "原平": ("jiehepucun",)}
COUNTY_RANKING = [(1, "原平", "3.32"), (2, "繁峙", "3.78"), (3, "代县", "6.48")]

# March 2025 (one sample each):
#   bifengcun pH 8.00 (0.5) + DO 6.00 (5/6 = 0.833333…) + CODMn 6.00 (1) + NH3-N 0.800 (0.8) + TP 0.200 (1)
#             = 4.133333 → 4.13
#   boshuicun pH 7.50 (0.25) + DO 5.00 (1) + CODMn 6.00 (1) + NH3-N 1.000 (1) + TP 0.300 (1.5) = 4.75
# ΔCWQI = (now − last year) / last year × 100, from the unrounded figures:
#   bifengcun (3.776783 − 4.133333) / 4.133333 = −0.356551 / 4.133333 = −0.086263 → −8.63 %
#   boshuicun (6.477778 − 4.75) / 4.75 = 1.727778 / 4.75 = 0.363743 → 36.37 %
LAST_YEAR_CWQI = {"bifengcun": "4.13", "boshuicun": "4.75"}
DELTA_CWQI = {"bifengcun": "-8.63", "boshuicun": "36.37"}
DELTA_RANKING = [(1, "bifengcun", "-8.63"), (2, "boshuicun", "36.37")]

# Flood season 2025, target III (limits TP 0.2, NH3-N 1.0, CODMn 6):
#   boshuicun: TP max valid 0.450 (the 0.900 M and the June 2.000 are out) → 0.450 / 0.2 = 2.25 → tie,
#              2 even → 2.2; NH3-N 1.800 / 1.0 = 1.8; CODMn 9.00 / 6 = 1.5; DO and pH take no part.
#   jiehepucun: NH3-N 0.650 / 1.0 = 0.65 → 0.6 (half-even); TP 0.120 / 0.2 = 0.6; CODMn 3.50 / 6 = 0.583 → 0.6;
#              the primary pollutant is NH3-N (0.65 is the largest unrounded ratio); 3.000 on 1 October is out.
# (section, item, value, time, ratio); the ranking, largest first.
INTENSITY = {
    "boshuicun": (TP, "0.450", "2025-08-05T08:00:00+08:00", "2.2"),
    "jiehepucun": (NH3N, "0.650", "2025-09-30T23:00:00+08:00", "0.6"),
}
INTENSITY_ITEMS = {
    "boshuicun": [(TP, "2.2"), (NH3N, "1.8"), (CODMN, "1.5")],
    "jiehepucun": [(NH3N, "0.6"), (TP, "0.6"), (CODMN, "0.6")],
}
INTENSITY_RANKING = [(1, "boshuicun", "2.2"), (2, "jiehepucun", "0.6")]
# The season so far at 1 August 00:00: boshuicun TP 0.300 / 0.2 = 1.5 (NH3-N and CODMn come later);
# jiehepucun TP 0.120 / 0.2 = 0.6.
RUNNING_INTENSITY = {"boshuicun": (TP, "0.300", "1.5"), "jiehepucun": (TP, "0.120", "0.6")}

# River grade of the Hutuo (five classed sections): III, V, 劣V, III, 劣V → I–III 2/5 = 40.0 % (< 75 %),
# 劣V 2/5 = 40.0 % (≥ 40 %) → heavily polluted.
HUTUO_GRADE = ("heavy", 5, "40.0", "40.0")

# Counts by level: (sections, classed, I–III, 劣V, % I–III, % 劣V)
#   national: xiaruyue III, nanzhuang 劣V, hexicun not measured → 3, 2, 1, 1, 50.0, 50.0
#   provincial: III, V, 劣V → 3, 3, 1, 1, 33.3, 33.3
#   all: 6, 5, 2, 2, 40.0, 40.0
COUNTS = {
    "national": (3, 2, 1, 1, "50.0", "50.0"),
    "provincial": (3, 3, 1, 1, "33.3", "33.3"),
    "all": (6, 5, 2, 2, "40.0", "40.0"),
}

# Upstream/downstream of boshuicun on the Hutuo (documented order only).
NEIGHBOURS = {"boshuicun": (("bifengcun",), ("jiehepucun",))}
