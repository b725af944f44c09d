"""A standard-library module imported lazily: bound now, loaded at its first use.

paho-mqtt imports ``urllib.request`` (with ``http.client``, ``email`` and ``tempfile``: ~2.8 MiB of a station's
30, issue 17) only to look up an ``mqtt_proxy`` environment variable at connect time, and only when PySocks is
installed; most stations never touch it. ``lazy("urllib.request")`` before importing paho puts a stand-in in
its place that loads the real module at the first attribute asked of it, so nothing is lost where it is used.

Not ``importlib.util.LazyLoader``: in Python 3.11 an ``import`` statement reads the module's ``__spec__``, which
makes a LazyLoader module load at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


class _Deferred(ModuleType):
    def __getattr__(self, attr: str) -> Any:  # only for what the stand-in does not have: the real content
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)  # binds itself on the parent package, replacing the stand-in
        return getattr(real, attr)


def lazy(name: str) -> ModuleType:
    """``name``'s module, from sys.modules when already imported, else a stand-in put there that loads it
    at its first use."""
    if name in sys.modules:
        return sys.modules[name]
    parent_name, _, child = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    module = _Deferred(name)
    module.__spec__ = spec
    sys.modules[name] = module
    if parent is not None:
        setattr(parent, child, module)  # what ``import a.b`` binds, as a real import would
    return module
