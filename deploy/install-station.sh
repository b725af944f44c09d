#!/usr/bin/env bash
# Install (or upgrade: run it again) the qingliu agent on a station PC (Debian/Ubuntu), as root, from a checkout:
#   bash deploy/install-station.sh /path/to/agent.toml
# Re-running keeps /var/lib/qingliu (the outbox) and replaces the program, config and unit. Where systemd is not
# running (a chroot, an image being built) the unit is enabled but not started.
set -euo pipefail
config=${1:?usage: install-station.sh AGENT_TOML}
src=$(cd "$(dirname "$0")/.." && pwd)
id qingliu >/dev/null 2>&1 || useradd --system --home /var/lib/qingliu --shell /usr/sbin/nologin qingliu
# dialout: the RS-485 adapters (/dev/ttyUSB*, /dev/ttyS*) belong to it
usermod -a -G dialout qingliu
install -d -m 0750 -o qingliu -g qingliu /var/lib/qingliu /var/lib/qingliu/var
install -d -m 0755 /etc/qingliu /opt/qingliu
[ -x /opt/qingliu/venv/bin/python ] || python3 -m venv /opt/qingliu/venv
# The agent extra only: a station PC gets no web server and no demo broker. ${QINGLIU_PIP_ARGS} lets an
# offline install point pip at a wheel directory (--no-index --find-links DIR).
# shellcheck disable=SC2086
/opt/qingliu/venv/bin/pip install -q ${QINGLIU_PIP_ARGS:-} "$src[agent]"
/opt/qingliu/venv/bin/qingliu agent check --config "$config" >/dev/null
install -m 0640 -o root -g qingliu "$config" /etc/qingliu/agent.toml
install -m 0644 "$src/deploy/systemd/qingliu-agent.service" /etc/systemd/system/qingliu-agent.service
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable qingliu-agent
  systemctl restart qingliu-agent
else
  systemctl enable qingliu-agent
fi
echo "qingliu agent installed; status: systemctl status qingliu-agent; queue: qingliu agent outbox --config /etc/qingliu/agent.toml"
