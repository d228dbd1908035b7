/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/clone: time to clone a 10 GiB volume holding 1 GiB of data with
 * the storage backend, against the peer a user would reach for, in the
 * same run, printed as a ratio (peer time / our time: above 1 = faster).
 *
 *   bench-clone dir PATH      dir backend in PATH vs cp --sparse=always
 *   bench-clone lvm DEVICE    lvm-thin on DEVICE vs dd conv=sparse
 *                             (run in the device-mapper guest: bench/run-clone.sh)
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define MiB (1024 * 1024ULL)
#define GiB (1024 * MiB)
#define VOLUME (10 * GiB)
#define DATA_CHUNK (64 * MiB)
#define DATA_CHUNKS 16          /* 1 GiB of data, spread over the volume */
#define RUNS 3

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void drop_caches(void) {
        sync();
        int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                (void) !write(fd, "3", 1);
                close(fd);
        }
}

static void die_on(int r, GError *e) {
        if (r < 0) {
                fprintf(stderr, "bench-clone: %s\n", e ? e->message : g_strerror(-r));
                exit(EXIT_FAILURE);
        }
}

/* 1 GiB of incompressible, non-zero data in 16 runs of 64 MiB. */
static void fill(const char *path) {
        g_autofree uint64_t *buf = g_malloc(DATA_CHUNK);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0) {
                perror(path);
                exit(EXIT_FAILURE);
        }
        for (int c = 0; c < DATA_CHUNKS; c++) {
                for (size_t i = 0; i < DATA_CHUNK / sizeof(uint64_t); i++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        buf[i] = x | 1;
                }
                off_t off = (off_t) (c * (VOLUME / DATA_CHUNKS));
                if (pwrite(fd, buf, DATA_CHUNK, off) != (ssize_t) DATA_CHUNK) {
                        perror("pwrite");
                        exit(EXIT_FAILURE);
                }
        }
        fsync(fd);
        close(fd);
}

static double run_command(const char *cmd) {
        drop_caches();
        double t = now();
        if (system(cmd) != 0) {
                fprintf(stderr, "bench-clone: \"%s\" failed\n", cmd);
                exit(EXIT_FAILURE);
        }
        sync();
        return now() - t;
}

static void report(const char *what, double ours, const char *peer, double theirs) {
        printf("clone/%s: edgevirt %.3f s, %s %.3f s, ratio %.2f (peer/edgevirt; >1 means edgevirt is faster)\n",
               what, ours, peer, theirs, theirs / ours);
}

static StorageBackend *backend(const char *type, const char *where) {
        StorageClassConfig *c = g_new0(StorageClassConfig, 1);
        StorageBackend *b;
        g_autoptr(GError) e = NULL;

        c->name = g_strdup("bench");
        c->backend = g_strdup(type);
        if (streq(type, "dir"))
                c->path = g_strdup(where);
        else {
                c->volume_group = g_strdup("bench");
                c->thin_pool = g_strdup("pool");
                c->devices = g_strsplit(where, " ", -1);
                c->max_data_percent = 95;
                c->max_metadata_percent = 95;
        }
        die_on(storage_backend_new(c, &b, &e), e);
        die_on(b->ops->prepare(b, &e), e);
        return b;
}

int main(int argc, char *argv[]) {
        g_autoptr(GError) e = NULL;
        double ours = 1e9, theirs = 1e9;

        if (argc != 3 || (!streq(argv[1], "dir") && !streq(argv[1], "lvm"))) {
                fprintf(stderr, "usage: bench-clone dir PATH | bench-clone lvm DEVICE\n");
                return EXIT_FAILURE;
        }
        bool dir = streq(argv[1], "dir");
        StorageBackend *b = backend(dir ? "dir" : "lvm-thin", argv[2]);
        VolumeRequest src = { .id = "pvc-src", .size = VOLUME, .uid = "src" };
        die_on(b->ops->create(b, &src, &e), e);
        g_autofree char *src_path = b->ops->path(b, "pvc-src");
        fill(src_path);

        for (int i = 0; i < RUNS; i++) {
                VolumeRequest dst = { .id = "pvc-dst", .size = VOLUME, .uid = "dst" };
                drop_caches();
                double t = now();
                die_on(b->ops->clone(b, "pvc-src", &dst, &e), e);
                sync();
                ours = MIN(ours, now() - t);
                die_on(b->ops->remove(b, "pvc-dst", &e), e);
        }

        for (int i = 0; i < RUNS; i++) {
                g_autofree char *cmd = NULL;
                if (dir) {
                        cmd = g_strdup_printf("cp --sparse=always '%s' '%s/peer.img'", src_path, argv[2]);
                        theirs = MIN(theirs, run_command(cmd));
                        g_autofree char *peer = g_strdup_printf("%s/peer.img", argv[2]);
                        unlink(peer);
                } else {
                        /* the peer copies the same data into a fresh thin volume */
                        VolumeRequest dst = { .id = "pvc-peer", .size = VOLUME, .uid = "peer" };
                        die_on(b->ops->create(b, &dst, &e), e);
                        g_autofree char *dst_path = b->ops->path(b, "pvc-peer");
                        cmd = g_strdup_printf("dd if='%s' of='%s' bs=4M conv=sparse,notrunc status=none", src_path,
                                              dst_path);
                        theirs = MIN(theirs, run_command(cmd));
                        die_on(b->ops->remove(b, "pvc-peer", &e), e);
                }
        }
        report(dir ? "dir" : "lvm-thin", ours, dir ? "cp --sparse=always" : "dd conv=sparse", theirs);
        die_on(b->ops->remove(b, "pvc-src", &e), e);
        storage_backend_free(b);
        return EXIT_SUCCESS;
}
