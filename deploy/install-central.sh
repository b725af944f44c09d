#!/usr/bin/env bash
# Install the qingliu collector and a Mosquitto broker with per-station users, ACL and TLS on a central server.
#   bash deploy/install-central.sh /path/to/collector.toml HOSTNAME [IP]
set -euo pipefail
config=${1:?usage: install-central.sh COLLECTOR_TOML HOSTNAME [IP]}; host=${2:?host name}; ip=${3:-127.0.0.1}
src=$(cd "$(dirname "$0")/.." && pwd)
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients openssl
id qingliu >/dev/null 2>&1 || useradd --system --home /var/lib/qingliu --shell /usr/sbin/nologin qingliu
install -d -o qingliu -g qingliu /var/lib/qingliu /var/lib/qingliu/var
install -d /etc/qingliu /opt/qingliu
python3 -m venv /opt/qingliu/venv
/opt/qingliu/venv/bin/pip install -q "$src[collector,postgres]"
/opt/qingliu/venv/bin/qingliu collector check --config "$config"
install -m 0640 -g qingliu "$config" /etc/qingliu/collector.toml
bash "$src/deploy/mosquitto/make-certs.sh" /etc/mosquitto/certs "$host" "$ip"
chown -R mosquitto: /etc/mosquitto/certs
install -m 0644 "$src/deploy/mosquitto/qingliu.conf" /etc/mosquitto/conf.d/qingliu.conf
install -m 0640 -g mosquitto "$src/deploy/mosquitto/qingliu.acl" /etc/mosquitto/qingliu.acl
# Two password files (per-listener settings): stations on the TLS listener, the collector alone on loopback.
for f in qingliu.passwd qingliu-collector.passwd; do
  touch "/etc/mosquitto/$f" && chown mosquitto: "/etc/mosquitto/$f" && chmod 0640 "/etc/mosquitto/$f"
done
echo "add users: mosquitto_passwd /etc/mosquitto/qingliu-collector.passwd qingliu-collector ;"
echo "           mosquitto_passwd /etc/mosquitto/qingliu.passwd <station id>  (one per station)"
systemctl restart mosquitto
install -m 0644 "$src/deploy/systemd/qingliu-collector.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now qingliu-collector
