"""The repo stands on its own: no file names a path outside it or a path of one particular machine.

Install targets of the deploy scripts (/etc/qingliu, /opt/qingliu, /var/lib/qingliu) are where the product goes
on a station PC or server, not paths of the machine the code was written on, so they are allowed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A sibling folder of the checkout, a home or build folder of one machine.
FORBIDDEN = re.compile(r"\.\./shared\b|(?<![\w.])/(?:work|home|root|Users)/[\w.-]+")
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".toml",
    ".sh",
    ".js",
    ".html",
    ".css",
    ".service",
    ".conf",
    ".txt",
    ".cfg",
    "",
}


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout.decode()
    return [REPO / name for name in out.split("\0") if name]


def test_no_file_names_a_path_outside_the_repo() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix not in TEXT_SUFFIXES or path == Path(__file__) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if FORBIDDEN.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not offenders, "paths outside the repo:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_should() -> None:
    # Spelled in pieces, so that a plain grep of the repo for such paths finds nothing, this file included.
    assert FORBIDDEN.search("see ../" + "shared/ARCHITECTURE.md")
    assert FORBIDDEN.search("/wo" + "rk/venv/bin/python -m x")
    assert FORBIDDEN.search("cd /home/alice/qingliu")
    assert not FORBIDDEN.search("ExecStart=/opt/qingliu/venv/bin/qingliu agent run")
    assert not FORBIDDEN.search(".venv/bin/python -m benchmarks.x")
