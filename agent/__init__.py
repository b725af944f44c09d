"""The station agent: acquire from analysers, flag, keep on disk, publish over MQTT, answer commands."""

__version__ = "0.1.0"
