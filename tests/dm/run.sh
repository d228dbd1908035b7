#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The device-mapper lane: this host's kernel has no device-mapper, so the
# lvm-thin backend is tested inside a QEMU guest booted from Debian's kernel
# (TCG, no KVM needed; see boot-guest.sh and build-guest.sh).  The guest
# prints TAP on its serial console; we keep the TAP lines.
#
# usage: tests/dm/run.sh BUILD_DIR OUTPUT.tap
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$2
console="${out%.tap}.console.log"
fail() {
        printf '1..1\nnot ok 1 - device-mapper lane: %s\n' "$*" >"$out"
        echo "device-mapper lane: $*" >&2
        exit 1
}

work=$(mktemp -d /tmp/edgevirt-dm.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$build/tests/dm/test-lvm-thin" "$work/" || fail "test-lvm-thin is not built"
cat >"$work/run.sh" <<'GUEST'
export EDGEVIRT_DM_DEVICE=/dev/vdb
cd /t && ./test-lvm-thin --tap
GUEST

"$here/boot-guest.sh" "$work" 1G "$console" || fail "the guest failed (console in $console)"
grep -E '^(ok |not ok |1\.\.|Bail out)' "$console" >"$out"
status=$(sed -n 's/^edgevirt-guest: exit //p' "$console")
[ "$status" = 0 ] || { echo "device-mapper lane: tests exited $status" >&2; exit 1; }
exit 0
