# Sourced by the test scripts. stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL;
# returns the process's exit status. Messages are prefixed with $STOP_PID_LABEL.
stop_pid() {
  local pid=$1 i rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "${STOP_PID_LABEL:-stop_pid}: pid $pid still running after ${2}s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}
