#!/usr/bin/env bash
# Restore a scripts/backup.sh archive into a NEW (or empty) PostgreSQL database.
#
#   scripts/restore.sh BACKUP.dump TARGET_DATABASE_URL
#
# The target database is created when missing; a target that already holds tables is refused
# (restore next to production, check it, then switch DATABASE_URL -- never over it). The restore is
# one transaction: it lands completely or not at all. Afterwards run `liftoff db upgrade` with
# DATABASE_URL pointing at the target if the code is newer than the backup.
set -euo pipefail

if [[ $# -ne 2 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    [[ $# -eq 2 ]] && exit 0 || exit 2
fi
dump="$1"
url="${2/postgresql+psycopg:/postgresql:}"
[[ -r "$dump" ]] || { echo "restore.sh: cannot read $dump" >&2; exit 2; }
pg_restore --list "$dump" > /dev/null

# postgresql://user@host:port/NAME?params -> NAME, and the same server's maintenance database.
name="${url##*/}"
name="${name%%\?*}"
query=""
[[ "$url" == *\?* ]] && query="?${url#*\?}"
maintenance="${url%/*}/postgres$query"
if [[ ! "$name" =~ ^[A-Za-z0-9_-]+$ ]]; then
    echo "restore.sh: unexpected database name '$name'" >&2
    exit 2
fi

exists=$(psql --no-psqlrc -qtAX --dbname="$maintenance" \
    -c "SELECT 1 FROM pg_database WHERE datname = '$name'")
if [[ "$exists" == 1 ]]; then
    tables=$(psql --no-psqlrc -qtAX --dbname="$url" \
        -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    if [[ "$tables" != 0 ]]; then
        echo "restore.sh: database $name already holds $tables tables; restore into a new one" >&2
        exit 1
    fi
else
    psql --no-psqlrc -qtAX --dbname="$maintenance" -c "CREATE DATABASE \"$name\"" > /dev/null
fi

pg_restore --single-transaction --exit-on-error --no-owner --no-privileges --dbname="$url" "$dump"
version=$(psql --no-psqlrc -qtAX --dbname="$url" -c "SELECT version_num FROM alembic_version")
echo "restored $dump into $name (schema revision $version)"
