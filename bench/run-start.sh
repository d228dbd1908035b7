#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/start: time from VirtualMachine.Start() to the domain running,
# against `virsh create` of the same domain XML in the same run (the ratio
# is the figure; target <= 1.1), then 20 VMs started at once: total time
# and the latency of an unrelated Get meanwhile.  Needs root (libvirtd,
# qemu:///system); starts libvirtd if none answers (tests/system/libvirtd.sh).
#
# usage: bench/run-start.sh [ROUNDS] [PARALLEL]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGEVIRT_BUILD:-$top/build}
ninja -C "$build" >/dev/null
work=$(mktemp -d /var/tmp/edgevirt-bench-start.XXXXXX)
chmod 0711 "$work"
. "$top/tests/system/libvirtd.sh"
trap 'kill $(cat "$work/daemon.pid" 2>/dev/null) 2>/dev/null || true; stop_libvirtd bench || true; rm -rf "$work"' EXIT
start_libvirtd "$work"
EDGEVIRT_BUILD="$build" /usr/bin/python3 "$top/bench/start.py" "$work" "${1:-5}" "${2:-20}"
