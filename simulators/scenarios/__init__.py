"""Scenarios: timed disturbances of the simulated stations (icing, flood, pollution plume, calibration, faults)."""

from simulators.scenarios.runner import ScenarioRunner
from simulators.scenarios.schema import Scenario, builtin_scenarios, load_scenario, parse_scenario

__all__ = ["Scenario", "ScenarioRunner", "builtin_scenarios", "load_scenario", "parse_scenario"]
