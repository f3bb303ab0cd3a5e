# Sourced by tests that listen on loopback. free_port [BASE] prints the first port from BASE (or
# from a random one in 20000-59999) up that nothing listens on. Tests run in parallel and ctest
# gives them consecutive PIDs, so ports derived from PIDs collide between tests; a random base,
# the probe and a retry when a server still finds its port taken (start_listening) do not.
free_port() {
  local p=${1:-$((20000 + (RANDOM * 32768 + RANDOM) % 40000))}
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
