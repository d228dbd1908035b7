/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

G_DEFINE_QUARK(edgevirt-error-quark, ev_error)

int ev_error_set(GError **error, int code, const char *fmt, ...) {
        va_list ap;

        if (error && !*error) {
                va_start(ap, fmt);
                *error = g_error_new_valist(EV_ERROR, code, fmt, ap);
                va_end(ap);
        }
        return -code;
}

void ev_error_prefix(GError **error, const char *fmt, ...) {
        g_autofree char *prefix = NULL;
        va_list ap;

        if (!error || !*error)
                return;
        va_start(ap, fmt);
        prefix = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_prefix_error(error, "%s: ", prefix);
}

char *ev_timestamp_now(void) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        return g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void ev_spawn_child_defaults(gpointer unused) {
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
}

void ev_remove_tree(void *path) {
        (void) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int ev_count_attempt(const char *path, unsigned *ret_before) {
        g_autofree char *text = NULL, *next = NULL;
        unsigned before = 0;
        int fd;

        if (g_file_get_contents(path, &text, NULL, NULL))
                before = (unsigned) strtoul(text, NULL, 10);
        next = g_strdup_printf("%u\n", before + 1);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (write(fd, next, strlen(next)) != (ssize_t) strlen(next) || fsync(fd) < 0) {
                int r = errno ? -errno : -EIO;
                close(fd);
                return r;
        }
        close(fd);
        *ret_before = before;
        return 0;
}

int ev_mkdir_traversable(const char *path) {
        g_autofree char *p = g_strdup(path);

        for (char *slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = 0;
                if (mkdir(p, 0711) == 0) {
                        if (chmod(p, 0711) < 0)
                                return -errno;
                } else if (errno != EEXIST)
                        return -errno;
                if (!slash)
                        break;
                *slash = '/';
                while (slash[1] == '/')
                        slash++;
        }
        return chmod(path, 0711) < 0 ? -errno : 0;
}

void ev_tar_header(unsigned char h[512], const char *name, uint64_t size, char type, unsigned mode, unsigned uid,
                unsigned gid) {
        memset(h, 0, 512);
        memcpy(h, name, MIN(strlen(name), 100));
        g_snprintf((char *) h + 100, 8, "%07o", mode);
        g_snprintf((char *) h + 108, 8, "%07o", uid);
        g_snprintf((char *) h + 116, 8, "%07o", gid);
        if (size < 077777777777ull)
                g_snprintf((char *) h + 124, 12, "%011llo", (unsigned long long) size);
        else {
                /* base-256, as GNU tar writes sizes past 8 GiB */
                h[124] = 0x80;
                for (int i = 11; i >= 4; i--, size >>= 8)
                        h[124 + i] = (unsigned char) (size & 0xff);
        }
        g_snprintf((char *) h + 136, 12, "%011o", 0);
        h[156] = (unsigned char) type;
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += h[i];
        g_snprintf((char *) h + 148, 8, "%06o", sum);
        h[155] = ' ';
}
