#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The device-mapper lane: this host's kernel has no device-mapper, so the
# lvm-thin backend is tested inside a QEMU guest booted from Debian's kernel
# (TCG, no KVM needed).  The guest (built once, cached outside the clone by
# build-guest.sh) gets three disks: its root (snapshot=on, so the cache
# stays clean), an empty disk for the volume group, and a disk carrying the
# test binary.  It prints TAP on its serial console; we keep the TAP lines.
#
# usage: tests/dm/run.sh BUILD_DIR OUTPUT.tap
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$2
fail() {
        printf '1..1\nnot ok 1 - device-mapper lane: %s\n' "$*" >"$out"
        echo "device-mapper lane: $*" >&2
        exit 1
}

guest=$("$here/build-guest.sh") || fail "cannot build the guest image"
work=$(mktemp -d /tmp/edgevirt-dm.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir "$work/t"
cp "$build/tests/dm/test-lvm-thin" "$work/t/" || fail "test-lvm-thin is not built"
cat >"$work/t/run.sh" <<'GUEST'
export EDGEVIRT_DM_DEVICE=/dev/vdb
cd /t && ./test-lvm-thin --tap
GUEST
truncate -s 64M "$work/t.img"
mkfs.ext4 -q -L edgevirt-t -d "$work/t" "$work/t.img" || fail "cannot make the test disk"
truncate -s 1G "$work/pv.img"

timeout 600 qemu-system-x86_64 -accel tcg -m 768 -smp 1 -no-reboot \
        -display none -monitor none -serial "file:$work/console.log" \
        -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0 init=/edgevirt-init panic=-1 quiet loglevel=1" \
        -drive "file=$guest/root.img,if=virtio,format=raw,snapshot=on" \
        -drive "file=$work/pv.img,if=virtio,format=raw" \
        -drive "file=$work/t.img,if=virtio,format=raw" \
        >"$work/qemu.log" 2>&1
rc=$?
tr -d '\r' <"$work/console.log" >"$work/console.txt"
cp "$work/console.txt" "${out%.tap}.console.log"

# QEMU exits 0 whatever the guest did: decide by what the guest printed.
grep -q '^edgevirt-guest: up' "$work/console.txt" ||
        fail "the guest did not boot (qemu exit $rc; console in ${out%.tap}.console.log)"
grep -q '^edgevirt-guest: exit' "$work/console.txt" ||
        fail "the guest did not finish the tests (console in ${out%.tap}.console.log)"
grep -E '^(ok |not ok |1\.\.|Bail out)' "$work/console.txt" >"$out"
status=$(sed -n 's/^edgevirt-guest: exit //p' "$work/console.txt")
[ "$status" = 0 ] || { echo "device-mapper lane: tests exited $status" >&2; exit 1; }
exit 0
