#!/usr/bin/env bash
# fota-server with its reports in PostgreSQL (issue 12), in a temporary cluster this test starts
# from Debian's postgresql package (as the postgres user when run as root: initdb refuses root):
# two fota-server instances on one database, a report posted to either listed by both, reports
# accepted just before SIGTERM kept, and metrics from each instance.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
OFFSET=17; . "$(dirname "$0")/lib.sh"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "FAIL no PostgreSQL server binaries (apt-get install postgresql: scripts/setup.sh)"; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg=$w/pg; mkdir -p "$pg"; chmod 755 "$w"
[ "$(id -u)" -eq 0 ] && chown postgres "$pg"
pgport=$((port + 1))
as_pg "$pgbin/initdb" -D "$pg/data" -A trust -U fota >"$w/initdb.log" 2>&1 || { echo "FAIL initdb"; cat "$w/initdb.log"; exit 1; }
as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/log" -w -o "-k $pg -p $pgport -c listen_addresses=''" start >/dev/null ||
  { echo "FAIL pg_ctl start"; cat "$pg/log"; exit 1; }
pgstop() { as_pg "$pgbin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null 2>&1; }
trap 'for p in $pid ${pid2:-}; do kill "$p" 2>/dev/null; done; pgstop; rm -rf "$w"' EXIT
as_pg "$pgbin/createdb" -h "$pg" -p "$pgport" -U fota fota || { echo "FAIL createdb"; exit 1; }
db="postgresql:///fota?host=$pg&port=$pgport&user=fota"

base2=http://127.0.0.1:$((port + 2))
mkdir -p "$w/a" "$w/b"; echo 1.0.0 >"$w/a/version.txt"; echo 1.0.0 >"$w/b/version.txt"
"$HOST/fota-server" --root "$w/a" --port "$port" --db "$db" >"$w/a.log" 2>&1 &
pid=$!
"$HOST/fota-server" --root "$w/b" --port "$((port + 2))" --db "$db" >"$w/b.log" 2>&1 &
pid2=$!
for u in "$base" "$base2"; do for _ in $(seq 100); do curl -s -o /dev/null "$u/version" && break; sleep 0.05; done; done
check "instance A started on PostgreSQL" kill -0 "$pid"
check "instance B started on PostgreSQL (the schema made once)" kill -0 "$pid2"

check "a report posted to A (202)" test "$(code -X POST -d '{"version":"2.0.0","bank":"B","state":"updated","error":""}' "$base/api/v1/devices/pump-1/report")" = 202
check "a report posted to B (202)" test "$(code -X POST -d '{"version":"2.0.0","bank":"B","state":"confirmed","error":""}' "$base2/api/v1/devices/pump-1/report")" = 202
listed() { curl -s "$1/api/v1/devices/pump-1/reports" | grep -o '"state":"[a-z]*"' | sort | tr '\n' ' '; }
both='"state":"confirmed" "state":"updated" '
for _ in $(seq 50); do [ "$(listed "$base")" = "$both" ] && [ "$(listed "$base2")" = "$both" ] && break; sleep 0.1; done
check "A lists both reports" test "$(listed "$base")" = "$both"
check "B lists both reports" test "$(listed "$base2")" = "$both"

burst "$base2" fleet- 20 1000 2.0.0 "$w/burst"
check "a burst of 1,000 reports to B: all accepted" test "$(grep -c '^202$' "$w/burst")" = 1000
kill -TERM "$pid2"; wait "$pid2"; pid2=
check "  ... all stored when B stopped: 50 listed by A for each of the 20 devices" all_listed "$base" fleet- 20
check "metrics of A count its own report" bash -c "curl -s '$base/metrics' | grep -qx 'fota_update_results_total{version=\"2.0.0\",state=\"updated\"} 1'"
check "a PostgreSQL that cannot be reached is refused at start (exit 3)" bash -c "'$HOST/fota-server' --root '$w/a' --port $((port + 3)) --db 'postgresql:///nothere?host=$pg&port=1&user=fota' 2>'$w/bad.err'; test \$? = 3"
check "  ... saying why" grep -q "cannot open the report database" "$w/bad.err"
tally "server on PostgreSQL"
