"""Acquisition: read the analysers over Modbus RTU/TCP and ASCII lines, decode, flag, hand to the Sink."""

from agent.acquisition.core import Acquisition, Clock, utc_now
from agent.acquisition.state import JsonFileStateStore, MemoryStateStore, StateStore

__all__ = ["Acquisition", "Clock", "JsonFileStateStore", "MemoryStateStore", "StateStore", "utc_now"]
