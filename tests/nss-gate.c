/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Preloaded into edgevirtd by tests/api/test_roles.py: a name service
 * that hangs, as an LDAP backend does when its server is away.  While the
 * file $EDGEVIRT_TEST_NSS_GATE exists, getgrouplist() waits (after making
 * $EDGEVIRT_TEST_NSS_GATE.entered to say a lookup is stuck); then it asks
 * the real one. */
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups) {
        int (*real)(const char *, gid_t, gid_t *, int *) =
                (int (*)(const char *, gid_t, gid_t *, int *)) dlsym(RTLD_NEXT, "getgrouplist");
        const char *gate = getenv("EDGEVIRT_TEST_NSS_GATE");

        if (gate && access(gate, F_OK) == 0) {
                char entered[4096];
                snprintf(entered, sizeof entered, "%s.entered", gate);
                int fd = open(entered, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0)
                        close(fd);
                while (access(gate, F_OK) == 0)
                        usleep(10000);
        }
        return real(user, group, groups, ngroups);
}
