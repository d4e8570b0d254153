#!/usr/bin/env bash
# `make demo-sftp`: the same job as `make demo`, but each organisation's drop folder is served
# by a local OpenSSH server (fresh keys, a free port) and reached over SFTP with libssh2.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}
DIR=$(pwd)/.demo-sftp
scripts/local-sshd.sh stop "$DIR/sshd" 2>/dev/null || true
rm -rf "$DIR" && mkdir -p "$DIR"
trap 'scripts/local-sshd.sh stop "$DIR/sshd"' EXIT

cp samples/products.csv "$DIR/"
"$BIN/rosterdrop-samples" demo --out "$DIR" >/dev/null
scripts/local-sshd.sh start "$DIR/sshd"
port=$(cat "$DIR/sshd/port")
user=$(id -un)
{
  echo "database: portal.sqlite"
  echo "organisations:"
  for org in exempel-kommun friskolan-norr; do
    units=$(grep -A1 "id: $org" samples/config.yaml | sed -n 's/.*school_units: //p')
    echo "  - id: $org"
    echo "    school_units: $units"
    echo "    drop: sftp://$user@127.0.0.1:$port$DIR/drop/$org"
    echo "    sftp:"
    echo "      identity_file: sshd/client_ed25519"
    echo "      known_hosts: sshd/known_hosts"
    echo "    mappings: $(pwd)/mappings/skolon-v1"
  done
} > "$DIR/config.yaml"
"$BIN/rosterdrop" products import --config "$DIR/config.yaml" "$DIR/products.csv"
sqlite3 "$DIR/portal.sqlite" < samples/portal-before.sql
status=0
"$BIN/rosterdrop" run --config "$DIR/config.yaml" || status=$?
echo
echo "Drop folders served over SFTP by sshd on 127.0.0.1:$port (config: $DIR/config.yaml)"
for f in "$DIR"/drop/*/outbox/receipt_*.csv; do echo "== $f"; cat "$f"; done
echo
echo "Reject reports (gzip'd CSV; read with zcat):"; ls -1 "$DIR"/drop/*/outbox/rejects_*.csv.gz
echo "Portal database: $DIR/portal.sqlite"
exit $status
