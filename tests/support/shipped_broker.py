"""Mosquitto started with the shipped deploy/mosquitto/qingliu.conf (paths and ports moved into a work dir).

As installed on Debian: a main config like the package's /etc/mosquitto/mosquitto.conf (persistence, its
location, the log, ``include_dir conf.d``) with the shipped file in conf.d. The config's two listeners
(loopback for the collector, TLS for the stations) keep their per-listener settings; only file locations,
ports and logging change. Certificates come from the shipped make-certs.sh.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.broker import mosquitto_log, start_mosquitto, stop_mosquitto
from tests.support.ports import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
ETC = "/etc/mosquitto/"
STATE = "/var/lib/mosquitto/"


def shipped_config(text: str, workdir: Path, plain_port: int, tls_port: int) -> str:
    """The shipped config with its paths under ``workdir`` and its listeners on the given loopback ports."""
    text = text.replace(ETC, f"{workdir}/").replace(STATE, f"{workdir}/data/")
    text = re.sub(r"^listener 1883 127\.0\.0\.1$", f"listener {plain_port} 127.0.0.1", text, flags=re.M)
    text, n = re.subn(r"^listener 8883$", f"listener {tls_port} 127.0.0.1", text, flags=re.M)
    assert n == 1, "the shipped config no longer has its station listener on 8883"
    return text


def debian_main_config(workdir: Path) -> str:
    """What Debian's mosquitto package puts in /etc/mosquitto/mosquitto.conf, moved into ``workdir``."""
    lines = [
        "user root",  # started as root in CI: keep file ownership simple for the test's own files
        "persistence true",
        f"persistence_location {workdir}/data/",
        f"log_dest file {workdir}/mosquitto.log",
        "log_type all",
        f"include_dir {workdir}/conf.d",
    ]
    return "\n".join(lines) + "\n"


def write_passwords(path: Path, users: dict[str, str]) -> None:
    path.write_text("")
    for name, password in users.items():
        subprocess.run(["mosquitto_passwd", "-b", str(path), name, password], check=True)


@dataclass
class ShippedMosquitto:
    workdir: Path
    stations: dict[str, str]  # station id → password (qingliu.passwd)
    collector: dict[str, str]  # collector user → password (qingliu-collector.passwd)
    plain_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "ca.crt"

    def start(self) -> ShippedMosquitto:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["bash", str(DEPLOY / "make-certs.sh"), str(self.workdir / "certs"), "localhost", "127.0.0.1"],
            check=True,
            capture_output=True,
        )
        write_passwords(self.workdir / "qingliu.passwd", self.stations)
        write_passwords(self.workdir / "qingliu-collector.passwd", self.collector)
        (self.workdir / "qingliu.acl").write_text((DEPLOY / "qingliu.acl").read_text())
        (self.workdir / "conf.d").mkdir(exist_ok=True)
        text = (DEPLOY / "qingliu.conf").read_text()
        (self.workdir / "conf.d/qingliu.conf").write_text(
            shipped_config(text, self.workdir, self.plain_port, self.tls_port)
        )
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(debian_main_config(self.workdir))
        self.proc = start_mosquitto(conf, [self.plain_port, self.tls_port], self.workdir)
        return self

    def stop(self) -> None:
        stop_mosquitto(self.proc)
        self.proc = None

    def log(self) -> str:
        return mosquitto_log(self.workdir)
