#!/bin/sh
# The enclave image's command (keycast build --arg /bin/sh --arg /app/deploy/entrypoint.sh):
# bring up loopback (an enclave boots with it down), start the two vsock bridges, then run the
# enclave service on loopback. The enclave has no other network: everything crosses vsock.
#   vsock port 5000 (from the host)  → 127.0.0.1:8443  the enclave API
#   127.0.0.1:8000 (TCP, in here)   → vsock CID 3 (the parent) port 8000 → vsock-proxy → KMS
set -eu
ip link set lo up
socat VSOCK-LISTEN:5000,fork,reuseaddr TCP:127.0.0.1:8443 &
socat TCP-LISTEN:8000,bind=127.0.0.1,fork,reuseaddr VSOCK-CONNECT:3:8000 &
# TLS to KMS runs end to end from here (SNI and certificate checks on the real host name);
# --kms-bridge only decides which local socket the connection dials.
exec /usr/bin/node /app/bin/keycast.mjs enclave run --nsm device --listen 127.0.0.1:8443 --kms-bridge 127.0.0.1:8000
