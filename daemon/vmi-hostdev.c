/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host devices an instance is given (devices.hostDevices, devices.gpus;
 * docs/vms.md "Host devices"): each permitted device goes to one running
 * instance at a time.  An instance whose device another holds waits
 * (Pending, HostDeviceInUse, naming the holder) and is queued again when
 * the holder lets go; a device the host lacks fails the start. */
#include "hostdev.h"
#include "json-util.h"
#include "util.h"
#include "vmi-private.h"

/* The instance (other than uid) that holds the device name, or NULL. */
static Instance *holder(VmiController *c, const char *uid, const char *name) {
        GHashTableIter it;
        Instance *inst;

        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst))
                if (!streq(inst->uid, uid) && inst->hostdevs &&
                    g_ptr_array_find_with_equal_func(inst->hostdevs, name, g_str_equal, NULL))
                        return inst;
        return NULL;
}

static void hold(VmiController *c, Object *vmi, GPtrArray *names) {
        Instance *inst = vmi_instance_get(c, vmi->uid);

        g_clear_pointer(&inst->hostdevs, g_ptr_array_unref);
        g_free(inst->holder_name);
        inst->holder_name = g_strdup_printf("%s/%s", vmi->namespace, vmi->name);
        inst->hostdevs = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < names->len; i++)
                g_ptr_array_add(inst->hostdevs, g_strdup(names->pdata[i]));
}

GArray *vmi_hostdevs_take(VmiController *c, Object *vmi) {
        JsonObject *spec = json_get_object(object_root(vmi), "spec");
        g_autoptr(GPtrArray) names = hostdev_requested(spec);
        g_autoptr(GArray) devs = g_array_new(FALSE, TRUE, sizeof(DomainHostDevice));
        g_autoptr(GError) e = NULL;

        if (!names->len)
                return g_steal_pointer(&devs);
        for (guint i = 0; i < names->len; i++) {
                const HostDeviceConfig *d = hostdev_find(c->services->host_devices, names->pdata[i]);
                Instance *other = holder(c, vmi->uid, names->pdata[i]);
                DomainHostDevice dd;
                if (other) {
                        /* the holder is named only to its own namespace */
                        g_autofree char *ns = g_strdup_printf("%s/", vmi->namespace);
                        bool same = g_str_has_prefix(other->holder_name, ns);
                        g_autofree char *msg = g_strdup_printf("host device %s is in use by %s%s; waiting for it",
                                                               (char *) names->pdata[i],
                                                               same ? "the running VM " : "another VM",
                                                               same ? other->holder_name : "");
                        vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Pending", .reason = "HostDeviceInUse",
                                                                .message = msg, .paused = -1, .agent = -1 });
                        return NULL;
                }
                if (!d) {
                        g_autofree char *permitted = hostdev_names(c->services->host_devices);
                        ev_error_set(&e, ENOENT, "host device %s is no longer permitted on this node (permitted: %s)",
                                     (char *) names->pdata[i], permitted);
                }
                if (!d || hostdev_resolve(d, c->services->sysfs, &dd, &e) < 0) {
                        vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate",
                                                                .message = e->message, .paused = -1, .agent = -1 });
                        return NULL;
                }
                g_array_append_val(devs, dd);
        }
        hold(c, vmi, names);
        return g_steal_pointer(&devs);
}

void vmi_hostdevs_adopt(VmiController *c, Object *vmi) {
        g_autoptr(GPtrArray) names = hostdev_requested(json_get_object(object_root(vmi), "spec"));
        if (names->len)
                hold(c, vmi, names);
}

void vmi_hostdevs_clear(Instance *i) {
        g_clear_pointer(&i->hostdevs, g_ptr_array_unref);
        g_clear_pointer(&i->holder_name, g_free);
}

void vmi_hostdevs_release(VmiController *c, Object *vmi) {
        Instance *inst = vmi_instance_find(c, vmi->uid);

        if (!inst || !inst->hostdevs)
                return;
        vmi_hostdevs_clear(inst);
        /* those that wait for a device are Pending and ask for one */
        g_autoptr(GPtrArray) vmis = model_list(c->model, &kind_vmi, NULL, NULL);
        for (guint i = 0; i < vmis->len; i++) {
                Object *o = vmis->pdata[i];
                g_autoptr(GPtrArray) names = hostdev_requested(json_get_object(object_root(o), "spec"));
                if (names->len && streq(vmi_phase(o), "Pending"))
                        model_enqueue(c->model, o);
        }
}
