#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis that the integration and end-to-end tests use are running,
# starting the machine's own servers when they are installed but stopped. Tests never mock them.
set -uo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

pg_up() { (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; }
redis_up() {
  exec 4<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" 2>/dev/null || return 1
  printf 'PING\r\n' >&4
  local reply
  read -r -t 2 reply <&4
  exec 4>&-
  [[ "$reply" == +PONG* ]]
}
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 0.5; done; return 1; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PGHOST:$PGPORT; starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  elif command -v pg_ctl >/dev/null 2>&1 && [ -n "${PGDATA:-}" ]; then
    pg_ctl -D "$PGDATA" -l "$PGDATA/server.log" start || true
  fi
  wait_for pg_up || { echo "Could not start PostgreSQL: install it (apt-get install postgresql) or set TEST_DATABASE_URL." >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting it" >&2
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /tmp/aegle-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /tmp/aegle-redis --logfile /tmp/aegle-redis/redis.log || true
  fi
  wait_for redis_up || { echo "Could not start Redis: install it (apt-get install redis-server) or set TEST_REDIS_URL." >&2; exit 1; }
fi
echo "PostgreSQL and Redis are up" >&2

# The PACS the imaging tests store chest X-rays in and Aegle reads them back from (DICOMweb).
bash "$(dirname "$0")/ensure-orthanc.sh" || exit 1
