# shellcheck shell=bash
# Shared settings for the lab scripts (sourced, not run).
# Everything the lab builds once is kept under ESCALATOR_CACHE so that later runs on the
# same machine, CI included, reuse it.
ESCALATOR_CACHE=${ESCALATOR_CACHE:-/var/cache/escalator}
export LAB_LABEL=escalator.lab
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

# The Debian mirror this machine's apt already uses, so the lab reaches exactly the
# package registry the host is configured for. ESCALATOR_DEBIAN_MIRROR overrides it.
debian_mirror() {
    if [ -n "${ESCALATOR_DEBIAN_MIRROR:-}" ]; then
        echo "$ESCALATOR_DEBIAN_MIRROR"; return
    fi
    local uri
    uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
    [ -n "$uri" ] || die "no Debian mirror found in /etc/apt sources; set ESCALATOR_DEBIAN_MIRROR"
    echo "$uri"
}

# The image tag is derived from the recipe, so a changed recipe builds a new image and an
# unchanged one is never rebuilt.
lab_image_tag() {
    echo "escalator-lab:$(cat "$LAB_DIR/image/build.sh" "$LAB_DIR/image/packages.txt" | sha256sum | cut -c1-12)"
}
