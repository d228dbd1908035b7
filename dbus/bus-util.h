/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

/* One accepted key of an a{sv} options argument. */
typedef enum BusOptionType {
        BUS_OPTION_STRING,      /* "s"     -> char ** (owned copy; g_autofree it) */
        BUS_OPTION_BOOL,        /* "b"     -> bool * */
        BUS_OPTION_STRING_MAP,  /* "a{ss}" -> JsonObject ** (owned; g_autoptr it) */
        BUS_OPTION_INT64,       /* "x"     -> int64_t * */
} BusOptionType;

typedef struct BusOption {
        const char *name;
        BusOptionType type;
        void *ptr;
        bool seen;
} BusOption;

/* Read an a{sv} into the given options; unknown keys and wrong types are
 * InvalidArgs errors naming the key.  Returns negative on error. */
int bus_read_options(sd_bus_message *m, BusOption *options, size_t n, sd_bus_error *error);

/* Property getter: the object's status.conditions as a(ssss) (type,
 * status, reason, message); userdata is the Object. */
int bus_property_get_conditions(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error);

/* Append a string property's value, "" for NULL. */
int bus_append_string(sd_bus_message *reply, const char *v);

/* Append a JSON object of strings as a{ss} (NULL: empty). */
int bus_append_string_map(sd_bus_message *reply, JsonObject *map);

/* A passed fd must be open for writing (write) or reading: else
 * InvalidArgs naming what. */
int bus_check_fd(int fd, bool write, const char *what, sd_bus_error *error);

/* A progress signal (t done, t total) named member on call's object and
 * interface, to call's sender only (PushProgress, DownloadProgress). */
void bus_send_progress(sd_bus_message *call, const char *member, uint64_t done, uint64_t total);
