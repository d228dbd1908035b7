#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/scale: one daemon holding N VirtualMachines (libvirt's test driver,
# a private bus): GetManagedObjects and List vm as a client sees them, the
# daemon's private memory empty and full, and a restart with them.  The
# targets (issue 23, docs/architecture.md "Scale") are printed beside the
# figures; nothing is asserted.
#
# usage: bench/run-scale.sh [--daemon=PATH] [N] [ROUNDS]
#   --daemon=PATH: run that edgevirtd instead of the build's (a copy of an
#   older build, to compare the two on the same machine, in turn)
set -euo pipefail
daemon=
case "${1:-}" in
--daemon=*) daemon=$(realpath "${1#--daemon=}"); shift ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGEVIRT_BUILD:-$top/build}
ninja -C "$build" >/dev/null
work=$(mktemp -d /tmp/edgevirt-bench-scale.XXXXXX)
trap 'kill $(cat "$work/daemon.pid" 2>/dev/null) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
EDGEVIRT_BUILD="$build" EDGEVIRTD="$daemon" /usr/bin/python3 "$top/bench/scale.py" "$work" "${1:-1000}" "${2:-20}"
