# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the system lane and bench/run-start.sh: a libvirtd (and
# virtlogd) for qemu:///system unless one answers already.  It runs under
# `tini -s`, a child subreaper: QEMU's capability probes daemonize, and
# where PID 1 does not reap orphans (containers, sandboxes) libvirtd would
# wait for their zombies forever.  LIBVIRT_STARTED lists what to stop.

LIBVIRT_STARTED=()

start_libvirtd() {
        local logdir=$1
        # Debian's udev rule for /dev/kvm, where no udev ran: with a
        # root-only /dev/kvm, libvirt finds KVM at each probe and not at the
        # next check, and probes QEMU again on every call (9 s per start)
        if [ -c /dev/kvm ] && [ "$(stat -c %G /dev/kvm)" != kvm ] && getent group kvm >/dev/null; then
                chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
        fi
        virsh -c qemu:///system version >/dev/null 2>&1 && return 0
        if ! pgrep -x virtlogd >/dev/null; then
                setsid tini -s -- virtlogd >"$logdir/virtlogd.log" 2>&1 &
                LIBVIRT_STARTED+=($!)
        fi
        setsid tini -s -- libvirtd >"$logdir/libvirtd.log" 2>&1 &
        LIBVIRT_STARTED+=($!)
        for _ in $(seq 50); do
                virsh -c qemu:///system version >/dev/null 2>&1 && return 0
                sleep 0.2
        done
        return 1
}

# stop_libvirtd "NAMESPACE..." [NETWORK...]: destroy the domains edgevirt
# made for those namespaces (<namespace>_<name>, with our metadata) and the
# networks, then stop what start_libvirtd started.  A domain left running
# outlives the run (the next libvirtd takes it back) and takes its name
# from the next one.
stop_libvirtd() {
        local namespaces=$1 d ns xml
        shift
        for d in $(virsh -c qemu:///system list --name 2>/dev/null); do
                for ns in $namespaces; do
                        [[ $d == "${ns}_"* ]] || continue
                        # read whole, not piped into grep -q: under pipefail a
                        # virsh still writing when grep has its match dies of
                        # SIGPIPE, the pipeline fails and the domain was left
                        # running (a CI run's vmx_dst outlived its lane)
                        xml=$(virsh -c qemu:///system dumpxml "$d" 2>/dev/null) || continue
                        [[ $xml == *edgevirt.org/xmlns/domain* ]] &&
                                virsh -c qemu:///system destroy "$d" >/dev/null 2>&1
                done
        done
        for d in "$@"; do
                virsh -c qemu:///system net-destroy "$d" >/dev/null 2>&1
                virsh -c qemu:///system net-undefine "$d" >/dev/null 2>&1
        done
        for d in "${LIBVIRT_STARTED[@]}"; do
                kill "$d" 2>/dev/null
        done
        sleep 0.5
}
