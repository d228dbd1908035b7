/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lvm-thin backend against real device-mapper: run inside the guest of
 * the device-mapper lane (tests/dm/run.sh) on an empty disk given in
 * EDGEVIRT_DM_DEVICE.  Creates the volume group and thin pool there. */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define MiB (1024 * 1024ULL)

static StorageBackend *backend;

static StorageBackend *make_backend(unsigned max_data_percent) {
        StorageClassConfig *c = g_new0(StorageClassConfig, 1);
        const char *dev = g_getenv("EDGEVIRT_DM_DEVICE");
        StorageBackend *b = NULL;
        g_autoptr(GError) e = NULL;

        g_assert_nonnull(dev);
        c->name = g_strdup("thin");
        c->backend = g_strdup("lvm-thin");
        c->volume_group = g_strdup("edgevirt");
        c->thin_pool = g_strdup("pool");
        c->devices = g_strsplit(dev, " ", -1);
        c->max_data_percent = max_data_percent;
        c->max_metadata_percent = 80;
        if (storage_backend_new(c, &b, &e) < 0)
                g_error("%s", e->message);
        return b;
}

static VolumeRequest req(const char *id, uint64_t size) {
        return (VolumeRequest) { .id = id, .size = size, .namespace = "ns1", .name = id + 4, .uid = id + 4 };
}

static uint64_t dev_size(const char *path) {
        uint64_t size = 0;
        g_autoptr(GError) e = NULL;
        if (storage_path_size(path, &size, &e) < 0)
                g_error("%s", e->message);
        return size;
}

static void pwrite_all(const char *path, off_t off, const void *buf, size_t n) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, buf, n, off), ==, (ssize_t) n);
        g_assert_cmpint(fsync(fd), ==, 0);
        close(fd);
}

static void pread_all(const char *path, off_t off, void *buf, size_t n) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        g_assert_cmpint(fd, >=, 0);
        /* bypass the page cache: read what the device holds */
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        g_assert_cmpint(pread(fd, buf, n, off), ==, (ssize_t) n);
        close(fd);
}

static void must(int r, GError **e) {
        if (r < 0)
                g_error("%s", e && *e ? (*e)->message : g_strerror(-r));
}

static void test_prepare_creates_pool(void) {
        g_autoptr(GError) e = NULL;
        StorageCapacity cap;

        must(backend->ops->prepare(backend, &e), &e);
        must(backend->ops->prepare(backend, &e), &e);            /* again: nothing to do */
        must(backend->ops->capacity(backend, &cap, &e), &e);
        g_assert_cmpuint(cap.total, >, 256 * MiB);
        g_assert_cmpfloat(cap.data_percent, <, 1.0);
}

static void test_create_write_list(void) {
        g_autoptr(GError) e = NULL;
        VolumeRequest r = req("pvc-one", 64 * MiB);
        g_autoptr(GPtrArray) vols = NULL;
        g_autofree char *path = backend->ops->path(backend, "pvc-one");
        char pattern[4096], back[4096];

        must(backend->ops->create(backend, &r, &e), &e);
        g_assert_cmpuint(dev_size(path), ==, 64 * MiB);
        for (size_t i = 0; i < sizeof pattern; i++)
                pattern[i] = (char) (i * 7 + 1);
        pwrite_all(path, 10 * MiB, pattern, sizeof pattern);
        pread_all(path, 10 * MiB, back, sizeof back);
        g_assert_cmpmem(pattern, sizeof pattern, back, sizeof back);

        must(backend->ops->list(backend, &vols, &e), &e);
        g_assert_cmpuint(vols->len, ==, 1);                     /* the pool is not ours */
        VolumeInfo *v = vols->pdata[0];
        g_assert_cmpstr(v->id, ==, "pvc-one");
        g_assert_cmpstr(v->namespace, ==, "ns1");
        g_assert_cmpstr(v->uid, ==, "one");
        g_assert_cmpuint(v->size, ==, 64 * MiB);
}

/* After a boot, udev may not have activated the volume group yet when the
 * daemon scans its classes: prepare activates the pool and the volumes. */
static void test_prepare_activates(void) {
        g_autoptr(GError) e = NULL;
        g_autofree char *path = backend->ops->path(backend, "pvc-one");
        int status = 0;
        const char *argv[] = { "vgchange", "-y", "-an", "edgevirt", NULL };

        g_assert_true(g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                                   NULL, NULL, NULL, NULL, &status, &e));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));  /* as before udev's activation */
        must(backend->ops->prepare(backend, &e), &e);
        g_assert_cmpuint(dev_size(path), ==, 64 * MiB);
}

static void test_clone_is_a_thin_snapshot(void) {
        g_autoptr(GError) e = NULL;
        VolumeRequest r = req("pvc-two", 96 * MiB);
        g_autofree char *origin = backend->ops->path(backend, "pvc-one");
        g_autofree char *copy = backend->ops->path(backend, "pvc-two");
        char a[4096], b[4096];
        g_autoptr(GPtrArray) vols = NULL;

        must(backend->ops->clone(backend, "pvc-one", &r, &e), &e);
        g_assert_cmpuint(dev_size(copy), ==, 96 * MiB);         /* grown to the request */
        pread_all(origin, 10 * MiB, a, sizeof a);
        pread_all(copy, 10 * MiB, b, sizeof b);
        g_assert_cmpmem(a, sizeof a, b, sizeof b);              /* same data */

        memset(b, 'Z', sizeof b);
        pwrite_all(copy, 10 * MiB, b, sizeof b);
        char again[4096];
        pread_all(origin, 10 * MiB, again, sizeof again);
        g_assert_cmpmem(a, sizeof a, again, sizeof again);     /* origin untouched */

        /* the clone carries its own claim's tags, not the origin's */
        must(backend->ops->list(backend, &vols, &e), &e);
        for (guint i = 0; i < vols->len; i++) {
                VolumeInfo *v = vols->pdata[i];
                if (streq(v->id, "pvc-two"))
                        g_assert_cmpstr(v->uid, ==, "two");
        }
}

/* A snapshot's copy (daemon/snapshot.c): a thin snapshot under its own
 * id, which the claims' listing leaves out (a scan must not take it for a
 * claim's orphan), removed by its owner. */
static void test_snapshot_copy_is_not_a_claim(void) {
        g_autoptr(GError) e = NULL;
        VolumeRequest r = { .id = "snap-s1-0", .size = 64 * MiB, .namespace = "ns1", .name = "s1/root", .uid = "s1" };
        g_autofree char *origin = backend->ops->path(backend, "pvc-one");
        g_autofree char *copy = backend->ops->path(backend, "snap-s1-0");
        g_autoptr(GPtrArray) vols = NULL;
        char a[4096], b[4096];

        must(backend->ops->clone(backend, "pvc-one", &r, &e), &e);
        pread_all(origin, 10 * MiB, a, sizeof a);
        pread_all(copy, 10 * MiB, b, sizeof b);
        g_assert_cmpmem(a, sizeof a, b, sizeof b);
        must(backend->ops->list(backend, &vols, &e), &e);
        for (guint i = 0; i < vols->len; i++)
                g_assert_cmpstr(((VolumeInfo *) vols->pdata[i])->id, !=, "snap-s1-0");
        must(backend->ops->remove(backend, "snap-s1-0", &e), &e);
        g_assert_false(g_file_test(copy, G_FILE_TEST_EXISTS));
}

static void test_expand(void) {
        g_autoptr(GError) e = NULL;
        g_autofree char *path = backend->ops->path(backend, "pvc-one");

        must(backend->ops->expand(backend, "pvc-one", 128 * MiB, &e), &e);
        g_assert_cmpuint(dev_size(path), ==, 128 * MiB);
        must(backend->ops->expand(backend, "pvc-one", 16 * MiB, &e), &e);   /* never shrinks */
        g_assert_cmpuint(dev_size(path), ==, 128 * MiB);
}

static void test_copy_from_a_file(void) {
        /* what a clone from a dir-class volume into this class does */
        g_autoptr(GError) e = NULL;
        VolumeRequest r = req("pvc-three", 32 * MiB);
        g_autofree char *dst = backend->ops->path(backend, "pvc-three");
        const char *src = "/tmp/source.img";
        char buf[16];
        int fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);

        g_assert_cmpint(ftruncate(fd, 32 * MiB), ==, 0);
        g_assert_cmpint(pwrite(fd, "from a file", 11, 20 * MiB), ==, 11);
        close(fd);
        must(backend->ops->create(backend, &r, &e), &e);
        must(storage_sparse_copy(src, dst, 32 * MiB, &e), &e);
        pread_all(dst, 20 * MiB, buf, 11);
        g_assert_cmpmem(buf, 11, "from a file", 11);
}

static void test_remove(void) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) vols = NULL;

        must(backend->ops->remove(backend, "pvc-two", &e), &e);
        must(backend->ops->remove(backend, "pvc-two", &e), &e);           /* absent: fine */
        must(backend->ops->list(backend, &vols, &e), &e);
        for (guint i = 0; i < vols->len; i++)
                g_assert_cmpstr(((VolumeInfo *) vols->pdata[i])->id, !=, "pvc-two");
}

static void test_pool_full_refusal(void) {
        g_autoptr(GError) e = NULL;
        StorageCapacity cap;
        g_autofree char *path = backend->ops->path(backend, "pvc-one");
        g_autofree char *chunk = g_malloc(4 * MiB);
        StorageBackend *strict;

        must(backend->ops->capacity(backend, &cap, &e), &e);
        /* fill a few percent of the pool with real data */
        memset(chunk, 0x5a, 4 * MiB);
        for (uint64_t off = 0; off < 64 * MiB; off += 4 * MiB)
                pwrite_all(path, (off_t) off, chunk, 4 * MiB);
        must(backend->ops->capacity(backend, &cap, &e), &e);
        g_assert_cmpfloat(cap.data_percent, >, 2.0);

        /* a class whose limit is below that refuses new volumes and clones */
        strict = make_backend((unsigned) cap.data_percent - 1);
        VolumeRequest r = req("pvc-four", 8 * MiB);
        g_assert_cmpint(strict->ops->create(strict, &r, &e), ==, -ENOSPC);
        g_assert_nonnull(strstr(e->message, "full"));
        g_clear_error(&e);
        g_assert_cmpint(strict->ops->clone(strict, "pvc-one", &r, &e), ==, -ENOSPC);
        g_clear_error(&e);
        g_autoptr(GPtrArray) vols = NULL;
        must(strict->ops->list(strict, &vols, &e), &e);
        for (guint i = 0; i < vols->len; i++)
                g_assert_cmpstr(((VolumeInfo *) vols->pdata[i])->id, !=, "pvc-four");   /* nothing half-made */
        storage_backend_free(strict);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        backend = make_backend(90);
        g_test_add_func("/lvm-thin/prepare-creates-pool", test_prepare_creates_pool);
        g_test_add_func("/lvm-thin/create-write-list", test_create_write_list);
        g_test_add_func("/lvm-thin/prepare-activates", test_prepare_activates);
        g_test_add_func("/lvm-thin/clone-is-a-thin-snapshot", test_clone_is_a_thin_snapshot);
        g_test_add_func("/lvm-thin/snapshot-copy-is-not-a-claim", test_snapshot_copy_is_not_a_claim);
        g_test_add_func("/lvm-thin/expand", test_expand);
        g_test_add_func("/lvm-thin/copy-from-a-file", test_copy_from_a_file);
        g_test_add_func("/lvm-thin/remove", test_remove);
        g_test_add_func("/lvm-thin/pool-full-refusal", test_pool_full_refusal);
        int r = g_test_run();
        storage_backend_free(backend);
        return r;
}
