#!/usr/bin/env bash
# Download latency while fota-server takes a burst of device reports (issue 12, failure 4): 10,000
# reports from 40 devices, 50 at a time (curl --parallel), and meanwhile 200 downloads of a signed
# image one after the other; prints the downloads' p50/p90/max and how many reports were stored.
# Figures only: no assertion. Usage: scripts/bench-reports.sh HOST_BUILD_DIR FW_BUILD_DIR [FOTA_SERVER]
set -euo pipefail
HOST=${1:?host build dir}; FW=${2:?firmware build dir}; SERVER=${3:-$HOST/fota-server}
w=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$w"' EXIT
mkdir -p "$w/root"; echo 1.0.0 >"$w/root/version.txt"
{ cat "$FW/app-a.bin"; yes "benchmark payload" | head -c 180000 || true; } >"$w/app.bin"
"$HOST/fota" sign -k "$FW/keys/dev-key.pem" -b a -v 1.0.0 -o "$w/root/slot_a.bin" "$w/app.bin" >/dev/null
port=$((20000 + ($$ + 29) % 20000)); base=http://127.0.0.1:$port
"$SERVER" --root "$w/root" --port "$port" >"$w/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "$base/version" && break; sleep 0.05; done
urls=$(for i in $(seq 10000); do echo "$base/api/v1/devices/burst-$((i % 40))/report"; done)
curl -s -Z --parallel-max 50 -w '\n%{http_code}\n' -d '{"version":"1.0.0","state":"running"}' $urls >"$w/codes" 2>/dev/null &
bp=$!
sleep 0.3
for _ in $(seq 200); do curl -s -o /dev/null -w '%{time_total}\n' "$base/firmware/slot_a.bin"; done >"$w/times"
wait "$bp"
accepted=$(grep -cE '^20[12]$' "$w/codes" || true)
stored=0
for d in $(seq 0 39); do
  n=$(curl -s "$base/api/v1/devices/burst-$d/reports" | grep -o '"state"' | wc -l); stored=$((stored + n))
done
sort -n "$w/times" | awk -v a="$accepted" -v s="$stored" '{t[NR] = $1}
  END {printf "downloads during a burst of 10,000 reports: p50 %.1f ms, p90 %.1f ms, max %.1f ms (%d downloads); reports accepted %d, listed %d (50 per device at most)\n",
       t[int(NR * 0.5)] * 1000, t[int(NR * 0.9)] * 1000, t[NR] * 1000, NR, a, s}'
