"""Roles: viewer reads; operator also acknowledges alerts and comments; admin also sends commands, manages
users and re-applies quarantined messages. Each role holds every permission of the ones below it."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: viewer, operator or admin") from None

    def allows(self, needed: Role) -> bool:
        return self >= needed


NAMES = tuple(r.label for r in Role)
