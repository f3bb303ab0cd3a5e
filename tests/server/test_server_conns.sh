#!/usr/bin/env bash
# fota-server under many connections (issue 12, failures 1 and 2): 1,100 connections that never
# finish their request (past select()'s 1,024-descriptor FD_SETSIZE wall) while a new client is
# answered; the idle timeout closes them all; idle connections likewise; and with every slot of
# --max-connections taken, a new client waits for the timeout to free one instead of being shut out.
HOST=${1:?host build dir}; HOLD=${2:?conn_hold helper}
. "$(dirname "$0")/lib.sh"
mkdir -p "$w/root"; echo 1.0.0 >"$w/root/version.txt"
start() { start_server --root "$w/root" "$@"; } # extra fota-server options
held() { # file N: wait until the helper holds its connections
  for _ in $(seq 200); do grep -q '^open ' "$1" && return 0; sleep 0.05; done; return 1
}

start --idle-timeout 2 || { echo "FAIL fota-server did not start"; cat "$w/log"; exit 1; }
"$HOLD" "$port" 1100 partial 4500 >"$w/partial.out" 2>&1 &
hp=$!
held "$w/partial.out"
check "1,100 unfinished requests held" grep -q '^open 1100$' "$w/partial.out"
check "  ... while a new client gets /version" test "$(curl -s -m 5 "$base/version")" = 1.0.0
wait "$hp"
check "  ... and the 2 s idle timeout closed all 1,100" grep -q '^closed 1100 of 1100$' "$w/partial.out"
check "  ... with no descriptor-limit errors logged" bash -c "! grep -q FD_SETSIZE '$w/log'"
"$HOLD" "$port" 300 idle 3500 >"$w/idle.out" 2>&1
check "300 idle connections closed by the idle timeout" grep -q '^closed 300 of 300$' "$w/idle.out"
stop_server

# At the limit libmicrohttpd stops accepting: a new connection waits in the listen queue until
# the idle timeout frees a slot, instead of being shut out for good.
start --max-connections 100 --idle-timeout 2 || { echo "FAIL fota-server did not start"; exit 1; }
"$HOLD" "$port" 100 idle 6000 >"$w/limit.out" 2>&1 &
hp=$!
held "$w/limit.out"
check "with --max-connections 100 all held by idle clients, a new client is still answered" \
  test "$(curl -s -m 10 "$base/version")" = 1.0.0
wait "$hp"
check "  ... once the idle timeout closed the idle ones" grep -q '^closed 100 of 100$' "$w/limit.out"
stop_server
start --log-level warn || { echo "FAIL fota-server did not start"; exit 1; }
curl -s -o /dev/null "$base/version"
stop_server
check "--log-level warn drops the request lines" bash -c "! grep -q ' info GET' '$w/log'"
check "--log-level refuses an unknown level" bash -c "! '$HOST/fota-server' --root '$w/root' --log-level loud"
check "--listen refuses a malformed address" bash -c "! '$HOST/fota-server' --root '$w/root' --listen 'localhost:80'"
check "--idle-timeout refuses 0" bash -c "! '$HOST/fota-server' --root '$w/root' --idle-timeout 0"

tally "server connections"
