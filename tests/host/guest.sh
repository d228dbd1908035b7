#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the host-lane guest (systemd as PID 1), from the test disk
# mounted on /t, once per boot (edgevirt-lane.service, tests/host/build-guest.sh).
# First boot: install the packages, check the service, the system bus,
# polkit with a desktop user, journald, a stop with a running VM; then the
# guest powers off.  Second boot (same root disk): what survived.
# Results: "ok - ..." / "not ok - ..." lines in /t/results.txt (the host
# numbers them into TAP), "phase N done" when a phase got to its end.
set -u
export LC_ALL=C.UTF-8 SYSTEMD_PAGER= PAGER=cat
results=/t/results.txt
state=/var/lib/edgevirt-lane
mkdir -p "$state"
ok() { echo "ok - $*" | tee -a "$results" >/dev/console; }
nok() { echo "not ok - $*" | tee -a "$results" >/dev/console; }
check() {               # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
        local d=$1; shift
        if out=$("$@" 2>&1); then ok "$d"; else nok "$d"; printf '%s\n' "$out" | sed 's/^/#   /' | tee -a "$results"; fi
}
note() { echo "# $*" | tee -a "$results" >/dev/console; }
# until TIMEOUT COMMAND...: poll COMMAND every half second (no fixed sleeps)
until_ok() {
        local t=$1; shift
        local end=$((SECONDS + t))
        until "$@" >/dev/null 2>&1; do
                [ $SECONDS -lt $end ] || return 1
                sleep 0.5
        done
}
ctl() { edgevirtctl "$@"; }
# The pid of the QEMU libvirt runs for domain $1 (libvirt's pid file, checked
# against the process's command line; the image has no procps).
qemu_pid() {
        local p; p=$(cat "/run/libvirt/qemu/$1.pid" 2>/dev/null) || return 1
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "guest=$1[, ]" && echo "$p"
}
# What the running edgevirtd (this invocation of the unit) logged about $1.
logged_now() {
        journalctl -u edgevirtd _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value edgevirtd)" \
                OBJECT_NAME="$1" -o cat
}
fails() { ! "$@"; }
jp() { edgevirtctl get "$1" "$2" -n lane -o "jsonpath=$3"; }

# --- the desktop user -------------------------------------------------------
# desk is logged in on tty1 by getty's autologin (seat0, the active virtual
# console): a local, active logind session, as on a desktop.  A command runs
# "in that session" when its process is in the session's cgroup, which is
# what logind and polkit look at.
desk_session() { loginctl list-sessions --no-legend | awk '$3 == "desk" && $5 == "tty1" {print $1}'; }
as_desk_in_session() {
        local s; s=$(desk_session)
        (echo "$BASHPID" >"/sys/fs/cgroup/user.slice/user-1000.slice/session-$s.scope/cgroup.procs" &&
                exec setpriv --reuid=desk --regid=desk --init-groups env -i HOME=/home/desk USER=desk \
                PATH=/usr/bin:/bin LC_ALL=C.UTF-8 XDG_CONFIG_HOME=/home/desk/.config "$@")
}
desk_session_active() {
        local s; s=$(desk_session)
        [ -n "$s" ] && [ "$(loginctl show-session "$s" -p Active --value)" = yes ] &&
                [ "$(loginctl show-session "$s" -p Seat --value)" = seat0 ]
}
as_desk_outside() {     # the same user, in no session (a cron job, an ssh command without PAM)
        setpriv --reuid=desk --regid=desk --init-groups env -i HOME=/home/desk USER=desk PATH=/usr/bin:/bin \
                LC_ALL=C.UTF-8 XDG_CONFIG_HOME=/home/desk/.config "$@"
}

export -f qemu_pid logged_now

phase1() {
        note "phase 1: install and first boot"
        # lvm-thin on the second disk: ProtectKernelModules= keeps lvm from
        # loading dm-thin-pool, so it is loaded at boot (docs/security.md).
        echo dm_thin_pool >/etc/modules-load.d/edgevirt.conf
        modprobe dm_thin_pool
        # At power-off libvirt-guests (libvirt-daemon-system) asks each guest
        # to shut down and waits up to SHUTDOWN_TIMEOUT (300 s) for them.
        # The lane's VM boots no operating system (docs/vms.md), so nothing
        # answers the ACPI request: wait 10 s, then libvirtd's stop ends it.
        echo SHUTDOWN_TIMEOUT=10 >>/etc/default/libvirt-guests
        mkdir -p /etc/edgevirt
        cat >/etc/edgevirt/edgevirtd.conf <<'CONF'
[StorageClass thin]
Backend=lvm-thin
VolumeGroup=lanevg
ThinPool=pool
Devices=/dev/vdb
CONF
        check "apt-get install ./edgevirtd_*.deb ./edgevirtctl_*.deb ./edgevirt-common_*.deb (offline)" \
                bash -c 'cd /t/debs && DEBIAN_FRONTEND=noninteractive \
                         timeout 600 apt-get install -y ./edgevirtd_*.deb ./edgevirtctl_*.deb ./edgevirt-common_*.deb'
        # the message catalogs come with edgevirt-common, which the client alone needs too
        check "edgevirtctl speaks German with LANGUAGE=de (edgevirt-common's catalog)" \
                bash -c 'LC_ALL= LANG=C.UTF-8 LANGUAGE=de edgevirtctl --bus=unix:path=/nonexistent get vm 2>&1 |
                         grep -q "^Fehler: keine Verbindung zum"'
        check "systemctl is-enabled edgevirtd: enabled" bash -c '[ "$(systemctl is-enabled edgevirtd)" = enabled ]'
        check "systemctl is-active edgevirtd: active (started on install)" until_ok 60 systemctl is-active edgevirtd

        systemctl stop edgevirtd
        check "stopped: inactive" bash -c '! systemctl is-active edgevirtd'
        check "D-Bus activation: the first busctl --system call is answered" \
                busctl --system --timeout=120 get-property org.edgevirt.EdgeVirt1 /org/edgevirt/EdgeVirt1 \
                org.edgevirt.EdgeVirt1.Manager Version
        check "D-Bus activation: the call started edgevirtd.service" systemctl is-active edgevirtd

        local exposure
        exposure=$(systemd-analyze security edgevirtd.service 2>&1 |
                   sed -n 's/.*Overall exposure level for edgevirtd.service: \([0-9.]*\).*/\1/p')
        note "systemd-analyze security edgevirtd: ${exposure:-?}"
        echo "$exposure" >"$state/exposure"
        check "systemd-analyze security edgevirtd on the real unit: ${exposure:-?} (at most 2.7)" \
                awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.7) }'
}


system_bus() {
        note "root on the system bus"
        check "root applies a namespace" ctl create namespace lane
        cat >/tmp/objects.yaml <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: lane}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: thin-data, namespace: lane}
spec:
  storageClassName: thin
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: disk, namespace: lane}
spec:
  source: {http: {url: "http://127.0.0.1:8000/disk.img"}}
  storage:
    storageClassName: thin
    resources: {requests: {storage: 64Mi}}
YAML
        (cd /t/srv && exec python3 -m http.server --bind 127.0.0.1 8000 >/tmp/http.log 2>&1) &
        until_ok 30 python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8000/disk.img")'
        check "root applies a PVC on the dir class, one on an lvm-thin class, a DataVolume" \
                ctl apply -f /tmp/objects.yaml
        check "PVC data (dir) is Bound" ctl wait pvc/data -n lane --for=jsonpath={.status.phase}=Bound --timeout=2m
        check "PVC thin-data (lvm-thin on /dev/vdb) is Bound" \
                ctl wait pvc/thin-data -n lane --for=jsonpath={.status.phase}=Bound --timeout=3m
        local thin_uid; thin_uid=$(jp pvc thin-data '{.metadata.uid}')
        check "thin-data is a thin LV in lanevg/pool" bash -c \
                "lvs --noheadings -o lv_name,pool_lv lanevg | grep -q 'pvc-$thin_uid *pool'"
        check "DataVolume disk imported from the guest's HTTP server: Succeeded" \
                ctl wait dv/disk -n lane --for=jsonpath={.status.phase}=Succeeded --timeout=5m
        local disk_uid sum
        disk_uid=$(jp pvc disk '{.metadata.uid}')
        sum=$(sha256sum </t/srv/disk.img | cut -d' ' -f1)
        echo "$sum" >"$state/disk.sum"
        check "the imported volume holds the served bytes" bash -c \
                "[ \"\$(head -c 8M /dev/lanevg/pvc-$disk_uid | sha256sum | cut -d' ' -f1)\" = $sum ]"
        # bytes of our own in the dir volume, to find after the reboot
        local data_uid; data_uid=$(jp pvc data '{.metadata.uid}')
        head -c 1M /dev/urandom >/tmp/mark
        dd if=/tmp/mark of="/var/lib/edgevirt/volumes/local/pvc-$data_uid.img" conv=notrunc status=none
        sha256sum </tmp/mark | cut -d' ' -f1 >"$state/data.sum"

        cat >/tmp/vms.yaml <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web, namespace: lane}
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        devices:
          autoattachPodInterface: false
          disks: [{name: root, disk: {bus: virtio}}]
        resources: {requests: {memory: 64Mi}}
      volumes: [{name: root, persistentVolumeClaim: {claimName: disk}}]
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: halted, namespace: lane}
spec:
  runStrategy: Halted
  template:
    spec:
      domain:
        devices:
          autoattachPodInterface: false
          disks: [{name: root, disk: {bus: virtio}}]
        resources: {requests: {memory: 64Mi}}
      volumes: [{name: root, persistentVolumeClaim: {claimName: data}}]
YAML
        check "root applies VMs (runStrategy Always and Halted)" ctl apply -f /tmp/vms.yaml
        check "VM web: its instance is Running" \
                ctl wait vmi/web -n lane --for=jsonpath={.status.phase}=Running --timeout=5m
        check "VM web: libvirt runs the domain lane_web" bash -c \
                '[ "$(virsh -c qemu:///system domstate lane_web)" = running ]'
        for o in "ns lane" "pvc data" "pvc thin-data" "pvc disk" "dv disk" "vm web" "vm halted"; do
                set -- $o
                if [ "$1" = ns ]; then edgevirtctl get ns lane -o 'jsonpath={.metadata.uid}'
                else jp "$1" "$2" '{.metadata.uid}'; fi
                echo " $o"
        done >"$state/uids"
}

# A file dropped into /etc/edgevirt/manifests.d is applied by the running,
# hardened service (inotify; ProtectSystem=strict leaves /etc readable) and
# its objects are there after the reboot (docs/fleet.md).
manifests_dir() {
        note "the manifests directory"
        mkdir -p /etc/edgevirt/manifests.d
        cat >/etc/edgevirt/manifests.d/10-lane.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: from-file, namespace: lane}
data: {site: lane}
YAML
        check "a file dropped into /etc/edgevirt/manifests.d is applied" \
                until_ok 30 bash -c '[ "$(edgevirtctl get cm from-file -n lane -o jsonpath={.data.site})" = lane ]'
        check "... its object names the file (edgevirtctl describe)" \
                bash -c 'edgevirtctl describe cm from-file -n lane | grep -q "^# Source: the manifests file 10-lane.yaml"'
}

# The metrics endpoint by socket activation (edgevirtd-metrics.socket,
# installed but not enabled): systemd owns the port, edgevirtd serves on it.
metrics_socket() {
        note "metrics by socket activation"
        check "edgevirtd-metrics.socket is installed, not enabled (metrics are off by default)" \
                bash -c '[ "$(systemctl is-enabled edgevirtd-metrics.socket)" = disabled ]'
        # systemd refuses to start a socket whose service runs already: the
        # service stops first (its VMs keep running) and starts on the socket
        check "systemctl stop edgevirtd; systemctl enable --now edgevirtd-metrics.socket; systemctl start edgevirtd" \
                bash -c 'systemctl stop edgevirtd && systemctl enable --now edgevirtd-metrics.socket &&
                         systemctl start edgevirtd'
        local scrape='import urllib.request, sys
t = urllib.request.urlopen("http://127.0.0.1:9842/metrics", timeout=10).read().decode()
sys.exit(0 if "kubevirt_vmi_info{" in t and "name=\"web\"" in t else 1)'
        if until_ok 60 python3 -c "$scrape"; then
                ok "GET http://127.0.0.1:9842/metrics: KubeVirt's series of the running VM"
        else
                nok "GET http://127.0.0.1:9842/metrics: KubeVirt's series of the running VM"
                { python3 -c "$scrape"; systemctl status --no-pager edgevirtd-metrics.socket
                  systemctl show -p TriggeredBy -p Sockets edgevirtd
                  ls -l "/proc/$(systemctl show -p MainPID --value edgevirtd)/fd"
                  journalctl -u edgevirtd -n 15 --no-pager; } 2>&1 | sed 's/^/#   /' | tee -a "$results"
        fi
        systemctl disable --now edgevirtd-metrics.socket; systemctl restart edgevirtd
}

desktop_user() {
        note "a desktop user (desk, uid 1000) in a logind session on seat0"
        check "desk is logged in on tty1: an active session on seat0" until_ok 180 desk_session_active
        check "in the session, reading lane is allowed (object.read: yes for active sessions)" \
                as_desk_in_session edgevirtctl get pvc -n lane
        check "outside any session, reading lane is denied (object.read: no)" \
                fails as_desk_outside edgevirtctl get pvc -n lane
        cat >/tmp/cm.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: asked, namespace: lane}
data: {by: desk}
YAML
        local out
        out=$(as_desk_in_session edgevirtctl apply -f /tmp/cm.yaml 2>&1)
        local rc=$?
        note "edgevirtctl said: $out"
        # The README quotes this message word for word.
        if [ $rc -ne 0 ] && grep -qx "error: /tmp/cm.yaml: org.edgevirt.EdgeVirt1.object.apply needs authentication: call again allowing interactive authorization" <<<"$out"; then
                ok "a change asks for authentication (object.apply: auth_admin_keep): refused without an agent"
        else nok "a change asks for authentication (object.apply: auth_admin_keep): refused without an agent"; fi
        check "no ConfigMap was made" bash -c '! edgevirtctl get cm asked -n lane'
        local doc; doc=$(cat /tmp/cm.yaml)
        check "with pkttyagent answering desk's password, the change is made" \
                as_desk_in_session env AGENT_PASSWORD=desk-password python3 /t/agent.py \
                busctl --system --timeout=120 --allow-interactive-authorization=yes call org.edgevirt.EdgeVirt1 \
                /org/edgevirt/EdgeVirt1 org.edgevirt.EdgeVirt1.Manager Apply 'sa{sv}' "$doc" 0
        check "the ConfigMap is there" bash -c '[ "$(edgevirtctl get cm asked -n lane -o jsonpath={.data.by})" = desk ]'

        ctl create namespace team >/dev/null
        cat >/tmp/rb.yaml <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: desk-edits, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: desk}
YAML
        check "root binds desk to edit in namespace team" ctl apply -f /tmp/rb.yaml
        sed 's/namespace: lane/namespace: team/; s/name: asked/name: granted/' /tmp/cm.yaml >/tmp/cm-team.yaml
        chmod 644 /tmp/cm-team.yaml
        check "the RoleBinding grants without asking: desk (in no session) applies in team" \
                as_desk_outside edgevirtctl apply -f /tmp/cm-team.yaml
        check "... and reads there" as_desk_outside edgevirtctl get cm granted -n team
}


journal() {
        note "journald"
        local uid; uid=$(jp vm web '{.metadata.uid}')
        check "journalctl -u edgevirtd OBJECT_NAME=web: with OBJECT_KIND, OBJECT_NAMESPACE, OBJECT_UID, PRIORITY" \
                bash -c "journalctl -u edgevirtd OBJECT_NAME=web OBJECT_KIND=VirtualMachine OBJECT_NAMESPACE=lane \
                        OBJECT_UID=$uid PRIORITY=5 -o cat | grep -q 'VirtualMachine lane/web: created'"
        check "a cluster-scoped object's entry: OBJECT_KIND=Namespace OBJECT_NAME=lane" \
                bash -c "journalctl -u edgevirtd OBJECT_KIND=Namespace OBJECT_NAME=lane -o cat |
                         grep -q 'Namespace lane: created'"
}

stop_with_running_vm() {
        note "systemctl stop edgevirtd with a running VM"
        local qemu; qemu=$(qemu_pid lane_web)
        check "the VM's QEMU runs (pid ${qemu:-none})" test -n "$qemu"
        systemctl stop edgevirtd
        check "edgevirtd stopped" fails systemctl is-active edgevirtd
        check "the VM keeps running: domain running, the same QEMU" bash -c \
                "[ \"\$(virsh -c qemu:///system domstate lane_web)\" = running ] && kill -0 ${qemu:-none}"
        systemctl start edgevirtd
        check "edgevirtd back" systemctl is-active edgevirtd
        # READY comes before the daemon has listed libvirt's domains (that is
        # asynchronous), and the stored status still says Running from before
        # the stop: wait for the daemon to say it adopted the domain.
        check "the instance is adopted (\"adopted running domain lane_web\" in this run's journal)" \
                until_ok 120 bash -c "logged_now web | grep -q 'adopted running domain lane_web'"
        check "... Running, still the same QEMU" bash -c \
                "edgevirtctl wait vmi/web -n lane --for=jsonpath={.status.phase}=Running --timeout=1m &&
                 [ \"\$(qemu_pid lane_web)\" = ${qemu:-none} ]"
        echo "$qemu" >"$state/qemu.pid"
}

phase2() {
        note "phase 2: after a power-off, booted again from the same disk"
        check "edgevirtd came up by itself" until_ok 180 systemctl is-active edgevirtd
        local line
        while read -r line; do
                set -- $line
                local now
                if [ "$2" = ns ]; then now=$(edgevirtctl get ns lane -o 'jsonpath={.metadata.uid}')
                else now=$(jp "$2" "$3" '{.metadata.uid}'); fi
                if [ "$now" = "$1" ]; then ok "$2 $3 is there (uid $1)"
                else nok "$2 $3 is there (uid $1, now '$now')"; fi
        done <"$state/uids"
        check "PVC data (dir) is Bound to the same bytes" bash -c \
                "[ \"\$(edgevirtctl get pvc data -n lane -o jsonpath={.status.phase})\" = Bound ] &&
                 [ \"\$(head -c 1M /var/lib/edgevirt/volumes/local/pvc-$(jp pvc data '{.metadata.uid}').img |
                       sha256sum | cut -d' ' -f1)\" = $(cat "$state/data.sum") ]"
        # udev activates the volume group when it sees its PV (69-lvm.rules)
        # and edgevirtd when it prepares the class at start (docs/storage.md),
        # which may still be under way when edgevirtd is active.
        local disk_dev; disk_dev=/dev/lanevg/pvc-$(jp pvc disk '{.metadata.uid}')
        until_ok 120 test -b "$disk_dev"
        check "PVC disk (lvm-thin) is Bound to the same bytes" bash -c \
                "[ \"\$(edgevirtctl get pvc disk -n lane -o jsonpath={.status.phase})\" = Bound ] &&
                 [ \"\$(head -c 8M /dev/lanevg/pvc-$(jp pvc disk '{.metadata.uid}') | sha256sum | cut -d' ' -f1)\" = \
                   $(cat "$state/disk.sum") ]"
        # The stored status still says Running from before the power-off
        # until the daemon has listed libvirt's domains, so wait for the
        # domain itself: after a reboot only the daemon can have started it
        # (its domains are transient: libvirt-guests cannot start them again).
        check "VM web (runStrategy Always) is running again: libvirt runs its domain lane_web" \
                until_ok 300 bash -c '[ "$(virsh -c qemu:///system domstate lane_web)" = running ]'
        check "... and its instance is Running" \
                ctl wait vmi/web -n lane --for=jsonpath={.status.phase}=Running --timeout=2m
        check "the manifests file's ConfigMap is there after the reboot" \
                bash -c '[ "$(edgevirtctl get cm from-file -n lane -o jsonpath={.data.site})" = lane ]'
        check "VM halted (runStrategy Halted) stays off: no instance" fails ctl get vmi halted -n lane
        check "... and no domain" fails virsh -c qemu:///system domstate lane_halted
}

# The daemon's journal of this boot, for whoever reads a failure.
boot=$(( $(cat "$state/phase" 2>/dev/null || echo 0) + 1 ))
trap 'journalctl -b -u edgevirtd --no-pager -o short-monotonic >"/t/journal-$boot.txt"' EXIT

# A phase that hangs must still say where: after WATCHDOG seconds (well
# before the host's QEMU timeout) the processes still running and the last
# journal lines go into the results, the whole journal of this boot beside
# them, and the guest powers off.  (A CI run once timed out in phase 1 with
# nothing to show for it.)
# The host's EDGEVIRT_HOST_WATCHDOG comes on the test disk (tests/host/run.sh).
watchdog_s=$(cat /t/watchdog 2>/dev/null || echo 1100)
watchdog() {
        sleep "$watchdog_s"
        kill -STOP $$           # no further checks while the state is taken
        {
                echo "# watchdog: phase $boot still running after $watchdog_s s; its processes:"
                for p in /proc/[0-9]*; do
                        [ -r "$p/cmdline" ] || continue
                        c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
                        [ -n "$c" ] && printf '#   %s %s %s\n' "${p#/proc/}" \
                                "$(sed -n 's/^State:[[:space:]]*//p' "$p/status" 2>/dev/null)" "$c"
                done
                echo "# the last lines of this boot's journal:"
                journalctl -b -n 80 --no-pager -o short-monotonic | sed 's/^/#   /'
        } >/run/watchdog.txt 2>&1
        cat /run/watchdog.txt >>"$results"
        journalctl -b --no-pager -o short-monotonic >"/t/journal-$boot-all.txt" 2>&1
        sync
        systemctl --no-block poweroff
}
watchdog &
watchdog_pid=$!

case $(cat "$state/phase" 2>/dev/null) in
"")     phase1; system_bus; manifests_dir; metrics_socket; desktop_user; journal; stop_with_running_vm
        echo 1 >"$state/phase"; echo "phase 1 done" >>"$results" ;;
1) phase2; echo 2 >"$state/phase"; echo "phase 2 done" >>"$results" ;;
*) note "nothing left to do" ;;
esac
kill "$watchdog_pid" 2>/dev/null
sync
