#!/usr/bin/env bash
# Entrypoint of pgscale/postgres:15-bookworm (installed as /usr/local/bin/docker-entrypoint.sh).
# Behaves like the official postgres image's entrypoint, so tools written for that image
# (testcontainers-go's postgres module included) work unchanged.
#
# Environment (default in brackets):
#   POSTGRES_USER              superuser created by initdb                        [postgres]
#   POSTGRES_PASSWORD          its password; empty means trust                    []
#   POSTGRES_DB                database created on the first start                [$POSTGRES_USER]
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for TCP clients: scram-sha-256, md5, trust...
#                                              [scram-sha-256 with a password, else trust]
#   POSTGRES_INITDB_ARGS       extra initdb arguments, e.g. "--data-checksums"    []
#   PGDATA                     data directory (a volume)                [/var/lib/postgresql/data]
# Files in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once, on the first start.
#
# "postgres ARGS" or "-ARGS" runs the server as the postgres OS user; on the first start it runs
# initdb, starts a temporary server on the unix socket only, creates POSTGRES_DB, runs the init
# files and stops it. Like the official image, a first start therefore logs "database system is
# ready to accept connections" twice (testcontainers waits for the second). Any other command is
# exec'ed as given, as is "postgres --version" or "--help". Logs go to stdout/stderr.
set -Eeuo pipefail

: "${POSTGRES_USER:=postgres}" "${POSTGRES_PASSWORD:=}" "${POSTGRES_INITDB_ARGS:=}"
: "${POSTGRES_DB:=$POSTGRES_USER}" "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
if [[ ${1:-} != postgres ]]; then exec "$@"; fi
for arg; do   # options that print and exit need no data directory
  case $arg in -'?'|--help|--describe-config|-V|--version) exec "$@" ;; esac
done

# As root: own the directories, then start again as the postgres OS user.
if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3775 /var/run/postgresql
  find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres {} +
  HOME=/var/lib/postgresql exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

# sql ARGS...: psql on the unix socket as the new superuser, stopping at the first error.
sql() { psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"; }

if [[ -s $PGDATA/PG_VERSION ]]; then
  echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
else
  auth=${POSTGRES_HOST_AUTH_METHOD:-}
  if [[ -z $auth ]]; then
    if [[ -n $POSTGRES_PASSWORD ]]; then auth=scram-sha-256; else auth=trust; fi
  fi
  if [[ $auth != trust && -z $POSTGRES_PASSWORD ]]; then
    echo "error: POSTGRES_HOST_AUTH_METHOD=$auth needs POSTGRES_PASSWORD (or use trust)" >&2
    exit 1
  fi
  [[ $auth != trust ]] || echo "warning: no POSTGRES_PASSWORD; TCP connections are trusted" >&2

  initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth")
  if [[ -n $POSTGRES_PASSWORD ]]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb_args+=(--pwfile="$pwfile")
  fi
  # POSTGRES_INITDB_ARGS is word-split with shell quoting, as in the official image.
  eval 'initdb "${initdb_args[@]}" '"$POSTGRES_INITDB_ARGS"
  rm -f "${pwfile:-}"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # Temporary server: the caller's settings, but no TCP listener.
  pg_ctl -D "$PGDATA" -w -o "$(printf '%q ' "${@:2}" -c listen_addresses='' -p "${PGPORT:-5432}")" start
  if [[ $POSTGRES_DB != postgres ]] &&
     [[ -z $(sql --dbname postgres --tuples-only --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db'") ]]; then
    sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db"'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090  # init scripts are the user's
    case $f in
      *.sh) echo "running $f"; if [[ -x $f ]]; then "$f"; else . "$f"; fi ;;
      *.sql) echo "running $f"; sql --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | sql --dbname "$POSTGRES_DB" ;;
      *) [[ ! -e $f ]] || echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo
  echo "PostgreSQL init process complete; ready for start up."
  echo
fi

exec "$@"
