#!/bin/sh
# The budget figure across processes: runs the interleaved authenticated-read
# benchmarks (the Guard, and the floor of the design, BenchmarkContractFloor)
# in ROUNDS separate processes (3 runs of 4000 pairs each) and prints, per
# case, the median and the quartiles of the per-request-median ratio
# against gin-contrib/sessions alone. One process's heap layout and the
# machine's load at that moment move the ratio by about half a percent;
# this shows by how much.
#
#   scripts/bench-ratio.sh            # 5 processes
#   ROUNDS=10 scripts/bench-ratio.sh
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/g.test" .
i=0
while [ "$i" -lt "$ROUNDS" ]; do
	"$dir/g.test" -test.run '^$' -test.bench 'BenchmarkGuard/(cookie|memstore)/read|BenchmarkContractFloor' \
		-test.benchtime 4000x -test.count 3 >>"$dir/out.txt"
	i=$((i + 1))
done
for bench in Guard ContractFloor; do
	for store in cookie memstore; do
		for c in read read-uuid; do
			grep -E "^Benchmark$bench/$store/$c-[0-9]+[[:space:]]" "$dir/out.txt" | sed -n 's/.* \([0-9.]*\) ratio-med.*/\1/p' | sort -n |
				awk -v s="$bench/$store/$c" '{v[NR]=$1} END {
					printf "%-33s vs baseline (per-request medians): median %.3f, quartiles %.3f-%.3f, min %.3f, max %.3f, n=%d\n",
						s, v[int((NR+1)/2)], v[int((NR+3)/4)], v[int((3*NR+1)/4)], v[1], v[NR], NR }'
		done
	done
done
