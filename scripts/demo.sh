#!/usr/bin/env bash
# The demo's story, on a folder prepared by `make demo` or `make demo-sftp`: the job run at
# three moments, with the clock injected (--now), then what it wrote.
#   before: a legacy school's Excel sheets, mailed to support, are checked offline against
#           mappings/excel-sv (`rosterdrop validate`), then uploaded to its drop folder
#   day 1:  exempel-kommun's integration starts (its licenses exported, old groups deleted),
#           two daily deliveries are applied; friskolan-norr test-runs (mode: test); the
#           Excel sheets are read once they have kept their size (stable_seconds)
#   day 24: a later delivery without one person; ended trials are removed; old accounts still
#           at risk are listed
#   day 31: the 30-day clean-up deletes the old accounts Skolon never licensed
set -uo pipefail
DIR=${1:?usage: scripts/demo.sh DIR}
BIN=${BIN:-.build/debug}
status=0
run() {
  echo
  echo "=== $1 — rosterdrop run --now $2"
  "$BIN/rosterdrop" run --config "$DIR/config.yaml" --now "$2" --quiet || status=$?
}
echo "=== Onboarding skolan-excel: its mapping folder, then the sheets it mailed in, checked offline"
"$BIN/rosterdrop" mapping check mappings/excel-sv || status=$?
"$BIN/rosterdrop" validate --mappings mappings/excel-sv --school-units 41000001,41000002 --products "$DIR/products.csv" \
  --out "$DIR/mailed-in" "$DIR/mailed-in/skolan-excel/elever.csv" "$DIR/mailed-in/skolan-excel/licenser.csv"
# The school uploads the same sheets to its drop folder (dates kept, as an upload keeps them).
cp -p "$DIR"/mailed-in/skolan-excel/*.csv "$DIR/drop/skolan-excel/inbox/"

run "Day 1: integration start and the first deliveries" 2026-11-24T06:00:00Z
run "Day 1, ten minutes later: skolan-excel's sheets have kept their size" 2026-11-24T06:10:00Z
# A later delivery arrives (its manifest last, as Skolon uploads it).
cp "$DIR"/later/exempel-kommun/*.csv.gz "$DIR/drop/exempel-kommun/inbox/"
cp "$DIR"/later/exempel-kommun/manifest_*.csv "$DIR/drop/exempel-kommun/inbox/"
run "Day 24: a later delivery without one person — trials end, accounts at risk are listed" 2026-12-17T06:00:00Z
run "Day 31: the integration's 30-day clean-up" 2026-12-24T06:00:00Z

echo
for org in "$DIR"/drop/*/; do
  echo "== outbox of $(basename "$org"): $(ls "$org/outbox" | tr '\n' ' ')"
done
for f in "$DIR"/drop/*/outbox/receipt_*.csv; do echo "-- $f"; cat "$f"; done
for f in "$DIR"/drop/*/outbox/distribution_orders_*.csv.gz; do
  echo "-- integration start export (licenses back to Skolon): $f"; zcat "$f"
done
for f in "$DIR"/drop/*/outbox/accounts_at_risk_*.csv; do echo "-- accounts at risk: $f"; cat "$f"; done
echo
echo "Reject reports (gzip'd CSV; read with zcat): $(ls "$DIR"/drop/*/outbox/rejects_*.csv.gz | tr '\n' ' ')"
echo "HTML reports, one per delivery (open in a browser):"
for f in "$DIR"/drop/*/outbox/report_*.html; do echo "  file://$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"; done
echo
person=$(cat "$DIR/story-person.txt")
echo "=== A person's history: rosterdrop history --config $DIR/config.yaml exempel-kommun --person $person"
"$BIN/rosterdrop" history --config "$DIR/config.yaml" exempel-kommun --person "$person" || status=$?
echo
echo "=== Every feed at a glance: rosterdrop status --config $DIR/config.yaml --now 2026-12-24T06:05:00Z (exit 3: something is flagged)"
"$BIN/rosterdrop" status --config "$DIR/config.yaml" --now 2026-12-24T06:05:00Z
echo "(status exited $?)"
echo
echo "Portal database: ${PORTAL:-$DIR/portal.sqlite}"
exit $status
