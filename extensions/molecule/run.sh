#!/usr/bin/env bash
# Run molecule scenarios one after the other on the lab image:
#   extensions/molecule/run.sh [--log-dir DIR] SCENARIO...
# With --log-dir, each scenario's output goes to DIR/SCENARIO.log and only its result and
# what its traffic probes saw are printed (the end of the log when it fails): make test
# runs the scenarios beside the unit tests, and interleaved output would be unreadable.
set -euo pipefail
cd "$(dirname "$0")/../.."
log_dir=""
if [ "${1:-}" = "--log-dir" ]; then log_dir=$2; shift 2; fi
[ $# -gt 0 ] || { echo "usage: $0 [--log-dir DIR] SCENARIO..." >&2; exit 2; }
ESCALATOR_LAB_IMAGE=$(lab/image/build.sh)
export ESCALATOR_LAB_IMAGE
for scenario in "$@"; do
    [ -f "extensions/molecule/$scenario/molecule.yml" ] || { echo "[molecule] no scenario named $scenario" >&2; exit 2; }
    if [ -z "$log_dir" ]; then
        molecule test -s "$scenario"
        continue
    fi
    mkdir -p "$log_dir"
    log="$log_dir/$scenario.log"
    start=$(date +%s)
    echo "[molecule] $scenario: running (log: $log)"
    if molecule test -s "$scenario" >"$log" 2>&1; then
        echo "[molecule] $scenario passed in $(($(date +%s) - start)) s"
        # The verify step's "what the users saw", its lines unfolded.
        awk '/msg: .*requests failed/ {line = $0; while ((getline more) > 0 && more ~ /^        /) line = line " " more;
             sub(/^ *msg: /, "", line); gsub(/ +/, " ", line); print "[molecule]   " line}' "$log"
    else
        echo "[molecule] $scenario FAILED after $(($(date +%s) - start)) s; the end of $log:"
        tail -n 80 "$log"
        exit 1
    fi
done
