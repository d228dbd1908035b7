#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds (once, cached outside the clone) the guest the host lane boots:
# Debian bookworm with systemd as PID 1, Debian's generic kernel (virtual
# consoles, so a desktop user can be logged in on seat0), and every runtime
# dependency of the edgevirtd and edgevirtctl packages installed when the
# image is built: the guest has no network, the lane only adds the .deb files.
# Output: $CACHE/{vmlinuz,initrd.img,root.img}.
# The cache is keyed by this recipe: change it, get a new build.
set -euo pipefail

CACHE_ROOT=${EDGEVIRT_TEST_CACHE:-/var/cache/edgevirt-tests}
MIRROR=${EDGEVIRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE_MB=3072

key=$(sed -n '/^# --- recipe ---$/,/^# --- end recipe ---$/p' "$0" | cat - <(echo "$SIZE_MB") | sha256sum | cut -c1-12)
CACHE="$CACHE_ROOT/host-guest-$key"
if [ -f "$CACHE/root.img" ] && [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ]; then
        echo "$CACHE"
        exit 0
fi

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
root="$work/root"
cleanup() {
        for m in dev/pts dev proc sys; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
        rm -rf "$work"
}
trap cleanup EXIT

echo "building the host-lane guest in $CACHE (debootstrap and apt-get, about 6 minutes)" >&2
# --- recipe ---
BASE="linux-image-amd64,systemd-sysv,udev,dbus,libpam-systemd,kmod,e2fsprogs,util-linux,iproute2"
# What the packages depend on (debian/control) and what the checks use.
RUNTIME="polkitd pkexec libvirt-daemon-system qemu-system-x86 qemu-utils nbdkit lvm2 thin-provisioning-tools
  libglib2.0-0 libjson-glib-1.0-0 libyaml-0-2 libsqlite3-0 libsystemd0 libvirt0 libisofs6 libcurl4
  libseccomp2 liblzma5 libzstd1 libbz2-1.0 zlib1g libmicrohttpd12 bash-completion python3 sudo"
debootstrap --variant=minbase --include="$BASE" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"
chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; exit 1; }
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends $RUNTIME \
        >>"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; exit 1; }
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
for m in dev/pts dev proc sys; do umount -l "$root/$m"; done

echo "LABEL=edgevirt-root / ext4 defaults 0 1" >"$root/etc/fstab"
# A fixed machine id: an empty one makes systemd's first boot apply presets
# to every unit (and the root disk is a fresh copy for every run anyway).
echo 0e1d9e5a7b7e4c0f9d1e2f3a4b5c6d7e >"$root/etc/machine-id"
echo "edgevirt-host" >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 edgevirt-host\n' >"$root/etc/hosts"
echo "root:edgevirt" | chroot "$root" chpasswd
# The desktop user: uid 1000, an administrator as Debian's polkit rules see
# one (group sudo), logged in on tty1 (seat0, the active virtual console).
chroot "$root" useradd -m -u 1000 -G sudo -s /bin/bash desk
echo "desk:desk-password" | chroot "$root" chpasswd
mkdir -p "$root/etc/systemd/system/getty@tty1.service.d"
cat >"$root/etc/systemd/system/getty@tty1.service.d/autologin.conf" <<'CONF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin desk --noclear %I $TERM
CONF
# The lane's checks come from the test disk (ext4 labelled edgevirt-t):
# this unit runs its run.sh once the system is up and powers the guest off.
cat >"$root/etc/systemd/system/edgevirt-lane.service" <<'UNIT'
[Unit]
Description=edgevirt host lane checks
After=multi-user.target getty@tty1.service
Wants=getty@tty1.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /t && mount LABEL=edgevirt-t /t && exec /bin/bash /t/run.sh'
ExecStopPost=/bin/sh -c 'sync; umount /t; systemctl --no-block poweroff'
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=1500

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/edgevirt-lane.service "$root/etc/systemd/system/multi-user.target.wants/edgevirt-lane.service"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc "$root"/var/lib/apt/lists/*
# --- end recipe ---

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
truncate -s ${SIZE_MB}M "$work/root.img"
mkfs.ext4 -q -L edgevirt-root -d "$root" "$work/root.img"
chmod 644 "$work/vmlinuz" "$work/initrd.img"

# Builds of older recipes are of no use any more.
find "$CACHE_ROOT" -maxdepth 1 -name 'host-guest-*' ! -name "host-guest-$key" -exec rm -rf {} +
mkdir -p "$CACHE"
mv "$work/vmlinuz" "$work/initrd.img" "$work/root.img" "$CACHE/"
echo "$CACHE"
