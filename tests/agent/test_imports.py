"""What a running station agent imports: the rarely used parts stay out until they are needed (issue 17).

Station PCs are small and every module stays resident for months: the HJ 212 uplink is imported only where
``[[uplink.hj212]]`` names a target, command handling with the first command, the v1 outbox converter only for
an outbox of the first format, ``logging.handlers`` only with a ``[log] file``; and nothing of the collector,
its web server or the demo broker ever. Checked in a fresh interpreter, as ``qingliu agent run`` starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What `qingliu agent run` imports before it starts the runtime (qingliu_cli -> agent.cli -> agent.runtime,
# then the real acquisition).
STATION_PATH = ("qingliu_cli", "agent.cli", "agent.runtime", "agent.acquisition")

LAZY = (
    "agent.hj212up.service",
    "agent.hj212up.target",
    "agent.hj212up.frames",
    "agent.hj212up.answers",
    "agent.hj212up.report",
    "protocols.hj212",
    "protocols.hj212_codes",
    "protocols.hj212_periods",
    "agent.commands",
    "protocols.commands",
    "agent.outbox.migration",
    "logging.handlers",
)
NEVER = (
    "collector",
    "simulators",
    "fastapi",
    "starlette",
    "uvicorn",
    "amqtt",
    "openpyxl",
    "matplotlib",
    "docx",
    # ~13 MiB of a station's 30 (issue 17): the wire contract and the agent's config are msgspec
    "pydantic",
    "pydantic_core",
    # paho's proxy lookup only (protocols/lazymodule.py): urllib.request with http.client, email, tempfile
    "http.client",
    "email",
    "tempfile",
    # the agent's Modbus TCP master is its own (agent/acquisition/tcp.py): pymodbus's client was ~2 MiB
    "pymodbus",
)


def imported_by(*modules: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def _found(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


def test_the_station_path_leaves_the_rarely_used_parts_out() -> None:
    loaded = imported_by(*STATION_PATH)
    assert "agent.runtime" in loaded and "agent.acquisition.core" in loaded
    assert _found(loaded, LAZY) == []
    assert _found(loaded, NEVER) == []


def test_import_agent_runtime_alone_leaves_them_out_too() -> None:
    loaded = imported_by("agent.runtime")
    assert _found(loaded, LAZY) == []
    assert _found(loaded, NEVER) == []


def test_the_lazy_parts_still_import() -> None:
    """A lazy import that broke would show only at the first command or the first HJ 212 target."""
    loaded = imported_by("agent.runtime", *LAZY)
    assert set(LAZY) <= loaded
    assert _found(loaded, NEVER) == []


def test_loading_the_config_and_every_profile_imports_no_pydantic() -> None:
    """Not only importing: reading a config and the profiles (their validation) stays off pydantic too."""
    code = (
        "import json, sys\n"
        "import agent.config, agent.runtime, protocols.profiles\n"
        "agent.config.load_config('deploy/examples/agent.toml')\n"
        "for name in protocols.profiles.builtin_names():\n"
        "    protocols.profiles.load_profile(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert _found(set(json.loads(done.stdout)), NEVER) == []


OPENSSL = ("ssl", "_ssl", "_hashlib")


def runtime_imported_for(url: str) -> dict[str, object]:
    """In a fresh interpreter, as `qingliu agent run` does: the config read, then agent.cli.import_runtime."""
    code = f"""
import json, sys
from agent.cli import import_runtime
from agent.config import parse_config
config = parse_config('[station]\\nid = "hexicun"\\n[mqtt]\\nurl = "{url}"\\n')
import_runtime(config)
import agent.acquisition
import agent.hj212up.service  # as a station with HJ 212 targets imports it, after the runtime
loaded = sorted(m for m in {OPENSSL!r} if sys.modules.get(m) is not None)
import hashlib, hmac
digest = hashlib.sha256(b"qingliu").hexdigest()
same = hmac.compare_digest(hmac.new(b"k", b"m", "sha256").hexdigest(), hmac.new(b"k", b"m", "sha256").hexdigest())
import paho.mqtt.client as mqtt
paho_ssl = getattr(mqtt.ssl, "__name__", type(mqtt.ssl).__name__)
import ssl  # the block is lifted once the runtime is imported
print(json.dumps({{"loaded": loaded, "digest": digest, "hmac": same, "paho_ssl": paho_ssl,
                   "ssl_later": ssl.OPENSSL_VERSION.startswith("OpenSSL")}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_station_without_tls_does_not_load_openssl() -> None:
    found = runtime_imported_for("mqtt://127.0.0.1:1883")
    assert found["loaded"] == []
    # CPython's own SHA-256 answers as OpenSSL's does
    assert found["digest"] == "f3f590df65dee61cf12bed26dbaa590559725fc79459101d1e8426ece936b843"
    assert found["hmac"] is True
    assert found["paho_ssl"] == "SimpleNamespace"  # paho's except clauses name notls.NO_TLS's exceptions
    assert found["ssl_later"] is True


def test_a_station_with_tls_loads_it_before_the_runtime() -> None:
    found = runtime_imported_for("mqtts://127.0.0.1:8883")
    assert found["loaded"] == ["_hashlib", "_ssl", "ssl"]
    assert found["paho_ssl"] == "ssl"
