#!/usr/bin/env bash
# Hit throughput and latency of cachegate (memory, redis, tiered) against
# nginx proxy_cache and Varnish, all on loopback before the same origin.
# Installs nginx, varnish, wrk and redis-server from Debian's packages when
# missing. Every load is bounded: wrk runs DURATION per target.
#
# Usage: bench/run.sh [DURATION]   (default 10s)
# Environment: ROUNDS (default 1) interleaved rounds, the median of which
# is reported; SIZES (default "1024 16384 262144") body sizes in bytes;
# CACHEGATE_BASE, a cachegate binary to compare (an older build), run as
# the extra target cachegate-base on the memory store.
# Prints a table (req/s, p50, p99, the ratios to nginx and Varnish within
# the round, and the CPU time of the server's processes per request) and
# writes it to bench/results/latest.md. CPU per request is user+system
# time from /proc/PID/stat of the server's processes (nginx's workers,
# varnishd's child, cachegate) before and after the load, divided by the
# requests wrk completed: unlike req/s it hardly depends on how wrk and
# the servers share the cores. The Redis-backed targets also report
# redis-server's CPU per request.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
rounds=${ROUNDS:-1}
sizes=(${SIZES:-1024 16384 262144})
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
go build -o "$work/plain" ./bench/plain

origin_port=$(free_port)
"$work/origin" -listen 127.0.0.1:"$origin_port" & pids+=($!)
wait_port "$origin_port"

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" --protected-mode no --loglevel warning & pids+=($!); redis_pid=$!
wait_port "$redis_port"

declare -A port
declare -A pidof
start_cachegate() { # name backend [binary]
  local p bin=${3:-$work/cachegate}; p=$(free_port)
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
  "$bin" -config "$work/$1.yaml" 2>"$work/$1.log" & pids+=($!); pidof[$1]=$!
  if wait_port "$p"; then port[$1]=$p; fi
}
start_cachegate cachegate-memory memory
start_cachegate cachegate-redis redis
start_cachegate cachegate-tiered tiered
if [ -n "${CACHEGATE_BASE:-}" ]; then start_cachegate cachegate-base memory "$CACHEGATE_BASE"; fi

plain_port=$(free_port)
"$work/plain" -listen 127.0.0.1:"$plain_port" & pids+=($!); pidof[plain-go]=$!
wait_port "$plain_port"; port[plain-go]=$plain_port

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
wait_port "$nginx_port"; port[nginx]=$nginx_port; pidof[nginx]=$(cat "$work/nginx.pid")

varnish_port=$(free_port)
varnishd -a 127.0.0.1:"$varnish_port" -b 127.0.0.1:"$origin_port" -s malloc,256m -n "$work/varnish" -F >"$work/varnish.log" 2>&1 & pids+=($!); pidof[varnish]=$!
wait_port "$varnish_port"; port[varnish]=$varnish_port

# cpu_ticks PID: user+system clock ticks of PID and all its descendants
# (nginx's workers, varnishd's cache child).
cpu_ticks() {
  local all=("$1") i=0 total=0 f
  while [ $i -lt ${#all[@]} ]; do
    for c in $(cat /proc/"${all[$i]}"/task/*/children 2>/dev/null); do all+=("$c"); done
    i=$((i + 1))
  done
  for p in "${all[@]}"; do
    f=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)
# us_per PID_TICKS_BEFORE AFTER REQUESTS: microseconds of CPU per request.
us_per() { awk -v a="$1" -v b="$2" -v n="$3" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.1f", (b-a)*1e6/hz/n; else print "-" }'; }
# median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR==0) print ""; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

# wrk's latency distribution in ms from its --latency output.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }

declare -A rps p50 p99 cpu rcpu
targets=(nginx varnish plain-go cachegate-memory cachegate-tiered cachegate-redis)
[ -n "${CACHEGATE_BASE:-}" ] && targets+=(cachegate-base)
for round in $(seq "$rounds"); do
  for size in "${sizes[@]}"; do
    path="/bytes/$size/bench-$round"
    for t in "${targets[@]}"; do
      [ -n "${port[$t]:-}" ] || continue
      url="http://127.0.0.1:${port[$t]}$path"
      for _ in 1 2 3; do curl -s -o /dev/null "$url"; done   # fill, then warm
      c0=$(cpu_ticks "${pidof[$t]}"); r0=$(cpu_ticks "$redis_pid")
      out=$(wrk -t"$threads" -c"$conns" -d"$duration" --latency "$url")
      c1=$(cpu_ticks "${pidof[$t]}"); r1=$(cpu_ticks "$redis_pid")
      n=$(awk '/requests in/ {print $1}' <<<"$out")
      k="$t,$size"
      rps[$k]+=" $(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
      p50[$k]+=" $(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)"
      p99[$k]+=" $(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)"
      cpu[$k]+=" $(us_per "$c0" "$c1" "$n")"
      case $t in cachegate-redis|cachegate-tiered) rcpu[$k]+=" $(us_per "$r0" "$r1" "$n")";; esac
      echo "round $round $t ${size}B:$(awk '/Requests\/sec/ {printf " %.0f req/s", $2}' <<<"$out"), $n requests, server CPU $(us_per "$c0" "$c1" "$n") us/req"
    done
  done
done
# Ratios within each round, then their median.
declare -A xn xv
for k in "${!rps[@]}"; do
  t=${k%,*} size=${k#*,}
  read -ra a <<<"${rps[$k]}"; read -ra bn <<<"${rps[nginx,$size]:-}"; read -ra bv <<<"${rps[varnish,$size]:-}"
  rn=() rv=()
  for i in "${!a[@]}"; do
    [ -n "${bn[$i]:-}" ] && rn+=("$(awk -v a="${a[$i]}" -v b="${bn[$i]}" 'BEGIN{printf "%.2f", a/b}')")
    [ -n "${bv[$i]:-}" ] && rv+=("$(awk -v a="${a[$i]}" -v b="${bv[$i]}" 'BEGIN{printf "%.2f", a/b}')")
  done
  xn[$k]=$(median "${rn[@]}"); xv[$k]=$(median "${rv[@]}")
done

# 500 concurrent requests of one cold key; the origin answers in 200 ms.
declare -A cold
for t in "${targets[@]}"; do
  [ -n "${port[$t]:-}" ] && [ "$t" != plain-go ] || continue
  cold[$t]=$("$work/coldkey" -url "http://127.0.0.1:${port[$t]}" -n 500 -delay 200)
  echo "$t cold key x500: ${cold[$t]}"
done

mkdir -p bench/results
{
  echo "wrk -t$threads -c$conns -d$duration, cached bodies, $(nproc) cores, $(date -u +%Y-%m-%d), median of $rounds interleaved round(s); CPU: server processes' user+system time per request (redis-server's separately)"
  echo
  echo "| target | body | req/s | p50 ms | p99 ms | x nginx | x varnish | CPU us/req | redis CPU us/req |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for size in "${sizes[@]}"; do
    for t in "${targets[@]}"; do
      k="$t,$size"
      [ -n "${rps[$k]:-}" ] || continue
      echo "| $t | $size | $(median ${rps[$k]}) | $(median ${p50[$k]}) | $(median ${p99[$k]}) | ${xn[$k]:--} | ${xv[$k]:--} | $(median ${cpu[$k]}) | $(median ${rcpu[$k]:-}) |"
    done
  done
  echo
  echo "500 concurrent GETs of one cold key, origin latency 200 ms:"
  echo
  for t in "${targets[@]}"; do
    [ -n "${cold[$t]:-}" ] && echo "- $t: ${cold[$t]}"
  done
} | tee bench/results/latest.md
