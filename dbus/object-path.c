/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-bus.h>

#include "object-path.h"
#include "util.h"

char *object_path_make(const KindInfo *kind, const char *namespace, const char *name) {
        g_autofree char *prefix = NULL;
        char *ns_path = NULL, *path = NULL;

        if (!kind->namespaced)
                /* Cluster-scoped: /org/edgevirt/EdgeVirt1/<segment>/<name>
                 * (namespaces are /org/edgevirt/EdgeVirt1/namespace/<name>). */
                prefix = g_strdup_printf(BUS_OBJECT_ROOT "/%s", kind->path_segment);
        else {
                if (sd_bus_path_encode(BUS_NAMESPACE_PREFIX, namespace, &ns_path) < 0)
                        g_error("out of memory");
                prefix = g_strdup_printf("%s/%s", ns_path, kind->path_segment);
                free(ns_path);
        }
        if (sd_bus_path_encode(prefix, name, &path) < 0)
                g_error("out of memory");
        return path;
}

char *object_path_events(const char *namespace) {
        g_autofree char *ns_path = object_path_make(&kind_namespace, "", namespace);

        return g_strconcat(ns_path, "/", kind_event.path_segment, NULL);
}

char *object_path_events_namespace(const char *path) {
        g_autofree char *namespace = NULL, *own = NULL;
        g_autofree char *template = g_strconcat(BUS_NAMESPACE_PREFIX "/%/", kind_event.path_segment, NULL);

        if (sd_bus_path_decode_many(path, template, &namespace) <= 0)
                return NULL;
        own = object_path_events(namespace);
        return streq(own, path) ? g_steal_pointer(&namespace) : NULL;
}

char *object_path_of(Object *o) {
        return object_path_make(o->kind, o->namespace, o->name);
}

/* The stored kind whose objects hang below segment. */
static const KindInfo *kind_of_segment(const char *segment, bool namespaced) {
        for (const KindInfo *const *k = kind_all(); *k; k++)
                if (!(*k)->stored_as && (*k)->namespaced == namespaced && streq_ptr((*k)->path_segment, segment))
                        return *k;
        return NULL;
}

Object *object_path_find(Model *m, const char *path) {
        g_autofree char *namespace = NULL, *segment = NULL, *name = NULL;
        const KindInfo *kind;
        Object *o;

        if (sd_bus_path_decode_many(path, BUS_NAMESPACE_PREFIX "/%/%/%", &namespace, &segment, &name) > 0)
                kind = kind_of_segment(segment, true);
        else if (sd_bus_path_decode_many(path, BUS_OBJECT_ROOT "/%/%", &segment, &name) > 0)
                kind = kind_of_segment(segment, false);
        else
                return NULL;
        if (!kind || model_get(m, kind, namespace ?: "", name, &o, NULL) < 0)
                return NULL;
        /* labels decode more than one way (an escaped letter, an empty
         * namespace taken as the default one): only the object's own path */
        g_autofree char *own = object_path_of(o);
        return streq(own, path) ? o : NULL;
}
