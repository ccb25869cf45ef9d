#!/bin/sh
# Start the Keycast enclave and watch it (keycast-enclave.service's ExecStart; install as
# /opt/keycast/keycast-enclave-watch.sh). Exits non-zero as soon as the enclave is not RUNNING,
# so systemd (Restart=always) starts a new one. An enclave left over from an earlier run under
# the same name is terminated first: a CID can be held by one enclave only.
set -u
NITRO_CLI=${NITRO_CLI:-/usr/bin/nitro-cli}
EIF=${KEYCAST_EIF:-/opt/keycast/enclave.eif}
NAME=${KEYCAST_ENCLAVE_NAME:-keycast}
CID=${KEYCAST_ENCLAVE_CID:-16}
POLL=${KEYCAST_WATCH_SECONDS:-5}

running() {
  # describe-enclaves prints a JSON list; one object per enclave, "EnclaveName" and "State" in it
  "$NITRO_CLI" describe-enclaves | tr -d ' \n' | grep -q "\"EnclaveName\":\"$NAME\"[^}]*\"State\":\"RUNNING\""
}

"$NITRO_CLI" terminate-enclave --enclave-name "$NAME" >/dev/null 2>&1 || :
"$NITRO_CLI" run-enclave --eif-path "$EIF" --enclave-name "$NAME" --enclave-cid "$CID" \
  --cpu-count "${KEYCAST_ENCLAVE_CPUS:-2}" --memory "${KEYCAST_ENCLAVE_MEMORY:-2048}" || exit 1
while running; do
  sleep "$POLL"
done
echo "keycast-enclave-watch: enclave $NAME is no longer running" >&2
exit 1
