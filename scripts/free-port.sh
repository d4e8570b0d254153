#!/usr/bin/env bash
# Prints a TCP port on 127.0.0.1 that nothing listens on, for the local servers the demo
# and benchmark scripts start (local-sshd.sh, local-postgres.sh).
set -euo pipefail
for _ in $(seq 100); do
  candidate=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then echo "$candidate"; exit 0; fi
done
echo "no free port" >&2; exit 1
