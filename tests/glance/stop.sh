#!/usr/bin/env bash
# Stop a Glance API started by tests/glance/start.sh DIR PORT.
#
#   tests/glance/stop.sh DIR
#
# Kills only the pid recorded in DIR/glance-api.pid, after checking that it is
# a glance-api using DIR's config (so a recycled pid is never hit): SIGTERM,
# then SIGKILL after 10 s. Exits 0 if nothing is running.
set -uo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
DIR=$1
[[ -d $DIR ]] || exit 0
DIR=$(cd "$DIR" && pwd -P)
PIDFILE=$DIR/glance-api.pid
[[ -s $PIDFILE ]] || exit 0
pid=$(cat "$PIDFILE")
[[ $pid =~ ^[0-9]+$ ]] || { echo "stop.sh: bad pid file $PIDFILE" >&2; rm -f "$PIDFILE"; exit 1; }

ours() {
  [[ -r /proc/$pid/cmdline ]] || return 1
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  [[ $cmd == *glance-api* && $cmd == *"$DIR/glance-api.conf"* ]]
}

if ours; then
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 100); do
    ours || break
    sleep 0.1
  done
  if ours; then
    echo "stop.sh: glance-api pid $pid ignored SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
fi
rm -f "$PIDFILE"
exit 0
