#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The host lane: edgevirt as a real system service.  Builds the Debian
# packages (or takes them from $EDGEVIRT_HOST_DEBS), boots a Debian 12 guest
# with systemd as PID 1 under QEMU (TCG; tests/host/build-guest.sh, cached)
# twice from the same root disk, and lets tests/host/guest.sh install the
# packages and check them in there.  The .deb files, the checks and the
# results travel on an ext4 test disk (the guest kernel has no 9p).
# Writes TAP to OUTPUT; the guest's console goes beside it.
#
# usage: tests/host/run.sh BUILD_DIR OUTPUT.tap
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$2
console="${out%.tap}.console.log"
fail() {
        printf '1..1\nnot ok 1 - host lane: %s\n' "$*" >"$out"
        echo "host lane: $*" >&2
        exit 1
}

work=$(mktemp -d /tmp/edgevirt-host.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/t/debs" "$work/t/srv"

if [ -n "${EDGEVIRT_HOST_DEBS:-}" ]; then
        cp "$EDGEVIRT_HOST_DEBS"/edgevirtd_*.deb "$EDGEVIRT_HOST_DEBS"/edgevirtctl_*.deb \
                "$EDGEVIRT_HOST_DEBS"/edgevirt-common_*.deb "$work/t/debs/" ||
                fail "no edgevirtd/edgevirtctl/edgevirt-common .deb files in $EDGEVIRT_HOST_DEBS"
        lintian_line="# lintian not run: packages given in EDGEVIRT_HOST_DEBS"
else
        # From what git knows of the tree (committed or not, ignored files
        # left out), as a clean clone would have it.
        mkdir -p "$work/src/edgevirt"
        (cd "$top" && git ls-files -co --exclude-standard -z | tar -c --null -T - -f -) |
                tar -x -C "$work/src/edgevirt" ||
                fail "cannot copy the source tree"
        echo "host lane: dpkg-buildpackage -b -uc -us (unit tests left to the unit lane)" >&2
        (cd "$work/src/edgevirt" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -b -uc -us -j2) \
                >"$work/build.log" 2>&1 ||
                { tail -30 "$work/build.log" >&2; fail "dpkg-buildpackage failed"; }
        cp "$work"/src/edgevirtd_*.deb "$work"/src/edgevirtctl_*.deb "$work"/src/edgevirt-common_*.deb "$work/t/debs/"
        # lintian on what was built: no error and no warning that is not
        # overridden with a reason (debian/*.lintian-overrides)
        if lintian --fail-on error,warning "$work"/src/edgevirt_*.changes >"$work/lintian.log" 2>&1; then
                lintian_line="ok - lintian: no errors or warnings in the packages"
        else
                lintian_line="not ok - lintian reports errors or warnings"
                sed 's/^/# /' "$work/lintian.log" >&2
        fi
fi

guest=$("$here/build-guest.sh") || fail "cannot build the guest image"
cp "$here/guest.sh" "$work/t/run.sh"
cp "$here/agent.py" "$work/t/agent.py"
# The disk image the guest imports over HTTP (served inside the guest):
# 8 MiB that are not zeros, so "the same bytes" means something.
head -c 8M /dev/urandom >"$work/t/srv/disk.img"
: >"$work/t/results.txt"
# seconds after which a phase that hangs is cut short and shown (tests/host/guest.sh)
echo "${EDGEVIRT_HOST_WATCHDOG:-1100}" >"$work/t/watchdog"
size_kb=$(( $(du -sk "$work/t" | cut -f1) + 65536 ))
truncate -s "${size_kb}K" "$work/t.img"
mkfs.ext4 -q -L edgevirt-t -d "$work/t" "$work/t.img" || fail "cannot make the test disk"
cp --sparse=always "$guest/root.img" "$work/root.img"
truncate -s 2G "$work/pv.img"

: >"$console"
boot() {
        timeout "${EDGEVIRT_HOST_BOOT_TIMEOUT:-1500}" qemu-system-x86_64 -accel tcg -m 2560 -smp 2 -no-reboot \
                -display none -monitor none -serial "file:$work/console.log" \
                -kernel "$guest/vmlinuz" -initrd "$guest/initrd.img" \
                -append "root=LABEL=edgevirt-root rw console=ttyS0 quiet loglevel=3 systemd.show_status=false" \
                -drive "file=$work/root.img,if=virtio,format=raw" \
                -drive "file=$work/pv.img,if=virtio,format=raw" \
                -drive "file=$work/t.img,if=virtio,format=raw" \
                >"$work/qemu.log" 2>&1
        local rc=$?
        { echo "=== boot $1 (qemu exit $rc) ==="; tr -d '\r' <"$work/console.log"; } >>"$console"
        [ $rc -eq 0 ] || sed 's/^/#   qemu: /' "$work/qemu.log" >&2
        return $rc
}
# QEMU exits 0 whatever the guest did: the results file says how far it got.
# (grep reads it all: with -q, under pipefail, a debugfs still writing would die of SIGPIPE)
phase_done() { debugfs -R "cat /results.txt" "$work/t.img" 2>/dev/null | grep -x "phase $1 done" >/dev/null; }
boot 1 || echo "host lane: first boot: qemu failed or timed out" >&2
phase_done 1 && { boot 2 || echo "host lane: second boot: qemu failed or timed out" >&2; }

debugfs -R "cat /results.txt" "$work/t.img" 2>/dev/null >"$work/results.txt"
for p in 1 2; do        # the daemon's journal of each boot, beside the console log
        debugfs -R "cat /journal-$p.txt" "$work/t.img" 2>/dev/null >"${out%.tap}.journal-$p.txt"
        # the whole journal of a boot the guest's watchdog ended (tests/host/guest.sh)
        debugfs -R "cat /journal-$p-all.txt" "$work/t.img" 2>/dev/null >"$work/all.txt" &&
                [ -s "$work/all.txt" ] && cp "$work/all.txt" "${out%.tap}.journal-$p-all.txt"
done
# A phase that did not finish: the end of the console goes where CI shows it.
for p in 1 2; do
        grep -qx "phase $p done" "$work/results.txt" && continue
        echo "host lane: phase $p did not finish; the end of the guest's console ($console):" >&2
        tail -n 60 "$console" | sed 's/^/#   /' >&2
        break
done
awk '
/^(ok|not ok) - / { n++; sub(/^ok - /, "ok " n " - "); sub(/^not ok - /, "not ok " n " - "); print; next }
/^#/ { print; next }
END {
        for (p = 1; p <= 2; p++)
                if (!done[p]) { n++; print "not ok " n " - phase " p " did not finish (see the console log)" }
        print "1.." n
}
/^phase [0-9] done$/ { done[$2] = 1 }
' <(echo "$lintian_line"; cat "$work/results.txt") >"$out"
cat "$out" >&2
! grep -q '^not ok' "$out"
