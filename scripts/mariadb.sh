#!/bin/sh
# Starts a throw-away MariaDB (Debian's mariadb-server) on 127.0.0.1:3306 for
# the MySQL runs of the database tests, and prints the variable to export.
# Needs root (apt, and mariadbd switching to the mysql user). Idempotent.
#   sh scripts/mariadb.sh
#   export BACKSTAGE_TEST_DATABASE_MYSQL8_CONNECTION_STRING=mysql://backstage:backstage@127.0.0.1:3306/backstage
set -eu
DIR=${PORTAL_MARIADB_DIR:-/tmp/portal-mariadb}
PORT=${PORTAL_MARIADB_PORT:-3306}
SOCKET="$DIR/mysqld.sock"

if ! command -v mariadbd >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server
fi

if ! mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1; then
  mkdir -p "$DIR"
  chown mysql:mysql "$DIR"
  if [ ! -d "$DIR/data/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$DIR/data" --skip-test-db >/dev/null
  fi
  mariadbd --user=mysql --datadir="$DIR/data" --socket="$SOCKET" --pid-file="$DIR/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$PORT" --skip-log-bin --max-connections=500 \
    >"$DIR/server.log" 2>&1 &
  i=0
  until mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
      echo "MariaDB did not start; see $DIR/server.log" >&2
      exit 1
    fi
    sleep 1
  done
fi

mariadb --socket="$SOCKET" -uroot -e "
  CREATE USER IF NOT EXISTS 'backstage'@'127.0.0.1' IDENTIFIED BY 'backstage';
  GRANT ALL PRIVILEGES ON *.* TO 'backstage'@'127.0.0.1';
  CREATE DATABASE IF NOT EXISTS backstage;"
echo "mysql://backstage:backstage@127.0.0.1:$PORT/backstage"
