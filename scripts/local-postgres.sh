#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the benchmark (and by hand).
#   scripts/local-postgres.sh start DIR   → initdb into DIR/data (trust, user rosterdrop), a free
#                                           port, the server running; writes DIR/port
#   scripts/local-postgres.sh psql DIR ARGS…   → psql against that server (as rosterdrop)
#   scripts/local-postgres.sh stop DIR
# As root the server runs as the `postgres` user (initdb and postgres refuse root).
set -euo pipefail
cmd=${1:?start|psql|stop}; dir=$(realpath -m "${2:?directory}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL's server is not installed (apt-get install postgresql)" >&2; exit 1; }
as_server() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -ne 0 ] || chown postgres "$dir"
  as_server "$bin/initdb" -D "$dir/data" -A trust -U rosterdrop --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  port=$("$(dirname "$0")/free-port.sh")
  # A server tuned for bulk loads as a portal's would be; fsync stays on.
  as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start -o "-p $port -k $dir -c listen_addresses=127.0.0.1 \
    -c shared_buffers=2GB -c maintenance_work_mem=1GB -c work_mem=256MB -c max_wal_size=16GB \
    -c checkpoint_timeout=30min -c wal_compression=on" >/dev/null
  echo "$port" > "$dir/port"
  ;;
psql)
  shift 2
  exec "$bin/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U rosterdrop -X -q -v ON_ERROR_STOP=1 "$@"
  ;;
stop)
  [ -d "$dir/data" ] && as_server "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 start|psql|stop DIR" >&2; exit 64 ;;
esac
