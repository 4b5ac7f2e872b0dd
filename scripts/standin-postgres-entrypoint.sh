#!/bin/sh
# Entrypoint of the local postgres stand-in (scripts/compose-standins.sh):
# what compose.yaml uses of the official postgres image's entrypoint. On an
# empty PGDATA it creates a cluster whose superuser is POSTGRES_USER with
# POSTGRES_PASSWORD (scram-sha-256 over TCP from anywhere, trust on the
# local socket, as the official image), and the database POSTGRES_DB; then
# it runs postgres as the postgres user, listening on every address.
set -eu
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

if [ "${1:-}" != postgres ]; then
	exec "$@"
fi
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256
	rm -f "$pwfile"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	# The database is created by a server on a private socket only, so
	# that the healthcheck's pg_isready (default socket) passes only for
	# the real server below.
	sock=$(mktemp -d)
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$sock" start
	if [ "$POSTGRES_DB" != postgres ]; then
		createdb -h "$sock" -U "$POSTGRES_USER" "$POSTGRES_DB"
	fi
	pg_ctl -D "$PGDATA" -m fast -w stop
	rmdir "$sock"
fi
shift
exec postgres -D "$PGDATA" "$@"
