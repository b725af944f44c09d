"""Is a failed store write the message's fault or the store's? One pure decision for the applier.

A *data* error belongs to the messages being written (a value the engine cannot hold: an integer beyond 64
bits, a lone surrogate, a NUL in text, JSON too deep to serialise, a constraint): retrying cannot help, so the
applier isolates the culprit and quarantines it. A *down* store (connection refused or lost, disk full, I/O
error, database locked past its timeout, a closed connection) fails every write alike: the applier keeps the
messages and retries with back-off. Anything not known to be "down" is judged data, so that one strange
message can never stop ingest; a truly broken store then shows as everything quarantined, which the
``dead_letters`` alert and ``reapply_dead_letters`` recover from.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["data", "down"]

# DB-API exception classes (sqlite3, psycopg) that say the engine itself is unavailable.
_DOWN_CLASSES = frozenset({"OperationalError", "InterfaceError", "InternalError"})
_DBAPI_MODULES = ("sqlite3", "psycopg", "_sqlite3")


def store_failure(exc: BaseException) -> Verdict:
    """``"down"`` when ``exc`` says the store cannot take any write now, ``"data"`` when it is about what was
    being written. Pure: looks only at the exception's type and message."""
    if isinstance(exc, OSError | MemoryError | ConnectionError | TimeoutError):
        return "down"
    mro = type(exc).__mro__
    dbapi = any(cls.__module__.split(".")[0] in _DBAPI_MODULES for cls in mro)
    if not dbapi:
        return "data"  # ValueError, OverflowError, RecursionError, UnicodeEncodeError, ...
    names = {cls.__name__ for cls in mro}
    if names & _DOWN_CLASSES:
        return "down"
    if "ProgrammingError" in names and "closed" in str(exc).lower():
        return "down"  # "Cannot operate on a closed database" / "the connection is closed"
    if names & {"DataError", "IntegrityError", "ProgrammingError", "NotSupportedError"}:
        return "data"
    return "down"  # a bare DatabaseError: e.g. "database disk image is malformed"
