# Sourced by tests that listen on loopback. free_port [BASE [COUNT]] prints the first port from BASE
# (empty or absent: a random one in 20000-31999, below Linux's ephemeral range 32768-60999 that
# outgoing connections take their ports from) up such that it and the COUNT-1 after it (default 1
# in all) have nothing listening. Tests run in parallel and ctest gives them consecutive PIDs, so
# ports derived from PIDs collided between tests; a random base and the probe do not (a server that
# still finds its port taken is started again on another: see tests/fleet/test_fleet.sh).
free_port() {
  local p=${1:-$((20000 + (RANDOM * 32768 + RANDOM) % 12000))} n=${2:-1} k
  while :; do
    for ((k = 0; k < n; k++)); do (exec 3<>"/dev/tcp/127.0.0.1/$((p + k))") 2>/dev/null && break; done
    [ "$k" -eq "$n" ] && break
    p=$((p + k + 1))
  done
  echo "$p"
}
