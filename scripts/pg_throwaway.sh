#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the test suite.
#
#   scripts/pg_throwaway.sh start   # prints DATABASE_URL=... and records the cluster in .pg-throwaway.env
#   scripts/pg_throwaway.sh stop    # stops it and deletes its data directory
#
# PG_THROWAWAY_STATE=FILE records the cluster in FILE instead (a second cluster beside the
# suite's, e.g. the benchmark's). PG_KEEP_DIR=DIR keeps the data in DIR across stop/start
# (created on the first start, reused after; never deleted): the 1M-run data set.
# PG_PORT=N listens on port N instead of the first free one from 54329 (a port range of
# one's own on a shared machine). PG_SHARED_BUFFERS=SIZE sets shared_buffers (default
# 128MB, PostgreSQL's own; the 1M-run measurements use 1GB, as a production server of that
# size would have, so a hot table is read from PostgreSQL's cache, not through the kernel's).
#
# PostgreSQL refuses to run as root, so when started as root the cluster runs as an
# unprivileged system user (the distribution's `postgres` user, or `orion-pg`, created
# if missing). Settings favour speed over durability: this data is disposable.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_file="${PG_THROWAWAY_STATE:-$here/.pg-throwaway.env}"

pg_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return; }
  done
  echo "pg_throwaway: $name not found (install PostgreSQL server binaries)" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

pick_owner() {
  if [ "$(id -u)" -ne 0 ]; then owner="$(id -un)"; return; fi
  if id postgres >/dev/null 2>&1; then owner=postgres; return; fi
  id orion-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin orion-pg
  owner=orion-pg
}

free_port() {
  python3 - <<'PY'
import socket
for port in range(54329, 54429):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PY
}

start() {
  [ -f "$state_file" ] && stop
  pick_owner
  local dir port initdb pg_ctl
  initdb="$(pg_bin initdb)"; pg_ctl="$(pg_bin pg_ctl)"
  local fresh=1
  if [ -n "${PG_KEEP_DIR:-}" ]; then
    dir="$PG_KEEP_DIR"
    [ -f "$dir/data/PG_VERSION" ] && fresh=0
    mkdir -p "$dir"
  else
    dir="$(mktemp -d /tmp/orion-pg.XXXXXX)"
  fi
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$owner" "$dir"
  port="${PG_PORT:-$(free_port)}"
  if [ "$fresh" -eq 1 ]; then
    as_owner "$initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || as_owner "$initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1
  fi
  as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off -c max_connections=100 -c shared_buffers=${PG_SHARED_BUFFERS:-128MB}" \
    start >/dev/null
  printf 'PG_DIR=%s\nPG_PORT=%s\nPG_OWNER=%s\nPG_KEEP=%s\n' "$dir" "$port" "$owner" "${PG_KEEP_DIR:+1}" >"$state_file"
  [ "$fresh" -eq 1 ] \
    && as_owner "$(pg_bin psql)" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE orion" >/dev/null
  echo "DATABASE_URL=postgresql://postgres@127.0.0.1:$port/orion"
}

stop() {
  [ -f "$state_file" ] || return 0
  # shellcheck disable=SC1090
  . "$state_file"
  owner="$PG_OWNER"
  # A kept cluster stops cleanly, so its statistics and visibility map survive the restart.
  as_owner "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m "$([ -n "${PG_KEEP:-}" ] && echo fast || echo immediate)" -w stop \
    >/dev/null 2>&1 || true
  if [ -n "${PG_KEEP:-}" ]; then rm -f "$state_file"; else rm -rf "$PG_DIR" "$state_file"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
