#!/usr/bin/env bash
# heapster's overhead suite: builds every configuration in release, then runs them interleaved
# and prints the table (see bench/README.md).
#
#   bench/run.sh               # the full run: 12 rounds, about 6 minutes on 2 cores
#   bench/run.sh --quick       # a smoke test: one short round
#   bench/run.sh --callgrind   # instructions per operation and locked instructions
#
# Other options are bench-report's: --rounds N, --scale F, --reps N, --configs a,b, --raw FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(cargo metadata --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')

echo "bench: building the configurations (release)..." >&2
cargo build --release --quiet -p heapster-bench --bins
# One build per package that pins a dependency's features: within one build, cargo would unify
# them (heapster 0.9's default configuration would get the full one's features).
for package in heapster-bench-owned heapster-bench-scoped heapster-bench-09full heapster-bench-09default heapster-bench-cap-stats; do
    cargo build --release --quiet -p "$package"
done

exec "$target/release/bench-report" "$@"
