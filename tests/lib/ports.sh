# Sourced by tests that listen on loopback: free_port BASE prints the first port from BASE up that
# nothing listens on. Tests run in parallel and derive their bases from their PIDs, which ctest
# hands out consecutively, so a derived port alone can be another test's.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
