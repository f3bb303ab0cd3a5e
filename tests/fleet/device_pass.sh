#!/usr/bin/env bash
# One simulated device's pass for test_fleet.sh. It asks the server, as the device (its id and
# token), which version it should run; when that is the one its bridge installed, nothing more
# ("ID idle"). Otherwise the board is powered (fota-sim, its flash kept in DIR/flash.bin) and the
# real fota-bridge, with the device's token, updates it: "ID <the bridge's summary line>".
set -uo pipefail
HOST=$1; KEY=$2; URL=$3; DIR=$4; ID=$5; INIT=$6
tok=$(cat "$DIR/token")
offered=$(curl -s -H "X-Device-Id: $ID" -H "Authorization: Bearer $tok" "$URL/version")
if [ "$offered" = "$(cat "$DIR/version" 2>/dev/null)" ]; then
  echo "$ID idle"; exit 0
fi
rm -f "$DIR/sock"
init=(); [ -f "$DIR/flash.bin" ] || init=(--init "$INIT")
"$HOST/fota-sim" --flash "$DIR/flash.bin" --socket "$DIR/sock" --pubkey "$KEY" --quiet "${init[@]}" >>"$DIR/sim.log" 2>&1 & sim=$!
for _ in $(seq 200); do [ -S "$DIR/sock" ] && break; sleep 0.01; done
out=$("$HOST/fota-bridge" --server "$URL" --state-dir "$DIR" --device-id "$ID" --device-token-file "$DIR/token" \
  --sim-socket "${DIR}/sock" --attempts 2 --backoff-ms 100 2>>"$DIR/bridge.err" | tail -1)
kill "$sim" 2>/dev/null; wait "$sim" 2>/dev/null
echo "$ID $out"
