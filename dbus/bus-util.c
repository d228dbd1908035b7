/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "bus-util.h"
#include "json-util.h"
#include "object.h"
#include "util.h"

static const char *const type_signature[] = {
        [BUS_OPTION_STRING] = "s",
        [BUS_OPTION_BOOL] = "b",
        [BUS_OPTION_STRING_MAP] = "a{ss}",
        [BUS_OPTION_INT64] = "x",
};

static int read_string_map(sd_bus_message *m, JsonObject **ret) {
        g_autoptr(JsonObject) map = json_object_new();
        const char *k, *v;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "{ss}", &k, &v)) > 0)
                json_object_set_string_member(map, k, v);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&map);
        return 0;
}

int bus_read_options(sd_bus_message *m, BusOption *options, size_t n, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key, *contents;
                BusOption *opt = NULL;
                char type;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (streq(options[i].name, key))
                                opt = &options[i];
                if (!opt) {
                        g_autoptr(GString) known = g_string_new(NULL);
                        for (size_t i = 0; i < n; i++)
                                g_string_append_printf(known, "%s%s", i ? ", " : "", options[i].name);
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "unknown option \"%s\" (known: %s)",
                                                 key, n ? known->str : "none");
                }
                if (opt->seen)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option \"%s\" given twice", key);
                opt->seen = true;
                r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                if (!streq(contents, type_signature[opt->type]))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "option \"%s\" must be of type %s, not %s",
                                                 key, type_signature[opt->type], contents);
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                switch (opt->type) {
                case BUS_OPTION_STRING: {
                        const char *s;
                        r = sd_bus_message_read(m, "s", &s);
                        if (r >= 0) {
                                g_free(*(char **) opt->ptr);
                                *(char **) opt->ptr = g_strdup(s);
                        }
                        break;
                }
                case BUS_OPTION_INT64: {
                        int64_t x;
                        r = sd_bus_message_read(m, "x", &x);
                        if (r >= 0)
                                *(int64_t *) opt->ptr = x;
                        break;
                }
                case BUS_OPTION_BOOL: {
                        int b;
                        r = sd_bus_message_read(m, "b", &b);
                        if (r >= 0)
                                *(bool *) opt->ptr = b;
                        break;
                }
                case BUS_OPTION_STRING_MAP:
                        r = read_string_map(m, (JsonObject **) opt->ptr);
                        break;
                }
                if (r < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int bus_append_string(sd_bus_message *reply, const char *v) {
        return sd_bus_message_append(reply, "s", v ? v : "");
}

int bus_append_string_map(sd_bus_message *reply, JsonObject *map) {
        JsonObjectIter it;
        const char *k;
        JsonNode *v;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        if (map) {
                json_object_iter_init_ordered(&it, map);
                while (json_object_iter_next_ordered(&it, &k, &v)) {
                        const char *s = JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING ?
                                        json_node_get_string(v) : "";
                        r = sd_bus_message_append(reply, "{ss}", k, s);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}

/* a(ssss) of status.conditions: type, status, reason, message. */
int bus_property_get_conditions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *conds = json_get_array(json_get_object(object_root(o), "status"), "conditions");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        for (guint i = 0; conds && i < json_array_get_length(conds); i++) {
                JsonObject *c = json_array_get_object_element(conds, i);
                r = sd_bus_message_append(reply, "(ssss)", json_get_string(c, "type") ?: "",
                                          json_get_string(c, "status") ?: "",
                                          json_get_string(c, "reason") ?: "", json_get_string(c, "message") ?: "");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int bus_check_fd(int fd, bool write, const char *what, sd_bus_error *error) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return sd_bus_error_set_errnof(error, errno, "%s: %s", what, g_strerror(errno));
        if ((flags & O_ACCMODE) == (write ? O_RDONLY : O_WRONLY))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "%s: the file descriptor is not open for %s", what,
                                         write ? "writing" : "reading");
        return 0;
}

void bus_send_progress(sd_bus_message *call, const char *member, uint64_t done, uint64_t total) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *signal = NULL;
        sd_bus *bus = sd_bus_message_get_bus(call);

        if (sd_bus_message_new_signal(bus, &signal, sd_bus_message_get_path(call), sd_bus_message_get_interface(call),
                                      member) >= 0 &&
            sd_bus_message_set_destination(signal, sd_bus_message_get_sender(call)) >= 0 &&
            sd_bus_message_append(signal, "tt", done, total) >= 0)
                (void) sd_bus_send(bus, signal, NULL);
}
