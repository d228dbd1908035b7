/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lvm-thin backend: a volume is a thin LV "pvc-<uid>" in a configured
 * volume group and thin pool, tagged "edgevirt" plus ev.ns=/ev.name=/
 * ev.uid= so volumes are found again after a restart.  Clones are thin
 * snapshots (O(1)), activated; expansion is lvextend.  The lvm tools run as
 * children with JSON reports, stdin from /dev/null and -y; after any
 * failure the state is read again before deciding what happened (a failed
 * lvremove of a thin LV can still have removed it). */
#include "lvm-report.h"
#include "storage.h"
#include "util.h"

#define TAG "edgevirt"

/* Run "lvm CMD [--config C] ARGS..."; stdout in *ret_out if asked. */
static int run_lvmv(StorageBackend *b, char **ret_out, GError **error, const char *cmd, const char *const *args) {
        g_autoptr(GStrvBuilder) sb = g_strv_builder_new();
        g_auto(GStrv) argv = NULL;
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) e = NULL;
        int status;

        g_strv_builder_add_many(sb, "lvm", cmd, NULL);
        if (b->config->lvm_config)
                g_strv_builder_add_many(sb, "--config", b->config->lvm_config, NULL);
        g_strv_builder_addv(sb, (const char **) args);
        argv = g_strv_builder_end(sb);

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, ev_spawn_child_defaults,
                          NULL, &out, &err, &status, &e))
                return ev_error_set(error, ENOENT, "cannot run lvm: %s", e->message);
        if (!g_spawn_check_wait_status(status, NULL)) {
                g_autofree char *shown = g_strjoinv(" ", argv);
                g_strstrip(err);
                return ev_error_set(error, EIO, "%s failed: %s", shown, *err ? err : "no message");
        }
        if (ret_out)
                *ret_out = g_steal_pointer(&out);
        return 0;
}

static int run_lvm(StorageBackend *b, char **ret_out, GError **error, const char *cmd, ...) G_GNUC_NULL_TERMINATED;
static int run_lvm(StorageBackend *b, char **ret_out, GError **error, const char *cmd, ...) {
        g_autoptr(GPtrArray) args = g_ptr_array_new();
        const char *arg;
        va_list ap;

        va_start(ap, cmd);
        while ((arg = va_arg(ap, const char *)))
                g_ptr_array_add(args, (char *) arg);
        va_end(ap);
        g_ptr_array_add(args, NULL);
        return run_lvmv(b, ret_out, error, cmd, (const char *const *) args->pdata);
}

static char *lv_name(StorageBackend *b, const char *id) {
        return g_strdup_printf("%s/%s", b->config->volume_group, id);
}

static char *size_arg(uint64_t size) {
        /* LVM takes bytes with a "b" unit; round up to whole sectors. */
        return g_strdup_printf("%" G_GUINT64_FORMAT "b", (size + 511) / 512 * 512);
}

/* Every LV of the volume group, as lvs reports them. */
static int read_lvs(StorageBackend *b, GPtrArray **ret, GError **error) {
        g_autofree char *out = NULL;
        int r;

        r = run_lvm(b, &out, error, "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                    "-o", "lv_name,lv_size,lv_tags,pool_lv,lv_attr,data_percent,metadata_percent",
                    b->config->volume_group, NULL);
        if (r < 0)
                return r;
        return lvm_report_parse(out, "lv", ret, error);
}

static LvmRow *find_lv(GPtrArray *rows, const char *name) {
        for (guint i = 0; i < rows->len; i++) {
                LvmRow *row = rows->pdata[i];
                if (streq_ptr(lvm_row_get(row, "lv_name"), name))
                        return row;
        }
        return NULL;
}

/* Whether the LV exists now (after a failure, to learn what happened). */
static int lv_exists(StorageBackend *b, const char *id, GError **error) {
        g_autoptr(GPtrArray) rows = NULL;
        int r = read_lvs(b, &rows, error);
        if (r < 0)
                return r;
        return find_lv(rows, id) != NULL;
}

static int lvm_prepare(StorageBackend *b, GError **error) {
        StorageClassConfig *c = b->config;
        g_autofree char *out = NULL;
        g_autoptr(GPtrArray) vgs = NULL, lvs = NULL;
        int r;

        r = run_lvm(b, &out, error, "vgs", "--reportformat", "json", "-o", "vg_name", NULL);
        if (r < 0)
                return r;
        r = lvm_report_parse(out, "vg", &vgs, error);
        if (r < 0)
                return r;
        bool have_vg = false;
        for (guint i = 0; i < vgs->len; i++)
                have_vg = have_vg || streq_ptr(lvm_row_get(vgs->pdata[i], "vg_name"), c->volume_group);
        if (!have_vg) {
                if (!c->devices || !c->devices[0])
                        return ev_error_set(error, ENOENT, "storage class %s: volume group \"%s\" not found "
                                            "(set Devices= to create it)", c->name, c->volume_group);
                for (char **d = c->devices; *d; d++) {
                        r = run_lvm(b, NULL, error, "pvcreate", "-y", *d, NULL);
                        if (r < 0)
                                return r;
                }
                g_autoptr(GStrvBuilder) sb = g_strv_builder_new();
                g_auto(GStrv) args = NULL;
                g_strv_builder_add_many(sb, "-y", c->volume_group, NULL);
                g_strv_builder_addv(sb, (const char **) c->devices);
                args = g_strv_builder_end(sb);
                r = run_lvmv(b, NULL, error, "vgcreate", (const char *const *) args);
                if (r < 0)
                        return r;
        }
        r = read_lvs(b, &lvs, error);
        if (r < 0)
                return r;
        LvmRow *pool = find_lv(lvs, c->thin_pool);
        if (!pool) {
                if (!c->devices || !c->devices[0])
                        return ev_error_set(error, ENOENT, "storage class %s: thin pool \"%s/%s\" not found "
                                            "(set Devices= to create it)", c->name, c->volume_group, c->thin_pool);
                g_autofree char *pool_lv = g_strdup_printf("%s/%s", c->volume_group, c->thin_pool);
                r = run_lvm(b, NULL, error, "lvcreate", "-y", "--type", "thin-pool", "-l", "90%FREE",
                            "-n", c->thin_pool, c->volume_group, NULL);
                if (r < 0)
                        return r;
                /* A full pool should fail writes at once, not queue them for
                 * 60 s (lvcreate does not take this option for pools). */
                r = run_lvm(b, NULL, error, "lvchange", "-y", "--errorwhenfull", "y", pool_lv, NULL);
                if (r < 0)
                        return r;
        } else if (lvm_row_get(pool, "lv_attr") && lvm_row_get(pool, "lv_attr")[0] != 't')
                return ev_error_set(error, EINVAL, "storage class %s: %s/%s is not a thin pool", c->name,
                                    c->volume_group, c->thin_pool);
        /* After a boot, udev activates volume groups as their disks appear,
         * maybe after the daemon started: activate ours (the pool and every
         * volume of the class) here, so that no instance the daemon starts
         * finds its /dev/VG/LV missing.  Volumes already active stay so. */
        return run_lvm(b, NULL, error, "vgchange", "-y", "-ay", c->volume_group, NULL);
}

static int lvm_capacity(StorageBackend *b, StorageCapacity *ret, GError **error) {
        g_autoptr(GPtrArray) rows = NULL;
        int r = read_lvs(b, &rows, error);
        if (r < 0)
                return r;
        LvmRow *pool = find_lv(rows, b->config->thin_pool);
        if (!pool)
                return ev_error_set(error, ENOENT, "thin pool %s/%s not found", b->config->volume_group,
                                    b->config->thin_pool);
        *ret = (StorageCapacity) {
                .total = lvm_row_get_u64(pool, "lv_size"),
                .data_percent = lvm_row_get_double(pool, "data_percent"),
                .metadata_percent = lvm_row_get_double(pool, "metadata_percent"),
        };
        ret->used = (uint64_t) ((double) ret->total * ret->data_percent / 100.0);
        for (guint i = 0; i < rows->len; i++)
                if (streq_ptr(lvm_row_get(rows->pdata[i], "pool_lv"), b->config->thin_pool))
                        ret->allocated += lvm_row_get_u64(rows->pdata[i], "lv_size");
        return 0;
}

/* Refuse new data past the configured pool fill: an overfull thin pool
 * fails writes of every volume in it. */
static int check_pool(StorageBackend *b, GError **error) {
        StorageCapacity c;
        int r = lvm_capacity(b, &c, error);
        if (r < 0)
                return r;
        if (c.data_percent >= b->config->max_data_percent)
                return ev_error_set(error, ENOSPC, "thin pool %s/%s is %.1f%% full (new volumes stop at %u%%)",
                                    b->config->volume_group, b->config->thin_pool, c.data_percent,
                                    b->config->max_data_percent);
        if (c.metadata_percent >= b->config->max_metadata_percent)
                return ev_error_set(error, ENOSPC, "thin pool %s/%s metadata is %.1f%% full (new volumes stop at %u%%)",
                                    b->config->volume_group, b->config->thin_pool, c.metadata_percent,
                                    b->config->max_metadata_percent);
        return 0;
}

static void tags_for(const VolumeRequest *req, char **ns, char **name, char **uid) {
        *ns = g_strdup_printf("ev.ns=%s", req->namespace ? req->namespace : "");
        *name = g_strdup_printf("ev.name=%s", req->name ? req->name : "");
        *uid = g_strdup_printf("ev.uid=%s", req->uid ? req->uid : "");
}

/* After a failed creation, leave nothing half-made behind. */
static int undo_create(StorageBackend *b, const char *id, int r) {
        g_autoptr(GError) e = NULL;
        g_autofree char *lv = lv_name(b, id);
        if (lv_exists(b, id, &e) > 0)
                (void) run_lvm(b, NULL, NULL, "lvremove", "-y", lv, NULL);
        return r;
}

static int lvm_create(StorageBackend *b, const VolumeRequest *req, GError **error) {
        g_autofree char *size = size_arg(req->size), *pool = NULL, *ns = NULL, *name = NULL, *uid = NULL;
        int r;

        r = lv_exists(b, req->id, error);
        if (r != 0)
                return r < 0 ? r : 0;
        pool = g_strdup_printf("%s/%s", b->config->volume_group, b->config->thin_pool);
        tags_for(req, &ns, &name, &uid);
        g_mutex_lock(&b->lock);
        r = check_pool(b, error);
        if (r >= 0)
                r = run_lvm(b, NULL, error, "lvcreate", "-y", "-V", size, "-T", pool, "-n", req->id,
                            "--addtag", TAG, "--addtag", ns, "--addtag", name, "--addtag", uid, NULL);
        g_mutex_unlock(&b->lock);
        return r < 0 && r != -ENOSPC ? undo_create(b, req->id, r) : r;
}

static int lvm_expand(StorageBackend *b, const char *id, uint64_t size, GError **error) {
        g_autoptr(GPtrArray) rows = NULL;
        g_autofree char *lv = lv_name(b, id), *s = size_arg(size);
        LvmRow *row;
        int r;

        r = read_lvs(b, &rows, error);
        if (r < 0)
                return r;
        row = find_lv(rows, id);
        if (!row)
                return ev_error_set(error, ENOENT, "volume %s not found", lv);
        if (lvm_row_get_u64(row, "lv_size") >= size)
                return 0;
        return run_lvm(b, NULL, error, "lvextend", "-y", "-L", s, lv, NULL);
}

static int lvm_clone(StorageBackend *b, const char *src_id, const VolumeRequest *req, GError **error) {
        g_autofree char *src = lv_name(b, src_id), *dst = lv_name(b, req->id), *ns = NULL, *name = NULL, *uid = NULL;
        int r;

        r = lv_exists(b, req->id, error);
        if (r != 0)
                return r < 0 ? r : 0;
        tags_for(req, &ns, &name, &uid);
        g_mutex_lock(&b->lock);
        r = check_pool(b, error);
        /* A thin snapshot: shares every block with its origin until written.
         * -kn: no activation skip, so it can be activated like any volume. */
        if (r >= 0)
                r = run_lvm(b, NULL, error, "lvcreate", "-y", "-s", "-kn", "-n", req->id,
                            "--addtag", TAG, "--addtag", ns, "--addtag", name, "--addtag", uid, src, NULL);
        g_mutex_unlock(&b->lock);
        if (r >= 0)
                r = run_lvm(b, NULL, error, "lvchange", "-y", "-ay", dst, NULL);
        /* The snapshot carries the origin's tags as well: keep only ours. */
        if (r >= 0) {
                g_autoptr(GPtrArray) rows = NULL;
                r = read_lvs(b, &rows, error);
                LvmRow *row = r >= 0 ? find_lv(rows, req->id) : NULL;
                g_auto(GStrv) tags = row ? g_strsplit(lvm_row_get(row, "lv_tags") ?: "", ",", -1) : NULL;
                for (char **t = tags; r >= 0 && t && *t; t++)
                        if (g_str_has_prefix(*t, "ev.") && !streq(*t, ns) && !streq(*t, name) && !streq(*t, uid))
                                r = run_lvm(b, NULL, error, "lvchange", "-y", "--deltag", *t, dst, NULL);
        }
        if (r >= 0)
                r = lvm_expand(b, req->id, req->size, error);
        return r < 0 && r != -ENOSPC ? undo_create(b, req->id, r) : r;
}

static int lvm_remove(StorageBackend *b, const char *id, GError **error) {
        g_autofree char *lv = lv_name(b, id);
        g_autoptr(GError) e = NULL;
        int r;

        r = lv_exists(b, id, error);
        if (r <= 0)
                return r;
        r = run_lvm(b, NULL, &e, "lvremove", "-y", lv, NULL);
        if (r < 0) {
                /* It may be gone despite the error: look before failing. */
                int gone = lv_exists(b, id, NULL);
                if (gone == 0)
                        return 0;
                g_propagate_error(error, g_steal_pointer(&e));
                return r;
        }
        return 0;
}

static int lvm_list(StorageBackend *b, GPtrArray **ret, GError **error) {
        g_autoptr(GPtrArray) rows = NULL;
        g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify) volume_info_free);
        int r = read_lvs(b, &rows, error);

        if (r < 0)
                return r;
        for (guint i = 0; i < rows->len; i++) {
                LvmRow *row = rows->pdata[i];
                g_auto(GStrv) tags = g_strsplit(lvm_row_get(row, "lv_tags") ?: "", ",", -1);
                /* claims' volumes only: a snapshot's copies ("snap-...") are
                 * their content's (daemon/snapshot.c) */
                if (!g_strv_contains((const char *const *) tags, TAG) ||
                    !g_str_has_prefix(lvm_row_get(row, "lv_name") ?: "", "pvc-"))
                        continue;
                VolumeInfo *v = g_new0(VolumeInfo, 1);
                v->id = g_strdup(lvm_row_get(row, "lv_name"));
                v->size = lvm_row_get_u64(row, "lv_size");
                for (char **t = tags; *t; t++) {
                        if (g_str_has_prefix(*t, "ev.ns="))
                                v->namespace = g_strdup(*t + 6);
                        else if (g_str_has_prefix(*t, "ev.name="))
                                v->name = g_strdup(*t + 8);
                        else if (g_str_has_prefix(*t, "ev.uid="))
                                v->uid = g_strdup(*t + 7);
                }
                g_ptr_array_add(out, v);
        }
        *ret = g_steal_pointer(&out);
        return 0;
}

static char *lvm_path(StorageBackend *b, const char *id) {
        return g_strdup_printf("/dev/%s/%s", b->config->volume_group, id);
}

static int lvm_init(StorageBackend *b, GError **error) {
        if (isempty(b->config->volume_group) || isempty(b->config->thin_pool))
                return ev_error_set(error, EINVAL,
                                    "storage class %s: lvm-thin needs VolumeGroup= and ThinPool=", b->config->name);
        return 0;
}

const StorageBackendOps storage_lvm_thin_ops = {
        .type = "lvm-thin",
        .init = lvm_init,
        .prepare = lvm_prepare,
        .create = lvm_create,
        .clone = lvm_clone,
        .expand = lvm_expand,
        .remove = lvm_remove,
        .list = lvm_list,
        .capacity = lvm_capacity,
        .path = lvm_path,
};
