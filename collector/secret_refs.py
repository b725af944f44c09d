"""Secrets in the collector's config: where they may come from, and which ones are refused.

A secret field (``api.admin_token``, ``mqtt.password``) holds the secret itself or a reference to it, so that
the config file can be shared without it:

    env:NAME          the environment variable NAME
    file:PATH         the file's contents, without the final newline (relative to the config file's directory)
    credential:NAME   a systemd credential (``LoadCredential=NAME:...``): the file NAME in $CREDENTIALS_DIRECTORY

References are resolved when the config is loaded (a missing one is a ConfigError naming the field). Known
example secrets (those printed in deploy/examples and in docs, common defaults), short admin tokens and a
broker user without a password are not errors of the file but of the deployment: ``weaknesses`` lists them,
``qingliu collector check`` prints them and ``qingliu collector run`` refuses to start with any (issue 16).
The demo writes its own random secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"
MIN_TOKEN_LENGTH = 16
KNOWN_EXAMPLES = frozenset(
    {
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "password",
        "passwd",
        "admin",
        "qingliu",
        "token",
        "test",
        "example",
        "default",
        "123456",
        "demo-admin-token",
    }
)


def resolve(value: str, *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The secret ``value`` stands for (itself unless it is a reference); ValueError says what is missing."""
    env = os.environ if environ is None else environ
    kind, sep, name = value.partition(":")
    if not sep or kind not in ("env", "file", "credential"):
        return value
    if not name:
        raise ValueError(f"{kind}: needs a name")
    if kind == "env":
        if name not in env:
            raise ValueError(f"the environment variable {name} is not set")
        return env[name]
    if kind == "credential":
        directory = env.get(CREDENTIALS_DIRECTORY)
        if not directory:
            raise ValueError(f"credential:{name} needs systemd's {CREDENTIALS_DIRECTORY} (LoadCredential=)")
        path = Path(directory) / name
    else:
        path = Path(name).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
    try:
        return path.read_text(encoding="utf-8").removesuffix("\n")
    except OSError as exc:
        raise ValueError(f"cannot read the secret file {path}: {exc.strerror}") from None


def weakness(field: str, secret: str, *, min_length: int = 0) -> str | None:
    """Why ``secret`` must not be used for ``field``, or None when it may."""
    if not secret:
        return f"{field} is empty"
    if secret.strip().lower() in KNOWN_EXAMPLES:
        return f"{field} is a known example value ({secret!r}): set a secret of your own"
    if len(secret) < min_length:
        return f"{field} is shorter than {min_length} characters"
    return None


class _Mqtt(Protocol):
    username: str
    password: str


class _Api(Protocol):
    admin_token: str


class _Config(Protocol):
    @property
    def mqtt(self) -> _Mqtt: ...
    @property
    def api(self) -> _Api: ...


def weaknesses(config: _Config) -> list[str]:
    """What in a loaded collector config must change before it may run (empty: nothing)."""
    found: list[str | None] = []
    if config.api.admin_token:  # empty: no bootstrap token; people sign in as named users
        found.append(weakness("api.admin_token", config.api.admin_token, min_length=MIN_TOKEN_LENGTH))
    if config.mqtt.username:
        found.append(weakness("mqtt.password", config.mqtt.password))
    return [w for w in found if w is not None]
