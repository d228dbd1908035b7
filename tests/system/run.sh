#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system lane: edgevirtd against a real libvirtd and QEMU (TCG here),
# started by this script (tests/system/libvirtd.sh) and stopped at the end.
#
# usage: tests/system/run.sh BUILD_DIR OUTPUT.xml [PYTEST ARGUMENTS...]
# (the arguments select tests, e.g. test_guest.py; default: all)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$2
shift 2
selection=("$@")
[ ${#selection[@]} -gt 0 ] || selection=(.)
work=$(mktemp -d /tmp/edgevirt-system.XXXXXX)
chmod 0711 "$work"

fail_report() {
        # a JUnit report that counts the lane as one failure
        printf '<testsuite name="system" tests="1" failures="1"><testcase classname="system" name="lane">'\
'<failure message="%s"/></testcase></testsuite>\n' "$1" >"$out"
        echo "system lane: $1" >&2
}

. "$here/libvirtd.sh"
cleanup() {
        [ -f "$work/libvirt-started" ] && mapfile -t -O ${#LIBVIRT_STARTED[@]} LIBVIRT_STARTED <"$work/libvirt-started"
        stop_libvirtd "sys vmx" edgevirt-test      # the namespaces of the lane's tests (test_vmexport.py: vmx)
        rm -rf "$work"
}
trap cleanup EXIT

start_libvirtd "$work" || { fail_report "libvirtd did not start"; exit 1; }

# test_faults.py kills only a libvirtd started here, and lists the one it
# starts instead in $work/libvirt-started for stop_libvirtd
cd "$here" && EDGEVIRT_BUILD="$build" EDGEVIRT_SYSTEM_WORK="$work" EDGEVIRT_LIBVIRTD_STARTED="${LIBVIRT_STARTED[*]}" \
        /usr/bin/python3 -m pytest -p no:cacheprovider -q -rfE \
        --junitxml="$out" "${selection[@]}"
