#!/usr/bin/env bash
# Entrypoint of pgscale/pgbouncer:bookworm: writes pgbouncer.ini and userlist.txt from the
# environment, then runs PgBouncer as the (non-root) postgres OS user, logging to stderr.
#
# Environment (default in brackets):
#   PGBOUNCER_DB_HOST          PostgreSQL host to pool                             [postgres]
#   PGBOUNCER_DB_PORT          its port                                            [5432]
#   PGBOUNCER_DB_USER          the user clients log in as; also admin_users and stats_users,
#                              so it can run SHOW POOLS / SHOW STATS on the "pgbouncer" database
#                                                                                  [postgres]
#   PGBOUNCER_DB_PASSWORD      its password (also used to log in to PostgreSQL)    []
#   PGBOUNCER_DB_NAME          database offered; clients naming another database are sent to
#                              the same server under that name                     [$PGBOUNCER_DB_USER]
#   PGBOUNCER_AUTH_TYPE        client auth: trust, md5, scram-sha-256  [md5 with a password, else trust]
#   PGBOUNCER_POOL_MODE        transaction | session | statement                   [transaction]
#   PGBOUNCER_POOL_SIZE        default_pool_size (server connections per database/user) [20]
#   PGBOUNCER_MAX_CLIENT_CONN  max_client_conn                                     [10000]
#   PGBOUNCER_LISTEN_PORT      port to listen on (all addresses)                   [6432]
#   PGBOUNCER_EXTRA            extra lines for the [pgbouncer] section, e.g. "server_lifetime = 60"
#
# "pgbouncer [OPTIONS]" or "-OPTIONS" runs PgBouncer with the generated file (-v for verbose logs);
# any other command is exec'ed as given.
set -euo pipefail

: "${PGBOUNCER_DB_HOST:=postgres}" "${PGBOUNCER_DB_PORT:=5432}" "${PGBOUNCER_DB_USER:=postgres}"
: "${PGBOUNCER_DB_PASSWORD:=}" "${PGBOUNCER_DB_NAME:=$PGBOUNCER_DB_USER}" "${PGBOUNCER_POOL_MODE:=transaction}"
: "${PGBOUNCER_POOL_SIZE:=20}" "${PGBOUNCER_MAX_CLIENT_CONN:=10000}" "${PGBOUNCER_LISTEN_PORT:=6432}"
: "${PGBOUNCER_EXTRA:=}"
if [[ -z ${PGBOUNCER_AUTH_TYPE:-} ]]; then
  if [[ -n $PGBOUNCER_DB_PASSWORD ]]; then PGBOUNCER_AUTH_TYPE=md5; else PGBOUNCER_AUTH_TYPE=trust; fi
fi

if [[ ${1:-} == -* ]]; then set -- pgbouncer "$@"; fi
if [[ ${1:-} != pgbouncer ]]; then exec "$@"; fi
shift

bad() { echo "pgbouncer-entrypoint: $1='$2' is not valid ($3)" >&2; exit 2; }
case $PGBOUNCER_POOL_MODE in transaction|session|statement) ;;
  *) bad PGBOUNCER_POOL_MODE "$PGBOUNCER_POOL_MODE" "transaction, session or statement" ;; esac
case $PGBOUNCER_AUTH_TYPE in trust|md5|scram-sha-256) ;;
  *) bad PGBOUNCER_AUTH_TYPE "$PGBOUNCER_AUTH_TYPE" "trust, md5 or scram-sha-256" ;; esac
for v in PGBOUNCER_DB_PORT PGBOUNCER_POOL_SIZE PGBOUNCER_MAX_CLIENT_CONN PGBOUNCER_LISTEN_PORT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || bad "$v" "${!v}" "a whole number"
done

# Config in /etc/pgbouncer when writable (root, or the postgres user), else in a temp dir.
dir=/etc/pgbouncer
[[ -w $dir ]] || dir=$(mktemp -d)
umask 077
q() { printf '"%s"' "${1//\"/\"\"}"; }   # a userlist.txt field
printf '%s %s\n' "$(q "$PGBOUNCER_DB_USER")" "$(q "$PGBOUNCER_DB_PASSWORD")" >"$dir/userlist.txt"
server="host=$PGBOUNCER_DB_HOST port=$PGBOUNCER_DB_PORT"
cat >"$dir/pgbouncer.ini" <<EOF
[databases]
$PGBOUNCER_DB_NAME = $server dbname=$PGBOUNCER_DB_NAME
* = $server

[pgbouncer]
listen_addr = *
listen_port = $PGBOUNCER_LISTEN_PORT
unix_socket_dir = /tmp
auth_type = $PGBOUNCER_AUTH_TYPE
auth_file = $dir/userlist.txt
admin_users = $PGBOUNCER_DB_USER
stats_users = $PGBOUNCER_DB_USER
pool_mode = $PGBOUNCER_POOL_MODE
default_pool_size = $PGBOUNCER_POOL_SIZE
max_client_conn = $PGBOUNCER_MAX_CLIENT_CONN
ignore_startup_parameters = extra_float_digits,options,search_path
logfile =
pidfile =
$PGBOUNCER_EXTRA
EOF
echo "pgbouncer-entrypoint: :$PGBOUNCER_LISTEN_PORT -> $PGBOUNCER_DB_HOST:$PGBOUNCER_DB_PORT," \
  "pool_mode=$PGBOUNCER_POOL_MODE pool_size=$PGBOUNCER_POOL_SIZE auth_type=$PGBOUNCER_AUTH_TYPE" >&2

if [[ $(id -u) == 0 ]]; then
  chown -R postgres:postgres "$dir"
  exec setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$@" "$dir/pgbouncer.ini"
fi
exec pgbouncer "$@" "$dir/pgbouncer.ini"
