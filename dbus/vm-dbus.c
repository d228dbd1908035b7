/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.VirtualMachine and .VirtualMachineInstance:
 * status as properties, virtctl's verbs as methods.  Verbs change desired
 * state and return; the guest's progress shows in the properties. */
#include <unistd.h>

#include "authz.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "bus-util.h"
#include "bus.h"
#include "json-util.h"
#include "object-path.h"
#include "util.h"
#include "vm-hotplug.h"
#include "vm-status.h"
#include "vm-memorydump.h"
#include "vm.h"
#include "vmi-status.h"
#include "vmi.h"

/* --- VirtualMachine --- */

static int vm_get_printable_status(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, vm_printable_status(userdata));
}

static int vm_get_run_strategy(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, vm_run_strategy(userdata));
}

static int vm_get_ready(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", vm_ready(userdata));
}

static int vm_get_created(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "b",
                                     json_get_bool(json_get_object(object_root(o), "status"), "created", false));
}

static int vm_get_instance(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        Object *vmi = vm_instance(o->model, o);
        g_autofree char *vmi_path = vmi ? object_path_of(vmi) : NULL;
        return sd_bus_message_append(reply, "o", vmi_path ?: "/");
}

/* Options of Stop and Restart: force (b), gracePeriod (x, seconds). */
static int read_stop_options(sd_bus_message *m, bool *force, int64_t *grace, sd_bus_error *error) {
        BusOption options[] = {
                { "force", BUS_OPTION_BOOL, force },
                { "gracePeriod", BUS_OPTION_INT64, grace },
        };
        int r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        if (options[1].seen && *grace < 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "option \"gracePeriod\" must not be negative");
        return 0;
}

static int method_vm_start(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autoptr(GError) e = NULL;
        bool paused = false;
        BusOption options[] = { { "paused", BUS_OPTION_BOOL, &paused } };
        int r;

        r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        if (paused)
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED, "starting paused is set in the VM's template "
                                        "(spec.template.spec.startStrategy: Paused)");
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.lifecycle", o->namespace, o->kind->kind, o->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = vm_start(o->model, o, paused, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* Stop and Restart: read the options, authorize, ask the VM controller. */
static int stop_verb(sd_bus_message *m, Object *o,
                     int (*verb)(Model *m, Object *vm, bool force, int64_t grace, GError **error),
                     sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        bool force = false;
        int64_t grace = -1;
        int r;

        r = read_stop_options(m, &force, &grace, error);
        if (r < 0)
                return r;
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.lifecycle", o->namespace, o->kind->kind, o->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = verb(o->model, o, force, grace, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_vm_stop(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return stop_verb(m, userdata, vm_stop, error);
}

static int method_vm_restart(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return stop_verb(m, userdata, vm_restart, error);
}

typedef int (*InstanceVerb)(Model *m, Object *vmi, GError **error);

/* Pause, Unpause, SoftReboot, Reset act on the instance; on a VM they find it
 * (target: what was called, for the authorization's details).  Verbs on a
 * VM with no options (RemoveMemoryDump) come here too, vmi the VM. */
static int instance_verb(sd_bus_message *m, Object *target, Object *vmi, InstanceVerb verb, sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        int r;

        r = bus_read_options(m, NULL, 0, error);
        if (r < 0)
                return r;
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.lifecycle", target->namespace, target->kind->kind, target->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = verb(vmi->model, vmi, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* An instance verb called on a VM: on its running instance. */
static int vm_instance_verb(sd_bus_message *m, Object *o, InstanceVerb verb, sd_bus_error *error) {
        Object *vmi = vm_instance(o->model, o);

        if (!vmi || vmi_is_finished(vmi))
                return sd_bus_error_setf(error, BUS_ERROR_CONFLICT, "VM %s/%s is not running", o->namespace, o->name);
        return instance_verb(m, o, vmi, verb, error);
}

static int method_vm_pause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return vm_instance_verb(m, userdata, vmi_pause, error);
}

static int method_vm_unpause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return vm_instance_verb(m, userdata, vmi_unpause, error);
}

static int method_vm_soft_reboot(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return vm_instance_verb(m, userdata, vmi_soft_reboot, error);
}

static int method_vm_reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return vm_instance_verb(m, userdata, vmi_reset, error);
}

/* virtctl memory-dump get: into a claim, made first with createClaim. */
static int method_vm_memory_dump(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *storage_class = NULL;
        const char *claim;
        bool create = false;
        BusOption options[] = { { "createClaim", BUS_OPTION_BOOL, &create },
                                { "storageClass", BUS_OPTION_STRING, &storage_class } };
        int r;

        r = sd_bus_message_read(m, "s", &claim);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.lifecycle", o->namespace, o->kind->kind, o->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: polkit asked, the call comes again */
        r = vm_memory_dump(o->model, o, claim, create, storage_class, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* AddVolume and RemoveVolume (virtctl addvolume/removevolume) on a VM or
 * an instance: read the name and options, authorize vm.hotplug, ask. */
static int hotplug_verb(sd_bus_message *m, Object *o, bool add, sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        g_autofree char *serial = NULL, *bus = NULL;
        const char *name;
        bool persist = false;
        bool vm = o->kind == &kind_vm;
        BusOption options[] = {
                { "persist", BUS_OPTION_BOOL, &persist },
                { "serial", BUS_OPTION_STRING, &serial },
                { "bus", BUS_OPTION_STRING, &bus },
        };
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, add ? 3 : 1, error);
        if (r < 0)
                return r;
        if (isempty(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "the volume's name is empty");
        if (persist && !vm)
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED, "option \"persist\" applies to "
                                        "VirtualMachines, not to their instances");
        r = authz_check(bus_current_daemon(m)->authz, m, "vm.hotplug", o->namespace, o->kind->kind, o->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        HotplugVolume v = { .name = name, .serial = serial, .bus = bus };
        if (vm)
                r = add ? vm_add_volume(o->model, o, &v, persist, &e) :
                          vm_remove_volume(o->model, o, name, persist, &e);
        else
                r = add ? vmi_add_volume(o->model, o, &v, true, &e) : vmi_remove_volume(o->model, o, name, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* virtctl memory-dump remove: a verb on the VM itself, as instance verbs are */
static int method_vm_remove_memory_dump(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return instance_verb(m, userdata, userdata, vm_memory_dump_remove, error);
}

/* The dump's bytes: the guest's memory, as much as its console gives. */
static int method_vm_open_memory_dump(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autoptr(GError) e = NULL;
        g_autofree char *file_name = NULL;
        uint64_t size = 0;
        int fd, r;

        r = bus_read_options(m, NULL, 0, error);
        if (r < 0)
                return r;
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.console", o->namespace, o->kind->kind, o->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        fd = vm_memory_dump_open(o->model, o, &size, &file_name, &e);
        if (fd < 0)
                return bus_error_set(error, fd, e);
        r = sd_bus_reply_method_return(m, "hts", fd, size, file_name ?: "");
        close(fd);      /* the reply holds a duplicate */
        return r;
}

static int method_add_volume(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return hotplug_verb(m, userdata, true, error);
}

static int method_remove_volume(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return hotplug_verb(m, userdata, false, error);
}

const sd_bus_vtable bus_vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PrintableStatus", "s", vm_get_printable_status, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RunStrategy", "s", vm_get_run_strategy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Ready", "b", vm_get_ready, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Created", "b", vm_get_created, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Instance", "o", vm_get_instance, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conditions", "a(ssss)", bus_property_get_conditions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Restart", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_restart, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_pause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unpause", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_unpause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SoftReboot", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_soft_reboot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MemoryDump", SD_BUS_ARGS("s", claim_name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_memory_dump, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveMemoryDump", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vm_remove_memory_dump, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenMemoryDump", SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("h", fd, "t", size, "s", file_name),
                                method_vm_open_memory_dump, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddVolume", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_add_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveVolume", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_remove_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* --- VirtualMachineInstance --- */

static int vmi_get_phase(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, vmi_phase(userdata));
}

static int vmi_get_node_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return bus_append_string(reply, json_get_string(json_get_object(object_root(o), "status"), "nodeName"));
}

static int vmi_get_reason(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonObject *status = json_get_object(object_root(o), "status");
        return bus_append_string(reply, json_get_string(status, "reason") ? json_get_string(status, "reason")
                                                                          : vmi_waiting_reason(o));
}

static int vmi_get_domain_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autofree char *domain = vmi_domain_name(userdata);
        return bus_append_string(reply, domain);
}

static int vmi_get_ready(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "b", streq(vmi_phase(o), "Running") && !vmi_is_paused(o));
}

static int vmi_get_paused(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", vmi_is_paused(userdata));
}

static int vmi_get_addresses(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *ifaces = json_get_array(json_get_object(object_root(o), "status"), "interfaces");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++) {
                JsonArray *ips = json_get_array(json_array_get_object_element(ifaces, i), "ipAddresses");
                for (guint j = 0; ips && j < json_array_get_length(ips); j++) {
                        r = sd_bus_message_append(reply, "s", json_array_get_string_element(ips, j));
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}

/* --- the guest agent's facts --- */

static int vmi_get_guest_hostname(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return bus_append_string(reply, json_get_string(vmi_guest_info(o->model, o), "hostname"));
}

static int vmi_get_guest_timezone(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return bus_append_string(reply, json_get_string(vmi_guest_info(o->model, o), "timezone"));
}

static int vmi_get_agent(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "b", vmi_agent_connected(o->model, o));
}

static int vmi_get_os(sd_bus *bus, const char *path, const char *interface, const char *property,
                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return bus_append_string_map(reply, json_get_object(json_get_object(object_root(o), "status"), "guestOSInfo"));
}

static int vmi_get_users(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *users = json_get_array(vmi_guest_info(o->model, o), "userList");
        int r = sd_bus_message_open_container(reply, 'a', "(ssd)");
        for (guint i = 0; r >= 0 && users && i < json_array_get_length(users); i++) {
                JsonObject *u = json_array_get_object_element(users, i);
                JsonNode *t = json_object_get_member(u, "loginTime");
                r = sd_bus_message_append(reply, "(ssd)", json_get_string(u, "userName") ?: "",
                                          json_get_string(u, "domain") ?: "", t ? json_node_get_double(t) : 0.0);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int vmi_get_filesystems(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *disks = json_get_array(json_get_object(vmi_guest_info(o->model, o), "fsInfo"), "disks");
        int r = sd_bus_message_open_container(reply, 'a', "(sssxx)");
        for (guint i = 0; r >= 0 && disks && i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                r = sd_bus_message_append(reply, "(sssxx)", json_get_string(d, "diskName") ?: "",
                                          json_get_string(d, "mountPoint") ?: "",
                                          json_get_string(d, "fileSystemType") ?: "",
                                          json_get_int(d, "usedBytes", 0), json_get_int(d, "totalBytes", 0));
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* virtctl guestosinfo / userlist / fslist: the agent's facts as JSON, in
 * KubeVirt's layouts (VirtualMachineInstanceGuestAgentInfo,
 * VirtualMachineInstanceGuestOSUserList, VirtualMachineInstanceFileSystemList).
 * Read the (empty) options and the facts: 0 and *ret set, or an error. */
static int read_guest_info(sd_bus_message *m, Object *o, JsonObject **ret, sd_bus_error *error) {
        JsonObject *g = vmi_guest_info(o->model, o);
        int r;

        r = bus_read_options(m, NULL, 0, error);
        if (r < 0)
                return r;
        if (!g)
                return sd_bus_error_setf(error, BUS_ERROR_CONFLICT, "VirtualMachineInstance %s/%s: %s",
                                         o->namespace, o->name,
                                         vmi_agent_connected(o->model, o) ? "the guest agent has not answered yet"
                                                                          : "the guest agent is not connected");
        *ret = g;
        return 0;
}

/* Reply with a JSON object as text. */
static int reply_json(sd_bus_message *m, JsonObject *out) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), out);
        g_autofree char *text = json_text(node, TRUE);
        return sd_bus_reply_method_return(m, "s", text);
}

/* Reply with {"items": [...]}, a KubeVirt list. */
static int reply_items(sd_bus_message *m, JsonArray *items) {
        g_autoptr(JsonObject) out = json_object_new();
        json_object_set_array_member(out, "items", items ? json_array_ref(items) : json_array_new());
        return reply_json(m, out);
}

static int method_vmi_guest_os_info(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JsonObject *g;
        int r = read_guest_info(m, userdata, &g, error);
        return r < 0 ? r : reply_json(m, g);
}

static int method_vmi_user_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JsonObject *g;
        int r = read_guest_info(m, userdata, &g, error);
        return r < 0 ? r : reply_items(m, json_get_array(g, "userList"));
}

static int method_vmi_filesystem_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JsonObject *g;
        int r = read_guest_info(m, userdata, &g, error);
        return r < 0 ? r : reply_items(m, json_get_array(json_get_object(g, "fsInfo"), "disks"));
}

static int method_vmi_pause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return instance_verb(m, userdata, userdata, vmi_pause, error);
}

static int method_vmi_unpause(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return instance_verb(m, userdata, userdata, vmi_unpause, error);
}

static int method_vmi_soft_reboot(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return instance_verb(m, userdata, userdata, vmi_soft_reboot, error);
}

static int method_vmi_reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return instance_verb(m, userdata, userdata, vmi_reset, error);
}

/* OpenConsole and OpenVNC: a file descriptor on the guest's serial console
 * or display, once authorized. */
static int open_verb(sd_bus_message *m, Object *o, int (*open_fd)(Model *m, Object *vmi, GError **error),
                     sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        int fd, r;

        r = bus_read_options(m, NULL, 0, error);
        if (r < 0)
                return r;
        /* a console is root on the guest, often */
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "vm.console", o->namespace, o->kind->kind, o->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        fd = open_fd(o->model, o, &e);
        if (fd < 0)
                return bus_error_set(error, fd, e);
        r = sd_bus_reply_method_return(m, "h", fd);
        close(fd);      /* the reply holds a duplicate */
        return r;
}

static int method_vmi_open_console(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return open_verb(m, userdata, vmi_open_console, error);
}

static int method_vmi_open_vnc(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return open_verb(m, userdata, vmi_open_vnc, error);
}

const sd_bus_vtable bus_vmi_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", vmi_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Ready", "b", vmi_get_ready, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Paused", "b", vmi_get_paused, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reason", "s", vmi_get_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NodeName", "s", vmi_get_node_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DomainName", "s", vmi_get_domain_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("IPAddresses", "as", vmi_get_addresses, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conditions", "a(ssss)", bus_property_get_conditions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AgentConnected", "b", vmi_get_agent, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestOS", "a{ss}", vmi_get_os, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestHostname", "s", vmi_get_guest_hostname, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestTimezone", "s", vmi_get_guest_timezone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestUsers", "a(ssd)", vmi_get_users, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GuestFilesystems", "a(sssxx)", vmi_get_filesystems, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GuestOSInfo", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", info),
                                method_vmi_guest_os_info, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UserList", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", users),
                                method_vmi_user_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("FilesystemList", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", filesystems),
                                method_vmi_filesystem_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vmi_pause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unpause", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vmi_unpause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SoftReboot", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vmi_soft_reboot, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                                method_vmi_reset, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddVolume", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_add_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveVolume", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_remove_volume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("h", fd),
                                method_vmi_open_console, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenVNC", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("h", fd),
                                method_vmi_open_vnc, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
