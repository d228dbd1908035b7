#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot the device-mapper guest once with a directory of files as its test
# disk (it runs DIR/run.sh) and an empty PV_SIZE disk as /dev/vdb; the
# console goes to CONSOLE.  Exit 0 when the guest booted and finished run.sh
# (whatever run.sh returned: the console says, "edgevirt-guest: exit N").
#
# usage: tests/dm/boot-guest.sh DIR PV_SIZE CONSOLE
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$1
pv_size=$2
console=$3

guest=$("$here/build-guest.sh") || { echo "cannot build the guest image" >&2; exit 2; }
work=$(mktemp -d /tmp/edgevirt-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

size_kb=$(( $(du -sk "$dir" | cut -f1) + 65536 ))
truncate -s "${size_kb}K" "$work/t.img"
mkfs.ext4 -q -L edgevirt-t -d "$dir" "$work/t.img" || { echo "cannot make the test disk" >&2; exit 2; }
truncate -s "$pv_size" "$work/pv.img"

timeout 1200 qemu-system-x86_64 -accel tcg -m 768 -smp 1 -no-reboot \
        -display none -monitor none -serial "file:$work/console.log" \
        -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" \
        -append "root=/dev/vda rw console=ttyS0 init=/edgevirt-init panic=-1 quiet loglevel=1" \
        -drive "file=$guest/root.img,if=virtio,format=raw,snapshot=on" \
        -drive "file=$work/pv.img,if=virtio,format=raw" \
        -drive "file=$work/t.img,if=virtio,format=raw" \
        >"$work/qemu.log" 2>&1
tr -d '\r' <"$work/console.log" >"$console"

# QEMU exits 0 whatever the guest did: decide by what the guest printed.
grep -q '^edgevirt-guest: up' "$console" || { echo "the guest did not boot" >&2; cat "$work/qemu.log" >&2; exit 2; }
grep -q '^edgevirt-guest: exit' "$console" || { echo "the guest did not finish" >&2; exit 2; }
exit 0
