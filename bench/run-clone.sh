#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/clone: the dir backend on this host (in $BENCH_DIR, default
# /var/tmp, a real disk rather than tmpfs) against cp --sparse=always, then
# lvm-thin in the device-mapper guest against dd.  Each prints one line
# with the ratio.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${EDGEVIRT_BUILD:-$top/build}
ninja -C "$build" bench/bench-clone tests/dm/test-lvm-thin >/dev/null

dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/edgevirt-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$build/bench/bench-clone" dir "$dir"

work=$(mktemp -d /tmp/edgevirt-bench-guest.XXXXXX)
cp "$build/bench/bench-clone" "$work/"
echo 'cd /t && ./bench-clone lvm /dev/vdb' >"$work/run.sh"
"$top/tests/dm/boot-guest.sh" "$work" 8G "$work/console.log"
grep '^clone/' "$work/console.log" || { tail -20 "$work/console.log"; exit 1; }
rm -rf "$work"
