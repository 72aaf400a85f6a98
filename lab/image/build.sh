#!/usr/bin/env bash
# Build the lab host image from Debian packages (debootstrap + docker import); no image
# registry is needed. Prints the image tag, and tags the image escalator-lab:latest too
# (the molecule scenarios' default). Cached: in Docker by tag, and as a tarball
# under $ESCALATOR_CACHE/images so a wiped Docker store does not mean a new debootstrap.
set -euo pipefail
. "$(dirname "$0")/../common.sh"

tag=$(lab_image_tag)
if docker image inspect "$tag" >/dev/null 2>&1; then
    docker tag "$tag" escalator-lab:latest
    echo "$tag"; exit 0
fi
images="$ESCALATOR_CACHE/images"
tarball="$images/${tag/:/-}.tar"
mkdir -p "$images"
if [ ! -s "$tarball" ]; then
    root=$(mktemp -d "$images/rootfs.XXXXXX")
    cleanup() {
        # debootstrap mounts /proc and /sys inside the root; an interrupted run may leave them.
        awk -v r="$root" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
        rm -rf --one-file-system "$root"
    }
    trap cleanup EXIT
    log "debootstrap Debian 12 into $root (a few minutes, once)"
    debootstrap --variant=minbase --include="$(grep -v '^#' "$LAB_DIR/image/packages.txt" | paste -sd, -)" \
        bookworm "$root" "$(debian_mirror)" >"$images/debootstrap.log" 2>&1 \
        || { tail -n 20 "$images/debootstrap.log" >&2; die "debootstrap failed (log: $images/debootstrap.log)"; }
    # Hosts share the host network: no service may start by itself and grab a port.
    for unit in ssh.service haproxy.service postgresql.service rabbitmq-server.service mariadb.service \
        mariadb.socket mariadb-extra.socket \
        epmd.service epmd.socket e2scrub_reap.service; do
        chroot "$root" systemctl disable "$unit" >/dev/null 2>&1 || true
    done
    chroot "$root" systemctl mask getty@tty1.service console-getty.service \
        systemd-networkd.service systemd-resolved.service >/dev/null 2>&1 || true
    mkdir -p "$root/etc/systemd/journald.conf.d"
    printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' >"$root/etc/systemd/journald.conf.d/lab.conf"
    : >"$root/etc/machine-id"
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
docker import --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
    --change "LABEL $LAB_LABEL=image" "$tarball" "$tag" >/dev/null
docker tag "$tag" escalator-lab:latest
echo "$tag"
