"""A real Mosquitto broker per test, on a free port, with its own config (users, ACL, TLS when asked)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port, wait_for_port
from tests.support.processes import exit_on_sigterm

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MAKE_CERTS = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "make-certs.sh"


@dataclass
class Mosquitto:
    workdir: Path
    port: int = field(default_factory=free_port)
    users: dict[str, str] = field(default_factory=dict)  # name → password; empty = anonymous allowed
    acl: str | None = None  # acl_file text
    persistence: bool = True
    tls: bool = (
        False  # a second listener, TLS on ``tls_port``, certificates from deploy/mosquitto/make-certs.sh
    )
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "certs" / "ca.crt"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            "user root",  # started as root in CI: keep file ownership simple for the test's own files
            f"listener {self.port} 127.0.0.1",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_queued_messages 1000000",
            "max_inflight_messages 100",
            f"log_dest file {self.workdir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.users:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            acl_path = self.workdir / "acl"
            acl_path.write_text(self.acl)
            lines.append(f"acl_file {acl_path}")
        if self.tls:
            certs = self.workdir / "certs"
            if not self.ca_file.exists():
                subprocess.run(
                    ["bash", str(MAKE_CERTS), str(certs), "localhost", "127.0.0.1"],
                    check=True,
                    capture_output=True,
                )
            lines += [
                f"listener {self.tls_port} 127.0.0.1",  # the settings above apply to every listener
                f"cafile {certs}/ca.crt",
                f"certfile {certs}/server.crt",
                f"keyfile {certs}/server.key",
            ]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self) -> Mosquitto:
        ports = [self.port, self.tls_port] if self.tls else [self.port]
        self.proc = start_mosquitto(self._write_config(), ports, self.workdir)
        return self

    def stop(self) -> None:
        stop_mosquitto(self.proc)
        self.proc = None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def log(self) -> str:
        return mosquitto_log(self.workdir)


def start_mosquitto(conf: Path, ports: Sequence[int], workdir: Path) -> subprocess.Popen[bytes]:
    """Mosquitto on ``conf``, returned once each of ``ports`` takes connections; RuntimeError with its log
    (``workdir``/mosquitto.log) when it does not start."""
    exit_on_sigterm()  # a terminated test run stops its brokers too
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for port in ports:
            wait_for_port(port, timeout=10)
    except TimeoutError:
        stop_mosquitto(proc)
        raise RuntimeError(f"mosquitto did not start; log:\n{mosquitto_log(workdir)}") from None
    return proc


def stop_mosquitto(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate, and kill when it does not end within 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def mosquitto_log(workdir: Path) -> str:
    path = workdir / "mosquitto.log"
    return path.read_text(errors="replace") if path.exists() else ""
