#!/usr/bin/env bash
# Install the qingliu agent on a station PC (Debian/Ubuntu), run as root from a checkout of qingliu:
#   bash deploy/install-station.sh /path/to/agent.toml
set -euo pipefail
config=${1:?usage: install-station.sh AGENT_TOML}
src=$(cd "$(dirname "$0")/.." && pwd)
id qingliu >/dev/null 2>&1 || useradd --system --home /var/lib/qingliu --shell /usr/sbin/nologin qingliu
# dialout: the RS-485 adapters (/dev/ttyUSB*, /dev/ttyS*) belong to it
usermod -a -G dialout qingliu
install -d -o qingliu -g qingliu /var/lib/qingliu /var/lib/qingliu/var
install -d /etc/qingliu /opt/qingliu
python3 -m venv /opt/qingliu/venv
# The agent extra only: a station PC gets no web server and no demo broker.
/opt/qingliu/venv/bin/pip install -q "$src[agent]"
/opt/qingliu/venv/bin/qingliu agent check --config "$config"
install -m 0640 -g qingliu "$config" /etc/qingliu/agent.toml
install -m 0644 "$src/deploy/systemd/qingliu-agent.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now qingliu-agent
echo "qingliu agent installed; status: systemctl status qingliu-agent; queue: qingliu agent outbox --config /etc/qingliu/agent.toml"
