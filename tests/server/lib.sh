# Shared by the fota-server tests: a scratch folder removed at exit (with the server, $pid), a
# port of its own for each script (OFFSET), check NAME COMMAND..., code CURL-ARGS... (the status;
# the body in $w/body), and the final tally.
set -uo pipefail
w=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$w"' EXIT
pass=0; fail=0
check() { # NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
port=$((20000 + ($$ + ${OFFSET:-0}) % 20000)); base=http://127.0.0.1:$port
code() { curl -s -o "$w/body" -w '%{http_code}' "$@"; }
tally() { # LABEL
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
