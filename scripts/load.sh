#!/bin/sh
# Load test: requests/s of a small Gin app with and without ginsecure, on
# loopback only, bounded in time (rounds x duration x 2 sides per store).
#
#   scripts/load.sh                 # built-in Go client
#   DRIVER=wrk scripts/load.sh      # wrk (apt-get install wrk), if installed
#   D=5s ROUNDS=5 CONNS=16 scripts/load.sh
#   STORES="memstore redis" scripts/load.sh
#
# For the redis store it starts its own redis-server (Debian package
# redis-server) on a unix socket in a temporary directory, and stops it by
# its PID at the end. The built-in client also reports p50/p99 latency.
#
# The client and the servers share the machine: compare the ratio, not the
# absolute numbers, and only between runs on the same machine.
set -eu
cd "$(dirname "$0")/.."
D=${D:-3s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
WRK=
if [ "${DRIVER:-go}" = wrk ]; then
	command -v wrk >/dev/null 2>&1 || { echo "load.sh: wrk not installed (apt-get install wrk)" >&2; exit 1; }
	WRK=-wrk
fi
STORES=${STORES:-cookie memstore redis}
dir=$(mktemp -d)
bin=$dir/loadgen
redis_pid=
cleanup() {
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$bin" ./internal/loadgen
for store in $STORES; do
	REDIS=
	if [ "$store" = redis ]; then
		command -v redis-server >/dev/null 2>&1 || { echo "load.sh: redis-server not installed (apt-get install redis-server)" >&2; exit 1; }
		if [ -z "$redis_pid" ]; then
			redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
				--save '' --appendonly no --loglevel warning >"$dir/redis.log" 2>&1 &
			redis_pid=$!
			i=0
			while [ ! -S "$dir/redis.sock" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		fi
		REDIS="-redis $dir/redis.sock"
	fi
	# timeout bounds a run even if something hangs.
	timeout 300 "$bin" -store "$store" -d "$D" -rounds "$ROUNDS" -c "$CONNS" $WRK $REDIS
	echo
done
