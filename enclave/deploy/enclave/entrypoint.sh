#!/bin/sh
# The enclave image's one command: argv ["/bin/sh", "/app/enclave/deploy/enclave/entrypoint.sh"]
# (enclave/deploy/enclave/image.json; the Nix flake and `keycast build --arg` both use it).
# Brings up loopback (an enclave boots with it down), starts the vsock bridges (each restarted
# if it dies), points the AWS SDK at the host's credentials endpoint, and becomes the enclave
# service. The enclave has no other network: everything crosses vsock.
#   vsock port 5000 (from the host)  → 127.0.0.1:8443   the enclave API
#   127.0.0.1:8000 (TCP, in here)   → vsock CID 3 (the parent) port 8000 → vsock-proxy → KMS (TLS from here)
#   127.0.0.1:8002 (TCP, in here)   → vsock CID 3 port 8002 → `keycast host run --credentials-listen`
# The pinned configuration is /etc/keycast/enclave.json (keycast build --enclave-config), the
# default of `keycast enclave run --config`. Arguments given to this script are appended to
# `keycast enclave run`'s (the image passes none; tests add the simulated NSM's flags).
# When the service exits the enclave shuts down, and the host's keycast-enclave.service
# starts it again.
set -eu
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
ip link set lo up
bridge() {
  while :; do
    socat "$@" || :
    sleep 1
  done
}
bridge VSOCK-LISTEN:5000,fork,reuseaddr TCP:127.0.0.1:8443 &
bridge TCP-LISTEN:8000,bind=127.0.0.1,fork,reuseaddr VSOCK-CONNECT:3:8000 &
bridge TCP-LISTEN:8002,bind=127.0.0.1,fork,reuseaddr VSOCK-CONNECT:3:8002 &
# the AWS SDK's container-credentials provider (loopback: the only plain-HTTP host it accepts);
# the host hands the enclave the endpoint's token over the enclave API
AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:8002/v1/aws-credentials
# init gives no HOME and the image has no /etc/passwd: without HOME the SDK's shared-config
# step fails the whole credentials chain (uv_os_homedir ENOENT) before it reaches the URI
HOME=/var/empty
# no instance metadata in here: never wait for it
AWS_EC2_METADATA_DISABLED=true
export AWS_CONTAINER_CREDENTIALS_FULL_URI HOME AWS_EC2_METADATA_DISABLED
exec /bin/keycast enclave run --nsm device --listen 127.0.0.1:8443 --kms-bridge 127.0.0.1:8000 "$@"
