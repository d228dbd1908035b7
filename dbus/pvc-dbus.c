/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.PersistentVolumeClaim */
#include "bus.h"
#include "json-util.h"
#include "pvc.h"
#include "util.h"

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonObject *spec = json_get_object(object_root(o), "spec");
        const char *v = NULL;

        if (streq(property, "Phase"))
                v = object_status_string(o, "phase");
        else if (streq(property, "StorageClass"))
                v = pvc_storage_class(o);
        else if (streq(property, "VolumeMode"))
                v = json_get_string(spec, "volumeMode");
        else if (streq(property, "Reason"))
                v = pvc_reason(o);
        else if (streq(property, "Message"))
                v = pvc_message(o);
        return sd_bus_message_append(reply, "s", v ? v : "");
}

static int property_get_size(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "t", streq(property, "Capacity") ? pvc_capacity_bytes(o) : pvc_requested_bytes(o));
}

static int property_get_access_modes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *modes = json_get_array(json_get_object(object_root(o), "spec"), "accessModes");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (guint i = 0; modes && i < json_array_get_length(modes); i++) {
                r = sd_bus_message_append(reply, "s", json_array_get_string_element(modes, i));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_volume_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autofree char *p = pvc_volume_path(o->model, o);
        return sd_bus_message_append(reply, "s", p);
}

const sd_bus_vtable bus_pvc_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reason", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Message", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Capacity", "t", property_get_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RequestedCapacity", "t", property_get_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StorageClass", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VolumeMode", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AccessModes", "as", property_get_access_modes, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VolumePath", "s", property_get_volume_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};
