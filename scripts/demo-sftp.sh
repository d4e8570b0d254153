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
# The demo's own config, with each drop folder reached over SFTP instead.
awk -v port="$port" -v user="$user" -v dir="$DIR" -v repo="$(pwd)" '
  /^    drop: drop\// { org = substr($2, 6)
    print "    drop: sftp://" user "@127.0.0.1:" port dir "/drop/" org
    print "    sftp:"; print "      identity_file: sshd/client_ed25519"; print "      known_hosts: sshd/known_hosts"; next }
  /^    mappings: \.\.\// { print "    mappings: " repo "/" substr($2, 4); next }
  { print }' samples/config.yaml > "$DIR/config.yaml"
"$BIN/rosterdrop" products import --config "$DIR/config.yaml" "$DIR/products.csv"
sqlite3 "$DIR/portal.sqlite" < samples/portal-before.sql
echo "Drop folders served over SFTP by sshd on 127.0.0.1:$port (config: $DIR/config.yaml)"
scripts/demo.sh "$DIR"
