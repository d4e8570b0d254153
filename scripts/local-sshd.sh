#!/usr/bin/env bash
# A throwaway OpenSSH server on 127.0.0.1 for the SFTP demo and benchmark.
#   scripts/local-sshd.sh start DIR   → fresh ed25519 host and client keys in DIR, a free port,
#                                       sshd running; writes DIR/port, DIR/known_hosts,
#                                       DIR/client_ed25519 (the identity to use)
#   scripts/local-sshd.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; dir=$(realpath -m "${2:?directory}")

case "$cmd" in
start)
  mkdir -p "$dir" /run/sshd
  rm -f "$dir"/host_ed25519* "$dir"/client_ed25519*
  ssh-keygen -q -t ed25519 -N "" -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N "" -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  port=$("$(dirname "$0")/free-port.sh")
  cat > "$dir/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CFG
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" > "$dir/known_hosts"
  echo "$port" > "$dir/port"
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
    sleep 0.1
  done
  echo "sshd did not start; see $dir/sshd.log" >&2; exit 1
  ;;
stop)
  [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
  rm -f "$dir/sshd.pid"
  ;;
esac
