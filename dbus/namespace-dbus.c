/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.Namespace */
#include "bus.h"
#include "json-util.h"
#include "util.h"

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        const char *v;

        if (streq(property, "Name"))
                v = o->name;
        else if (streq(property, "Uid"))
                v = o->uid;
        else if (streq(property, "Phase"))
                v = object_status_string(o, "phase");
        else if (streq(property, "DisplayName"))
                v = json_get_string(json_get_object(object_metadata(o), "annotations"), "openshift.io/display-name");
        else
                v = object_meta_string(o, "creationTimestamp");
        return sd_bus_message_append(reply, "s", v ? v : "");
}

const sd_bus_vtable bus_namespace_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uid", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Phase", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreationTimestamp", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DisplayName", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Labels", "a{ss}", bus_property_get_labels, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};
