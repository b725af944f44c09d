"""The install scripts, run for real in a throwaway Debian root (debootstrap + chroot), marked ``deploy``.

What a first install must leave: the service user, /var/lib/qingliu owned by it (0750), the config readable by
its group only (0640 root:qingliu), the program in /opt/qingliu/venv, the unit installed and enabled and clean
under ``systemd-analyze verify --root``. Running the script again must succeed and keep what is in the state
directory (an upgrade keeps the outbox and the store).

Slow for a test (debootstrap fetches a minimal Debian, pip installs the package inside it): 170-200 s on the
development machine, over the suite's 3-minute budget for one test, so it carries the ``deploy`` marker, which
the default run leaves out (pyproject addopts); CI runs it as its own step (.ci/run: ``pytest -m deploy``), as
root, with network access to Debian's mirror and PyPI (the host's pip cache, filled by deploy/dev-setup.sh, is
lent to the root to save most of the downloads).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
MIRROR = os.environ.get("QINGLIU_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PACKAGES = "python3,python3-venv,python3-pip,systemd,passwd,ca-certificates,openssl"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
CA_IN_ROOT = "/etc/ssl/certs/qingliu-test-host-ca.crt"


def run(*argv: str, timeout: float = 1200, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)  # type: ignore[call-overload]


def host_pip_cache() -> Path | None:
    found = run(str(REPO / ".venv/bin/python"), "-m", "pip", "cache", "dir").stdout.strip()
    return Path(found) if found and Path(found).is_dir() else None


@pytest.fixture(scope="module")
def debian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A minimal Debian root with the repository at /src, /proc and /dev mounted, services never started."""
    if os.geteuid() != 0:  # CI runs as root (under CI=true a skip fails: tests/conftest.py)
        pytest.skip("the deploy test runs as root (debootstrap, chroot, mount)")
    assert shutil.which("debootstrap"), "deploy/dev-setup.sh installs debootstrap"
    root = tmp_path_factory.mktemp("debian")
    made = run("debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root), MIRROR)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")  # packages must not start services
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # The root trusts what this machine trusts (a network that inspects TLS has its own CA there).
    shutil.copy(os.environ.get("SSL_CERT_FILE") or HOST_CA, root / CA_IN_ROOT.lstrip("/"))
    files = run("git", "-C", str(REPO), "ls-files", "-z").stdout
    (root / "src").mkdir()
    packed = subprocess.run(
        ["tar", "--null", "-T", "-", "-cf", "-"],
        input=files.encode(),
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-xf", "-", "-C", str(root / "src")], input=packed, check=True)
    mounts = [root / "proc", root / "dev"]
    run("mount", "-t", "proc", "proc", str(root / "proc"))
    run("mount", "--bind", "/dev", str(root / "dev"))
    cache = host_pip_cache()
    if cache is not None:
        (root / "root/.cache/pip").mkdir(parents=True, exist_ok=True)
        run("mount", "--bind", str(cache), str(root / "root/.cache/pip"))
        mounts.insert(0, root / "root/.cache/pip")
    try:
        yield root
    finally:
        for mount in mounts:
            run("umount", "-l", str(mount))
        # Removed here, once nothing of the host is mounted under it (a bind mount of /dev or the pip cache
        # left behind would be emptied by whoever deleted the directory later).
        if not any(str(root) in line for line in Path("/proc/self/mounts").read_text().splitlines()):
            shutil.rmtree(root, ignore_errors=True)


def chroot(root: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_CERT": CA_IN_ROOT,
    }
    return run("chroot", str(root), "bash", f"/src/deploy/{script}", *args, env=env)


def owner(root: Path, path: str) -> tuple[str, str, int]:
    st = (root / path.lstrip("/")).stat()
    users = {
        int(line.split(":")[2]): line.split(":")[0] for line in (root / "etc/passwd").read_text().splitlines()
    }
    groups = {
        int(line.split(":")[2]): line.split(":")[0] for line in (root / "etc/group").read_text().splitlines()
    }
    return users[st.st_uid], groups[st.st_gid], stat.S_IMODE(st.st_mode)


def verify(root: Path, unit: str) -> str:
    done = run("systemd-analyze", "verify", f"--root={root}", f"/etc/systemd/system/{unit}", timeout=120)
    return f"rc={done.returncode} {done.stdout}{done.stderr}"


def test_install_station_then_again_keeps_the_outbox(debian: Path) -> None:
    first = chroot(debian, "install-station.sh", "/src/deploy/examples/agent-local.toml")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    passwd = (debian / "etc/passwd").read_text()
    assert any(
        line.startswith("qingliu:") and line.endswith(":/usr/sbin/nologin") for line in passwd.splitlines()
    )
    assert "qingliu" in next(
        line for line in (debian / "etc/group").read_text().splitlines() if line.startswith("dialout:")
    )
    assert owner(debian, "/var/lib/qingliu") == ("qingliu", "qingliu", 0o750)
    assert owner(debian, "/etc/qingliu/agent.toml") == ("root", "qingliu", 0o640)
    assert (debian / "opt/qingliu/venv/bin/qingliu").exists()
    assert (debian / "etc/systemd/system/multi-user.target.wants/qingliu-agent.service").is_symlink()
    assert verify(debian, "qingliu-agent.service") == "rc=0 "
    outbox = debian / "var/lib/qingliu/var/outbox.db"
    outbox.write_bytes(b"readings not yet sent")
    again = chroot(debian, "install-station.sh", "/src/deploy/examples/agent-local.toml")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert outbox.read_bytes() == b"readings not yet sent"
    assert owner(debian, "/var/lib/qingliu") == ("qingliu", "qingliu", 0o750)


def test_install_central_then_again_keeps_the_store_and_the_certificates(debian: Path) -> None:
    args = ("/src/deploy/examples/collector.toml", "qingliu.example", "192.0.2.10")
    first = chroot(debian, "install-central.sh", *args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert owner(debian, "/var/lib/qingliu") == ("qingliu", "qingliu", 0o750)
    assert owner(debian, "/etc/qingliu/collector.toml") == ("root", "qingliu", 0o640)
    assert owner(debian, "/etc/mosquitto/qingliu.passwd")[::2] == ("mosquitto", 0o640)
    assert owner(debian, "/etc/mosquitto/qingliu-collector.passwd")[::2] == ("mosquitto", 0o640)
    assert owner(debian, "/etc/mosquitto/certs/server.key")[::2] == ("mosquitto", 0o600)
    assert (debian / "etc/systemd/system/multi-user.target.wants/qingliu-collector.service").is_symlink()
    assert verify(debian, "qingliu-collector.service") == "rc=0 "
    ca = (debian / "etc/mosquitto/certs/ca.crt").read_bytes()
    store = debian / "var/lib/qingliu/var/collector.db"
    store.write_bytes(b"thirteen months of readings")
    again = chroot(debian, "install-central.sh", *args)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert store.read_bytes() == b"thirteen months of readings"
    assert (debian / "etc/mosquitto/certs/ca.crt").read_bytes() == ca  # the stations keep trusting it
    assert (debian / "etc/mosquitto/conf.d/qingliu.conf").read_text() == (
        REPO / "deploy/mosquitto/qingliu.conf"
    ).read_text()
