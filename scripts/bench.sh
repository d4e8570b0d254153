#!/usr/bin/env bash
# National-scale benchmark: generates two snapshots with the repo's seeded generator, then
# measures, in the same run and on the same files:
#   - zcat of the gzip'd files, and sqlite3 .import of the decompressed CSVs (the floor);
#   - rosterdrop's first load and its run on the ~1 %-changed second snapshot;
#   - the same on PostgreSQL (a local server this script starts), beside psql \copy of the
#     same CSVs into the same indexed tables on that server.
# PG=0 leaves PostgreSQL out.
# Prints wall time, rows/s and peak memory. Data lives in .bench/ (gitignored) and is removed
# at the end unless KEEP=1. Scale with USERS=… SCHOOLS=… (defaults: national).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-1750000}
SCHOOLS=${SCHOOLS:-400}
BIN=${BIN:-.build/release}
DIR=.bench
rm -rf "$DIR" && mkdir -p "$DIR"
# Whatever happens, the servers this script starts are stopped.
trap 'scripts/local-sshd.sh stop "$DIR/sshd" 2>/dev/null || true; scripts/local-postgres.sh stop "$DIR/pg"' EXIT

echo "generating two snapshots: $USERS users over $SCHOOLS school units ..."
"$BIN/rosterdrop-samples" national --out "$DIR/s1" --snapshot 1 --users "$USERS" --schools "$SCHOOLS"
"$BIN/rosterdrop-samples" national --out "$DIR/s2" --snapshot 2 --users "$USERS" --schools "$SCHOOLS"

units=$(sed 's/.*/"&"/' "$DIR/s1/config-units.txt" | paste -sd, -)
mkdir -p "$DIR/job/drop/riket/inbox"
cat > "$DIR/job/config.yaml" <<YAML
database: portal.sqlite
organisations:
  - id: riket
    school_units: [$units]
    drop: drop/riket
    mappings: $(pwd)/mappings/skolon-v1
YAML
"$BIN/rosterdrop" products import --config "$DIR/job/config.yaml" "$DIR/s1/products.csv" 2>/dev/null

rows() { # data rows in a delivery folder, from its manifest
  tail -n +2 "$1"/manifest_*.csv | cut -d, -f2 | paste -sd+ - | bc
}
measure() { # label, command... → prints "label seconds peakMB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/$label.log" || { cat "$DIR/$label.log"; exit 1; }
  read -r secs kb < "$DIR/time.txt"
  echo "$label $secs $((kb / 1024))"
}

S1="$DIR/s1/drop/riket/inbox"
S2="$DIR/s2/drop/riket/inbox"
rows1=$(rows "$S1"); rows2=$(rows "$S2")
gz1=$(du -cb "$S1"/*.csv.gz | tail -1 | cut -f1)

# The floor: decompress, then load into SQLite without validation or indexes.
read -r _ zcat_s zcat_mb < <(measure zcat bash -c "zcat $S1/*.csv.gz > /dev/null")
mkdir -p "$DIR/csv"
for f in "$S1"/*.csv.gz; do zcat "$f" > "$DIR/csv/$(basename "$f" .gz)"; done
csv_bytes=$(du -cb "$DIR/csv"/*.csv | tail -1 | cut -f1)
csv_tables() { # each decompressed CSV and its table: users_<ts>.csv → users
  for f in "$DIR/csv"/*.csv; do t=$(basename "$f" .csv); echo "$f ${t%_*}"; done
}
csv_tables | while read -r f t; do echo ".import --csv $f $t"; done > "$DIR/import.sql"
read -r _ import_s import_mb < <(measure import sqlite3 "$DIR/import.db" ".read $DIR/import.sql")
# The same import into tables carrying the indexes any portal needs (unique ids, a person
# index on memberships and orders) — what writing the rows costs before any checking.
# (The same tables on PostgreSQL below; SQLite keeps memberships in its key's B-tree.)
INDEXED_TABLES=$(cat <<'SQL'
CREATE TABLE users (person_id TEXT, role TEXT, given_name TEXT, family_name TEXT, email TEXT, school_unit_code TEXT,
                    grade TEXT, eppn TEXT);
CREATE UNIQUE INDEX users_by_person ON users(person_id);
CREATE INDEX users_by_eppn ON users(eppn);
CREATE TABLE groups (group_id TEXT, name TEXT, type TEXT, school_unit_code TEXT);
CREATE UNIQUE INDEX groups_by_id ON groups(group_id);
CREATE TABLE memberships (group_id TEXT, person_id TEXT, PRIMARY KEY (group_id, person_id));
CREATE INDEX memberships_by_person ON memberships(person_id);
CREATE TABLE distribution_orders (order_id TEXT, person_id TEXT, product_id TEXT, license_type TEXT, valid_from TEXT,
                                  valid_to TEXT);
CREATE UNIQUE INDEX orders_by_id ON distribution_orders(order_id);
CREATE INDEX orders_by_person ON distribution_orders(person_id);
SQL
)
sqlite3 "$DIR/indexed.db" <<< "${INDEXED_TABLES/PRIMARY KEY (group_id, person_id));/PRIMARY KEY (group_id, person_id)) WITHOUT ROWID;}"
{ echo "PRAGMA journal_mode = WAL;"; echo "PRAGMA cache_size = -262144;"
  csv_tables | while read -r f t; do echo ".import --csv --skip 1 $f $t"; done
} > "$DIR/indexed.sql"
read -r _ indexed_s indexed_mb < <(measure indexed sqlite3 "$DIR/indexed.db" ".read $DIR/indexed.sql")
rm -rf "$DIR/import.db" "$DIR/indexed.db"*

# PostgreSQL: a local server, psql \copy of the same CSVs into the same indexed tables.
PG=${PG:-1}
if [ "$PG" = 1 ]; then
  scripts/local-postgres.sh start "$DIR/pg"
  pgport=$(cat "$DIR/pg/port")
  psql_=(scripts/local-postgres.sh psql "$DIR/pg")
  "${psql_[@]}" -d postgres -c "CREATE DATABASE copybench" -c "CREATE DATABASE job"
  "${psql_[@]}" -d copybench <<< "$INDEXED_TABLES"
  csv_tables | while read -r f t; do echo "\\copy $t FROM '$f' WITH (FORMAT csv, HEADER true)"; done > "$DIR/copy.sql"
  read -r _ pgcopy_s pgcopy_mb < <(measure pgcopy "${psql_[@]}" -d copybench -f "$DIR/copy.sql")
  "${psql_[@]}" -d postgres -c "DROP DATABASE copybench"
fi
rm -rf "$DIR/csv"

# SFTP transfer over loopback: rosterdrop's libssh2 download of the first snapshot's files
# beside OpenSSH's own sftp client getting the same files from the same local sshd.
scripts/local-sshd.sh start "$DIR/sshd"
port=$(cat "$DIR/sshd/port")
cat > "$DIR/sftp.yaml" <<YAML
database: sftp-bench.sqlite
organisations:
  - id: riket
    school_units: [$units]
    drop: sftp://$(id -un)@127.0.0.1:$port$(realpath "$DIR/s1/drop/riket")
    sftp:
      identity_file: sshd/client_ed25519
      known_hosts: sshd/known_hosts
    mappings: $(pwd)/mappings/skolon-v1
YAML
sftp_bytes=$(du -cb "$S1"/* | tail -1 | cut -f1)
read -r _ fetch_s fetch_mb < <(measure sftp_rosterdrop "$BIN/rosterdrop" fetch --config "$DIR/sftp.yaml" --organisation riket --out "$DIR/got-rosterdrop")
mkdir -p "$DIR/got-openssh"
echo "get $(realpath "$S1")/* $DIR/got-openssh/" > "$DIR/sftp.batch"
read -r _ openssh_s openssh_mb < <(measure sftp_openssh sftp -q -b "$DIR/sftp.batch" -i "$DIR/sshd/client_ed25519" \
  -o UserKnownHostsFile="$DIR/sshd/known_hosts" -o StrictHostKeyChecking=yes -P "$port" "$(id -un)@127.0.0.1")
cmp <(cd "$DIR/got-rosterdrop" && sha256sum -- * ) <(cd "$DIR/got-openssh" && sha256sum -- * ) \
  || { echo "the two downloads differ" >&2; exit 1; }
rm -rf "$DIR/got-rosterdrop" "$DIR/got-openssh"
scripts/local-sshd.sh stop "$DIR/sshd"

if [ "$PG" = 1 ]; then  # the job on PostgreSQL, on copies of the same snapshots
  mkdir -p "$DIR/pgjob/drop/riket/inbox" "$DIR/pgjob/s2"
  sed "s|^database: .*|database: postgresql://rosterdrop@127.0.0.1:$pgport/job?sslmode=disable|" "$DIR/job/config.yaml" \
    > "$DIR/pgjob/config.yaml"
  "$BIN/rosterdrop" products import --config "$DIR/pgjob/config.yaml" "$DIR/s1/products.csv" 2>/dev/null
  cp "$S1"/* "$DIR/pgjob/drop/riket/inbox/"; cp "$S2"/* "$DIR/pgjob/s2/"
fi
mv "$S1"/* "$DIR/job/drop/riket/inbox/"
read -r _ run1_s run1_mb < <(measure run1 "$BIN/rosterdrop" run --config "$DIR/job/config.yaml" --now 2026-12-01T06:00:00Z)
mv "$S2"/* "$DIR/job/drop/riket/inbox/"
read -r _ run2_s run2_mb < <(measure run2 "$BIN/rosterdrop" run --config "$DIR/job/config.yaml" --now 2026-12-02T06:00:00Z)
receipt2=$(ls "$DIR"/job/drop/riket/outbox/receipt_20261202*.csv)
if [ "$PG" = 1 ]; then
  read -r _ pgrun1_s pgrun1_mb < <(measure pgrun1 "$BIN/rosterdrop" run --config "$DIR/pgjob/config.yaml" --now 2026-12-01T06:00:00Z)
  mv "$DIR/pgjob/s2"/* "$DIR/pgjob/drop/riket/inbox/"
  read -r _ pgrun2_s pgrun2_mb < <(measure pgrun2 "$BIN/rosterdrop" run --config "$DIR/pgjob/config.yaml" --now 2026-12-02T06:00:00Z)
  pgreceipt2=$(ls "$DIR"/pgjob/drop/riket/outbox/receipt_20261202*.csv)
  scripts/local-postgres.sh stop "$DIR/pg"
  cmp -s "$receipt2" "$pgreceipt2" || { echo "the PostgreSQL run's receipt differs from SQLite's:" >&2; diff "$receipt2" "$pgreceipt2" >&2 || true; }
fi

floor=$(echo "$zcat_s + $import_s" | bc)
printf '\nrosterdrop benchmark — %s users, %s school units, %s data rows (%s MB gzip'"'"'d, %s MB CSV)\n' \
  "$USERS" "$SCHOOLS" "$rows1" "$((gz1 / 1000000))" "$((csv_bytes / 1000000))"
printf '%-34s %9s %12s %9s\n' "step" "wall s" "rows/s" "peak MB"
printf '%-34s %9s %12s %9s\n' "zcat (floor, part 1)" "$zcat_s" "$(echo "$rows1 / $zcat_s" | bc)" "$zcat_mb"
printf '%-34s %9s %12s %9s\n' "sqlite3 .import (floor, part 2)" "$import_s" "$(echo "$rows1 / $import_s" | bc)" "$import_mb"
printf '%-34s %9s %12s %9s\n' "sqlite3 .import, indexed tables" "$indexed_s" "$(echo "$rows1 / $indexed_s" | bc)" "$indexed_mb"
printf '%-34s %9s %12s %9s\n' "rosterdrop first load" "$run1_s" "$(echo "$rows1 / $run1_s" | bc)" "$run1_mb"
printf '%-34s %9s %12s %9s\n' "rosterdrop 1 %-changed snapshot" "$run2_s" "$(echo "$rows2 / $run2_s" | bc)" "$run2_mb"
printf '\nfirst load / (zcat + .import) = %s   (target ≤ 2)\n' "$(echo "scale=2; $run1_s / $floor" | bc)"
printf 'first load / (zcat + indexed .import) = %s\n' "$(echo "scale=2; $run1_s / ($zcat_s + $indexed_s)" | bc)"
printf 'changed run / first load      = %s   (target < 0.5)\n' "$(echo "scale=2; $run2_s / $run1_s" | bc)"
printf 'peak memory                   = %s MB (target < 1024)\n' "$(( run1_mb > run2_mb ? run1_mb : run2_mb ))"
if [ "$PG" = 1 ]; then
  printf '\nPostgreSQL (a local server, fsync on), the same files:\n'
  printf '%-34s %9s %12s %9s\n' "step" "wall s" "rows/s" "peak MB"
  printf '%-34s %9s %12s %9s\n' "psql \\copy, indexed tables" "$pgcopy_s" "$(echo "$rows1 / $pgcopy_s" | bc)" "$pgcopy_mb"
  printf '%-34s %9s %12s %9s\n' "rosterdrop first load" "$pgrun1_s" "$(echo "$rows1 / $pgrun1_s" | bc)" "$pgrun1_mb"
  printf '%-34s %9s %12s %9s\n' "rosterdrop 1 %-changed snapshot" "$pgrun2_s" "$(echo "$rows2 / $pgrun2_s" | bc)" "$pgrun2_mb"
  printf 'first load / (zcat + psql \\copy) = %s\n' "$(echo "scale=2; $pgrun1_s / ($zcat_s + $pgcopy_s)" | bc)"
  printf 'changed run / first load          = %s\n' "$(echo "scale=2; $pgrun2_s / $pgrun1_s" | bc)"
  printf 'PostgreSQL / SQLite, first load   = %s   changed run = %s\n' "$(echo "scale=2; $pgrun1_s / $run1_s" | bc)" \
    "$(echo "scale=2; $pgrun2_s / $run2_s" | bc)"
fi
mbps() { echo "scale=1; $sftp_bytes / 1000000 / $1" | bc; }
printf '\nSFTP over loopback, %s MB (the first snapshot'"'"'s files):\n' "$((sftp_bytes / 1000000))"
printf '%-34s %9s %12s %9s\n' "step" "wall s" "MB/s" "peak MB"
printf '%-34s %9s %12s %9s\n' "OpenSSH sftp get" "$openssh_s" "$(mbps "$openssh_s")" "$openssh_mb"
printf '%-34s %9s %12s %9s\n' "rosterdrop fetch (libssh2)" "$fetch_s" "$(mbps "$fetch_s")" "$fetch_mb"
printf 'rosterdrop / OpenSSH throughput = %s   (target ≥ 0.8)\n' "$(echo "scale=2; $openssh_s / $fetch_s" | bc)"
phases() { # the job's own phase timings from its log
  grep -E 'seconds=' "$DIR/$1.log" | sed -E 's/.*file=([a-z_]+).*seconds=([0-9.]+).*/  staged \1: \2 s/; s/.*seconds=([0-9.]+).*delivery (checked|planned|applied).*/  \2: \1 s/'
}
echo; echo "first load by phase:"; phases run1
echo "changed run by phase:"; phases run2
if [ "$PG" = 1 ]; then
  echo "PostgreSQL first load by phase:"; phases pgrun1
  echo "PostgreSQL changed run by phase:"; phases pgrun2
fi
echo; echo "second run's receipt:"; cat "$receipt2"
[ "${KEEP:-0}" = 1 ] || rm -rf "$DIR"
