#!/usr/bin/env bash
# Stop the EnergyDash processes that start_all.sh started, found by their PID files in .run/
# (or ENERGYDASH_RUN_DIR). Nothing else is touched: no process is looked up by name or port.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/lib.sh

if [[ -x $VENV/bin/energydash ]]; then
  RUN_DIR=$(setting run_dir)
else
  RUN_DIR=${ENERGYDASH_RUN_DIR:-.run}
fi
[[ -d $RUN_DIR ]] || { say "nothing to stop (no $RUN_DIR)"; exit 0; }

names=(replay-facility replay-market dashboard backend broker)  # dependents first, the broker last
[[ -n ${ENERGYDASH_STOP_ONLY:-} ]] && names=("$ENERGYDASH_STOP_ONLY")

status=0
for name in "${names[@]}"; do
  pidfile="$RUN_DIR/$name.pid"
  [[ -f $pidfile ]] || continue
  if ! pid_alive "$pidfile"; then
    say "$name was not running (stale PID file removed)"
    rm -f "$pidfile"
    continue
  fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  # SIGTERM lets the backend save the simulation state; give it time before insisting.
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "warning: $name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL to that PID" >&2
    kill -KILL "$pid" 2>/dev/null || true
    status=1
  fi
  rm -f "$pidfile"
  say "$name stopped (pid $pid)"
done
exit $status
