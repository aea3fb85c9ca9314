#!/bin/sh
# Makes the local STS's test certificates: a throw-away CA and a server certificate for 127.0.0.1 / localhost / ::1,
# valid for 100 years. Test-only material: never trust this CA outside the test processes (NODE_EXTRA_CA_CERTS).
# Usage: sh emulators/sts/certs/make-certs.sh   (rewrites ca.pem, server.pem, server-key.pem in this folder)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 \
  -subj "/CN=aliyun-local test CA (do not trust)" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$tmp/ca-key.pem" -out ca.pem
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout server-key.pem -out "$tmp/server.csr"
cat > "$tmp/ext.cnf" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey "$tmp/ca-key.pem" -CAcreateserial -CAserial "$tmp/ca.srl" \
  -days 36500 -sha256 -extfile "$tmp/ext.cnf" -out server.pem
echo "wrote ca.pem server.pem server-key.pem (the CA key was discarded)"
