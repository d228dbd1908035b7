#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds (once, cached outside the clone) a small real guest that boots
# with UEFI Secure Boot: Debian bookworm (minbase, the generic kernel,
# systemd) on a GPT disk whose EFI system partition holds Debian's signed
# boot chain at the removable-media path: EFI/BOOT/BOOTX64.EFI is shim
# (signed by Microsoft, so OVMF with Microsoft's keys enrolled runs it),
# grubx64.efi beside it (signed by Debian, checked by shim), and a
# grub.cfg that boots Debian's signed kernel with console=ttyS0.
# At each boot the guest counts its boots in EFI variables of its own
# (EdgevirtBoot1, EdgevirtBoot2, ...) and says on the serial console
# "edgevirt-nvram: boot N": the count goes on only if the NVRAM is kept.
# Output: $CACHE/efi-guest.qcow2.  The cache is keyed by this recipe.
# Needs debootstrap, sfdisk, dosfstools (mkfs.vfat) and mtools (mcopy).
set -euo pipefail

CACHE_ROOT=${EDGEVIRT_TEST_CACHE:-/var/cache/edgevirt-tests}
PACKAGES="linux-image-amd64,systemd-sysv,udev,kmod,shim-signed,grub-efi-amd64-signed"
MIRROR=${EDGEVIRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE_MB=1024
ESP_MB=64

key=$(sed -n '/^# --- recipe ---$/,/^# --- end recipe ---$/p' "$0" | cat - <(echo "$PACKAGES $SIZE_MB $ESP_MB") |
        sha256sum | cut -c1-12)
CACHE="$CACHE_ROOT/efi-guest-$key"
if [ -f "$CACHE/efi-guest.qcow2" ]; then
        echo "$CACHE"
        exit 0
fi

mkdir -p "$CACHE_ROOT"
work=$(mktemp -d "$CACHE_ROOT/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "building the Secure Boot test guest in $CACHE (debootstrap, about 3 minutes)" >&2
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
        { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# --- recipe ---
echo "LABEL=root / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
: >"$root/etc/machine-id"
echo "localhost" >"$root/etc/hostname"
cat >"$root/usr/local/sbin/edgevirt-nvram-count" <<'SH'
#!/bin/sh
# One more EFI variable per boot (non-volatile, boot and runtime access):
# their number is the number of boots this VM's NVRAM has seen.
dir=/sys/firmware/efi/efivars
guid=5e0c3a4e-8f1d-4b8e-9a51-6564676576a1
n=$(( $(ls "$dir" | grep -c "^EdgevirtBoot[0-9]*-$guid\$") + 1 ))
printf '\007\000\000\000\001' >"$dir/EdgevirtBoot$n-$guid"
sb=$(od -An -tu1 -j4 -N1 "$dir/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c" | tr -d ' ')
echo "edgevirt-nvram: boot $n, SecureBoot=$sb" >/dev/console
SH
chmod 755 "$root/usr/local/sbin/edgevirt-nvram-count"
cat >"$root/etc/systemd/system/edgevirt-nvram-count.service" <<'UNIT'
[Unit]
Description=Count this VM's boots in its EFI variables
After=sys-firmware-efi-efivars.mount
ConditionPathExists=/sys/firmware/efi/efivars

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/edgevirt-nvram-count

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/edgevirt-nvram-count.service "$root/etc/systemd/system/multi-user.target.wants/"
kernel=$(basename "$root"/boot/vmlinuz-*)
initrd=$(basename "$root"/boot/initrd.img-*)
cat >"$work/grub.cfg" <<CFG
search --no-floppy --label root --set=root
linux /boot/$kernel root=LABEL=root rw console=tty0 console=ttyS0,115200 net.ifnames=0
initrd /boot/$initrd
boot
CFG
cp "$root/usr/lib/shim/shimx64.efi.signed" "$work/BOOTX64.EFI"
cp "$root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$work/grubx64.efi"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc "$root"/usr/share/man "$root"/var/lib/apt/lists/*
# --- end recipe ---

# GPT: the EFI system partition at 1 MiB, the root file system after it,
# the last MiB left to the backup table.  Written at offsets: no loop devices.
img="$work/efi-guest.raw"
truncate -s ${SIZE_MB}M "$img"
root_mb=$(( SIZE_MB - ESP_MB - 2 ))
sfdisk -q "$img" <<TABLE
label: gpt
start=2048, size=$(( ESP_MB * 2048 )), type=U, name=ESP
start=$(( (ESP_MB + 1) * 2048 )), size=$(( root_mb * 2048 )), type=L, name=root
TABLE
mkfs.vfat -F 16 -n ESP --offset 2048 "$img" $(( ESP_MB * 1024 )) >/dev/null
esp="$img@@1048576"
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$esp" "$work/BOOTX64.EFI" "$work/grubx64.efi" "$work/grub.cfg" ::/EFI/BOOT/
# Debian's signed GRUB looks for its grub.cfg under its built-in prefix
# /EFI/debian first, beside itself otherwise.
mcopy -i "$esp" "$work/grub.cfg" ::/EFI/debian/
mkfs.ext4 -q -L root -E offset=$(( (ESP_MB + 1) * 1048576 )) -d "$root" "$img" $(( root_mb * 1024 ))k
qemu-img convert -c -O qcow2 "$img" "$work/efi-guest.qcow2"

# Builds of older recipes are of no use any more.
find "$CACHE_ROOT" -maxdepth 1 -name 'efi-guest-*' ! -name "efi-guest-$key" -exec rm -rf {} +
mkdir -p "$CACHE"
mv "$work/efi-guest.qcow2" "$CACHE/"
echo "$CACHE"
