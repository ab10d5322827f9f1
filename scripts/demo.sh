#!/usr/bin/env bash
# demo.sh - the README's demo: Redis, the demo portal behind Apache (mod_freigabe) and nginx (ngx_http_freigabe_module), a demo customer and app.
#
# Ports (loopback only), overridable: FG_DEMO_APACHE_PORT (8080), FG_DEMO_NGINX_PORT (8081),
# FG_DEMO_PORTAL_PORT (8090), FG_DEMO_REDIS_PORT (6390). FG_DEMO_SKIP_BUILD=1 skips install-deps + build.
# Runs in the foreground until Ctrl-C, which stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APACHE_PORT=${FG_DEMO_APACHE_PORT:-8080}
NGINX_PORT=${FG_DEMO_NGINX_PORT:-8081}
PORTAL_PORT=${FG_DEMO_PORTAL_PORT:-8090}
REDIS_PORT=${FG_DEMO_REDIS_PORT:-6390}
CUSTOMER=1234567890
PASSWORD=demo1234
NAME="Erika Müller"
PIN=${FG_DEMO_PIN:-123456}
PY=/usr/bin/python3

for p in "$APACHE_PORT" "$NGINX_PORT" "$PORTAL_PORT" "$REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "demo.sh: port $p is already in use (set FG_DEMO_*_PORT)" >&2
    exit 1
  fi
done

if [ "${FG_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh
fi

DIR=$(mktemp -d /tmp/freigabe-demo.XXXXXX)
chmod 755 "$DIR"
mkdir -p "$DIR/apache/run" "$DIR/nginx/tmp" "$DIR/redis" "$DIR/app"
chmod 755 "$DIR/apache" "$DIR/apache/run" "$DIR/nginx" "$DIR/nginx/tmp"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
REDIS_PID="" PORTAL_PID="" APACHE_PID="" NGINX_PID="" CONF="" NGINX_CONF=""

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo.sh: stopping ..."
  if [ -n "$APACHE_PID" ]; then
    /usr/sbin/apache2 -f "$CONF" -k stop >/dev/null 2>&1 || kill "$APACHE_PID" 2>/dev/null || true
    wait "$APACHE_PID" 2>/dev/null || true
  fi
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  if [ -n "$PORTAL_PID" ]; then kill "$PORTAL_PID" 2>/dev/null || true; wait "$PORTAL_PID" 2>/dev/null || true; fi
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  echo "demo.sh: stopped (logs kept in $DIR)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {  # port what
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo.sh: $2 did not come up on port $1" >&2
  return 1
}

# Redis keeps its data in an append-only file, so that stopping and starting it again (to
# see the fail-closed 503 and the recovery) keeps the demo customer, app and sessions.
redis_cmd=(/usr/bin/redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis"
           --save '' --appendonly yes --daemonize no)
"${redis_cmd[@]}" >"$DIR/redis/redis.log" 2>&1 &
REDIS_PID=$!
wait_port "$REDIS_PORT" redis-server

$PY demo/portal.py --port "$PORTAL_PORT" --quiet >"$DIR/portal.log" 2>&1 &
PORTAL_PID=$!
wait_port "$PORTAL_PORT" "demo portal"

# Both servers read the key file as root at start-up: 0600 is enough.
tools/freigabectl keygen --out "$DIR/freigabe.key" >/dev/null
chmod 600 "$DIR/freigabe.key"

fill() {  # template dir port module -> writes dir/<name of template without .in>
  local out="$2/$(basename "$1" .in)"
  sed -e "s|@DIR@|$2|g" -e "s|@PORT@|$3|g" -e "s|@MODULE@|$4|g" \
      -e "s|@PORTAL_PORT@|$PORTAL_PORT|g" -e "s|@REDIS_URL@|$REDIS_URL|g" \
      -e "s|@KEY_FILE@|$DIR/freigabe.key|g" "$1" >"$out"
  echo "$out"
}
CONF=$(fill demo/apache.conf.in "$DIR/apache" "$APACHE_PORT" "$ROOT/mod_freigabe/mod_freigabe.so")
if ! /usr/sbin/apache2 -t -f "$CONF" >"$DIR/apache/configtest.log" 2>&1; then
  cat "$DIR/apache/configtest.log" >&2
  exit 1
fi
/usr/sbin/apache2 -f "$CONF" -DFOREGROUND >"$DIR/apache/stdout.log" 2>&1 &
APACHE_PID=$!
if ! wait_port "$APACHE_PORT" apache2; then
  tail -n 30 "$DIR/apache/error_log" "$DIR/apache/stdout.log" >&2 || true
  exit 1
fi

NGINX_CONF=$(fill demo/nginx.conf.in "$DIR/nginx" "$NGINX_PORT" \
  "$ROOT/nginx_module/ngx_http_freigabe_module.so")
/usr/sbin/nginx -p "$DIR/nginx/" -c "$NGINX_CONF" >"$DIR/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
if ! wait_port "$NGINX_PORT" nginx; then
  tail -n 30 "$DIR/nginx/error_log" "$DIR/nginx/stdout.log" >&2 || true
  exit 1
fi

printf '%s\n' "$PASSWORD" | tools/freigabectl --redis "$REDIS_URL" user add "$CUSTOMER" \
  --name "$NAME" --password-stdin >/dev/null
CODE=$(tools/freigabectl --redis "$REDIS_URL" device activate "$CUSTOMER" | head -n 1)
APP=(tools/freigabe-app --server "http://127.0.0.1:$APACHE_PORT/freigabe" --state "$DIR/app")
printf '%s\n' "$PIN" | "${APP[@]}" enroll --code "$CODE" --pin-stdin >/dev/null

cat <<MSG

  Freigabe demo is running.

  1. Open  http://127.0.0.1:$APACHE_PORT/portal/   (Apache with mod_freigabe)
     or    http://127.0.0.1:$NGINX_PORT/portal/   (nginx with the Freigabe module)
     Versicherungsnummer: $CUSTOMER     Passwort: $PASSWORD
     Both protect the same portal and share Redis and the key file: a session
     started on one is valid on the other, "Abmelden" on one ends it on both.

  2. Approve in a second terminal (the "smartphone"; App-PIN: $PIN):
     cd $ROOT && ${APP[*]} watch

  3. To see Freigabe fail closed, stop Redis:   redis-cli -p $REDIS_PORT shutdown
     Protected pages then answer 503; press Enter here to start Redis again.

  Configs: $CONF, $NGINX_CONF
  Logs:    $DIR/apache/error_log, $DIR/nginx/error_log, $DIR/portal.log, $DIR/redis/redis.log
  Ctrl-C stops Redis, the portal, Apache and nginx.

MSG

# Run until Ctrl-C or until a web server or the portal dies. Redis may be stopped and
# started again on purpose (to see the 503 and the recovery): the demo keeps running.
redis_down=0
while true; do
  for pair in "portal:$PORTAL_PID" "apache2:$APACHE_PID" "nginx:$NGINX_PID"; do
    if ! kill -0 "${pair#*:}" 2>/dev/null; then
      echo "demo.sh: ${pair%%:*} exited unexpectedly; see the logs in $DIR" >&2
      exit 1
    fi
  done
  if ! kill -0 "$REDIS_PID" 2>/dev/null && [ $redis_down = 0 ]; then
    redis_down=1
    echo "demo.sh: Redis stopped - protected pages now answer 503. Press Enter to start it again."
    [ -t 0 ] || echo "demo.sh: (no terminal on stdin: start it yourself with: $(printf "%q " "${redis_cmd[@]}"))"
  fi
  if [ $redis_down = 1 ] && [ -t 0 ] && read -r -t 1 _ 2>/dev/null; then
    "${redis_cmd[@]}" >>"$DIR/redis/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_port "$REDIS_PORT" redis-server && echo "demo.sh: Redis is back; no server was restarted."
    redis_down=0
    continue
  fi
  sleep 1
done
