#!/usr/bin/env bash
# Start EnergyDash: the local MQTT broker, the backend and the dashboard, in the background.
# Logs go to logs/, PID files to .run/ (ENERGYDASH_LOG_DIR / ENERGYDASH_RUN_DIR override them).
#   ./start_all.sh               broker + backend + dashboard
#   ./start_all.sh --no-broker   use the external broker named by ENERGYDASH_MQTT_HOST/PORT
#   ./start_all.sh --replay      also replay the shipped sample dataset over MQTT, looping
set -euo pipefail
cd "$(dirname "$0")"
source scripts/lib.sh

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }
with_broker=1 with_replay=0
for arg in "$@"; do
  case $arg in
    --no-broker) with_broker=0 ;;
    --replay) with_replay=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $arg" ;;
  esac
done

ensure_venv runtime
# One Python call reads every setting we need (and fails with the setting's name when invalid).
eval "$("$PY" - <<'PY'
import shlex, sys
from energydash.config import SettingsError, load_settings
try:
    s = load_settings()
except SettingsError as error:
    print(f"die {shlex.quote(str(error))}")
    sys.exit(0)
values = {
    "RUN_DIR": s.run_dir, "LOG_DIR": s.log_dir, "HOST": s.host, "PORT": s.port,
    "DASH_HOST": s.dashboard_host, "DASH_PORT": s.dashboard_port,
    "MQTT_HOST": s.mqtt_host, "MQTT_PORT": s.mqtt_port, "BACKEND_URL": s.backend_base_url,
    "SECRETS_DIR": s.data_dir / "secrets",
    "RF_USER": s.redfish_user,
}
for key, value in values.items():
    print(f"{key}={shlex.quote(str(value))}")
PY
)"
mkdir -p "$RUN_DIR" "$LOG_DIR"

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
http_ok() {
  "$PY" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status < 500 else 1)
except Exception:
    sys.exit(1)' "$1"
}

started=()
fail() {  # fail NAME: show the log tail, stop what this run started, exit non-zero
  say "error: $1 did not start; last lines of $LOG_DIR/$1.out:" >&2
  tail -n 30 "$LOG_DIR/$1.out" >&2 || true
  for name in "${started[@]}"; do ENERGYDASH_STOP_ONLY=$name ./stop_all.sh >/dev/null || true; done
  exit 1
}

# start NAME CHECK TIMEOUT COMMAND...: run COMMAND in the background unless NAME already runs,
# then wait until CHECK (a shell snippet) succeeds.
start() {
  local name=$1 check=$2 timeout=$3 pidfile="$RUN_DIR/$1.pid"
  shift 3
  if pid_alive "$pidfile"; then
    say "$name is already running (pid $(cat "$pidfile"))"
    return
  fi
  rm -f "$pidfile"
  nohup "$@" >"$LOG_DIR/$name.out" 2>&1 </dev/null &
  echo $! >"$pidfile"
  started+=("$name")
  local waited=0
  until eval "$check"; do
    pid_alive "$pidfile" || fail "$name"
    (( waited++ >= timeout * 5 )) && fail "$name"
    sleep 0.2
  done
  say "$name started (pid $(cat "$pidfile"))"
}

if (( with_broker )); then
  if ! pid_alive "$RUN_DIR/broker.pid" && tcp_open "$MQTT_HOST" "$MQTT_PORT"; then
    say "a broker not started by EnergyDash already listens on $MQTT_HOST:$MQTT_PORT; using it"
  else
    start broker "tcp_open $MQTT_HOST $MQTT_PORT" 30 "$VENV/bin/energydash" broker
  fi
elif ! tcp_open "$MQTT_HOST" "$MQTT_PORT"; then
  say "warning: no broker answers on $MQTT_HOST:$MQTT_PORT; the backend keeps retrying" >&2
fi
start backend "http_ok $BACKEND_URL/health" 90 "$VENV/bin/energydash" serve
start dashboard "http_ok http://$DASH_HOST:$DASH_PORT/" 90 "$VENV/bin/energydash" dashboard
if (( with_replay )); then
  # Speed 300: one 5-minute interval of the sample day per second, looping with fresh timestamps.
  # A replay has no health endpoint: it counts as started when it still runs after 2 s.
  for preset in facility market; do
    start "replay-$preset" "sleep 2 && pid_alive $RUN_DIR/replay-$preset.pid" 10 \
      "$VENV/bin/energydash" replay --preset "$preset" --loop --speed 300 --quiet \
      "data/sample/csv/${preset}_metrics_wide.csv"
  done
fi

cat <<EOT

EnergyDash is up.
  Dashboard        http://$DASH_HOST:$DASH_PORT/
  Redfish          $BACKEND_URL/redfish/v1/   (user $RF_USER, password from ENERGYDASH_REDFISH_PASSWORD or as changed over Redfish)
  REST + OpenAPI   $BACKEND_URL/api/v1/  $BACKEND_URL/docs
  WebSocket        ${BACKEND_URL/http/ws}/ws
  MQTT             mqtt://$MQTT_HOST:$MQTT_PORT   (no anonymous clients; \`energydash broker identities\`)
                   passwords in $SECRETS_DIR/mqtt-{backend,replay,commander}
  Logs             $LOG_DIR/      Stop with ./stop_all.sh
EOT
