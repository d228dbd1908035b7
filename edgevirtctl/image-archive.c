/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* images load / images save: image archives through a file descriptor
 * (Manager.LoadImages, Manager.SaveImage), for machines without a
 * registry.  An OCI layout directory is sent as a tar made here, by a
 * child process writing into a pipe: the files are read with the
 * caller's own permissions, never the daemon's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "util.h"

#define ARCHIVE_TIMEOUT_USEC (3600ull * G_USEC_PER_SEC)

static bool write_all(int fd, const void *data, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, (const char *) data + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return false;
                done += (size_t) k;
        }
        return true;
}

static gint by_name(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* dir/rel (rel "" for dir itself) into the tar on out, names sorted. */
static bool tar_tree(int out, const char *dir, const char *rel) {
        g_autofree char *path = *rel ? g_build_filename(dir, rel, NULL) : g_strdup(dir);
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *n;
        unsigned char h[512], buf[1 << 16];

        if (!d)
                return false;
        while ((n = g_dir_read_name(d)))
                g_ptr_array_add(names, g_strdup(n));
        g_ptr_array_sort(names, by_name);
        for (guint i = 0; i < names->len; i++) {
                g_autofree char *name = *rel ? g_strdup_printf("%s/%s", rel, (char *) names->pdata[i]) :
                                        g_strdup(names->pdata[i]);
                g_autofree char *full = g_build_filename(dir, name, NULL);
                struct stat st;
                if (stat(full, &st) < 0 || strlen(name) >= 100) {
                        fprintf(stderr, _("error: %s: %s\n"), full, strlen(name) >= 100 ?
                                _("the name is too long for the archive") : g_strerror(errno));
                        return false;
                }
                if (S_ISDIR(st.st_mode)) {
                        g_autofree char *dname = g_strdup_printf("%s/", name);
                        ev_tar_header(h, dname, 0, '5', 0755, 0, 0);
                        if (!write_all(out, h, sizeof h) || !tar_tree(out, dir, name))
                                return false;
                        continue;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                int fd = open(full, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, _("error: %s: %s\n"), full, g_strerror(errno));
                        return false;
                }
                ev_tar_header(h, name, (uint64_t) st.st_size, '0', 0644, 0, 0);
                bool ok = write_all(out, h, sizeof h);
                uint64_t left = (uint64_t) st.st_size;
                while (ok && left > 0) {
                        ssize_t k = read(fd, buf, MIN(sizeof buf, left));
                        ok = k > 0 && write_all(out, buf, (size_t) k);
                        left -= k > 0 ? (uint64_t) k : 0;
                }
                close(fd);
                memset(buf, 0, 512);
                if (!ok || (st.st_size % 512 && !write_all(out, buf, 512 - st.st_size % 512)))
                        return false;
        }
        return true;
}

/* A pipe whose other end a child fills with the tar of dir. */
static int tar_directory(const char *dir, pid_t *ret_pid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return -errno;
        }
        if (pid == 0) {
                static const unsigned char end[1024];
                close(p[0]);
                signal(SIGPIPE, SIG_DFL);
                _exit(tar_tree(p[1], dir, "") && write_all(p[1], end, sizeof end) ? 0 : 1);
        }
        close(p[1]);
        *ret_pid = pid;
        return p[0];
}

int verb_images_load(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        pid_t child = 0;
        struct stat st;
        int fd, r;

        if (!c->input || argc > 2)
                return fail(_("usage: edgevirtctl images load -i FILE|DIRECTORY|- [IMAGE]"));
        if (streq(c->input, "-"))
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        else if (stat(c->input, &st) == 0 && S_ISDIR(st.st_mode)) {
                g_autofree char *index = g_build_filename(c->input, "index.json", NULL);
                if (access(index, F_OK) < 0)
                        return fail(_("%s: a directory must be an OCI image layout (it has no index.json)"),
                                    c->input);
                fd = tar_directory(c->input, &child);
        } else
                fd = open(c->input, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return fail("%s: %s", c->input, g_strerror(fd == -1 ? errno : -fd));
        if ((r = sd_bus_message_new_method_call(c->bus, &m, NAME, ROOT, MANAGER, "LoadImages")) < 0 ||
            (r = sd_bus_message_append(m, "hs", fd, argc == 2 ? argv[1] : "")) < 0 ||
            (r = sd_bus_message_append(m, "a{sv}", 0)) < 0) {
                close(fd);
                return fail("%s", g_strerror(-r));
        }
        fprintf(stderr, _("loading %s...\n"), c->input);
        r = sd_bus_call(c->bus, m, ARCHIVE_TIMEOUT_USEC, &e, &reply);
        close(fd);
        if (child > 0) {
                kill(child, SIGTERM);   /* done reading, or refused: the tar is not wanted any more */
                waitpid(child, NULL, 0);
        }
        if (r < 0)
                return bus_fail(&e, r);
        const char *ref, *digest;
        if ((r = sd_bus_message_enter_container(reply, 'a', "(ss)")) < 0)
                return fail("%s", g_strerror(-r));
        while ((r = sd_bus_message_read(reply, "(ss)", &ref, &digest)) > 0)
                printf(_("Loaded image: %s (%s)\n"), g_str_has_prefix(ref, "docker://") ? ref + 9 : ref, digest);
        return r < 0 ? fail("%s", g_strerror(-r)) : 0;
}

int verb_images_save(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        bool to_stdout = streq_ptr(c->output, "-");
        const char *digest;
        int fd, r;

        if (argc != 2 || !c->output)
                return fail(_("usage: edgevirtctl images save IMAGE -o FILE|-"));
        if (to_stdout && isatty(STDOUT_FILENO))
                return fail(_("not writing an image archive to a terminal: give -o FILE, or redirect"));
        fd = to_stdout ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) :
             open(c->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return fail("%s: %s", c->output, g_strerror(errno));
        if ((r = sd_bus_message_new_method_call(c->bus, &m, NAME, ROOT, MANAGER, "SaveImage")) >= 0 &&
            (r = sd_bus_message_append(m, "sha{sv}", argv[1], fd, 0)) >= 0)
                r = sd_bus_call(c->bus, m, ARCHIVE_TIMEOUT_USEC, &e, &reply);
        close(fd);
        if (r < 0) {
                if (!to_stdout)
                        unlink(c->output);      /* ours, and not an archive */
                return bus_fail(&e, r);
        }
        if ((r = sd_bus_message_read(reply, "s", &digest)) < 0)
                return fail("%s", g_strerror(-r));
        fprintf(stderr, _("saved %s (%s) to %s\n"), argv[1], digest, to_stdout ? _("standard output") : c->output);
        return 0;
}
