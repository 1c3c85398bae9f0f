#!/usr/bin/env bash
# Start a private, throw-away Glance API for imagegate's end-to-end tests.
#
#   tests/glance/start.sh DIR PORT      (stop it with: tests/glance/stop.sh DIR)
#
# Everything lives in DIR (created if missing): glance-api.conf,
# glance-api-paste.ini, the sqlite DB, the file store, staging, locks,
# glance-api.log and glance-api.pid. Glance listens on 127.0.0.1:PORT only,
# runs without Keystone and trusts the identity headers (X-Identity-Status:
# Confirmed, X-Project-Id, X-Roles, ...) that imagegate sets: never expose it.
#
# Exit 0 once GET http://127.0.0.1:PORT/healthcheck answers 200 (bounded poll,
# GLANCE_START_TIMEOUT seconds, default 60). On failure it prints the log
# tail, stops what it started and exits non-zero.
#
# Environment: GLANCE_START_TIMEOUT (seconds, default 60); GLANCE_WATCH_PID
# (stop glance-api automatically once that process has exited).
set -euo pipefail

die() { echo "start.sh: ERROR: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || { echo "usage: $0 DIR PORT" >&2; exit 2; }
DIR=$1
PORT=$2
TIMEOUT=${GLANCE_START_TIMEOUT:-60}

if ! [[ $PORT =~ ^[1-9][0-9]{0,4}$ ]] || (( PORT > 65535 )); then
  die "PORT must be 1-65535, got '$PORT'"
fi
for b in /usr/bin/glance-api /usr/bin/glance-manage; do
  [[ -x $b ]] || die "$b not found: run tests/glance/install.sh (as root) first"
done

# oslo.config interpolates '$' and the paths go unquoted into ini files.
[[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR '$DIR' must match [A-Za-z0-9._/+-] (it is written into ini files)"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
[[ $DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR '$DIR' must match [A-Za-z0-9._/+-] (it is written into ini files)"

PIDFILE=$DIR/glance-api.pid
LOG=$DIR/glance-api.log
if [[ -s $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  die "glance-api already running from $DIR (pid $(cat "$PIDFILE")); run stop.sh $DIR first"
fi

# http_status URL -> prints the HTTP status code, or 000 when nothing answers.
if command -v curl >/dev/null; then
  http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true; }
else
  http_status() {
    /usr/bin/python3 - "$1" <<'EOF' || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
  }
fi

HEALTH=http://127.0.0.1:$PORT/healthcheck
code=$(http_status "$HEALTH")
[[ $code == 000 ]] || die "something already answers on 127.0.0.1:$PORT (HTTP $code); pick another port"

mkdir -p "$DIR/images" "$DIR/staging" "$DIR/locks" "$DIR/policy.d"

cat >"$DIR/glance-api.conf" <<EOF
# Written by imagegate tests/glance/start.sh: test-only Glance, no Keystone.
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT
workers = 0
http_keepalive = false
debug = false
# oslo.log writes to the file itself (no colour codes); early crashes still
# reach it through start.sh's stdout/stderr redirection.
use_stderr = false
log_file = $DIR/glance-api.log
enforce_secure_rbac = true
enabled_import_methods = [glance-direct,copy-image]
node_staging_uri = file://$DIR/staging
# Never let Glance fetch URLs or report locations.
show_image_direct_url = false
show_multiple_locations = false

[database]
connection = sqlite:///$DIR/glance.sqlite

[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $DIR/images/

[oslo_concurrency]
lock_path = $DIR/locks

[oslo_policy]
enforce_new_defaults = true
enforce_scope = true
policy_file = $DIR/policy.yaml
policy_dirs = $DIR/policy.d

[paste_deploy]
config_file = $DIR/glance-api-paste.ini
flavor = trusted
EOF

# No policy overrides: Glance's built-in secure-RBAC defaults apply.
echo '{}' >"$DIR/policy.yaml"

# The stock keystone pipeline minus authtoken. The 'context' filter builds the
# request context from the X-Identity-Status/X-Project-Id/X-Roles headers.
# The 'unauthenticated-context' filter (everyone is admin) is deliberately not
# defined here at all.
cat >"$DIR/glance-api-paste.ini" <<EOF
# Written by imagegate tests/glance/start.sh.
[pipeline:glance-api-trusted]
pipeline = cors healthcheck http_proxy_to_wsgi versionnegotiation osprofiler context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:healthcheck]
paste.filter_factory = oslo_middleware:Healthcheck.factory
backends = disable_by_file
disable_by_file_path = $DIR/healthcheck_disable

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory

[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = glance
oslo_config_program = glance-api

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
EOF

now_ms() { date +%s%3N; }

t0=$(now_ms)
if ! /usr/bin/glance-manage --config-file "$DIR/glance-api.conf" db_sync >"$DIR/db_sync.log" 2>&1; then
  tail -n 50 "$DIR/db_sync.log" >&2
  die "glance-manage db_sync failed (full log: $DIR/db_sync.log)"
fi
t1=$(now_ms)
echo "start.sh: db_sync took $(( t1 - t0 )) ms" >&2

# Own session (setsid) so the caller's terminal/process group signals do not
# reach it; stdin/stdout/stderr detached so callers waiting on pipes return.
setsid /usr/bin/glance-api --config-file "$DIR/glance-api.conf" \
  </dev/null >>"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PIDFILE"

fail() {
  echo "start.sh: ERROR: $*" >&2
  echo "----- last 50 lines of $LOG -----" >&2
  tail -n 50 "$LOG" >&2 || true
  echo "----- end of $LOG -----" >&2
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  exit 1
}

# owns_port: is 127.0.0.1:PORT listened on by our pid? A 200 alone could come
# from another server that took the port first (glance-api then keeps
# retrying the bind for 30 s and exits with "Could not bind to").
PORT_HEX=$(printf '0100007F:%04X' "$PORT")
owns_port() {
  local inode fd
  # shellcheck disable=SC2013 # one inode number per line
  for inode in $(awk -v a="$PORT_HEX" '$2 == a && $4 == "0A" {print $10}' /proc/net/tcp); do
    for fd in /proc/"$pid"/fd/*; do
      [[ $(readlink "$fd" 2>/dev/null) == "socket:[$inode]" ]] && return 0
    done
  done
  return 1
}

# listeners: how many sockets listen on PORT on 127.0.0.1 or 0.0.0.0.
listeners() {
  awk -v a="$PORT_HEX" -v b="$(printf '00000000:%04X' "$PORT")" \
    '($2 == a || $2 == b) && $4 == "0A" {n++} END {print n+0}' /proc/net/tcp
}

deadline=$(( $(now_ms) + TIMEOUT * 1000 ))
while :; do
  kill -0 "$pid" 2>/dev/null || fail "glance-api (pid $pid) exited during startup"
  code=$(http_status "$HEALTH")
  if [[ $code == 200 ]]; then
    if owns_port; then
      # glance-api binds with SO_REUSEPORT: a second server started on the
      # same port at the same moment would silently share the traffic.
      n=$(listeners)
      (( n == 1 )) || fail "port $PORT is shared by $n listening sockets (another server started on it at the same time; glance-api uses SO_REUSEPORT)"
      break
    fi
    code="200 from a process other than glance-api pid $pid"
  fi
  (( $(now_ms) < deadline )) || fail "no 200 from $HEALTH within ${TIMEOUT}s (last: $code)"
  sleep 0.1
done
# Optional watchdog: when GLANCE_WATCH_PID is set (glancetest passes the test
# binary's pid), stop glance-api once that process is gone, so a test binary
# killed by a timeout or a panic does not leave glance-api running.
if [[ -n ${GLANCE_WATCH_PID:-} ]]; then
  [[ $GLANCE_WATCH_PID =~ ^[0-9]+$ ]] || fail "GLANCE_WATCH_PID must be a pid, got '$GLANCE_WATCH_PID'"
  STOP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/stop.sh
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid /bin/bash -c '
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
    kill -0 "$2" 2>/dev/null && exec /bin/bash "$3" "$4"
  ' glance-watchdog "$GLANCE_WATCH_PID" "$pid" "$STOP" "$DIR" </dev/null >/dev/null 2>&1 &
fi

t2=$(now_ms)
echo "start.sh: glance-api pid $pid ready on http://127.0.0.1:$PORT after $(( t2 - t1 )) ms (log: $LOG)" >&2
