#!/usr/bin/env bash
# The noise-free figures: instructions per operation of each configuration under
# `valgrind --tool=callgrind`, and the locked instructions of each allocator entry point from
# `objdump -d`. Takes a few minutes; `--quick` runs fewer operations, `--configs a,b` fewer
# configurations.
set -euo pipefail
for tool in valgrind objdump; do
    command -v "$tool" >/dev/null || { echo "callgrind.sh needs $tool" >&2; exit 1; }
done
exec "$(dirname "$0")/run.sh" --callgrind "$@"
