"""Typical levels of the eight sections, so that they differ.

Illustrative, not measured: the Fen headwaters (川胡屯) and the Qingyang (茨沟营桥) are clean; the Hutuo worsens
downstream (笔峰村 → 泊水村 → 界河铺村); 花园子 and 界河铺村 sit near the class III limits (CODMn 6, NH3-N 1.0,
TP 0.2 mg/L), so the winter NH3-N rise or a flood's TP pushes them over.
"""

from __future__ import annotations

from simulators.analysers.environment import WaterBaseline

BASELINES: dict[str, WaterBaseline] = {
    "chuanhutun": WaterBaseline(
        temp_offset=-1.5,
        ph=8.2,
        do_saturation=1.00,
        conductivity=520.0,
        turbidity=6.0,
        codmn=2.2,
        nh3n=0.18,
        tp=0.05,
        tn=1.6,
        level_m=0.8,
    ),
    "hexicun": WaterBaseline(
        temp_offset=-0.5,
        ph=8.1,
        do_saturation=0.96,
        conductivity=640.0,
        turbidity=10.0,
        codmn=3.4,
        nh3n=0.42,
        tp=0.11,
        tn=2.8,
        level_m=1.1,
    ),
    "huayuanzi": WaterBaseline(
        temp_offset=1.0,
        ph=8.3,
        do_saturation=0.85,
        conductivity=980.0,
        turbidity=25.0,
        codmn=5.2,
        nh3n=0.82,
        tp=0.17,
        tn=4.6,
        level_m=0.9,
    ),
    "leijiaping": WaterBaseline(
        temp_offset=0.0,
        ph=8.2,
        do_saturation=0.97,
        conductivity=610.0,
        turbidity=12.0,
        codmn=2.9,
        nh3n=0.30,
        tp=0.08,
        tn=2.2,
        level_m=0.7,
    ),
    "bifengcun": WaterBaseline(
        temp_offset=-0.5,
        ph=8.0,
        do_saturation=0.95,
        conductivity=720.0,
        turbidity=9.0,
        codmn=3.6,
        nh3n=0.50,
        tp=0.12,
        tn=3.4,
        level_m=1.0,
    ),
    "boshuicun": WaterBaseline(
        temp_offset=0.3,
        ph=8.0,
        do_saturation=0.90,
        conductivity=810.0,
        turbidity=14.0,
        codmn=4.5,
        nh3n=0.70,
        tp=0.15,
        tn=4.2,
        level_m=1.2,
    ),
    "jiehepucun": WaterBaseline(
        temp_offset=0.8,
        ph=7.9,
        do_saturation=0.80,
        conductivity=930.0,
        turbidity=18.0,
        codmn=5.5,
        nh3n=0.88,
        tp=0.18,
        tn=5.1,
        level_m=1.4,
    ),
    "cigouyingqiao": WaterBaseline(
        temp_offset=-2.0,
        ph=8.2,
        do_saturation=1.02,
        conductivity=450.0,
        turbidity=4.0,
        codmn=1.9,
        nh3n=0.14,
        tp=0.04,
        tn=1.2,
        level_m=0.6,
    ),
}


def baseline_for(station: str) -> WaterBaseline:
    """The section's baseline; an unknown (user-added) station gets the middle-of-the-road default."""
    return BASELINES.get(station, WaterBaseline())
