#!/usr/bin/env bash
# Back up Liftoff's PostgreSQL database into one pg_dump archive (custom format, compressed).
#
#   scripts/backup.sh [DATABASE_URL] [OUTPUT.dump]
#
# DATABASE_URL defaults to $DATABASE_URL (the app's SQLAlchemy form postgresql+psycopg://... works);
# OUTPUT defaults to liftoff-<UTC timestamp>.dump in the current directory. The archive is written
# under a temporary name and checked with pg_restore --list before it takes its final name, so a
# file with the final name is always a complete, readable backup. pg_dump reads one consistent
# snapshot: the app and the scheduler can keep running.
set -euo pipefail

url="${1:-${DATABASE_URL:-}}"
if [[ -z "$url" || "$url" == -h || "$url" == --help ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    [[ -z "$url" ]] && exit 2 || exit 0
fi
case "$url" in
    postgresql*|postgres:*) ;;
    *) echo "backup.sh: $url is not a PostgreSQL URL (for SQLite use: sqlite3 FILE '.backup OUT')" >&2
       exit 2 ;;
esac
url="${url/postgresql+psycopg:/postgresql:}"
out="${2:-liftoff-$(date -u +%Y%m%dT%H%M%SZ).dump}"
partial="$out.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --no-owner --no-privileges --file="$partial" --dbname="$url"
pg_restore --list "$partial" > /dev/null
mv "$partial" "$out"
echo "backup written: $out ($(du -h "$out" | cut -f1))"
