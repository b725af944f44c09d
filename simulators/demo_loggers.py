"""The demo's legacy data loggers (数采仪): two sites that report to the collector over HJ 212-2017 beside the
eight qingliu agents, as a bureau's existing monitors would on day one (issue 14).

* 代县桥 (daixianqiao), a national section on the Hutuo between 笔峰村 and 泊水村: a surface-water station
  (ST 21) whose logger samples 笔峰村's water model (the nearest station upstream with one);
* the demo outfall above 界河铺村 (``hutuo_demo`` of collector/outfalls.toml), an outfall monitor (ST 32). Under
  ``--scenario pollution_plume`` its effluent follows 笔峰村's steps, so the plume takes it over its discharge
  limits (NH3-N 2.4 + 3 > 5 mg/L, COD 30.6 + 27 > 50 mg/L) and 界河铺村's exceedance names it as a possible
  source.

Both loggers run ``qingliu sim hj212-logger``; the collector's ``[hj212]`` server is on in the demo and maps each
MN to its site. Real-time data (2011) are stored so that the dashboard shows them within a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.sections import SECTIONS

PASSWORD = "123456"  # the HJ 212 default access password; loopback only


@dataclass(frozen=True, slots=True)
class DemoLogger:
    name: str  # the child process's name (its log file)
    mn: str
    site: str  # the station or outfall id the collector keeps its readings under
    outfall: bool
    water: str  # the station whose water model (and scenario steps) the simulated logger follows


LOGGERS = (
    DemoLogger("logger-daixianqiao", "DAIXIANQIAO01", "daixianqiao", outfall=False, water="bifengcun"),
    DemoLogger("logger-hutuo_demo", "OUTFALLDEMO01", "hutuo_demo", outfall=True, water="bifengcun"),
)
# 代县桥 is in the section registry without a station: the demo gives it one (the city plan's eight come first).
EXTRA_STATIONS = (
    '[[stations]]\nid = "daixianqiao"\nname_zh = "代县桥"\nriver = "hutuo"\nbasin = "hai"\nlevel = "national"\n',
)


def collector_toml(hj212_port: int) -> str:
    """The demo collector's ``[[stations]]`` (the eight and 代县桥) and its ``[hj212]`` server with the loggers."""
    stations = "".join(f'[[stations]]\nid = "{sid}"\n\n' for sid in SECTIONS) + "\n".join(EXTRA_STATIONS)
    loggers = ",\n".join(
        f'  {{ mn = "{lg.mn}", password = "{PASSWORD}", {"outfall" if lg.outfall else "station"} = "{lg.site}", '
        f'st = "{"32" if lg.outfall else "21"}", cns = ["2011"], history_cn = "2011" }}'
        for lg in LOGGERS
    )
    return (
        f"{stations}\n"
        "[hj212]\n"
        "enabled = true\n"
        'host = "127.0.0.1"\n'
        f"port = {hj212_port}\n"
        f"loggers = [\n{loggers},\n]\n"
    )


def commands(
    exe: list[str], hj212_port: int, scenario: str | None, nutrient_cycle_min: float
) -> list[tuple[str, list[str]]]:
    """(child name, argv) of each logger's simulator."""
    out = []
    for lg in LOGGERS:
        argv = [*exe, "sim", "hj212-logger", "--port", str(hj212_port), "--mn", lg.mn, "--pw", PASSWORD]
        argv += ["--outfall", lg.site] if lg.outfall else ["--station", lg.water]
        argv += ["--interval", "60", "--nutrient-cycle-min", str(nutrient_cycle_min), "--seed", "3"]
        if scenario is not None:
            argv += ["--scenario", scenario, "--follow", lg.water]
        out.append((lg.name, argv))
    return out
