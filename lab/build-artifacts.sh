#!/usr/bin/env bash
# Build the wheelhouses the labs install from, one per pin list lab/artifacts/NAME-VERSION.txt,
# each with a SHA256SUMS manifest. Cached under $ESCALATOR_CACHE/artifacts and rebuilt only
# when its pin list changes. Usage: build-artifacts.sh PYTHON (a Python 3.11 with pip).
set -euo pipefail
# The manifest lists files in glob order: make it the same on every machine.
export LC_ALL=C
. "$(dirname "$0")/common.sh"
python=${1:?usage: build-artifacts.sh PYTHON}
# Wheels built here from source (pins PyPI has no wheel of) come out byte for byte the same
# on every machine: fixed timestamps, a pinned build backend. The campaigns pin the sha256
# of each wheelhouse's manifest, so a wheel that differed would refuse the plan.
export SOURCE_DATE_EPOCH=315532800
export PIP_CONSTRAINT="$LAB_DIR/artifacts/build_constraints.txt"
build_recipe=$(cat "$PIP_CONSTRAINT"; echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")

mkdir -p "$ESCALATOR_CACHE/artifacts"
for pins in "$LAB_DIR"/artifacts/*-*.txt; do
    name=$(basename "$pins" .txt)
    dest="$ESCALATOR_CACHE/artifacts/$name"
    stamp=$({ cat "$pins"; echo "$build_recipe"; } | sha256sum | cut -c1-64)
    if [ -s "$dest/SHA256SUMS" ] && [ "$(cat "$dest/.recipe" 2>/dev/null)" = "$stamp" ] \
        && (cd "$dest" && sha256sum --quiet -c SHA256SUMS); then
        log "wheelhouse $name: cached"
        continue
    fi
    log "wheelhouse $name: building from $pins"
    rm -rf "$dest.tmp"
    "$python" -m pip wheel --quiet --no-deps --only-binary=:all: -r "$pins" -w "$dest.tmp" 2>"$dest.log" \
        || "$python" -m pip wheel --quiet --no-deps -r "$pins" -w "$dest.tmp" 2>>"$dest.log" \
        || { tail -n 20 "$dest.log" >&2; die "pip could not build the $name wheelhouse (log: $dest.log)"; }
    grep -vE '^\s*(#|$)' "$pins" >"$dest.tmp/requirements.txt"
    (cd "$dest.tmp" && sha256sum -- *.whl requirements.txt >SHA256SUMS)
    echo "$stamp" >"$dest.tmp/.recipe"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
done
