#!/usr/bin/env bash
# fota-server with its reports in PostgreSQL (issue 12), in a temporary cluster this test starts
# from Debian's postgresql package (as the postgres user when run as root: initdb refuses root):
# two fota-server instances on one database, a report posted to either listed by both, reports
# accepted just before SIGTERM kept, metrics from each instance, and the fleet shared by two instances.
HOST=${1:?host build dir}; FW=${2:?firmware build dir}
. "$(dirname "$0")/lib.sh"
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
kill -0 "$pid" 2>/dev/null && kill -0 "$pid2" 2>/dev/null || { tail -3 "$w/a.log"; tail -3 "$w/b.log"; }

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

# The fleet on the shared database (issue 13): two instances in registered mode; a device
# provisioned through one is known to the other, a rollout made on one is listed (with its
# members) by the other, and both read one audit log.
echo "operator-token-for-the-pg-test" >"$w/op.tok"
mkdir -p "$w/c" "$w/d"
fleet_instance() { # ROOT PORT
  "$HOST/fota-server" --root "$1" --port "$2" --db "$db" --devices registered --publish-token-file "$w/op.tok" \
    --pubkey "$FW/keys/dev-key.pem" >"$1.log" 2>&1 &
}
fleet_instance "$w/c" $((port + 4)); pid_c=$!
fleet_instance "$w/d" $((port + 5)); pid_d=$!
trap 'for p in $pid ${pid2:-} ${pid_c:-} ${pid_d:-}; do kill "$p" 2>/dev/null; done; pgstop; rm -rf "$w"' EXIT
c=http://127.0.0.1:$((port + 4)); d=http://127.0.0.1:$((port + 5)); op="Authorization: Bearer $(cat "$w/op.tok")"
for u in "$c" "$d"; do for _ in $(seq 100); do curl -s -o /dev/null "$u/metrics" && break; sleep 0.05; done; done
for i in 1 2 3 4; do
  code -H "$op" -d "{\"id\":\"pg-$i\",\"group\":\"g\"}" "$c/api/v1/devices" >/dev/null
  cp "$w/body" "$w/dev$i.json"
done
tok=$(grep -o '"token":"[0-9a-f]*"' "$w/dev1.json" | cut -d'"' -f4)
check "a device provisioned through C passes D's identity check with its token (404: D holds no release)" test "$(code -H "X-Device-Id: pg-1" -H "Authorization: Bearer $tok" "$d/version")" = 404
check "  ... and refused by D without it (401)" test "$(code -H "X-Device-Id: pg-1" "$d/version")" = 401
"$HOST/fota" sign -k "$FW/keys/dev-key.pem" -b a -v 2.0.0 -o "$w/a2.bin" "$FW/app-a.elf" >/dev/null
"$HOST/fota" sign -k "$FW/keys/dev-key.pem" -b b -v 2.0.0 -o "$w/b2.bin" "$FW/app-b.elf" >/dev/null
code -H "$op" -T "$w/a2.bin" "$c/api/v1/releases/2.0.0/slot_a.bin" >/dev/null
code -H "$op" -T "$w/b2.bin" "$c/api/v1/releases/2.0.0/slot_b.bin" >/dev/null
check "C publishes 2.0.0 for rollouts" test "$(code -H "$op" -X POST "$c/api/v1/releases/2.0.0/publish")" = 200
check "C creates a rollout of 2.0.0 to all of group g (201)" test "$(code -H "$op" -d '{"version":"2.0.0","group":"g","percent":100}' "$c/api/v1/rollouts")" = 201
check "D lists it with its 4 members" bash -c "curl -s -H '$op' '$d/api/v1/rollouts' | grep -q '\"version\":\"2.0.0\",\"group\":\"g\",\"state\":\"active\".*\"members\":4'"
check "D's audit log has C's provisioning and rollout" bash -c "curl -s -H '$op' '$d/api/v1/audit' | grep -q 'rollout created' && curl -s -H '$op' '$d/api/v1/audit' | grep -q 'pg-4 (group'"
tally "server on PostgreSQL"
