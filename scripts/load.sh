#!/bin/sh
# Load test: requests/s of a small Gin app with and without ginsecure, on
# loopback only, bounded in time (rounds x duration x 2 sides per store).
#
#   scripts/load.sh                 # built-in Go client
#   DRIVER=wrk scripts/load.sh      # wrk (apt-get install wrk), if installed
#   D=5s ROUNDS=5 CONNS=16 scripts/load.sh
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
bin=$(mktemp -d)/loadgen
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./internal/loadgen
for store in cookie memstore; do
	# timeout bounds a run even if something hangs.
	timeout 300 "$bin" -store "$store" -d "$D" -rounds "$ROUNDS" -c "$CONNS" $WRK
	echo
done
