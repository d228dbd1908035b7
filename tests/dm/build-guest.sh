#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds (once, cached outside the clone) the guest the device-mapper lane
# boots: Debian bookworm with Debian's kernel (device-mapper and dm-thin as
# modules), lvm2, thin-provisioning-tools and the libraries our test
# binaries link.  Output: $CACHE/{vmlinuz,initrd.img,root.img}.
# The cache is keyed by this recipe: change the recipe, get a new build.
set -euo pipefail

CACHE_ROOT=${EDGEVIRT_TEST_CACHE:-/var/cache/edgevirt-tests}
PACKAGES="linux-image-cloud-amd64,lvm2,thin-provisioning-tools,kmod,udev,e2fsprogs,util-linux,\
libglib2.0-0,libjson-glib-1.0-0,libyaml-0-2,libsqlite3-0,libsystemd0"
MIRROR=${EDGEVIRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

key=$(printf '%s\n' "$PACKAGES" "$(sed -n '/^# --- init ---$/,/^# --- end init ---$/p' "$0")" | sha256sum | cut -c1-12)
CACHE="$CACHE_ROOT/dm-guest-$key"

if [ -f "$CACHE/root.img" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ]; then
        echo "$CACHE"
        exit 0
fi

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "building the device-mapper guest in $CACHE (debootstrap, about 2 minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# --- init ---
# The guest runs /t/run.sh from the test disk (the third virtio disk,
# ext4 labelled "edgevirt-t"), prints its TAP output on the console and
# powers off.  The root disk is attached with snapshot=on: it stays clean.
cat >"$root/edgevirt-init" <<'INIT'
#!/bin/sh
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /t
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
modprobe dm_mod; modprobe dm_thin_pool; modprobe dm_snapshot
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 && udevadm trigger && udevadm settle
echo "edgevirt-guest: up"
if mount -L edgevirt-t /t 2>/dev/null || mount /dev/vdc /t; then
        sh /t/run.sh 2>&1
        echo "edgevirt-guest: exit $?"
else
        echo "edgevirt-guest: no test disk"
fi
sync
echo o >/proc/sysrq-trigger
sleep 5
INIT
chmod +x "$root/edgevirt-init"
# --- end init ---
echo "edgevirt-guest" >"$root/etc/hostname"
# LVM without lvmetad/udev coordination inside the bare guest
sed -i 's/^\(\s*\)# *udev_sync = 1/\1udev_sync = 0/; s/^\(\s*\)# *udev_rules = 1/\1udev_rules = 0/' "$root/etc/lvm/lvm.conf" || true

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc "$root"/usr/share/man
truncate -s 1536M "$work/root.img"
mkfs.ext4 -q -L edgevirt-root -d "$root" "$work/root.img"
chmod 644 "$work/vmlinuz" "$work/initrd.img"

# Builds of older recipes are of no use any more.
find "$CACHE_ROOT" -maxdepth 1 -name 'dm-guest-*' ! -name "dm-guest-$key" -exec rm -rf {} +
mkdir -p "$CACHE"
mv "$work/vmlinuz" "$work/initrd.img" "$work/root.img" "$CACHE/"
echo "$CACHE"
