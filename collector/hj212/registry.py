"""The configured data loggers by MN, and the check of a frame's MN and password. Pure.

The password is compared in constant time (``hmac.compare_digest``), so that the time of a refusal says nothing
about how much of a guess was right.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Literal

from collector.config import Hj212Logger

Verdict = Literal["ok", "unknown_mn", "bad_password"]


class Loggers:
    def __init__(self, loggers: Iterable[Hj212Logger]) -> None:
        self._by_mn = {logger.mn: logger for logger in loggers}
        self._codes = {mn: logger.code_table() for mn, logger in self._by_mn.items()}
        self._by_site: dict[str, Hj212Logger] = {}
        for logger in self._by_mn.values():
            if logger.primary:
                self._by_site.setdefault(logger.site, logger)

    def get(self, mn: str) -> Hj212Logger | None:
        return self._by_mn.get(mn)

    def codes(self, mn: str) -> dict[str, str]:
        """The 2005 → 2017 code mapping of logger ``mn`` (built once)."""
        return self._codes.get(mn, {})

    def primary_for(self, site: str) -> Hj212Logger | None:
        """The logger that reports for ``site`` as its primary (commands go to it), if any."""
        return self._by_site.get(site)

    def all(self) -> list[Hj212Logger]:
        return list(self._by_mn.values())

    def check(self, mn: str, password: str) -> Verdict:
        logger = self._by_mn.get(mn)
        if logger is None:
            return "unknown_mn"
        if not hmac.compare_digest(password.encode(), logger.password.encode()):
            return "bad_password"
        return "ok"
