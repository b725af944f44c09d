"""protocols/lazymodule.py: a module bound now and loaded at its first use (in a fresh interpreter each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_import_statement_does_not_load_it_and_the_first_use_does() -> None:
    out = run(
        "import sys\n"
        "from protocols.lazymodule import lazy\n"
        "lazy('urllib.request')\n"
        "import urllib.request\n"
        "print('http.client' in sys.modules)\n"
        "print(callable(urllib.request.getproxies))\n"
        "print('http.client' in sys.modules, urllib.request is sys.modules['urllib.request'])\n"
        "print(type(urllib.request).__name__)\n"
    )
    assert out.splitlines() == ["False", "True", "True True", "module"]


def test_an_imported_module_is_left_as_it_is() -> None:
    out = run(
        "import urllib.request\n"
        "from protocols.lazymodule import lazy\n"
        "print(lazy('urllib.request') is urllib.request)\n"
    )
    assert out == "True"


def test_a_missing_module_is_refused_at_once() -> None:
    out = run(
        "from protocols.lazymodule import lazy\n"
        "try:\n"
        "    lazy('urllib.no_such_module')\n"
        "except ModuleNotFoundError as exc:\n"
        "    print('refused', exc.name)\n"
    )
    assert out == "refused urllib.no_such_module"
