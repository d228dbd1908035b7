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
# A watchdog: the tests take well under a minute; if they still run after
# four, the console gets where every process sleeps (its command line,
# state, wait channel and kernel stack), the blocked-task dump and the
# device-mapper tables, and the tests are killed (the guest powered off if
# they do not die), so a hang is a failure that says where it is instead
# of the lane's 20-minute timeout.
cat >"$work/run.sh" <<'GUEST'
export EDGEVIRT_DM_DEVICE=/dev/vdb
cd /t || exit 1
./test-lvm-thin --tap &
tests=$!
(
        sleep 240
        kill -0 $tests 2>/dev/null || exit 0
        echo "# watchdog: test-lvm-thin still runs after 240 s; where every process is:"
        for d in /proc/[0-9]*; do
                [ -e $d/exe ] || continue       # a kernel thread
                echo "# pid ${d#/proc/} $(grep -m1 '^State' $d/status | tr -s '\t ' ' ')" \
                        "wchan $(cat $d/wchan 2>/dev/null): $(tr '\0' ' ' <$d/cmdline)"
                sed 's/^/#     /' $d/stack 2>/dev/null
        done
        echo w >/proc/sysrq-trigger
        dmesg | tail -n 60 | sed 's/^/# dmesg: /'
        dmsetup table 2>&1 | sed 's/^/# dmsetup: /'
        dmsetup info -c 2>&1 | sed 's/^/# dmsetup: /'
        kill -9 $tests
        # a process stuck in the kernel outlives SIGKILL: then power off
        sleep 10
        kill -0 $tests 2>/dev/null || exit 0
        echo "edgevirt-guest: exit 137"
        echo o >/proc/sysrq-trigger
) &
watchdog=$!
wait $tests
status=$?
kill $watchdog 2>/dev/null
exit $status
GUEST

"$here/boot-guest.sh" "$work" 1G "$console" || fail "the guest failed (console in $console)"
# TAP, with its comments: what the watchdog found is in the lane's output
grep -E '^(ok |not ok |1\.\.|Bail out|# )' "$console" >"$out"
status=$(sed -n 's/^edgevirt-guest: exit //p' "$console")
[ "$status" = 0 ] || { echo "device-mapper lane: tests exited $status" >&2; exit 1; }
exit 0
