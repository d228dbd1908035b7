#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds (once, cached outside the clone) a small real guest for the VM
# tests and the quick start: Debian bookworm with Debian's generic kernel
# (the cloud kernel has no AHCI, so KubeVirt's SATA cdroms would be
# invisible), systemd, cloud-init (NoCloud, ConfigDrive), the QEMU guest
# agent, OpenSSH, booting with extlinux from a disk image.
# Output: $CACHE/guest.qcow2 and $CACHE/guest.raw.xz (the same disk; both
# are served to the importer in the tests).
# The cache is keyed by this recipe: change it, get a new build.
set -euo pipefail

CACHE_ROOT=${EDGEVIRT_TEST_CACHE:-/var/cache/edgevirt-tests}
PACKAGES="linux-image-amd64,systemd-sysv,udev,dbus,libpam-systemd,cloud-init,qemu-guest-agent,openssh-server,sudo,\
e2fsprogs,ifupdown,isc-dhcp-client,python3-cffi-backend,iproute2,netbase"
MIRROR=${EDGEVIRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE_MB=2048

key=$(sed -n '/^# --- recipe ---$/,/^# --- end recipe ---$/p' "$0" | cat - <(echo "$PACKAGES $SIZE_MB") | sha256sum | cut -c1-12)
CACHE="$CACHE_ROOT/guest-$key"
if [ -f "$CACHE/guest.qcow2" ] && [ -f "$CACHE/guest.raw.xz" ]; then
        echo "$CACHE"
        exit 0
fi

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
mnt="$work/mnt"
loop=
cleanup() {
        mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
        [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT
root="$work/root"

echo "building the test guest in $CACHE (debootstrap, about 3 minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# --- recipe ---
cat >"$root/etc/cloud/cloud.cfg.d/99-edgevirt.cfg" <<'CFG'
datasource_list: [ NoCloud, ConfigDrive, None ]
locale: C.UTF-8
CFG
echo "LANG=C.UTF-8" >"$root/etc/default/locale"
echo "LABEL=root / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
: >"$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
echo "localhost" >"$root/etc/hostname"
printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' >"$root/etc/network/interfaces"
mkdir -p "$root/boot/extlinux"
kernel=$(basename "$root"/boot/vmlinuz-*)
initrd=$(basename "$root"/boot/initrd.img-*)
cat >"$root/boot/extlinux/extlinux.conf" <<CONF
DEFAULT linux
TIMEOUT 0
LABEL linux
  LINUX /boot/$kernel
  INITRD /boot/$initrd
  APPEND root=LABEL=root rw console=tty0 console=ttyS0,115200 net.ifnames=0
CONF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc "$root"/usr/share/man "$root"/var/lib/apt/lists/*
# --- end recipe ---

img="$work/guest.raw"
truncate -s ${SIZE_MB}M "$img"
echo 'start=2048, type=83, bootable' | sfdisk -q "$img"
part_kb=$(( (SIZE_MB - 1) * 1024 ))
mkfs.ext4 -q -L root -E offset=1048576 -d "$root" "$img" ${part_kb}k
loop=$(losetup -f --show -o 1048576 --sizelimit $((part_kb * 1024)) "$img")
mkdir -p "$mnt"
mount "$loop" "$mnt"
extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1
umount "$mnt"
losetup -d "$loop"
loop=
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
qemu-img convert -O qcow2 "$img" "$work/guest.qcow2"
xz -T0 -3 -c "$img" >"$work/guest.raw.xz"

# Builds of older recipes are of no use any more.
find "$CACHE_ROOT" -maxdepth 1 -name 'guest-*' ! -name "guest-$key" -exec rm -rf {} +
mkdir -p "$CACHE"
mv "$work/guest.qcow2" "$work/guest.raw.xz" "$CACHE/"
echo "$CACHE"
