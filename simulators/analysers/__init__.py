"""Simulated station hardware: the river at each station and the analysers that measure it."""

from simulators.analysers.base import AnalyserModel, DeviceState, Reading, Result
from simulators.analysers.controller import StationController
from simulators.analysers.environment import RiverWater, WaterBaseline
from simulators.analysers.nutrient import NutrientAnalyser, Schedule
from simulators.analysers.probe import ProbeModel

__all__ = [
    "AnalyserModel",
    "DeviceState",
    "NutrientAnalyser",
    "ProbeModel",
    "Reading",
    "Result",
    "RiverWater",
    "Schedule",
    "StationController",
    "WaterBaseline",
]
