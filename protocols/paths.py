"""One rule for the paths in every config file: ``~`` is the user's home, and a relative path is relative to
the directory of the config file that names it (never to the working directory the program was started in).

So a config and the files it names move together, and an example config can keep its state outside the
source tree (``~/.local/state/qingliu/...``) without naming any machine's absolute path.
"""

from __future__ import annotations

from pathlib import Path


def resolve(path: str | Path, base_dir: str | Path | None) -> Path:
    """``path`` with ``~`` expanded, joined to ``base_dir`` when it is relative (as given when base_dir is None)."""
    resolved = Path(path).expanduser()
    if not resolved.is_absolute() and base_dir is not None:
        resolved = Path(base_dir) / resolved
    return resolved


__all__ = ["resolve"]
