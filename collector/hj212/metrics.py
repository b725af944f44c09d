"""The HJ 212 server on /metrics: connections, frames taken, and what was refused, per logger and reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from collector.exposition import counter, gauge
from collector.hj212.counters import Counts
from collector.hj212.presence import Presence


class Source(Protocol):
    presence: dict[str, Presence]

    @property
    def counts(self) -> Counts: ...

    @property
    def frames(self) -> int: ...

    @property
    def connections(self) -> int: ...

    @property
    def running(self) -> bool: ...

    @property
    def restarts(self) -> int: ...


class Hj212Collector(Collector):
    def __init__(self, server: Source) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        server = self.server
        yield gauge(
            "qingliu_hj212_server_up", "1 when the HJ 212 server runs.", [((), 1 if server.running else 0)]
        )
        yield counter(
            "qingliu_hj212_server_restarts",
            "Times the HJ 212 server's process died and was started again.",
            [((), server.restarts)],
        )
        yield gauge("qingliu_hj212_connections", "Open HJ 212 connections.", [((), server.connections)])
        yield counter(
            "qingliu_hj212_frames", "Good HJ 212 frames taken from configured loggers.", [((), server.frames)]
        )
        presence = sorted(server.presence.items())
        yield gauge(
            "qingliu_hj212_logger_connections",
            "Open connections per configured logger (MN).",
            [((mn,), p.connections) for mn, p in presence],
            ["logger"],
        )
        refused = [
            ((mn, reason), n)
            for mn, counts in sorted(server.counts.snapshot().items())
            for reason, n in sorted(counts.items())
        ]
        yield counter(
            "qingliu_hj212_refused",
            "HJ 212 lines refused, dropped or partly skipped, per logger (MN, or '(unknown)') and reason.",
            refused,
            ["logger", "reason"],
        )
