/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dir backend and the shared storage helpers, on the host.  The
 * lvm-thin backend runs for real in the device-mapper lane (tests/dm);
 * here its report parsing is checked. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvm-report.h"
#include "storage.h"
#include "util.h"

#define MiB (1024 * 1024ULL)

typedef struct Fixture {
        char *dir;
        StorageBackend *b;
} Fixture;

static void setup(Fixture *f, gconstpointer capacity) {
        StorageClassConfig *c = g_new0(StorageClassConfig, 1);
        f->dir = g_dir_make_tmp("edgevirt-storage-XXXXXX", NULL);
        c->name = g_strdup("test");
        c->backend = g_strdup("dir");
        c->path = g_build_filename(f->dir, "vols", NULL);
        c->capacity = GPOINTER_TO_SIZE(capacity);
        g_assert_cmpint(storage_backend_new(c, &f->b, NULL), ==, 0);
        g_assert_cmpint(f->b->ops->prepare(f->b, NULL), ==, 0);
}

static void teardown(Fixture *f, gconstpointer data) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);
        storage_backend_free(f->b);
        g_assert_cmpint(system(cmd), ==, 0);
        g_free(f->dir);
}

static VolumeRequest req(const char *id, uint64_t size) {
        return (VolumeRequest) { .id = id, .size = size, .namespace = "ns", .name = "claim", .uid = id + 4 };
}

static void write_at(const char *path, off_t off, const char *s) {
        int fd = open(path, O_WRONLY);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pwrite(fd, s, strlen(s), off), ==, (ssize_t) strlen(s));
        close(fd);
}

static char *read_at(const char *path, off_t off, size_t n) {
        char *buf = g_malloc0(n + 1);
        int fd = open(path, O_RDONLY);
        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(pread(fd, buf, n, off), ==, (ssize_t) n);
        close(fd);
        return buf;
}

static void test_create_list_expand_remove(Fixture *f, gconstpointer data) {
        VolumeRequest r = req("pvc-aaa", 10 * MiB);
        g_autoptr(GPtrArray) vols = NULL;
        g_autofree char *path = f->b->ops->path(f->b, "pvc-aaa");
        struct stat st;

        g_assert_cmpint(f->b->ops->create(f->b, &r, NULL), ==, 0);
        g_assert_cmpint(f->b->ops->create(f->b, &r, NULL), ==, 0);       /* idempotent */
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 10 * MiB);
        g_assert_cmpint(st.st_blocks, <, 64);                            /* sparse */
        g_assert_cmpint(f->b->ops->list(f->b, &vols, NULL), ==, 0);
        g_assert_cmpuint(vols->len, ==, 1);
        VolumeInfo *v = vols->pdata[0];
        g_assert_cmpstr(v->id, ==, "pvc-aaa");
        g_assert_cmpuint(v->size, ==, 10 * MiB);
        g_assert_cmpstr(v->uid, ==, "aaa");

        g_assert_cmpint(f->b->ops->expand(f->b, "pvc-aaa", 20 * MiB, NULL), ==, 0);
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 20 * MiB);
        g_assert_cmpint(f->b->ops->expand(f->b, "pvc-aaa", 5 * MiB, NULL), ==, 0);   /* never shrinks */
        g_assert_cmpint(stat(path, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 20 * MiB);

        g_assert_cmpint(f->b->ops->remove(f->b, "pvc-aaa", NULL), ==, 0);
        g_assert_cmpint(stat(path, &st), ==, -1);
        g_assert_cmpint(f->b->ops->remove(f->b, "pvc-aaa", NULL), ==, 0);   /* absent: fine */
}

static void test_capacity_refuses_with_enospc(Fixture *f, gconstpointer data) {
        VolumeRequest a = req("pvc-a", 6 * MiB), b = req("pvc-b", 6 * MiB);
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) vols = NULL;
        StorageCapacity cap;

        g_assert_cmpint(f->b->ops->create(f->b, &a, NULL), ==, 0);
        g_assert_cmpint(f->b->ops->create(f->b, &b, &e), ==, -ENOSPC);
        g_assert_nonnull(strstr(e->message, "6291456 requested"));
        g_assert_cmpint(f->b->ops->list(f->b, &vols, NULL), ==, 0);
        g_assert_cmpuint(vols->len, ==, 1);                             /* nothing half-made */
        g_assert_cmpint(f->b->ops->capacity(f->b, &cap, NULL), ==, 0);
        g_assert_cmpuint(cap.total, ==, 10 * MiB);
        g_assert_cmpuint(cap.allocated, ==, 6 * MiB);
        g_clear_error(&e);
        g_assert_cmpint(f->b->ops->expand(f->b, "pvc-a", 11 * MiB, &e), ==, -ENOSPC);
}

static void test_clone_is_a_copy(Fixture *f, gconstpointer data) {
        VolumeRequest src = req("pvc-src", 8 * MiB), dst = req("pvc-dst", 12 * MiB);
        g_autofree char *sp = f->b->ops->path(f->b, "pvc-src"), *dp = f->b->ops->path(f->b, "pvc-dst");
        struct stat st;

        g_assert_cmpint(f->b->ops->create(f->b, &src, NULL), ==, 0);
        write_at(sp, 0, "head");
        write_at(sp, 7 * MiB, "tail");
        g_assert_cmpint(f->b->ops->clone(f->b, "pvc-src", &dst, NULL), ==, 0);
        g_autofree char *h = read_at(dp, 0, 4), *t = read_at(dp, 7 * MiB, 4);
        g_assert_cmpstr(h, ==, "head");
        g_assert_cmpstr(t, ==, "tail");
        g_assert_cmpint(stat(dp, &st), ==, 0);
        g_assert_cmpint(st.st_size, ==, 12 * MiB);
        g_assert_cmpint(st.st_blocks * 512, <, 1 * MiB);                /* stays sparse */
        write_at(dp, 0, "HEAD");
        g_autofree char *h2 = read_at(sp, 0, 4);
        g_assert_cmpstr(h2, ==, "head");                                /* isolated */
}

static void test_crash_leftovers_are_cleaned(Fixture *f, gconstpointer data) {
        g_autofree char *tmp = g_build_filename(f->b->config->path, ".tmp-pvc-x.img", NULL);
        g_autoptr(GPtrArray) vols = NULL;
        g_assert_true(g_file_set_contents(tmp, "half", -1, NULL));
        g_assert_cmpint(f->b->ops->list(f->b, &vols, NULL), ==, 0);
        g_assert_cmpuint(vols->len, ==, 0);                             /* never listed as a volume */
        g_assert_cmpint(f->b->ops->prepare(f->b, NULL), ==, 0);
        g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
}

static void test_sparse_copy_skips_zeros(void) {
        g_autofree char *dir = g_dir_make_tmp("edgevirt-copy-XXXXXX", NULL);
        g_autofree char *a = g_build_filename(dir, "a", NULL), *b = g_build_filename(dir, "b", NULL);
        g_autofree char *zeros = g_malloc0(4 * MiB);
        struct stat st;
        int fd = open(a, O_WRONLY | O_CREAT, 0600);

        /* written zeros (not a hole) must not become data in the copy */
        g_assert_cmpint(write(fd, zeros, 4 * MiB), ==, (ssize_t) (4 * MiB));
        g_assert_cmpint(pwrite(fd, "x", 1, 5 * MiB), ==, 1);
        close(fd);
        g_assert_cmpint(truncate(b, 0), ==, -1);
        g_assert_true(g_file_set_contents(b, "", 0, NULL));
        g_assert_cmpint(truncate(b, 6 * MiB), ==, 0);
        g_assert_cmpint(storage_sparse_copy(a, b, 5 * MiB + 1, NULL), ==, 0);
        g_autofree char *x = read_at(b, 5 * MiB, 1);
        g_assert_cmpstr(x, ==, "x");
        g_assert_cmpint(stat(b, &st), ==, 0);
        g_assert_cmpint(st.st_blocks * 512, <=, 1 * MiB);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
}

static void test_lvm_report(void) {
        const char *json =
                "  {\n"
                "      \"report\": [\n"
                "          {\n"
                "              \"lv\": [\n"
                "                  {\"lv_name\":\"pool\", \"lv_size\":\"1073741824\", \"lv_tags\":\"\", "
                "\"pool_lv\":\"\", "
                "\"lv_attr\":\"twi-aotz--\", \"data_percent\":\"12.50\", \"metadata_percent\":\"10.58\"},\n"
                "                  {\"lv_name\":\"pvc-u1\", \"lv_size\":\"104857600\", "
                "\"lv_tags\":\"edgevirt,ev.name=disk,ev.ns=default,ev.uid=u1\", "
                "\"pool_lv\":\"pool\", \"lv_attr\":\"Vwi-a-tz--\", \"data_percent\":\"0.00\", "
                "\"metadata_percent\":\"\"}\n"
                "              ]\n"
                "          }\n"
                "      ]\n"
                "  }\n";
        g_autoptr(GPtrArray) rows = NULL;
        g_autoptr(GError) e = NULL;

        g_assert_cmpint(lvm_report_parse(json, "lv", &rows, NULL), ==, 0);
        g_assert_cmpuint(rows->len, ==, 2);
        g_assert_cmpstr(lvm_row_get(rows->pdata[0], "lv_name"), ==, "pool");
        g_assert_cmpuint(lvm_row_get_u64(rows->pdata[0], "lv_size"), ==, 1073741824);
        g_assert_cmpfloat(lvm_row_get_double(rows->pdata[0], "data_percent"), ==, 12.5);
        g_assert_cmpfloat(lvm_row_get_double(rows->pdata[1], "metadata_percent"), ==, 0.0);
        g_assert_cmpstr(lvm_row_get(rows->pdata[1], "pool_lv"), ==, "pool");
        g_assert_null(lvm_row_get(rows->pdata[1], "nope"));
        g_clear_pointer(&rows, g_ptr_array_unref);
        g_assert_cmpint(lvm_report_parse(json, "vg", &rows, NULL), ==, 0);
        g_assert_cmpuint(rows->len, ==, 0);
        g_clear_pointer(&rows, g_ptr_array_unref);
        g_assert_cmpint(lvm_report_parse("WARNING: not json", "lv", &rows, &e), ==, -EIO);
        g_assert_nonnull(strstr(e->message, "does not parse"));
}

static void test_unknown_backend(void) {
        StorageClassConfig *c = g_new0(StorageClassConfig, 1);
        g_autoptr(GError) e = NULL;
        StorageBackend *b = NULL;
        c->name = g_strdup("x");
        c->backend = g_strdup("nfs");
        g_assert_cmpint(storage_backend_new(c, &b, &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e->message, "nfs"));   /* c was taken, and freed */
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/storage/dir/create-list-expand-remove", Fixture, NULL, setup, test_create_list_expand_remove,
                   teardown);
        g_test_add("/storage/dir/capacity", Fixture, GSIZE_TO_POINTER(10 * MiB), setup,
                   test_capacity_refuses_with_enospc, teardown);
        g_test_add("/storage/dir/clone", Fixture, NULL, setup, test_clone_is_a_copy, teardown);
        g_test_add("/storage/dir/crash-leftovers", Fixture, NULL, setup, test_crash_leftovers_are_cleaned, teardown);
        g_test_add_func("/storage/sparse-copy", test_sparse_copy_skips_zeros);
        g_test_add_func("/storage/lvm-report", test_lvm_report);
        g_test_add_func("/storage/unknown-backend", test_unknown_backend);
        return g_test_run();
}
