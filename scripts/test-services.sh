#!/usr/bin/env bash
# Starts, stops and reports the real servers the tests talk to, on loopback:
#   SeaweedFS 4.48 (`weed mini`): S3 on 8333, STS, Iceberg REST catalog on 8181
#   moto 5.2.5: AWS APIs (ECS, CloudWatch Logs, STS shapes) on $RAT_MOTO_PORT
#   PostgreSQL (Debian's postgresql package, 15+): a throwaway cluster on
#   $RAT_PG_PORT, trust auth on loopback only, for the server's run store
# SeaweedFS and moto install into the test venv (scripts/test-env.sh). State, logs and PID
# files live under $RAT_SERVICES_DIR; every wait is bounded; stop goes by PID.
#
#   scripts/test-services.sh start    # idempotent: leaves running servers alone
#   scripts/test-services.sh start seaweedfs   # only SeaweedFS
#   scripts/test-services.sh stop
#   scripts/test-services.sh status
#   scripts/test-services.sh env      # the variables tests read, as exports
#
# The admin keys and STS signing key in services/seaweedfs-iam.json are test
# values for a loopback-only server, not secrets.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

dir="${RAT_SERVICES_DIR:-$RAT_CACHE/services}"
moto_port="${RAT_MOTO_PORT:-5055}"
pg_port="${RAT_PG_PORT:-5433}"
# The postgres user cannot enter root's home: as root the cluster lives
# outside it.
if [ "$(id -u)" = 0 ]; then
  pg_data="${RAT_PG_DIR:-/var/tmp/rat-test-postgres}"
else
  pg_data="${RAT_PG_DIR:-$dir/postgres}"
fi
weed_config="$here/services/seaweedfs-iam.json"
vending_role="arn:aws:iam::000000000000:role/catalog-vending"
# STS credentials of the IAM file's roles live 6 s (tokenDuration), so tests
# prove runs outlive them; vended ones cannot be shorter than 900 s.

alive() { # pid file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_ready() { # name url seconds pidfile
  local deadline=$((SECONDS + $3))
  until curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null; do
    if ! alive "$4"; then
      echo "test-services: $1 exited during start; last log lines:" >&2
      tail -n 20 "$dir/$1.log" >&2 || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "test-services: $1 not ready at $2 after $3 s; see $dir/$1.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

port_free() { # port
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_free_ports() { # name port...
  local name="$1"
  shift
  for port in "$@"; do
    if ! port_free "$port"; then
      echo "test-services: port $port, needed by $name, is in use by a process this script did not start; stop it first" >&2
      return 1
    fi
  done
}

stop_one() { # name
  local pidfile="$dir/$1.pid"
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  # SeaweedFS takes 2-5 s to exit after SIGTERM.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "test-services: $1 (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

start_seaweedfs() {
  local pidfile="$dir/seaweedfs.pid"
  if alive "$pidfile"; then
    wait_ready seaweedfs http://127.0.0.1:8181/v1/config 30 "$pidfile"
    return
  fi
  require_free_ports seaweedfs 8333 8181 8888 9333
  # A fresh data folder per start: tests name their own prefixes, but stale
  # state from another version of the suite helps nobody.
  rm -rf "$dir/seaweedfs"
  mkdir -p "$dir/seaweedfs"
  (
    cd "$dir"
    exec "$RAT_VENV/bin/weed" mini -dir="$dir/seaweedfs" \
      -ip=127.0.0.1 -ip.bind=127.0.0.1 -webdav=false -admin.ui=false \
      -s3.port.lance=0 -bucket=lake -tableBucket=warehouse \
      -s3.config="$weed_config" -s3.iam.config="$weed_config" -s3.iam.readOnly=false \
      -s3.iceberg.credentialRole="$vending_role"
  ) >"$dir/seaweedfs.log" 2>&1 &
  echo $! >"$pidfile"
  wait_ready seaweedfs http://127.0.0.1:8181/v1/config 60 "$pidfile"
  # The S3 port answers a little after the catalog.
  wait_ready seaweedfs http://127.0.0.1:8333/healthz 30 "$pidfile" ||
    wait_ready seaweedfs http://127.0.0.1:8333/status 5 "$pidfile"
}

start_moto() {
  local pidfile="$dir/moto.pid"
  if alive "$pidfile"; then
    wait_ready moto "http://127.0.0.1:$moto_port/moto-api/" 30 "$pidfile"
    return
  fi
  require_free_ports moto "$moto_port"
  "$RAT_VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$dir/moto.log" 2>&1 &
  echo $! >"$pidfile"
  wait_ready moto "http://127.0.0.1:$moto_port/moto-api/" 60 "$pidfile"
}

# Debian's server binaries (initdb, pg_ctl), newest version first.
pg_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "test-services: installing PostgreSQL (apt-get install postgresql)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 || true
      bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    fi
  fi
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "test-services: PostgreSQL server binaries not found under /usr/lib/postgresql (install Debian's postgresql package)" >&2
    return 1
  fi
  echo "$bin"
}

# initdb refuses to run as root: as root, the cluster belongs to postgres.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local data="$pg_data" bin
  bin="$(pg_bin)"
  if [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    return
  fi
  require_free_ports postgres "$pg_port"
  rm -rf "$data"
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres: "$data"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync >"$dir/postgres-init.log" 2>&1 || {
    echo "test-services: initdb failed; see $dir/postgres-init.log" >&2
    return 1
  }
  as_pg "$bin/pg_ctl" -D "$data" -w -t 60 -l "$data/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $data -c fsync=off -c max_connections=200" start >/dev/null || {
    echo "test-services: PostgreSQL did not start; last log lines:" >&2
    tail -n 20 "$data/server.log" >&2 || true
    return 1
  }
}

stop_postgres() {
  local data="$pg_data" bin
  [ -f "$data/postmaster.pid" ] || return 0
  bin="$(pg_bin)" || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

print_env() {
  cat <<EOF
export RAT_TEST_S3_ENDPOINT=http://127.0.0.1:8333
export RAT_TEST_S3_ACCESS_KEY=rat-test-admin
export RAT_TEST_S3_SECRET_KEY=rat-test-admin-secret
export RAT_TEST_S3_BUCKET=lake
export RAT_TEST_REST_URI=http://127.0.0.1:8181
export RAT_TEST_REST_WAREHOUSE=s3://warehouse
export RAT_TEST_STS_ROLE=arn:aws:iam::000000000000:role/runner
export RAT_TEST_MOTO_ENDPOINT=http://127.0.0.1:$moto_port
export RAT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/postgres
EOF
}

case "${1:-}" in
  start)
    "$here/test-env.sh"
    mkdir -p "$dir"
    if [ "${2:-}" = seaweedfs ]; then
      start_seaweedfs
      echo "test-services: seaweedfs (S3 :8333, Iceberg REST :8181) ready" >&2
      exit 0
    fi
    start_seaweedfs
    start_moto
    start_postgres
    echo "test-services: seaweedfs (S3 :8333, Iceberg REST :8181), moto (:$moto_port) and PostgreSQL (:$pg_port) ready" >&2
    ;;
  stop)
    stop_one moto
    stop_one seaweedfs
    stop_postgres
    ;;
  status)
    status=0
    for name in seaweedfs moto; do
      if alive "$dir/$name.pid"; then
        echo "$name: running (pid $(cat "$dir/$name.pid"))"
      else
        echo "$name: stopped"
        status=3
      fi
    done
    if [ -f "$pg_data/postmaster.pid" ]; then
      echo "postgres: running (pid $(head -n 1 "$pg_data/postmaster.pid"))"
    else
      echo "postgres: stopped"
      status=3
    fi
    exit "$status"
    ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
