# Shared by the fota-server tests: a scratch folder removed at exit (with the server, $pid), a
# block of 8 free ports from a random base ($port...), check NAME COMMAND..., code CURL-ARGS... (the status;
# the body in $w/body), start_server/stop_server ($HOST/fota-server), and the final tally.
set -uo pipefail
w=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$w"' EXIT
pass=0; fail=0
check() { # NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"
port=$(free_port "" 8); base=http://127.0.0.1:$port # port .. port+7 are this script's
code() { curl -s -o "$w/body" -w '%{http_code}' "$@"; }
burst() { # BASE DEVICE_PREFIX DEVICES N VERSION OUT: N reports, 32 in flight, spread over devices
  # PREFIX0..PREFIX(DEVICES-1); each response's status on a line of OUT
  local urls
  urls=$(for i in $(seq "$4"); do echo "$1/api/v1/devices/$2$((i % $3))/report"; done)
  curl -s -Z --parallel-max 32 -w '\n%{http_code}\n' -d "{\"version\":\"$5\",\"state\":\"running\"}" $urls >"$6" 2>/dev/null
}
all_listed() { # BASE DEVICE_PREFIX DEVICES: each device lists 50 reports (the most a listing gives)
  local d n
  for d in $(seq 0 $(($3 - 1))); do
    n=$(curl -s "$1/api/v1/devices/$2$d/reports" | grep -o '"state"' | wc -l)
    [ "$n" -eq 50 ] || return 1
  done
}
start_server() { # OPTIONS...: fota-server on $port with them ($pid; its output in a fresh $w/log);
  # fails when it does not answer /version within 5 s
  "$HOST/fota-server" --port "$port" "$@" >"$w/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$base/version" && return 0; sleep 0.05; done
  return 1
}
stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }
tally() { # LABEL
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
