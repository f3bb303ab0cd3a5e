#!/usr/bin/env bash
# fota-server against nginx on the same files, in one run (issue 12): wrk at 1, 16, 128 and 1,000
# connections, 5 s each, over HTTP and over TLS, on loopback; a 256 KiB signed image. nginx runs
# one worker with sendfile (and TLS with the same certificate); fota-server its defaults. Prints
# requests per second, errors and the ratio fota-server / nginx per row, then the same image sent
# three ways by tests/server/send_pattern at 1,000 connections (docs/PERFORMANCE.md), and ends with
#   min ratio to nginx: X (HTTP), Y (TLS); errors: N
# Installs wrk and nginx from Debian when missing. Figures only. Usage:
#   scripts/bench-server.sh HOST_BUILD_DIR FW_BUILD_DIR
set -euo pipefail
HOST=$(cd "${1:?host build dir}" && pwd); FW=$(cd "${2:?firmware build dir}" && pwd)
DURATION=${BENCH_SECONDS:-5}
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk nginx >/dev/null
fi
w=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$w/nginx.pid" ] && kill "$(cat "$w/nginx.pid")" 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p "$w/root" "$w/tmp"; chmod 755 "$w" # nginx's workers run as another user
{ cat "$FW/app-a.bin"; yes "benchmark payload" | head -c $((262144 - 512 - 144 - $(stat -c %s "$FW/app-a.bin"))) || true; } >"$w/app.bin"
"$HOST/fota" sign -k "$FW/keys/dev-key.pem" -b a -v 1.0.0 -o "$w/root/slot_a.bin" "$w/app.bin" >/dev/null
mkdir -p "$w/root/firmware"; cp "$w/root/slot_a.bin" "$w/root/firmware/slot_a.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -keyout "$w/key.pem" -out "$w/cert.pem" >/dev/null 2>&1
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 50); do
  base=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-), which wrk's connections take
  port_free $base && port_free $((base + 1)) && port_free $((base + 2)) && port_free $((base + 3)) &&
    port_free $((base + 4)) && break
done
p_srv=$base; p_srv_tls=$((base + 1)); p_ngx=$((base + 2)); p_ngx_tls=$((base + 3)); p_one=$((base + 4))
cat >"$w/nginx.conf" <<CONF
worker_processes 1;
pid $w/nginx.pid;
error_log $w/nginx.err;
events { worker_connections 20000; }
worker_rlimit_nofile 40000;
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $w/tmp; proxy_temp_path $w/tmp; fastcgi_temp_path $w/tmp; uwsgi_temp_path $w/tmp; scgi_temp_path $w/tmp;
  server { listen 127.0.0.1:$p_ngx; root $w/root; }
  server { listen 127.0.0.1:$p_ngx_tls ssl; ssl_certificate $w/cert.pem; ssl_certificate_key $w/key.pem; root $w/root; }
}
CONF
nginx -c "$w/nginx.conf"
"$HOST/fota-server" --root "$w/root" --port "$p_srv" --db "$w/r1.sqlite" >"$w/srv.log" 2>&1 & pids+=($!)
"$HOST/fota-server" --root "$w/root" --port "$p_srv_tls" --db "$w/r2.sqlite" --cert "$w/cert.pem" --tls-key "$w/key.pem" >"$w/srv-tls.log" 2>&1 & pids+=($!)
for p in $p_srv $p_srv_tls $p_ngx; do
  for _ in $(seq 100); do curl -sk -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null && break
    curl -sk -o /dev/null "https://127.0.0.1:$p/" 2>/dev/null && break; sleep 0.05; done
done

run() { # URL CONNECTIONS -> "rps errors"
  local t=2; [ "$2" -lt 2 ] && t=1
  local out; out=$(wrk -t "$t" -c "$2" -d "${DURATION}s" --timeout 10s "$1" 2>&1)
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  local err; err=$(awk '/Socket errors/ {gsub(",", ""); s = $4 + $6 + $8 + $10} /Non-2xx/ {s += $NF} END {print s + 0}' <<<"$out")
  echo "${rps:-0} ${err:-0}"
}
echo "| protocol | connections | fota-server req/s | errors | nginx req/s | errors | ratio |"
echo "|---|---|---|---|---|---|---|"
min_http=999; min_tls=999; errors=0
for proto in http https; do
  for c in 1 16 128 1000; do
    if [ "$proto" = http ]; then a=http://127.0.0.1:$p_srv; b=http://127.0.0.1:$p_ngx; else a=https://127.0.0.1:$p_srv_tls; b=https://127.0.0.1:$p_ngx_tls; fi
    read -r ra ea <<<"$(run "$a/firmware/slot_a.bin" "$c")"
    read -r rb eb <<<"$(run "$b/firmware/slot_a.bin" "$c")"
    ratio=$(awk -v a="$ra" -v b="$rb" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    echo "| $proto | $c | $ra | $ea | $rb | $eb | $ratio |"
    errors=$((errors + ea))
    if [ "$proto" = http ]; then min_http=$(awk -v m="$min_http" -v r="$ratio" 'BEGIN {print (r + 0 < m + 0 ? r : m)}')
    else min_tls=$(awk -v m="$min_tls" -v r="$ratio" 'BEGIN {print (r + 0 < m + 0 ? r : m)}'); fi
  done
done
# One thread (--threads 1: poll(), see fota_server.c): libmicrohttpd's single epoll thread served
# 1.2k req/s here, leaving requests unread for a second at a time.
"$HOST/fota-server" --root "$w/root" --port "$p_one" --db "$w/r3.sqlite" --threads 1 --log-level warn >"$w/srv-one.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p_one/" && break; sleep 0.05; done
read -r r1 e1 <<<"$(run "http://127.0.0.1:$p_one/firmware/slot_a.bin" 256)"
echo "one thread (--threads 1), HTTP, 256 connections: $r1 req/s, $e1 errors"
# What sending a response costs, one way or another, at 1,000 connections (tests/server/
# send_pattern.c answers every request with this image, nothing else): the ceiling of each way
# libmicrohttpd can send it, and of the front's way (hdr-more, nginx's), beside nginx.
if [ -x "$HOST/tests/send_pattern" ]; then
  line="send patterns, HTTP, 1000 connections (req/s):"
  for pat in writev hdr-push hdr-more; do
    port=0
    for _ in $(seq 50); do port=$((20000 + RANDOM % 12000)); port_free $port && break; done
    "$HOST/tests/send_pattern" "$pat" "$port" "$w/root/firmware/slot_a.bin" >/dev/null 2>&1 & sp=$!; pids+=($sp)
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
    read -r rp _ <<<"$(run "http://127.0.0.1:$port/firmware/slot_a.bin" 1000)"
    kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
    line="$line $pat $rp,"
  done
  read -r rn _ <<<"$(run "http://127.0.0.1:$p_ngx/firmware/slot_a.bin" 1000)"
  echo "$line nginx $rn"
fi
echo "min ratio to nginx: $min_http (HTTP), $min_tls (TLS); errors: $errors"
