/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.DataVolume */
#include "authz.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "bus-util.h"
#include "bus.h"
#include "datavolume-status.h"
#include "datavolume.h"
#include "json-util.h"
#include "util.h"

/* A member of the DataVolume's status. */
static const char *dv_status_string(Object *o, const char *member) {
        return json_get_string(json_get_object(object_root(o), "status"), member);
}

static int property_get_phase(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, dv_status_string(userdata, "phase"));
}

static int property_get_progress_text(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, dv_status_string(userdata, "progress"));
}

static int property_get_claim_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, dv_status_string(userdata, "claimName"));
}

static int property_get_reason(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_condition(userdata, "Ready", "reason"));
}

static int property_get_message(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_condition(userdata, "Ready", "message"));
}

static int property_get_progress(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "d", datavolume_progress(userdata));
}

static int property_get_restarts(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonObject *status = json_get_object(object_root(o), "status");
        return sd_bus_message_append(reply, "i", (int32_t) json_get_int(status, "restartCount", 0));
}

static int method_upload(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autoptr(GError) e = NULL;
        BusOption options[0];
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, 0, error);
        if (r < 0)
                return r;
        r = authz_check(bus_current_daemon(m)->authz, m,
                        "datavolume.upload", o->namespace, o->kind->kind, o->name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = datavolume_upload(o->model, o, fd, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

const sd_bus_vtable bus_datavolume_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", property_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "d", property_get_progress, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProgressText", "s", property_get_progress_text, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RestartCount", "i", property_get_restarts, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ClaimName", "s", property_get_claim_name, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reason", "s", property_get_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Message", "s", property_get_message, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conditions", "a(ssss)", bus_property_get_conditions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Upload", SD_BUS_ARGS("h", fd, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_upload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};
