/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "clone.h"
#include "kind.h"
#include "rolebinding.h"
#include "util.h"

static const KindInfo *const kinds[] = {
        &kind_namespace,
        &kind_project,
        &kind_project_request,
        &kind_secret,
        &kind_configmap,
        &kind_storageclass,
        &kind_pvc,
        &kind_datavolume,
        &kind_datasource,
        &kind_dataimportcron,
        &kind_vm,
        &kind_vmi,
        &kind_vmpool,
        &kind_vmirs,
        &kind_instancetype,
        &kind_cluster_instancetype,
        &kind_preference,
        &kind_cluster_preference,
        &kind_rolebinding,
        &kind_vmsnapshot,
        &kind_vmsnapshot_content,
        &kind_vmrestore,
        &kind_vmclone,
        &kind_vmexport,
        &kind_event,
        NULL,
};

/* Kinds a KubeVirt user may bring that one node cannot serve, and why. */
static const struct {
        const char *kind;
        const char *reason;
} refused[] = {
        { "VirtualMachineInstanceMigration", "live migration needs a second node" },
        { "MigrationPolicy", "live migration needs a second node" },
        { "VirtualMachineInstancePreset", "presets were removed from KubeVirt; use instance types and preferences" },
        { "PriorityClass", "there is no scheduler to preempt with on a single node" },
};

const KindInfo *const *kind_all(void) {
        return kinds;
}

char *kind_api_version(const KindInfo *k) {
        return isempty(k->group) ? g_strdup(k->versions[0]) : g_strdup_printf("%s/%s", k->group, k->versions[0]);
}

static char *supported_list(void) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (const KindInfo *const *k = kinds; *k; k++) {
                g_autofree char *av = kind_api_version(*k);
                g_string_append_printf(s, "%s%s %s", s->len ? ", " : "", av, (*k)->kind);
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

int kind_from_document(const char *api_version, const char *kind, const KindInfo **ret, GError **error) {
        g_autofree char *group = NULL;
        const char *version, *slash;
        const KindInfo *same_kind = NULL;

        if (isempty(api_version))
                return ev_error_set(error, EINVAL, "apiVersion: required value");
        if (isempty(kind))
                return ev_error_set(error, EINVAL, "kind: required value");

        slash = strchr(api_version, '/');
        group = slash ? g_strndup(api_version, slash - api_version) : g_strdup("");
        version = slash ? slash + 1 : api_version;

        for (const KindInfo *const *k = kinds; *k; k++) {
                if (!streq((*k)->kind, kind))
                        continue;
                if (!streq((*k)->group, group)) {
                        same_kind = same_kind ? same_kind : *k;
                        continue;
                }
                if (g_strv_contains((const char *const *) (*k)->versions, version)) {
                        *ret = *k;
                        return 0;
                }
                g_autofree char *versions = g_strjoinv(", ", (char **) (*k)->versions);
                return ev_error_set(error, EOPNOTSUPP,
                                    "apiVersion: %s %s is not served by edgevirt (versions of %s%s%s: %s)",
                                    api_version, kind, group, *group ? " " : "", kind, versions);
        }
        for (size_t i = 0; i < G_N_ELEMENTS(refused); i++)
                if (streq(refused[i].kind, kind))
                        return ev_error_set(error, EOPNOTSUPP, "%s: not supported on edgevirt: %s", kind,
                                            refused[i].reason);
        if (same_kind) {
                g_autofree char *av = kind_api_version(same_kind);
                return ev_error_set(error, EOPNOTSUPP, "apiVersion: %s is not the API group of %s (use %s)",
                                    api_version, kind, av);
        }
        g_autofree char *list = supported_list();
        return ev_error_set(error, EOPNOTSUPP, "kind: %s (%s) is not supported by edgevirt; supported kinds: %s",
                            kind, api_version, list);
}

int kind_from_name(const char *name, const KindInfo **ret, GError **error) {
        g_autofree char *lower = g_ascii_strdown(name ? name : "", -1);
        g_autofree char *resource = NULL;
        const char *dot;

        if (isempty(lower))
                return ev_error_set(error, EINVAL, "kind: required value");
        /* "secrets.v1", "virtualmachines.kubevirt.io": resource[.version][.group] */
        dot = strchr(lower, '.');
        resource = dot ? g_strndup(lower, dot - lower) : g_strdup(lower);

        for (const KindInfo *const *k = kinds; *k; k++) {
                g_autofree char *kl = g_ascii_strdown((*k)->kind, -1);
                if (dot) {
                        const char *rest = dot + 1;
                        size_t vlen = strlen((*k)->versions[0]);
                        /* events.k8s.io/v1 Events read as core v1 Events (the same
                         * objects in Kubernetes, two spellings of one kind) */
                        if (*k == &kind_event && (streq(rest, "events.k8s.io") || streq(rest, "v1.events.k8s.io")))
                                rest = "";
                        bool group_ok = streq(rest, (*k)->group) ||
                                        g_strv_contains((const char *const *) (*k)->versions, rest) ||
                                        (g_str_has_prefix(rest, (*k)->versions[0]) && rest[vlen] == '.' &&
                                         streq(rest + vlen + 1, (*k)->group));
                        if (!group_ok)
                                continue;
                }
                if (streq(resource, kl) || streq(resource, (*k)->plural) ||
                    ((*k)->short_names && g_strv_contains((const char *const *) (*k)->short_names, resource))) {
                        *ret = (*k)->stored_as ? (*k)->stored_as : *k;
                        return 0;
                }
        }
        g_autofree char *list = supported_list();
        return ev_error_set(error, EOPNOTSUPP, "kind: \"%s\" is not a kind edgevirt knows; supported kinds: %s", name,
                            list);
}
