/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What controllers share beyond the model (services.h): the claims'
 * users, the storage classes, and the calls through which one controller
 * asks another what no document says. */
#include "services.h"
#include "util.h"

#define NOT_RUNNING "the VirtualMachineInstance controller does not run"

/* A count per claim uid, one up or down; a count of 0 is no entry. */
static void count_claim(GHashTable *counts, const char *pvc_uid, bool up) {
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, pvc_uid));

        n = up ? n + 1 : n > 0 ? n - 1 : 0;
        if (n)
                g_hash_table_replace(counts, g_strdup(pvc_uid), GUINT_TO_POINTER(n));
        else
                g_hash_table_remove(counts, pvc_uid);
}

static unsigned claim_count(GHashTable *counts, const char *pvc_uid) {
        return counts ? GPOINTER_TO_UINT(g_hash_table_lookup(counts, pvc_uid)) : 0;
}

void services_pvc_use(Services *s, const char *pvc_uid, bool in_use) {
        count_claim(s->pvc_users, pvc_uid, in_use);
        if (!in_use && s->claims.released)
                s->claims.released(s->claims.data, pvc_uid);
}

unsigned services_pvc_users(Services *s, const char *pvc_uid) {
        return s ? claim_count(s->pvc_users, pvc_uid) : 0;
}

void services_pvc_lock(Services *s, const char *pvc_uid, bool locked) {
        if (!s->pvc_locks)
                s->pvc_locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        count_claim(s->pvc_locks, pvc_uid, locked);
}

unsigned services_pvc_locks(Services *s, const char *pvc_uid) {
        return s ? claim_count(s->pvc_locks, pvc_uid) : 0;
}

StorageBackend *services_backend(Services *s, const char *class_name) {
        for (guint i = 0; s && class_name && i < s->backends->len; i++) {
                StorageBackend *b = s->backends->pdata[i];
                if (streq(b->config->name, class_name))
                        return b;
        }
        return NULL;
}

bool services_instance_stopping(Services *s, Object *vmi) {
        return object_is_deleting(vmi) || (s && s->instances.stopping && s->instances.stopping(s->instances.data, vmi));
}

int services_instance_stop(Services *s, Object *vmi, int64_t grace, GError **error) {
        if (!s || !s->instances.stop)
                return ev_error_set(error, EOPNOTSUPP, NOT_RUNNING);
        return s->instances.stop(s->instances.data, vmi, grace, error);
}

bool services_instance_agent_connected(Services *s, Object *vmi) {
        return s && s->instances.agent_connected && s->instances.agent_connected(s->instances.data, vmi);
}

void services_instance_quiesce(Services *s, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                               void *userdata) {
        if (!s || !s->instances.quiesce) {
                *ret_how = "";
                done(userdata, -EOPNOTSUPP, NOT_RUNNING);
                return;
        }
        s->instances.quiesce(s->instances.data, vmi, use_agent, ret_how, done, userdata);
}

void services_instance_release(Services *s, Object *vmi, const char *how, InstanceDone done, void *userdata) {
        if (!s || !s->instances.release) {
                done(userdata, -EOPNOTSUPP, NOT_RUNNING);
                return;
        }
        s->instances.release(s->instances.data, vmi, how, done, userdata);
}

int services_instance_memory_dump(Services *s, Object *vmi, const char *path, InstanceDumpDone done, void *userdata,
                                  GError **error) {
        if (!s || !s->instances.memory_dump)
                return ev_error_set(error, EBUSY, NOT_RUNNING);
        return s->instances.memory_dump(s->instances.data, vmi, path, done, userdata, error);
}

bool services_claim_source_in_use(Services *s, const char *uid) {
        return s && s->claims.source_in_use && s->claims.source_in_use(s->claims.data, uid);
}
