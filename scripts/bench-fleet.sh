#!/usr/bin/env bash
# What device identity costs fota-server (issue 13): wrk on GET /version, 64 connections, 5 s, against
# a release build in --devices open without identity, and in --devices registered where every
# request carries X-Device-Id and a device token (one database lookup per request, SQLite), then
# with a rollout active (the release chosen per device). Prints requests per second and ratios.
# Installs wrk from Debian when missing. Usage: scripts/bench-fleet.sh RELEASE_BUILD_DIR FW_BUILD_DIR
set -euo pipefail
HOST=$(cd "${1:?release build dir}" && pwd); FW=$(cd "${2:?firmware build dir}" && pwd)
. "$(dirname "$0")/../tests/lib/ports.sh"
command -v wrk >/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get install -y -qq wrk >/dev/null; }
w=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$w"' EXIT
echo "operator-token-for-the-benchmark" >"$w/op.tok"
KEY=$FW/keys/dev-key.pem
for v in 1.0.0 2.0.0; do
  "$HOST/fota" sign -k "$KEY" -b a -v $v -o "$w/$v-a.bin" "$FW/app-a.elf" >/dev/null
  "$HOST/fota" sign -k "$KEY" -b b -v $v -o "$w/$v-b.bin" "$FW/app-b.elf" >/dev/null
done
serve() { # MODE
  port=$(free_port); mkdir -p "$w/root-$1"
  "$HOST/fota-server" --root "$w/root-$1" --port "$port" --pubkey "$KEY" --publish-token-file "$w/op.tok" \
    --devices "$1" --log-level warn >"$w/$1.log" 2>&1 & pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.05; done
  admin() { "$HOST/fota-admin" --server "http://127.0.0.1:$port" --token-file "$w/op.tok" "$@"; }
  admin publish 1.0.0 "$w/1.0.0-a.bin" "$w/1.0.0-b.bin" --activate >/dev/null 2>&1
  admin publish 2.0.0 "$w/2.0.0-a.bin" "$w/2.0.0-b.bin" >/dev/null 2>&1
  for i in $(seq 0 99); do admin device add "b$i" --group g --token-out "$w/b$i.tok" >/dev/null; done
}
rate() { # URL [HEADER...]
  local url=$1; shift; local h=()
  for x in "$@"; do h+=(-H "$x"); done
  wrk -t 2 -c 64 -d 5s "${h[@]}" "$url" | awk '/Requests\/sec/ {print $2}'
}
serve open
open_rps=$(rate "http://127.0.0.1:$port/version")
kill "$pid"; wait "$pid" 2>/dev/null
serve registered
reg_rps=$(rate "http://127.0.0.1:$port/version" "X-Device-Id: b7" "Authorization: Bearer $(cat "$w/b7.tok")")
admin rollout create 2.0.0 --group g --percent 100 >/dev/null
sleep 1.2
roll_rps=$(rate "http://127.0.0.1:$port/version" "X-Device-Id: b7" "Authorization: Bearer $(cat "$w/b7.tok")")
[ "$(curl -s -H "X-Device-Id: b7" -H "Authorization: Bearer $(cat "$w/b7.tok")" "http://127.0.0.1:$port/version")" = 2.0.0 ] ||
  echo "warning: the rollout did not apply"
kill "$pid"; wait "$pid" 2>/dev/null; pid=
echo "| GET /version, 64 connections | req/s | ratio to open |"
echo "|---|---|---|"
echo "| --devices open, no identity | $open_rps | 1.00 |"
awk -v a="$reg_rps" -v b="$open_rps" 'BEGIN {printf "| --devices registered, token checked (SQLite) | %s | %.2f |\n", a, a / b}'
awk -v a="$roll_rps" -v b="$open_rps" 'BEGIN {printf "| the same with a rollout serving 2.0.0 | %s | %.2f |\n", a, a / b}'
