#!/usr/bin/env bash
# Memory growth under hostile traffic: DURATION of POSTs, then DURATION of
# POSTs on a route keying a request header (X-Tenant), then DURATION of
# uncacheable GETs, every request to a URL never used before (wrk with
# bench/growth/distinct.lua), against one cachegate (tiered: memory L1
# over Redis) before the demo origin, all on loopback. Prints the retained
# heap of cachegate (go_memstats_heap_inuse_bytes after
# GET /debug/pprof/heap?gc=1 forces a collection) and Redis's used_memory
# before, right after, and once hit-for-pass has expired.
#
# Usage: bench/growth.sh [DURATION] [CACHEGATE_BINARY]
#   DURATION defaults to 6s; the binary defaults to one built from this tree
#   (give another, e.g. an older build, to compare).
# Installs wrk and redis-server from Debian's packages when missing. Every
# load is bounded: wrk runs DURATION with 32 connections, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-6s}
binary=${2:-}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/cachegate-growth.XXXXXX)
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

origin_port=$(free_port)
"$work/origin" -listen 127.0.0.1:"$origin_port" & pids+=($!)
wait_port "$origin_port"
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" --protected-mode no --loglevel warning >"$work/redis.log" & pids+=($!)
wait_port "$redis_port"

port=$(free_port)
admin_port=$(free_port)
cat > "$work/cachegate.yaml" <<YAML
listen: "127.0.0.1:$port"
origin: "http://127.0.0.1:$origin_port"
admin: {listen: "127.0.0.1:$admin_port", token: growth}
log: {level: warn}
store:
  backend: tiered
  redis: {addrs: ["127.0.0.1:$redis_port"], key_prefix: growth}
routes:
  - name: keyed
    match: {path: /no-store/k}
    key: {headers: [X-Tenant]}
YAML
"$binary" -config "$work/cachegate.yaml" 2>"$work/cachegate.log" & pids+=($!)
wait_port "$admin_port"

heap() {
  curl -s -o /dev/null -H "Authorization: Bearer growth" "http://127.0.0.1:$admin_port/debug/pprof/heap?gc=1"
  curl -s -H "Authorization: Bearer growth" "http://127.0.0.1:$admin_port/metrics" |
    awk '$1=="go_memstats_heap_inuse_bytes" {printf "%.0f", $2}'
}
redis_mem() { redis-cli -p "$redis_port" info memory | awk -F: '$1=="used_memory" {printf "%.0f", $2}' | tr -d '\r'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b/1048576}'; }
load() { # method prefix duration [tenant]
  wrk -t2 -c32 -d"$3" -s bench/growth/distinct.lua "http://127.0.0.1:$port" -- "$1" "$2" ${4:+"$4"} |
    awk '/requests in/ {print $1}'
}

# Warm up, so that pools and buffers reach their working size, and let the
# warm-up's hit-for-pass (10s by default) expire.
load POST /no-store/warm-p 1s >/dev/null
load GET /no-store/warm-g 1s >/dev/null
sleep 11
heap0=$(heap); redis0=$(redis_mem)

posts=$(load POST /no-store/p "$duration")
keyed=$(load POST /no-store/k "$duration" tenant)
gets=$(load GET /no-store/g "$duration")
heap1=$(heap); redis1=$(redis_mem)
sleep 11
heap2=$(heap); redis2=$(redis_mem)
# URL marks: the fields "Hu…" of the purge state hash (purge/state.go).
marks=$(redis-cli -p "$redis_port" hkeys "{growth}:purge:state" | grep -c '^Hu' || true)

echo "$posts POSTs, $keyed POSTs on a route keying X-Tenant and $gets uncacheable GETs to distinct URLs ($duration each, wrk -t2 -c32, $(nproc) cores)"
echo "| | heap in use MiB | Redis used_memory MiB |"
echo "|---|---|---|"
echo "| before | $(mib "$heap0") | $(mib "$redis0") |"
echo "| right after | $(mib "$heap1") (+$(mib $((heap1-heap0)))) | $(mib "$redis1") (+$(mib $((redis1-redis0)))) |"
echo "| 11 s later | $(mib "$heap2") (+$(mib $((heap2-heap0)))) | $(mib "$redis2") (+$(mib $((redis2-redis0)))) |"
echo "URL purge marks in Redis: $marks"
