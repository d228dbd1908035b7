/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define COPY_CHUNK (1024 * 1024)

StorageClassConfig *storage_class_config_free(StorageClassConfig *c) {
        if (!c)
                return NULL;
        g_free(c->name);
        g_free(c->backend);
        g_free(c->path);
        g_free(c->volume_group);
        g_free(c->thin_pool);
        g_strfreev(c->devices);
        g_free(c->lvm_config);
        g_free(c);
        return NULL;
}

VolumeInfo *volume_info_free(VolumeInfo *v) {
        if (!v)
                return NULL;
        g_free(v->id);
        g_free(v->namespace);
        g_free(v->name);
        g_free(v->uid);
        g_free(v);
        return NULL;
}

int storage_backend_new(StorageClassConfig *config, StorageBackend **ret, GError **error) {
        static const StorageBackendOps *const all[] = { &storage_dir_ops, &storage_lvm_thin_ops };
        g_autoptr(StorageBackend) b = g_new0(StorageBackend, 1);
        int r;

        b->config = config;
        g_mutex_init(&b->lock);
        for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
                if (streq(all[i]->type, config->backend))
                        b->ops = all[i];
        if (!b->ops)
                return ev_error_set(error, EINVAL, "storage class %s: unknown backend \"%s\" (known: dir, lvm-thin)",
                                    config->name, config->backend);
        if (b->ops->init) {
                r = b->ops->init(b, error);
                if (r < 0)
                        return r;
        }
        *ret = g_steal_pointer(&b);
        return 0;
}

StorageBackend *storage_backend_free(StorageBackend *b) {
        if (!b)
                return NULL;
        if (b->ops && b->ops->done)
                b->ops->done(b);
        storage_class_config_free(b->config);
        g_mutex_clear(&b->lock);
        g_free(b);
        return NULL;
}

char *storage_volume_id(const char *uid) {
        return g_strdup_printf("pvc-%s", uid);
}

int storage_path_size(const char *path, uint64_t *ret, GError **error) {
        struct stat st;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ev_error_set(error, errno, "cannot open %s: %s", path, g_strerror(errno));
        if (fstat(fd, &st) < 0) {
                int r = ev_error_set(error, errno, "cannot stat %s: %s", path, g_strerror(errno));
                close(fd);
                return r;
        }
        if (S_ISBLK(st.st_mode)) {
                uint64_t size;
                if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
                        int r = ev_error_set(error, errno, "cannot size %s: %s", path, g_strerror(errno));
                        close(fd);
                        return r;
                }
                *ret = size;
        } else
                *ret = (uint64_t) st.st_size;
        close(fd);
        return 0;
}

static bool all_zero(const char *buf, size_t n) {
        static const char zero[4096];
        for (size_t off = 0; off < n; off += sizeof zero) {
                size_t len = MIN(sizeof zero, n - off);
                if (memcmp(buf + off, zero, len) != 0)
                        return false;
        }
        return true;
}

/* Copy [off, end) from in to out, skipping all-zero chunks. */
static int copy_range(int in, int out, off_t off, off_t end, char *buf, GError **error) {
        while (off < end) {
                size_t want = (size_t) MIN((off_t) COPY_CHUNK, end - off);
                ssize_t n = pread(in, buf, want, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ev_error_set(error, errno, "read failed: %s", g_strerror(errno));
                }
                if (n == 0)
                        break;
                if (!all_zero(buf, (size_t) n)) {
                        ssize_t done = 0;
                        while (done < n) {
                                ssize_t w = pwrite(out, buf + done, (size_t) (n - done), off + done);
                                if (w < 0) {
                                        if (errno == EINTR)
                                                continue;
                                        return -errno;
                                }
                                done += w;
                        }
                }
                off += n;
        }
        return 0;
}

int storage_sparse_copy(const char *src_path, const char *dst_path, uint64_t size, GError **error) {
        g_autofree char *buf = g_malloc(COPY_CHUNK);
        int in = -1, out = -1, r = 0;
        off_t off = 0, end = (off_t) size;

        in = open(src_path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return ev_error_set(error, errno, "cannot open %s: %s", src_path, g_strerror(errno));
        out = open(dst_path, O_WRONLY | O_CLOEXEC);
        if (out < 0) {
                r = ev_error_set(error, errno, "cannot open %s: %s", dst_path, g_strerror(errno));
                goto finish;
        }
        /* Walk the source's data extents; where the source cannot tell
         * (block devices), SEEK_DATA fails and everything is read. */
        while (off < end) {
                off_t data = lseek(in, off, SEEK_DATA);
                if (data < 0) {
                        if (errno == ENXIO)
                                break;          /* only a hole is left */
                        r = copy_range(in, out, off, end, buf, error);
                        break;
                }
                off_t hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0 || hole > end)
                        hole = end;
                r = copy_range(in, out, data, hole, buf, error);
                if (r < 0)
                        break;
                off = hole;
        }
        if (r >= 0 && fsync(out) < 0)
                r = -errno;
        if (r < 0 && !(error && *error)) {    /* writing or syncing the copy failed */
                g_autofree char *dir = g_path_get_dirname(dst_path);
                r = r == -ENOSPC || r == -EDQUOT ?
                    ev_error_set(error, -r, "the file system of %s is full (%s)", dir, g_strerror(-r)) :
                    ev_error_set(error, -r, "cannot write %s: %s", dst_path, g_strerror(-r));
        }
finish:
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
        return r;
}
