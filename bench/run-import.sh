#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/import: the same images (the project's real test guest,
# tests/guest/build-guest.sh: Debian bookworm, 2 GiB virtual, ~720 MiB of
# data; as raw.xz, raw.gz, qcow2, compressed qcow2 as cloud images ship,
# streamOptimized vmdk as VMware exports ship, vhdx, vdi and vhd) served by one
# local lighttpd, imported in one run by
#   daemon     edgevirtd end to end: a DataVolume with an http source
#              applied on a private bus, Apply → Phase Succeeded
#   importer   edgevirt-importer alone, what a DataVolume runs
#   pull       systemd-pull raw --direct (systemd's importer); for qcow2
#              --convert-qcow2 into an image root; nothing for the others
#   cdi        CDI's pipelines: curl | decompress | sparse write for raw,
#              nbdkit curl + qemu-img convert -t none for the other formats
#   bound      the slowest unavoidable stage alone: decompressing the local
#              file to /dev/null; for the other formats a local
#              `qemu-img convert -t writeback` of the same file into a fresh
#              file (flushed, as the importer fsyncs before it says done)
# on two file systems: a tmpfs of its own and the disk (/var/tmp).  Rounds
# are interleaved (each tool once per round, in an order shuffled per round
# with a fixed seed, so each tool follows different ones);
# every tool's output is freed and the freeing synced before the next run,
# so every tool gets the blocks the one before freed (same reuse for all);
# before every run dirty data is written out and the image evicted from the
# page cache (a cold source, warm tools).  Printed: min/median/max per tool,
# the median CPU time, and ratios of the medians (peer/daemon above 1: the
# daemon is faster; daemon/bound: how close to the bound, target 1.10).
#
#   ROUNDS=5 (default)   IMAGES="root.raw.xz root.qcow2 ..."   TARGETS="tmpfs disk"
#   TOOLS=daemon,importer,pull,cdi,bound   BENCH_LOG=FILE (every run, with the tool before it)
# The defaults (8 images, 5 rounds, 2 targets) take about 25 minutes on a
# quiet 2-core machine (estimated), about 40 at load average 5-8: split the
# run by IMAGES/TARGETS there (docs/importer.md).  Images are made once
# and kept in $BENCH_CACHE (default /var/cache/edgevirt-bench).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGEVIRT_BUILD:-$top/build}
cache=${BENCH_CACHE:-/var/cache/edgevirt-bench}
ninja -C "$build" storage/importer/edgevirt-importer dbus/edgevirtd >/dev/null
for p in systemd-container nbdkit lighttpd xz-utils curl python3-gi; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done

mkdir -p "$cache"
if [ ! -f "$cache/root.qcow2" ]; then
        guest=$("$top/tests/guest/build-guest.sh")
        echo "making the benchmark images in $cache (once)" >&2
        cp "$guest/guest.qcow2" "$cache/root.qcow2"
        cp "$guest/guest.raw.xz" "$cache/root.raw.xz"
fi
[ -f "$cache/root.raw" ] || qemu-img convert -f qcow2 -O raw "$cache/root.qcow2" "$cache/root.raw"
[ -f "$cache/root.raw.gz" ] || gzip -6 -k -f "$cache/root.raw"
[ -f "$cache/root-compressed.qcow2" ] ||
        qemu-img convert -c -f raw -O qcow2 "$cache/root.raw" "$cache/root-compressed.qcow2"
[ -f "$cache/root-stream.vmdk" ] ||
        qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$cache/root.raw" "$cache/root-stream.vmdk"
[ -f "$cache/root.vhdx" ] || qemu-img convert -f raw -O vhdx "$cache/root.raw" "$cache/root.vhdx"
[ -f "$cache/root.vdi" ] || qemu-img convert -f raw -O vdi "$cache/root.raw" "$cache/root.vdi"
# the size field, not the geometry (which rounds 2 GiB up, past the volume), as Hyper-V and Azure write
[ -f "$cache/root.vhd" ] || qemu-img convert -f raw -O vpc -o force_size=on "$cache/root.raw" "$cache/root.vhd"
chmod 755 "$cache"

work=$(mktemp -d /var/tmp/edgevirt-bench-import.XXXXXX)
chmod 755 "$work"
port=$(( 20000 + RANDOM % 20000 ))
cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$cache"
server.bind = "127.0.0.1"
server.port = $port
CONF
lighttpd -D -f "$work/lighttpd.conf" &
httpd=$!
mkdir "$work/tmpfs" "$work/disk"
trap 'kill $httpd 2>/dev/null || true; umount "$work/tmpfs" 2>/dev/null || true; rm -rf "$work"' EXIT
mount -t tmpfs -o size=8g,mode=755 bench "$work/tmpfs"
sleep 0.5

args=()
for t in ${TARGETS:-tmpfs disk}; do args+=(--target="$t=$work/$t"); done
[ -z "${BENCH_LOG:-}" ] || args+=(--log="$BENCH_LOG")
EDGEVIRT_BUILD=$build /usr/bin/python3 "$top/bench/import.py" --work="$work" "${args[@]}" \
        --url="http://127.0.0.1:$port" --cache="$cache" --rounds="${ROUNDS:-5}" \
        --tools="${TOOLS:-daemon,importer,pull,cdi,bound}" \
        --images="${IMAGES:-root.raw.xz root.raw.gz root.qcow2 root-compressed.qcow2 root-stream.vmdk root.vhdx root.vdi root.vhd}"
