"""A station whose links are all plain TCP does not load OpenSSL (issue 17).

OpenSSL (libcrypto, libssl and Python's ``_ssl``/``_hashlib``) costs a running agent ~4 MiB resident of its 30,
and nothing uses it unless the broker link is ``mqtts://``: asyncio, paho-mqtt and ``hashlib`` import it only
because it is there. ``keep_openssl_out()``, called before the runtime is imported, makes those imports find
no ``ssl`` and no ``_hashlib`` — asyncio then runs without TLS support, ``hashlib`` and ``hmac`` use CPython's
own SHA-2 and MD5, as on a Python built without OpenSSL — and ``let_openssl_in()``, called once the runtime is
imported, lifts the block on ``ssl``, so anything imported later that wants it still gets it. ``_hashlib``
stays out for good: its only users, ``hashlib`` and ``hmac``, fall back by design, and the HJ 212 uplink's
``hmac`` (imported when a target is configured) would otherwise bring libcrypto back.

paho-mqtt names ``ssl.SSLWantReadError`` and ``ssl.SSLWantWriteError`` in the ``except`` clauses of its socket
calls, evaluated whenever a read or write fails (a broker that went away): ``NO_TLS`` stands in for the module
there with exceptions of those names that nothing raises, as no socket is wrapped in TLS.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

BLOCKED = ("ssl", "_ssl", "_hashlib")
LIFTED = ("ssl", "_ssl")  # once the runtime is imported; "_hashlib" stays out


class _NeverRaised(Exception):
    """An ``ssl`` exception where no TLS socket exists."""


NO_TLS = SimpleNamespace(
    SSLError=_NeverRaised,
    SSLWantReadError=_NeverRaised,
    SSLWantWriteError=_NeverRaised,
    CertificateError=_NeverRaised,
)


def keep_openssl_out() -> bool:
    """Block the OpenSSL modules until ``let_openssl_in``; False (and nothing done) when one is loaded already."""
    if any(sys.modules.get(name) is not None for name in BLOCKED):
        return False
    for name in BLOCKED:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not available" marker
    return True


def let_openssl_in() -> None:
    """Lift the block on ``ssl``: a later ``import ssl`` loads it."""
    for name in LIFTED:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


def ssl_for_paho(module: object) -> object:
    """What paho-mqtt's client module should see as ``ssl``: the module it imported, or ``NO_TLS`` when it
    found none."""
    return NO_TLS if module is None else module
