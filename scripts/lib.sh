# Shared by start_all.sh, stop_all.sh and scripts/test.sh. Source it from the repository root.
# shellcheck shell=bash

VENV=${ENERGYDASH_VENV:-.venv}
PY="$VENV/bin/python"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_venv [dev]: create the virtual environment when missing and (re)install the
# requirements whenever they changed since the last install (a hash stamp inside the venv).
ensure_venv() {
  local kind=${1:-runtime} files stamp want
  files="requirements.txt pyproject.toml"
  [[ $kind == dev ]] && files="$files requirements-dev.txt"
  if [[ ! -x $PY ]]; then
    command -v python3 >/dev/null || die "python3 (3.11 or newer) is needed to create $VENV"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || die "Python 3.11 or newer is needed (found $(python3 --version 2>&1))"
    say "creating virtual environment $VENV"
    python3 -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3-venv)"
  fi
  stamp="$VENV/.energydash-$kind.stamp"
  # shellcheck disable=SC2086
  want=$(cat $files | sha256sum | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    say "installing $kind dependencies into $VENV (first run takes a few minutes)"
    "$PY" -m pip install -q --upgrade pip >/dev/null
    local reqs=(-r requirements.txt)
    [[ $kind == dev ]] && reqs+=(-r requirements-dev.txt)
    "$PY" -m pip install -q "${reqs[@]}" || die "pip install failed"
    "$PY" -m pip install -q --no-deps -e . || die "installing energydash failed"
    echo "$want" > "$stamp"
  fi
}

# setting NAME: a value of energydash.config.Settings as the processes will see it.
setting() { "$VENV/bin/energydash" config --get "$1"; }

# pid_alive PIDFILE: true when the PID in the file runs and is one of our energydash processes.
pid_alive() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a reused PID: the process must still be one of ours.
  ps -p "$pid" -o args= 2>/dev/null | grep -q energydash
}
