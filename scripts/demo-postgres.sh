#!/usr/bin/env bash
# `make demo-postgres`: the same job as `make demo`, with the portal on PostgreSQL: a local
# server (initdb into .demo-postgres/pg, a free port), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}
DIR=$(pwd)/.demo-postgres
scripts/local-postgres.sh stop "$DIR/pg" 2>/dev/null || true
rm -rf "$DIR" && mkdir -p "$DIR"
trap 'scripts/local-postgres.sh stop "$DIR/pg"' EXIT

cp samples/products.csv "$DIR/"
"$BIN/rosterdrop-samples" demo --out "$DIR" >/dev/null
scripts/local-postgres.sh start "$DIR/pg"
port=$(cat "$DIR/pg/port")
scripts/local-postgres.sh psql "$DIR/pg" -d postgres -c "CREATE DATABASE portal"
url="postgresql://rosterdrop@127.0.0.1:$port/portal?sslmode=disable"
# The demo's own config, with the portal on the server.
awk -v url="$url" -v repo="$(pwd)" '
  /^database: / { print "database: " url; print "scratch: scratch"; next }
  /^    mappings: \.\.\// { print "    mappings: " repo "/" substr($2, 4); next }
  { print }' samples/config.yaml > "$DIR/config.yaml"
"$BIN/rosterdrop" products import --config "$DIR/config.yaml" "$DIR/products.csv"
scripts/local-postgres.sh psql "$DIR/pg" -d portal -f samples/portal-before.sql
echo "Portal on PostgreSQL: $url (config: $DIR/config.yaml)"
PORTAL="$url (stopped when the demo ends; KEEP=1 keeps it running)" scripts/demo.sh "$DIR" || status=$?
if [ "${KEEP:-0}" = 1 ]; then trap - EXIT; echo "Server left running; stop it with: scripts/local-postgres.sh stop $DIR/pg"; fi
exit "${status:-0}"
