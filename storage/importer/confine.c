/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The importer's confinement (Landlock and seccomp), set up before it
 * reads a byte of the source: see importer.c's header for what it means. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>
#include <glib.h>

#include "importer.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)        /* ABI 3; older headers lack it */
#endif

/* Landlock: from here on this process and its children (qemu-img) may
 * write only the target volume and inside the scratch directory.  Reading
 * stays open (libraries, CA bundles).  Best effort on kernels without it. */
static void landlock_confine(const Options *o) {
        int abi = (int) syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        uint64_t write_rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                                LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                                LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                                LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                                LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
        uint64_t truncate_right = 0;

        if (abi < 1)
                return;
        if (abi >= 2)
                write_rights |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                truncate_right = LANDLOCK_ACCESS_FS_TRUNCATE;
        struct landlock_ruleset_attr attr = { .handled_access_fs = write_rights | truncate_right };
        int ruleset = (int) syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
        if (ruleset < 0)
                return;
        struct { const char *path; uint64_t rights; } allowed[] = {
                { o->scratch, write_rights | truncate_right },
                { "/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE },
                { o->target, LANDLOCK_ACCESS_FS_WRITE_FILE | truncate_right },
                { o->cache, write_rights | truncate_right },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(allowed); i++) {
                if (!allowed[i].path)
                        continue;
                int fd = open(allowed[i].path, O_PATH | O_CLOEXEC);
                if (fd < 0)
                        die(false, "cannot open %s: %s", allowed[i].path, g_strerror(errno));
                struct landlock_path_beneath_attr pb = { .allowed_access = allowed[i].rights, .parent_fd = fd };
                if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                        die(false, "landlock rule for %s: %s", allowed[i].path, g_strerror(errno));
                close(fd);
        }
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                die(false, "cannot confine the importer: %s", g_strerror(errno));
        close(ruleset);
}

/* System calls refused (EPERM) to the importer and its children. */
static const int denied_syscalls[] = {
        SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(move_mount),
        SCMP_SYS(open_tree), SCMP_SYS(fsopen), SCMP_SYS(fsmount), SCMP_SYS(fsconfig), SCMP_SYS(fspick),
        SCMP_SYS(mount_setattr), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev), SCMP_SYS(kcmp), SCMP_SYS(init_module), SCMP_SYS(finit_module),
        SCMP_SYS(delete_module), SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(reboot), SCMP_SYS(swapon),
        SCMP_SYS(swapoff), SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd), SCMP_SYS(keyctl),
        SCMP_SYS(add_key), SCMP_SYS(request_key), SCMP_SYS(acct), SCMP_SYS(settimeofday), SCMP_SYS(clock_settime),
        SCMP_SYS(clock_adjtime), SCMP_SYS(adjtimex), SCMP_SYS(sethostname), SCMP_SYS(setdomainname), SCMP_SYS(iopl),
        SCMP_SYS(ioperm), SCMP_SYS(syslog), SCMP_SYS(quotactl), SCMP_SYS(open_by_handle_at),
        SCMP_SYS(name_to_handle_at), SCMP_SYS(lookup_dcookie), SCMP_SYS(fanotify_init), SCMP_SYS(vhangup),
        SCMP_SYS(uselib), SCMP_SYS(personality), SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(pidfd_getfd),
};

/* The socket families an importer needs: local (nbdkit), IP (downloads),
 * netlink (the resolver asks for the addresses configured). */
static const int allowed_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

static void seccomp_confine(void) {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        int r = 0;

        if (!ctx)
                die(false, "cannot set up the seccomp filter");
        for (size_t i = 0; i < G_N_ELEMENTS(denied_syscalls) && r == 0; i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), denied_syscalls[i], 0);
                if (r == -EDOM || r == -EINVAL)
                        r = 0;  /* not a system call of this architecture: nothing to refuse */
        }
        /* socket(): every family but the allowed ones refused */
        for (int family = 0; family < AF_MAX && r == 0; family++) {
                bool allowed = false;
                for (size_t i = 0; i < G_N_ELEMENTS(allowed_families); i++)
                        allowed = allowed || allowed_families[i] == family;
                if (!allowed)
                        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) family));
        }
        if (r == 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        if (r < 0)
                die(false, "cannot load the seccomp filter: %s", g_strerror(-r));
}

void importer_confine(const Options *o) {
        landlock_confine(o);
        seccomp_confine();
}

/* --self-test: what the confinement must refuse, tried. */
int importer_self_test(const Options *o) {
        struct { const char *what; int r; int want; } t[] = {
                { "unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS) < 0 ? errno : 0, EPERM },
                { "mount(tmpfs)", mount("none", o->scratch, "tmpfs", 0, NULL) < 0 ? errno : 0, EPERM },
                { "ptrace(TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 ? errno : 0, EPERM },
                { "socket(AF_PACKET)", socket(AF_PACKET, SOCK_RAW, 0) < 0 ? errno : 0, EAFNOSUPPORT },
                { "keyctl", (int) syscall(SYS_keyctl, 0, 0, 0, 0, 0) < 0 ? errno : 0, EPERM },
                { "write outside",
                  open("/var/tmp/edgevirt-importer-self-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) < 0 ? errno : 0,
                  EACCES },
        };
        int bad = 0;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        printf("socket(AF_INET): %s\n", fd >= 0 ? "allowed" : g_strerror(errno));
        bad += fd < 0;
        for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
                printf("%s: %s\n", t[i].what,
                       t[i].r == t[i].want ? "refused" : t[i].r ? g_strerror(t[i].r) : "ALLOWED");
                bad += t[i].r != t[i].want;
        }
        return bad ? 1 : 0;
}
