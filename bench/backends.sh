#!/usr/bin/env bash
# Upstream failover under load: one cachegate before a backend of three
# demo origin processes (bench/origin), round robin with probes and
# passive marking (3 failures in 2s: out for 2s), all on loopback. wrk sends uncacheable GETs (a bypass
# route: every request goes to an upstream) for DURATION while the script
# kills upstream 2 with SIGKILL at a quarter of it, restarts it at half,
# and kills upstream 3 at three quarters. Prints wrk's summary, the
# responses that were not 2xx (wrk's count; socket errors too) and, from
# cachegate's /metrics, the requests and failures per upstream.
#
# Usage: bench/backends.sh [SECONDS] [CACHEGATE_BINARY]
#   SECONDS defaults to 20; the binary defaults to one built from this
#   tree. Installs wrk from Debian's packages when missing. The load is
#   bounded: wrk -t2 -c32 for SECONDS, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
binary=${2:-}

if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi

work=$(mktemp -d /tmp/cachegate-backends.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }

if [ -z "$binary" ]; then
  go build -o "$work/cachegate" .
  binary="$work/cachegate"
fi
go build -o "$work/origin" ./bench/origin

ports=()
upstream_pids=()
start_upstream() { # index
  "$work/origin" -listen 127.0.0.1:"${ports[$1]}" 2>/dev/null & upstream_pids[$1]=$!
  pids+=($!)
}
for i in 0 1 2; do
  ports[$i]=$(free_port)
  start_upstream "$i"
  wait_port "${ports[$i]}"
done

port=$(free_port)
admin_port=$(free_port)
cat > "$work/cachegate.yaml" <<YAML
listen: "127.0.0.1:$port"
admin: {listen: "127.0.0.1:$admin_port", token: bench}
log: {level: info}
backends:
  - name: web
    upstreams:
      - url: "http://127.0.0.1:${ports[0]}"
      - url: "http://127.0.0.1:${ports[1]}"
      - url: "http://127.0.0.1:${ports[2]}"
    probe: {path: /max-age/1/probe, interval: 200ms, timeout: 1s, window: 3, threshold: 2}
    passive: {max_fails: 3, fail_timeout: 2s}
default_route:
  backend: web
  bypass: true
YAML
"$binary" -config "$work/cachegate.yaml" 2>"$work/cachegate.log" & pids+=($!)
wait_port "$admin_port"

wrk -t2 -c32 -d"${seconds}s" "http://127.0.0.1:$port/max-age/0/page" >"$work/wrk.txt" &
wrk_pid=$!
quarter=$(awk -v s="$seconds" 'BEGIN {print s/4}')
sleep "$quarter"; kill -9 "${upstream_pids[1]}"; echo "$(date +%T) killed upstream 2 (SIGKILL)"
sleep "$quarter"; start_upstream 1; echo "$(date +%T) restarted upstream 2"
sleep "$quarter"; kill -9 "${upstream_pids[2]}"; echo "$(date +%T) killed upstream 3 (SIGKILL)"
wait "$wrk_pid"

cat "$work/wrk.txt"
errors=$(awk '/Non-2xx or 3xx responses/ {print $NF}' "$work/wrk.txt")
socket=$(awk '/Socket errors/ {print}' "$work/wrk.txt")
echo "client errors: ${errors:-0} non-2xx responses; ${socket:-no socket errors}"
metrics=$(curl -s -H "Authorization: Bearer bench" "http://127.0.0.1:$admin_port/metrics")
echo "| upstream | requests 2xx | requests with no response | failures counted |"
echo "|---|---|---|---|"
for i in 0 1 2; do
  u="127.0.0.1:${ports[$i]}"
  ok=$(awk -v u="$u" 'index($0, "cachegate_upstream_requests_total{") == 1 && index($0, "upstream=\"" u "\"") && index($0, "status_class=\"2xx\"") {s += $NF} END {printf "%d", s}' <<<"$metrics")
  none=$(awk -v u="$u" 'index($0, "cachegate_upstream_requests_total{") == 1 && index($0, "upstream=\"" u "\"") && index($0, "status_class=\"error\"") {s += $NF} END {printf "%d", s}' <<<"$metrics")
  failed=$(awk -v u="$u" 'index($0, "cachegate_upstream_errors_total{") == 1 && index($0, "upstream=\"" u "\"") {s += $NF} END {printf "%d", s}' <<<"$metrics")
  echo "| upstream $((i+1)) | $ok | $none | $failed |"
done
echo "upstreams: ${ports[*]}"
echo "cachegate log (health changes):"
grep -E "upstream (down|healthy again|probe)" "$work/cachegate.log" | sed -E "s/^time=[^ ]+ //"
