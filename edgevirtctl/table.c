/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl: the output printers, kubectl's tables: the columns of each
 * kind (and -o wide's extra ones), one row an object. */
#include <stdio.h>
#include <json-glib/json-glib.h>

#include "ctl.h"
#include "json-util.h"
#include "util.h"

char *age(const char *ts) {
        g_autoptr(GDateTime) t = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        if (!t)
                return g_strdup("<unknown>");
        gint64 s = g_date_time_difference(now, t) / G_USEC_PER_SEC;
        if (s < 120)
                return g_strdup_printf("%" G_GINT64_FORMAT "s", s);
        if (s < 2 * 3600)
                return g_strdup_printf("%" G_GINT64_FORMAT "m", s / 60);
        if (s < 2 * 86400)
                return g_strdup_printf("%" G_GINT64_FORMAT "h", s / 3600);
        return g_strdup_printf("%" G_GINT64_FORMAT "d", s / 86400);
}

const char *str(JsonObject *o, const char *path) {
        /* "a.b.c" */
        g_auto(GStrv) parts = g_strsplit(path, ".", -1);
        for (char **p = parts; *p && o; p++) {
                if (!p[1])
                        return json_get_string(o, *p);
                o = json_get_object(o, *p);
        }
        return NULL;
}

typedef struct Column {
        const char *title;
        char *(*value)(JsonObject *item);
} Column;

static char *col_name(JsonObject *i) { return g_strdup(str(i, "metadata.name")); }
static char *col_age(JsonObject *i) { return age(str(i, "metadata.creationTimestamp")); }
static char *col_phase(JsonObject *i) { return g_strdup(str(i, "status.phase") ?: ""); }
static char *col_capacity(JsonObject *i) { return g_strdup(str(i, "status.capacity.storage") ?: ""); }
static char *col_class(JsonObject *i) { return g_strdup(str(i, "spec.storageClassName") ?: ""); }
static char *col_progress(JsonObject *i) { return g_strdup(str(i, "status.progress") ?: "N/A"); }
static char *col_type(JsonObject *i) { return g_strdup(json_get_string(i, "type") ?: ""); }
static char *col_provisioner(JsonObject *i) { return g_strdup(json_get_string(i, "provisioner") ?: ""); }
static char *col_format(JsonObject *i) { return g_strdup(str(i, "status.sourceFormat") ?: ""); }

/* a pool's replicas: spec.replicas defaults to 1 */
static char *col_desired(JsonObject *i) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_get_int(json_get_object(i, "spec"), "replicas", 1));
}

static char *col_current(JsonObject *i) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_get_int(json_get_object(i, "status"), "replicas", 0));
}

static char *col_ready_replicas(JsonObject *i) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_get_int(json_get_object(i, "status"), "readyReplicas", 0));
}

static char *col_restarts(JsonObject *i) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_get_int(json_get_object(i, "status"), "restartCount", 0));
}

static char *col_data(JsonObject *i) {
        JsonObject *d = json_get_object(i, "data"), *b = json_get_object(i, "binaryData");
        return g_strdup_printf("%u", (d ? json_object_get_size(d) : 0) + (b ? json_object_get_size(b) : 0));
}

static char *col_modes(JsonObject *i) {
        JsonArray *a = json_get_array(json_get_object(i, "spec"), "accessModes");
        g_autoptr(GString) s = g_string_new(NULL);
        static const struct { const char *mode, *abbrev; } ab[] = {
                { "ReadWriteOnce", "RWO" }, { "ReadOnlyMany", "ROX" }, { "ReadWriteMany", "RWX" },
                { "ReadWriteOncePod", "RWOP" } };
        for (guint k = 0; a && k < json_array_get_length(a); k++)
                for (size_t j = 0; j < G_N_ELEMENTS(ab); j++)
                        if (streq(json_array_get_string_element(a, k), ab[j].mode))
                                g_string_append_printf(s, "%s%s", s->len ? "," : "", ab[j].abbrev);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *col_sc_name(JsonObject *i) {
        JsonObject *ann = json_get_object(json_get_object(i, "metadata"), "annotations");
        return g_strdup_printf("%s%s", str(i, "metadata.name"),
                               streq_ptr(json_get_string(ann, "storageclass.kubernetes.io/is-default-class"), "true") ?
                               " (default)" : "");
}

static char *col_volume_mode(JsonObject *i) { return g_strdup(str(i, "spec.volumeMode") ?: ""); }
static char *col_volume(JsonObject *i) { return g_strdup(str(i, "spec.volumeName") ?: ""); }

static char *col_source(JsonObject *i) {
        JsonObject *src = json_get_object(json_get_object(i, "spec"), "source");
        g_autoptr(GList) keys = src ? json_object_get_members(src) : NULL;
        if (keys && g_str_equal(keys->data, "http"))
                return g_strdup_printf("http %s", str(src, "http.url") ?: "");
        if (keys && g_str_equal(keys->data, "pvc"))
                return g_strdup_printf("pvc %s/%s", str(src, "pvc.namespace") ?: str(i, "metadata.namespace"),
                                       str(src, "pvc.name"));
        return g_strdup(keys ? keys->data : "");
}

static char *col_printable(JsonObject *i) { return g_strdup(str(i, "status.printableStatus") ?: "Stopped"); }
static char *col_run_strategy(JsonObject *i) { return g_strdup(str(i, "status.runStrategy") ?: ""); }
static char *col_node(JsonObject *i) { return g_strdup(str(i, "status.nodeName") ?: ""); }

static char *col_ready(JsonObject *i) {
        JsonObject *status = json_get_object(i, "status");
        if (status && json_object_has_member(status, "ready"))
                return g_strdup(json_get_bool(status, "ready", false) ? "True" : "False");
        JsonArray *conds = json_get_array(status, "conditions");
        for (guint k = 0; conds && k < json_array_get_length(conds); k++) {
                JsonObject *cond = json_array_get_object_element(conds, k);
                if (streq_ptr(json_get_string(cond, "type"), "Ready"))
                        return g_strdup(json_get_string(cond, "status") ?: "False");
        }
        return g_strdup("False");
}

static char *col_ip(JsonObject *i) {
        JsonArray *ifaces = json_get_array(json_get_object(i, "status"), "interfaces");
        JsonObject *first = ifaces && json_array_get_length(ifaces) ? json_array_get_object_element(ifaces, 0) : NULL;
        return g_strdup(json_get_string(first, "ipAddress") ?: "");
}

static char *col_expansion(JsonObject *i) {
        return g_strdup(json_get_bool(i, "allowVolumeExpansion", false) ? "true" : "false");
}

static char *col_source_kind(JsonObject *i) { return g_strdup(str(i, "spec.source.kind") ?: ""); }
static char *col_source_name(JsonObject *i) { return g_strdup(str(i, "spec.source.name") ?: ""); }
static char *col_target_kind(JsonObject *i) { return g_strdup(str(i, "spec.target.kind") ?: ""); }
static char *col_target_name(JsonObject *i) { return g_strdup(str(i, "spec.target.name") ?: ""); }
static char *col_ready_to_use(JsonObject *i) {
        return g_strdup(json_get_bool(json_get_object(i, "status"), "readyToUse", false) ? "true" : "false");
}
static char *col_complete(JsonObject *i) {
        return g_strdup(json_get_bool(json_get_object(i, "status"), "complete", false) ? "true" : "false");
}
static char *col_creation_time(JsonObject *i) {
        return str(i, "status.creationTime") ? age(str(i, "status.creationTime")) : g_strdup("");
}
static char *col_restore_time(JsonObject *i) {
        return str(i, "status.restoreTime") ? age(str(i, "status.restoreTime")) : g_strdup("");
}
static char *col_target_vm(JsonObject *i) {
        return g_strdup(str(i, "status.targetName") ?: str(i, "spec.target.name") ?: "");
}

static char *col_error(JsonObject *i) {
        const char *e = str(i, "status.error.message");
        JsonArray *conds = json_get_array(json_get_object(i, "status"), "conditions");
        for (guint k = 0; !e && conds && k < json_array_get_length(conds); k++) {
                JsonObject *c = json_array_get_object_element(conds, k);
                if (streq_ptr(json_get_string(c, "reason"), "Failed"))
                        e = json_get_string(c, "message");
        }
        return g_strdup(e ?: "");
}

/* Events, as kubectl prints them: last seen, type, reason, "kind/name", message */
static char *col_last_seen(JsonObject *i) { return age(json_get_string(i, "lastTimestamp")); }
static char *col_reason(JsonObject *i) { return g_strdup(json_get_string(i, "reason") ?: ""); }
static char *col_message(JsonObject *i) { return g_strdup(json_get_string(i, "message") ?: ""); }

static char *col_involved(JsonObject *i) {
        JsonObject *o = json_get_object(i, "involvedObject");
        g_autofree char *kind = g_ascii_strdown(json_get_string(o, "kind") ?: "", -1);
        return g_strdup_printf("%s/%s", kind, json_get_string(o, "name") ?: "");
}

/* -o wide: more columns after the usual ones */
static const struct {
        const char *kind;
        Column columns[3];
} wide_tables[] = {
        { "PersistentVolumeClaim", { { "VOLUMEMODE", col_volume_mode }, { "VOLUME", col_volume } } },
        { "DataVolume", { { "SOURCE", col_source } } },
        { "VirtualMachine", { { "RUNSTRATEGY", col_run_strategy } } },
};

static const struct {
        const char *kind;
        Column columns[7];
} tables[] = {
        { "Namespace", { { "NAME", col_name }, { "STATUS", col_phase }, { "AGE", col_age } } },
        { "PersistentVolumeClaim", { { "NAME", col_name }, { "STATUS", col_phase }, { "CAPACITY", col_capacity },
                                     { "ACCESS MODES", col_modes }, { "STORAGECLASS", col_class },
                                     { "AGE", col_age } } },
        { "DataVolume", { { "NAME", col_name }, { "PHASE", col_phase }, { "PROGRESS", col_progress },
                          { "RESTARTS", col_restarts }, { "AGE", col_age } } },
        /* CDI's printer columns: none for DataSources (NAME, AGE), FORMAT for DataImportCrons */
        { "DataImportCron", { { "NAME", col_name }, { "FORMAT", col_format } } },
        { "Secret", { { "NAME", col_name }, { "TYPE", col_type }, { "DATA", col_data }, { "AGE", col_age } } },
        { "ConfigMap", { { "NAME", col_name }, { "DATA", col_data }, { "AGE", col_age } } },
        { "VirtualMachine", { { "NAME", col_name }, { "AGE", col_age }, { "STATUS", col_printable },
                              { "READY", col_ready } } },
        /* KubeVirt's printer columns for pools and replica sets */
        { "VirtualMachinePool", { { "NAME", col_name }, { "DESIRED", col_desired }, { "CURRENT", col_current },
                                  { "READY", col_ready_replicas }, { "AGE", col_age } } },
        { "VirtualMachineInstanceReplicaSet", { { "NAME", col_name }, { "DESIRED", col_desired },
                                                { "CURRENT", col_current }, { "READY", col_ready_replicas },
                                                { "AGE", col_age } } },
        { "VirtualMachineInstance", { { "NAME", col_name }, { "AGE", col_age }, { "PHASE", col_phase },
                                      { "IP", col_ip }, { "NODENAME", col_node }, { "READY", col_ready } } },
        { "StorageClass", { { "NAME", col_sc_name }, { "PROVISIONER", col_provisioner },
                            { "ALLOWVOLUMEEXPANSION", col_expansion }, { "AGE", col_age } } },
        /* as kubectl prints KubeVirt's snapshot kinds */
        { "VirtualMachineSnapshot", { { "NAME", col_name }, { "SOURCEKIND", col_source_kind },
                                      { "SOURCENAME", col_source_name }, { "PHASE", col_phase },
                                      { "READYTOUSE", col_ready_to_use }, { "CREATIONTIME", col_creation_time },
                                      { "ERROR", col_error } } },
        /* KubeVirt's printer columns for exports */
        { "VirtualMachineExport", { { "NAME", col_name }, { "SOURCEKIND", col_source_kind },
                                    { "SOURCENAME", col_source_name }, { "PHASE", col_phase } } },
        { "VirtualMachineRestore", { { "NAME", col_name }, { "TARGETKIND", col_target_kind },
                                     { "TARGETNAME", col_target_name }, { "COMPLETE", col_complete },
                                     { "RESTORETIME", col_restore_time }, { "ERROR", col_error } } },
        { "VirtualMachineClone", { { "NAME", col_name }, { "PHASE", col_phase },
                                   { "SOURCEVIRTUALMACHINE", col_source_name },
                                   { "TARGETVIRTUALMACHINE", col_target_vm } } },
        { "Event", { { "LAST SEEN", col_last_seen }, { "TYPE", col_type }, { "REASON", col_reason },
                     { "OBJECT", col_involved }, { "MESSAGE", col_message } } },
};

void print_table_rows(JsonArray *items, bool with_namespace, bool header, bool wide) {
        const Column *cols = NULL;
        static const Column fallback[] = { { "NAME", col_name }, { "AGE", col_age } };
        size_t ncols = 0;
        g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
        const char *kind = json_array_get_length(items) ?
                           json_get_string(json_array_get_object_element(items, 0), "kind") : NULL;

        for (size_t t = 0; t < G_N_ELEMENTS(tables); t++)
                if (streq_ptr(tables[t].kind, kind))
                        cols = tables[t].columns;
        if (!cols) {
                cols = fallback;
                ncols = G_N_ELEMENTS(fallback);
        }
        while (cols != fallback && ncols < 7 && cols[ncols].title)      /* not past fallback's end */
                ncols++;
        /* the usual columns, then the wide ones before AGE */
        Column all[10];
        size_t nall = 0;
        for (size_t k = 0; k + 1 < ncols; k++)
                all[nall++] = cols[k];
        for (size_t t = 0; wide && t < G_N_ELEMENTS(wide_tables); t++)
                if (streq_ptr(wide_tables[t].kind, kind))
                        for (size_t k = 0; k < 3 && wide_tables[t].columns[k].title; k++)
                                all[nall++] = wide_tables[t].columns[k];
        all[nall++] = cols[ncols - 1];
        cols = all;
        ncols = nall;

        size_t width[8] = { 0 };
        GStrvBuilder *hb = g_strv_builder_new();
        if (with_namespace)
                g_strv_builder_add(hb, "NAMESPACE");
        for (size_t k = 0; k < ncols; k++)
                g_strv_builder_add(hb, cols[k].title);
        g_ptr_array_add(rows, g_strv_builder_end(hb));
        g_strv_builder_unref(hb);
        for (guint i = 0; i < json_array_get_length(items); i++) {
                JsonObject *item = json_array_get_object_element(items, i);
                GStrvBuilder *b = g_strv_builder_new();
                if (with_namespace)
                        g_strv_builder_add(b, str(item, "metadata.namespace") ?: "");
                for (size_t k = 0; k < ncols; k++) {
                        g_autofree char *v = cols[k].value(item);
                        g_strv_builder_add(b, v ? v : "");
                }
                g_ptr_array_add(rows, g_strv_builder_end(b));
                g_strv_builder_unref(b);
        }
        for (guint i = 0; i < rows->len; i++) {
                char **row = rows->pdata[i];
                for (size_t k = 0; row[k]; k++)
                        width[k] = MAX(width[k], strlen(row[k]));
        }
        for (guint i = header ? 0 : 1; i < rows->len; i++) {
                char **row = rows->pdata[i];
                for (size_t k = 0; row[k]; k++)
                        printf("%-*s%s", row[k + 1] ? (int) width[k] : 0, row[k], row[k + 1] ? "   " : "\n");
        }
        fflush(stdout);
}
