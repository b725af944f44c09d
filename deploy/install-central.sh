#!/usr/bin/env bash
# Install (or upgrade: run it again) the qingliu collector and a Mosquitto broker with per-station users, ACL
# and TLS on a central server (Debian/Ubuntu), as root, from a checkout:
#   bash deploy/install-central.sh /path/to/collector.toml HOSTNAME [IP]
# Re-running keeps /var/lib/qingliu (the store, inbox and archive: the collector migrates the store's tables
# when it starts), the broker's certificates and password files; it replaces the program, configs and unit.
# Where systemd is not running (a chroot, an image being built) units are enabled but not started.
set -euo pipefail
config=${1:?usage: install-central.sh COLLECTOR_TOML HOSTNAME [IP]}; host=${2:?host name}; ip=${3:-127.0.0.1}
src=$(cd "$(dirname "$0")/.." && pwd)
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients openssl
id qingliu >/dev/null 2>&1 || useradd --system --home /var/lib/qingliu --shell /usr/sbin/nologin qingliu
install -d -m 0750 -o qingliu -g qingliu /var/lib/qingliu /var/lib/qingliu/var
install -d -m 0755 /etc/qingliu /opt/qingliu
[ -x /opt/qingliu/venv/bin/python ] || python3 -m venv /opt/qingliu/venv
# ${QINGLIU_PIP_ARGS}: e.g. --no-index --find-links DIR for an offline install.
# shellcheck disable=SC2086
/opt/qingliu/venv/bin/pip install -q ${QINGLIU_PIP_ARGS:-} "$src[collector,postgres]"
# check refuses example secrets (docs/SECURITY.md): nothing is installed with one.
/opt/qingliu/venv/bin/qingliu collector check --config "$config" >/dev/null
install -m 0640 -o root -g qingliu "$config" /etc/qingliu/collector.toml
# The broker's certificates: made once (a re-run keeps them: stations trust this CA).
if [ ! -f /etc/mosquitto/certs/server.crt ]; then
  bash "$src/deploy/mosquitto/make-certs.sh" /etc/mosquitto/certs "$host" "$ip"
fi
chown -R mosquitto: /etc/mosquitto/certs
chmod 0600 /etc/mosquitto/certs/*.key
install -m 0644 "$src/deploy/mosquitto/qingliu.conf" /etc/mosquitto/conf.d/qingliu.conf
install -m 0640 -g mosquitto "$src/deploy/mosquitto/qingliu.acl" /etc/mosquitto/qingliu.acl
# Two password files (per-listener settings): stations on the TLS listener, the collector alone on loopback.
for f in qingliu.passwd qingliu-collector.passwd; do
  [ -f "/etc/mosquitto/$f" ] || touch "/etc/mosquitto/$f"
  chown mosquitto: "/etc/mosquitto/$f" && chmod 0640 "/etc/mosquitto/$f"
done
install -m 0644 "$src/deploy/systemd/qingliu-collector.service" /etc/systemd/system/qingliu-collector.service
if [ -d /run/systemd/system ]; then
  systemctl restart mosquitto
  systemctl daemon-reload
  systemctl enable qingliu-collector
  systemctl restart qingliu-collector
else
  systemctl enable mosquitto qingliu-collector
fi
echo "add users: mosquitto_passwd /etc/mosquitto/qingliu-collector.passwd qingliu-collector ;"
echo "           mosquitto_passwd /etc/mosquitto/qingliu.passwd <station id>  (one per station)"
echo "dashboard users: /opt/qingliu/venv/bin/qingliu collector user add NAME --role admin --config /etc/qingliu/collector.toml"
