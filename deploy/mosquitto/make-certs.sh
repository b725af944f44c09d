#!/usr/bin/env bash
# Make a private CA and a server certificate for the broker (SAN: the host name and IP given).
# usage: make-certs.sh OUT_DIR HOSTNAME [IP]
set -euo pipefail
out=${1:?out dir}; host=${2:?host name}; ip=${3:-127.0.0.1}
mkdir -p "$out"; cd "$out"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=qingliu CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$host" -keyout server.key -out server.csr 2>/dev/null
printf "subjectAltName=DNS:%s,IP:%s\n" "$host" "$ip" > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile san.ext -out server.crt 2>/dev/null
rm -f server.csr san.ext
echo "CA: $out/ca.crt  server: $out/server.crt $out/server.key"
