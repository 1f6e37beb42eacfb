#!/usr/bin/env bash
# Hit throughput and latency of cachegate (memory, redis, tiered) against
# nginx proxy_cache and Varnish, all on loopback before the same origin.
# Installs nginx, varnish, wrk and redis-server from Debian's packages when
# missing. Every load is bounded: wrk runs DURATION per target.
#
# Usage: bench/run.sh [DURATION]   (default 10s)
# Prints a table (req/s, p50, p99 and the ratios to nginx and Varnish) and
# writes it to bench/results/latest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
conns=64
threads=2

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
command -v varnishd >/dev/null || missing+=(varnish)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/cachegate-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; return 1; }

echo "building cachegate and the origin"
go build -o "$work/cachegate" .
go build -o "$work/origin" ./bench/origin
go build -o "$work/coldkey" ./bench/coldkey

origin_port=$(free_port)
"$work/origin" -listen 127.0.0.1:"$origin_port" & pids+=($!)
wait_port "$origin_port"

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" --protected-mode no --loglevel warning & pids+=($!)
wait_port "$redis_port"

declare -A port
start_cachegate() { # name backend
  local p; p=$(free_port)
  cat > "$work/$1.yaml" <<YAML
listen: "127.0.0.1:$p"
origin: "http://127.0.0.1:$origin_port"
admin: {listen: ""}
log: {level: warn}
store:
  backend: $2
  memory: {max_bytes: 256MiB}
  redis: {addrs: ["127.0.0.1:$redis_port"], key_prefix: "bench-$1"}
YAML
  if ! "$work/cachegate" validate -config "$work/$1.yaml" >/dev/null 2>&1; then
    echo "skipping $1: $("$work/cachegate" validate -config "$work/$1.yaml" 2>&1 | head -1)"; return 0
  fi
  "$work/cachegate" -config "$work/$1.yaml" 2>"$work/$1.log" & pids+=($!)
  if wait_port "$p"; then port[$1]=$p; fi
}
start_cachegate cachegate-memory memory
start_cachegate cachegate-redis redis
start_cachegate cachegate-tiered tiered

nginx_port=$(free_port)
mkdir -p "$work/nginx/cache" "$work/nginx/logs"
cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/logs/error.log warn;
user root;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=bench:64m max_size=1g inactive=60m use_temp_path=off;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_lock on;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx"
wait_port "$nginx_port"; port[nginx]=$nginx_port

varnish_port=$(free_port)
varnishd -a 127.0.0.1:"$varnish_port" -b 127.0.0.1:"$origin_port" -s malloc,256m -n "$work/varnish" -F >"$work/varnish.log" 2>&1 & pids+=($!)
wait_port "$varnish_port"; port[varnish]=$varnish_port

# wrk's latency distribution in ms from its --latency output.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }

declare -A rps p50 p99
targets=(nginx varnish cachegate-memory cachegate-redis cachegate-tiered)
for size in 1024 16384; do
  path="/bytes/$size/bench"
  for t in "${targets[@]}"; do
    [ -n "${port[$t]:-}" ] || continue
    url="http://127.0.0.1:${port[$t]}$path"
    for _ in 1 2 3; do curl -s -o /dev/null "$url"; done   # fill, then warm
    out=$(wrk -t"$threads" -c"$conns" -d"$duration" --latency "$url")
    rps[$t,$size]=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    p50[$t,$size]=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
    p99[$t,$size]=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
    echo "$t ${size}B: ${rps[$t,$size]} req/s, p50 ${p50[$t,$size]} ms, p99 ${p99[$t,$size]} ms"
  done
done

# 500 concurrent requests of one cold key; the origin answers in 200 ms.
declare -A cold
for t in "${targets[@]}"; do
  [ -n "${port[$t]:-}" ] || continue
  cold[$t]=$("$work/coldkey" -url "http://127.0.0.1:${port[$t]}" -n 500 -delay 200)
  echo "$t cold key x500: ${cold[$t]}"
done

mkdir -p bench/results
{
  echo "wrk -t$threads -c$conns -d$duration, cached bodies, $(nproc) cores, $(date -u +%Y-%m-%d)"
  echo
  echo "| target | body | req/s | p50 ms | p99 ms | x nginx | x varnish |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for size in 1024 16384; do
    for t in "${targets[@]}"; do
      [ -n "${rps[$t,$size]:-}" ] || continue
      rn=$(awk -v a="${rps[$t,$size]}" -v b="${rps[nginx,$size]:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')
      rv=$(awk -v a="${rps[$t,$size]}" -v b="${rps[varnish,$size]:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-" }')
      echo "| $t | $size | ${rps[$t,$size]} | ${p50[$t,$size]} | ${p99[$t,$size]} | $rn | $rv |"
    done
  done
  echo
  echo "500 concurrent GETs of one cold key, origin latency 200 ms:"
  echo
  for t in "${targets[@]}"; do
    [ -n "${cold[$t]:-}" ] && echo "- $t: ${cold[$t]}"
  done
} | tee bench/results/latest.md
