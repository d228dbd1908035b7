/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.VirtualMachineSnapshot: a snapshot's state as
 * properties (read from its status), so that front ends follow it with
 * PropertiesChanged instead of reading the document again. */
#include "bus-util.h"
#include "bus.h"
#include "json-util.h"
#include "snapshot.h"
#include "util.h"

static JsonObject *snapshot_status(Object *o) {
        return json_get_object(object_root(o), "status");
}

static int property_get_phase(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, json_get_string(snapshot_status(userdata), "phase"));
}

static int property_get_ready(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "b", (int) json_get_bool(snapshot_status(userdata), "readyToUse", false));
}

static int property_get_source(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        JsonObject *spec = json_get_object(object_root(userdata), "spec");
        return bus_append_string(reply, json_get_string(json_get_object(spec, "source"), "name"));
}

static int property_get_indications(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        JsonArray *a = json_get_array(snapshot_status(userdata), "indications");
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (guint i = 0; r >= 0 && a && i < json_array_get_length(a); i++) {
                JsonNode *n = json_array_get_element(a, i);
                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
                        r = sd_bus_message_append(reply, "s", json_node_get_string(n));
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_get_error(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, json_get_string(json_get_object(snapshot_status(userdata), "error"),
                                                        "message"));
}

static int property_get_creation_time(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, json_get_string(snapshot_status(userdata), "creationTime"));
}

const sd_bus_vtable bus_vmsnapshot_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", property_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ReadyToUse", "b", property_get_ready, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Source", "s", property_get_source, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Indications", "as", property_get_indications, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreationTime", "s", property_get_creation_time, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conditions", "a(ssss)", bus_property_get_conditions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};
