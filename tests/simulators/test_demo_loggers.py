"""The demo's legacy data loggers (simulators/demo_loggers.py): the collector config the demo writes takes them
(代县桥 as a ninth station, the demo outfall above 界河铺村 as an outfall site with its limits), and each logger's
command line is one ``qingliu sim hj212-logger`` accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.alerting import alerts_config
from collector.config import parse_config
from protocols.sections import SECTIONS
from simulators import demo_loggers
from simulators.demo import collector_config
from simulators.hj212_logger import add_parser, config_from_args


def test_the_demo_collector_serves_both_loggers(tmp_path: Path) -> None:
    text = collector_config("mqtt://127.0.0.1:1883", tmp_path, 8000, "3.1.1") + demo_loggers.collector_toml(
        9212
    )
    config = parse_config(text)
    assert config.hj212.enabled and config.hj212.port == 9212
    assert {lg.mn: lg.site for lg in config.hj212.loggers} == {
        "DAIXIANQIAO01": "daixianqiao",
        "OUTFALLDEMO01": "hutuo_demo",
    }
    ids = [s.id for s in config.stations]
    assert ids == [*SECTIONS, "daixianqiao", "hutuo_demo"]
    daixian, outfall = config.station("daixianqiao"), config.station("hutuo_demo")
    assert daixian is not None and (daixian.kind, daixian.river, daixian.name_zh) == (
        "station",
        "hutuo",
        "代县桥",
    )
    assert outfall is not None and outfall.kind == "outfall"
    limits = alerts_config(config).outfalls["hutuo_demo"].limits
    assert limits["w21003"] == (None, 5.0) and limits["w01018"] == (None, 50.0)  # GB 18918-2002 class 1 A


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_each_logger_runs_as_its_site_and_follows_the_scenario() -> None:
    commands = dict(demo_loggers.commands(["qingliu"], 9212, "pollution_plume", 0.25))
    assert list(commands) == ["logger-daixianqiao", "logger-hutuo_demo"]
    station = config_from_args(parse(commands["logger-daixianqiao"][2:]))
    assert (station.mn, station.station, station.port, station.pw) == (
        "DAIXIANQIAO01",
        "bifengcun",
        9212,
        "123456",
    )
    outfall = config_from_args(parse(commands["logger-hutuo_demo"][2:]))
    assert (outfall.mn, outfall.station, outfall.outfall) == ("OUTFALLDEMO01", None, "hutuo_demo")
    assert (outfall.scenario, outfall.follow, outfall.nutrient_cycle_min) == (
        "pollution_plume",
        "bifengcun",
        0.25,
    )
    plain = dict(demo_loggers.commands(["qingliu"], 9212, None, 0.25))
    assert "--scenario" not in plain["logger-hutuo_demo"]
