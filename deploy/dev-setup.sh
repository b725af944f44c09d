#!/usr/bin/env bash
# Sets up a development/test machine (Debian 12): the system tools the tests use, and the qingliu package with
# its dev extras in ./.venv. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v mbpoll >/dev/null 2>&1 || need+=(mbpoll)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The deploy test (pytest -m deploy): a throwaway Debian root for the install scripts, and unit checks.
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# A CJK font, so that the dashboard screenshots the browser tests save show the Chinese labels.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "dev-setup: installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's mosquitto package starts a system broker on 1883; tests start their own on free ports, so it may stay.

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# Install (again) only when what decides the install changed: a rerun is quick and quiet. The dev tools come at
# the exact versions of deploy/constraints-dev.txt (a formatter's style moves between versions).
stamp=.venv/.qingliu-setup
want=$(cat pyproject.toml deploy/constraints-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    # setuptools reminds on every editable install that the package folders sit in the checkout's root (our
    # decided flat layout): that block of the build's output is dropped, anything else is shown.
    .venv/bin/python -m pip install -q -e ".[dev]" -c deploy/constraints-dev.txt 2>&1 \
        | grep -v "^WARNING: Location" \
        | awk '/BuildBackendWarning: Editable installation/{skip=1} skip&&/wheel_obj/{skip=0;next} !skip' || true
fi
.venv/bin/python -c "import agent, collector, protocols, simulators, pymodbus, paho.mqtt, fastapi" \
    || { echo "dev-setup: the package did not install" >&2; exit 1; }
echo "$want" > "$stamp"  # only once the package imports
echo "dev-setup: ready (.venv)"
