#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/import: the same images (a Debian root file system, the device-
# mapper lane's guest image: ~1.5 GiB virtual, real content; as raw.xz,
# raw.gz, qcow2, compressed qcow2 as cloud images ship, and streamOptimized
# vmdk as VMware exports ship — systemd-pull has no vmdk) served by one
# local lighttpd, imported in one run by
#   edgevirt   edgevirt-importer, what a DataVolume runs
#   pull       systemd-pull raw --direct (systemd's importer); for qcow2
#              --convert-qcow2 into an image root
#   cdi        CDI's pipelines: curl | decompress | sparse write for raw,
#              nbdkit curl + qemu-img convert for qcow2
#   bound      the slowest unavoidable stage alone: decompressing the local
#              file to /dev/null; for qcow2, converting the local file
#              into the target with the data on disk at the end, as an
#              import leaves it (qemu-img convert -t writeback flushes;
#              the importer fsyncs before it says done)
# and printed with ratios: peer/edgevirt above 1 means edgevirt is faster;
# edgevirt/bound is how close to the bound it comes (target within 1.10).
# Before every run the images are evicted from the page cache and dirty
# data is written out: the source is cold, the tools warm, as on a running
# host (dropping every cache would also charge each tool a cold start of
# its libraries: 0.05-0.08 s for the importer and its 46, 0.03 s for
# qemu-img).  Each figure is the best of $RUNS (default 5).  Images are made once and kept in
# $BENCH_CACHE (default /var/cache/edgevirt-bench).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGEVIRT_BUILD:-$top/build}
cache=${BENCH_CACHE:-/var/cache/edgevirt-bench}
importer="$build/storage/importer/edgevirt-importer"
ninja -C "$build" storage/importer/edgevirt-importer >/dev/null
for p in systemd-container nbdkit lighttpd xz-utils; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done

mkdir -p "$cache"
if [ ! -f "$cache/root.qcow2" ]; then
        guest=$("$top/tests/dm/build-guest.sh")
        echo "making the benchmark images in $cache (once)" >&2
        cp --sparse=always "$guest/root.img" "$cache/root.raw"
        xz -T2 -6 -k -f "$cache/root.raw"
        gzip -6 -k -f "$cache/root.raw"
        qemu-img convert -f raw -O qcow2 "$cache/root.raw" "$cache/root.qcow2"
fi
[ -f "$cache/root-compressed.qcow2" ] ||
        qemu-img convert -c -f raw -O qcow2 "$cache/root.raw" "$cache/root-compressed.qcow2"
[ -f "$cache/root-stream.vmdk" ] ||
        qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$cache/root.raw" "$cache/root-stream.vmdk"
size=$(stat -c %s "$cache/root.raw")
chmod 755 "$cache"

work=$(mktemp -d /var/tmp/edgevirt-bench-import.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$cache"
server.bind = "127.0.0.1"
server.port = $port
CONF
lighttpd -D -f "$work/lighttpd.conf" &
httpd=$!
trap 'kill $httpd 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5
url=http://127.0.0.1:$port

drop() {
        sync
        for f in "$cache"/root*; do dd if="$f" iflag=nocache count=0 status=none; done
}
fresh_target() { rm -rf "$work/t" "$work/root" "$work/scratch"; mkdir -p "$work/scratch" "$work/root"; truncate -s "$size" "$work/t"; }
timed() {       # prints the best of $RUNS timings of "$@", in seconds
        local best=nan t0 t1 t i
        for i in $(seq "${RUNS:-5}"); do
                drop
                t0=$(date +%s.%N)
                "$@" >/dev/null 2>"$work/err" || { echo "FAILED: $* ($(tail -1 "$work/err"))" >&2; echo nan; return; }
                t1=$(date +%s.%N)
                t=$(echo "$t1 - $t0" | bc -l)
                if [ "$best" = nan ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
        done
        echo "$best"
}

ours() { fresh_target; "$importer" --url="$url/$1" --target="$work/t" --size="$size" --scratch="$work/scratch"; }
pull_direct() { rm -f "$work/t"; /lib/systemd/systemd-pull raw --verify=no --direct "$url/$1" "$work/t"; }
pull_qcow2() { fresh_target; /lib/systemd/systemd-pull raw --verify=no --convert-qcow2=yes --image-root="$work/root" "$url/$1" bench; }
cdi_stream() { fresh_target; curl -sf "$url/$1" | $2 | dd of="$work/t" bs=1M conv=sparse,notrunc status=none; }
cdi_nbd() {
        fresh_target
        nbdkit --readonly --exit-with-parent -U "$work/nbd.sock" --filter=readahead --filter=retry \
                curl url="$url/$1" retry-exponential=no &
        local nbd=$!
        while [ ! -S "$work/nbd.sock" ]; do sleep 0.05; done
        qemu-img convert -t none -O raw -n "nbd+unix:///?socket=$work/nbd.sock" "$work/t"
        kill $nbd; wait $nbd 2>/dev/null || true
        rm -f "$work/nbd.sock"
}
bound_file() { $2 <"$cache/$1" >/dev/null; }
bound_convert() { fresh_target; qemu-img convert -t writeback -O raw -n --target-is-zero "$cache/$1" "$work/t"; }

secs() { [ "$1" = nan ] && echo "n/a" || printf '%.2fs' "$1"; }
ratio() { [ "$1" = nan ] || [ "$2" = nan ] && echo " n/a" || printf '%5.2f' "$(echo "$1 / $2" | bc -l)"; }

printf '\nbench/import: %s bytes virtual (Debian root file system), lighttpd on loopback\n\n' "$size"
printf '%-22s %9s %9s %9s %9s   %9s %9s %11s\n' image edgevirt pull cdi bound pull/ours cdi/ours ours/bound
for img in ${IMAGES:-root.raw.xz root.raw.gz root.qcow2 root-compressed.qcow2 root-stream.vmdk}; do
        o=$(timed ours "$img")
        case $img in
        *.xz) p=$(timed pull_direct "$img"); c=$(timed cdi_stream "$img" "xz -dc"); b=$(timed bound_file "$img" "xz -T2 -dc") ;;
        *.gz) p=$(timed pull_direct "$img"); c=$(timed cdi_stream "$img" "gzip -dc"); b=$(timed bound_file "$img" "gzip -dc") ;;
        *.vmdk) p=nan; c=$(timed cdi_nbd "$img"); b=$(timed bound_convert "$img") ;;   # systemd-pull: raw and qcow2 only
        *)    p=$(timed pull_qcow2 "$img"); c=$(timed cdi_nbd "$img"); b=$(timed bound_convert "$img") ;;
        esac
        printf '%-22s %9s %9s %9s %9s   %9s %9s %11s\n' "$img" "$(secs "$o")" "$(secs "$p")" "$(secs "$c")" "$(secs "$b")" \
                "$(ratio "$p" "$o")" "$(ratio "$c" "$o")" "$(ratio "$o" "$b")"
done
