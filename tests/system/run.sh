#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system lane: edgevirtd against a real libvirtd and QEMU (TCG here),
# started by this script and stopped at the end.  libvirtd runs under
# `tini -s`, a child subreaper: QEMU's capability probes daemonize, and
# where PID 1 does not reap orphans (containers, sandboxes) libvirtd would
# wait for their zombies forever.
#
# usage: tests/system/run.sh BUILD_DIR OUTPUT.xml
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$2
work=$(mktemp -d /tmp/edgevirt-system.XXXXXX)
chmod 0711 "$work"
started=()

fail_report() {
        # a JUnit report that counts the lane as one failure
        printf '<testsuite name="system" tests="1" failures="1"><testcase classname="system" name="lane">'\
'<failure message="%s"/></testcase></testsuite>\n' "$1" >"$out"
        echo "system lane: $1" >&2
}

cleanup() {
        # our guests and network, then the daemons we started
        for d in $(virsh -c qemu:///system list --name 2>/dev/null); do
                virsh -c qemu:///system dumpxml "$d" 2>/dev/null | grep -q 'edgevirt.org/xmlns/domain' &&
                        virsh -c qemu:///system destroy "$d" >/dev/null 2>&1
        done
        virsh -c qemu:///system net-destroy edgevirt-test >/dev/null 2>&1
        virsh -c qemu:///system net-undefine edgevirt-test >/dev/null 2>&1
        for pid in "${started[@]}"; do
                kill "$pid" 2>/dev/null
        done
        sleep 0.5
        rm -rf "$work"
}
trap cleanup EXIT

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
        if ! pgrep -x virtlogd >/dev/null; then
                setsid tini -s -- virtlogd >"$work/virtlogd.log" 2>&1 &
                started+=($!)
        fi
        setsid tini -s -- libvirtd >"$work/libvirtd.log" 2>&1 &
        started+=($!)
        for _ in $(seq 50); do
                virsh -c qemu:///system version >/dev/null 2>&1 && break
                sleep 0.2
        done
        virsh -c qemu:///system version >/dev/null 2>&1 || { fail_report "libvirtd did not start"; exit 1; }
fi

cd "$here" && EDGEVIRT_BUILD="$build" EDGEVIRT_SYSTEM_WORK="$work" /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE \
        --junitxml="$out" .
