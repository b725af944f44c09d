"""[api] tls_cert_file / tls_key_file: the collector serves HTTPS itself (certificates from the shipped
deploy/mosquitto/make-certs.sh), and nothing in clear on that port (issue 16)."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from collector.config import parse_config
from protocols.errors import ConfigError
from tests.support.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_is_served_over_tls_with_the_configured_certificate(tmp_path: Path) -> None:
    subprocess.run(
        [
            "bash",
            str(ROOT / "deploy/mosquitto/make-certs.sh"),
            str(tmp_path / "tls"),
            "localhost",
            "127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n[store]\nurl = "sqlite:///c.db"\n'
        f'[api]\nport = {port}\ntls_cert_file = "tls/server.crt"\ntls_key_file = "tls/server.key"\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "qingliu_cli", "collector", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        trusting = ssl.create_default_context(cafile=str(tmp_path / "tls/ca.crt"))
        try:
            body = urllib.request.urlopen(
                f"https://127.0.0.1:{port}/healthz", context=trusting, timeout=10
            ).read()
        except urllib.error.HTTPError as exc:  # 503 until the broker answers: still a TLS answer
            body = exc.read()
        assert "store" in json.loads(body)
        with pytest.raises(OSError):  # plain http: the TLS server hangs up
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ssl.create_default_context())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_certificate_without_its_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="go together"):
        parse_config('[api]\ntls_cert_file = "server.crt"\n')
